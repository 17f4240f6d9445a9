//! `zk-bench worker <client> [--runtime multi|current]`: reads run specs from stdin, one per
//! line, and answers each with one line of JSON on stdout (see [`crate::spec`]). The
//! orchestrator starts one worker per Rust client, so each client's CPU and RSS are its own.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::clients::ClientKind;
use crate::drivers;
use crate::spec::{RunReport, RunSpec};

/// The tokio runtime flavour the Rust clients run on (the same for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `new_multi_thread()` with one worker per core, as `#[tokio::main]` gives.
    Multi,
    /// `new_current_thread()`.
    Current,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Multi => "multi",
            Runtime::Current => "current",
        }
    }

    pub fn parse(s: &str) -> Option<Runtime> {
        match s {
            "multi" => Some(Runtime::Multi),
            "current" => Some(Runtime::Current),
            _ => None,
        }
    }
}

pub fn main(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zk-bench worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The client and its version, for the report.
fn describe(kind: ClientKind, runtime: Runtime) -> String {
    let what = match kind {
        ClientKind::Raw => "zk_dsl_proto over a tokio TcpStream".to_string(),
        ClientKind::ZkDsl => "zk-dsl, .send() window".to_string(),
        ClientKind::ZkDslTasks => "zk-dsl, N tasks".to_string(),
        ClientKind::RawTasks => "zk_dsl_proto over a tokio TcpStream, N tasks awaiting oneshots".to_string(),
        ClientKind::RawCallbacks => "zk_dsl_proto over a tokio TcpStream, N callback chains on one thread".to_string(),
        ClientKind::RawBlocking => "zk_dsl_proto over a tokio TcpStream, N threads blocking on oneshots".to_string(),
        ClientKind::ZkDslDeque => "zk-dsl, .send() window in a VecDeque, oldest awaited".to_string(),
        ClientKind::ZkDslCallbacks => "zk-dsl, N .callback() chains".to_string(),
        ClientKind::RawTls => format!("zk_dsl_proto over tokio-rustls {TOKIO_RUSTLS_VERSION} (ring)"),
        ClientKind::ZkDslTls => "zk-dsl over TLS (rustls, ring), .send() window".to_string(),
        ClientKind::ZkDslMacro => "zk-dsl via zk!, .send() window".to_string(),
        ClientKind::ZkDslBlocking => "zk-dsl blocking facade, N threads".to_string(),
        ClientKind::ZkDslBlockingWindow => {
            "zk-dsl blocking facade, one thread: .send() window in a VecDeque, oldest .wait()-ed".to_string()
        }
        ClientKind::ZookeeperClient => format!("zookeeper-client {ZOOKEEPER_CLIENT_VERSION}"),
        ClientKind::Java | ClientKind::JavaTls | ClientKind::Kazoo | ClientKind::Curator => kind.to_string(),
    };
    format!("{what}, tokio {} runtime", runtime.name())
}

/// The peer crate's version, as pinned in zk-bench's Cargo.toml.
const ZOOKEEPER_CLIENT_VERSION: &str = "0.11.2";

/// The raw-tls driver's TLS layer, as pinned in zk-bench's Cargo.toml.
const TOKIO_RUSTLS_VERSION: &str = "0.26";

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: zk-bench worker <client> [--runtime multi|current]";
    let name = args.first().ok_or(usage)?;
    let kind = ClientKind::parse(name).filter(|k| k.is_rust()).ok_or_else(|| format!("{name}: not a Rust client"))?;
    let runtime = match args.get(1).map(String::as_str) {
        None => Runtime::Multi,
        Some("--runtime") => args.get(2).and_then(|s| Runtime::parse(s)).ok_or(usage)?,
        Some(_) => return Err(usage.into()),
    };
    let rt = match runtime {
        Runtime::Multi => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        Runtime::Current => tokio::runtime::Builder::new_current_thread().enable_all().build(),
    }
    .map_err(|e| format!("tokio runtime: {e}"))?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let hello = serde_json::json!({ "hello": describe(kind, runtime) });
    writeln!(stdout, "{hello}").and_then(|()| stdout.flush()).map_err(|e| format!("stdout: {e}"))?;
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let report = match RunSpec::parse_line(&line) {
            Ok(spec) => drivers::run(kind, spec, &rt),
            Err(e) => RunReport::failed(e),
        };
        let json = serde_json::to_string(&report).map_err(|e| format!("json: {e}"))?;
        writeln!(stdout, "{json}").and_then(|()| stdout.flush()).map_err(|e| format!("stdout: {e}"))?;
    }
    Ok(())
}
