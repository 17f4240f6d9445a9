//! The Rust clients, as driven inside a worker process (`zk-bench worker <client>`).

mod blocking;
mod caches;
mod kezhuw;
mod raw;
mod raw_patterns;
mod recipes;
mod zkdsl;

use bytes::Bytes;
use zk_dsl::proto::Acl;

use crate::clients::ClientKind;
use crate::spec::{key_path, RunReport, RunSpec, Workload};

/// What every driver needs for a run: the spec, the key paths (built once, so path formatting
/// is not part of the measurement), the payload and the open ACL.
#[derive(Debug)]
pub struct Ctx {
    pub spec: RunSpec,
    pub keys: Vec<String>,
    pub payload: Bytes,
    pub acl: Vec<Acl>,
}

impl Ctx {
    pub fn new(spec: RunSpec) -> Ctx {
        let keys = (0..spec.keys.max(1)).map(|i| key_path(&spec.data_root, i)).collect();
        let payload = Bytes::from(payload(spec.payload));
        Ctx { spec, keys, payload, acl: Acl::open_unsafe() }
    }

    /// The key unit `seq` of `session` uses: round robin, sessions starting apart.
    pub fn key(&self, session: usize, seq: u64) -> &str {
        let len = self.keys.len() as u64;
        let stride = len / self.spec.sessions.max(1) as u64;
        &self.keys[((seq + session as u64 * stride) % len) as usize]
    }

    /// A fresh ephemeral path for unit `seq` of `session`.
    pub fn eph_path(&self, session: usize, seq: u64) -> String {
        format!("{}/{}-s{}-{}", self.spec.eph_root, self.spec.tag, session, seq)
    }
}

/// `len` bytes of printable filler.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Runs one spec with a Rust client. The blocking facade uses threads of its own (it brings its
/// own runtime); the async clients run on `rt`.
pub fn run(kind: ClientKind, spec: RunSpec, rt: &tokio::runtime::Runtime) -> RunReport {
    let ctx = Ctx::new(spec);
    let result = match kind {
        ClientKind::ZkDslBlocking => blocking::run(&ctx),
        ClientKind::ZkDslBlockingWindow => blocking::run_window(&ctx),
        ClientKind::Java | ClientKind::JavaTls | ClientKind::Kazoo | ClientKind::Curator => {
            Err(format!("{kind} is not run by this binary"))
        }
        _ if kind.is_tls() && ctx.spec.tls_ca.is_none() => Err(format!("{kind} needs the run's CA (tls_ca)")),
        _ => on_worker(kind, ctx, rt),
    };
    result.unwrap_or_else(RunReport::failed)
}

/// Runs an async driver as a spawned task, on a runtime thread like an application's tasks. (A
/// `block_on` future runs on the calling thread instead, outside the multi-thread runtime's
/// workers, so every wakeup between it and the client's own tasks would cross threads.)
fn on_worker(kind: ClientKind, ctx: Ctx, rt: &tokio::runtime::Runtime) -> Result<RunReport, String> {
    let task = rt.spawn(async move {
        match kind {
            ClientKind::Raw | ClientKind::RawTls => raw::run(&ctx).await,
            ClientKind::RawTasks => raw_patterns::run(&ctx, raw_patterns::Pattern::Tasks).await,
            ClientKind::RawCallbacks => raw_patterns::run(&ctx, raw_patterns::Pattern::Callbacks).await,
            ClientKind::RawBlocking => raw_patterns::run(&ctx, raw_patterns::Pattern::Blocking).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::Lock => recipes::lock_handoff(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::Failover => recipes::leader_failover(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::Counter => recipes::counter(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::Atom => recipes::atom(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::Queue => recipes::queue(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::CacheLoad => caches::cache_load(&ctx).await,
            ClientKind::ZkDsl if ctx.spec.workload == Workload::CacheUpdate => caches::cache_update(&ctx).await,
            ClientKind::ZkDsl | ClientKind::ZkDslTls => zkdsl::run(&ctx, zkdsl::Style::Window).await,
            ClientKind::ZkDslTasks => zkdsl::run(&ctx, zkdsl::Style::Tasks).await,
            ClientKind::ZkDslDeque => zkdsl::run(&ctx, zkdsl::Style::Deque).await,
            ClientKind::ZkDslCallbacks => zkdsl::run(&ctx, zkdsl::Style::Callbacks).await,
            ClientKind::ZkDslMacro => zkdsl::run(&ctx, zkdsl::Style::Macro).await,
            ClientKind::ZookeeperClient => kezhuw::run(&ctx).await,
            ClientKind::ZkDslBlocking
            | ClientKind::ZkDslBlockingWindow
            | ClientKind::Java
            | ClientKind::JavaTls
            | ClientKind::Kazoo
            | ClientKind::Curator => Err(format!("{kind} is not an async driver")),
        }
    });
    rt.block_on(task).map_err(|e| format!("the driver task failed: {e}"))?
}
