//! The orchestrator: a server, the data, one worker per client, the rounds, the reports.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zk_dsl::testing::{four_letter, session_ids_from_cons, TestCa, ZkServer};
use zk_dsl::{Client, Error};

use crate::budget::CpuBudget;
use crate::cli::Options;
use crate::clients::ClientKind;
use crate::drivers::payload;
use crate::plan::{self, Cell};
use crate::report::{self, CellSummary, ClientSummary, Memory, Results, RunSummary};
use crate::spec::{key_path, RunSpec, Workload};
use crate::workers::Worker;
use crate::{contend, peers, plot, procfs};

type Res<T> = Result<T, String>;

const ROOT: &str = "/zkb";
const EPH_ROOT: &str = "/zkb/eph";

/// The server under test: started here, or given.
struct Server {
    _owned: Option<ZkServer>,
    address: SocketAddr,
    /// The TLS port and the CA that signed its certificate, when TLS clients were selected.
    tls: Option<ServerTls>,
    pid: Option<u32>,
    description: String,
}

struct ServerTls {
    address: SocketAddr,
    /// The CA's certificate, PEM (absolute path, no whitespace: it goes into spec lines).
    ca_file: PathBuf,
}

impl Server {
    /// Where `kind` connects (the TLS port for the TLS clients), and the CA file it trusts.
    fn target(&self, kind: ClientKind) -> (SocketAddr, Option<String>) {
        match (&self.tls, kind.is_tls()) {
            (Some(tls), true) => (tls.address, Some(tls.ca_file.display().to_string())),
            _ => (self.address, None),
        }
    }
}

/// A fresh test CA for the TLS port; its certificate goes into the output directory, where the
/// TLS workers read it.
fn tls_ca(opts: &Options) -> Res<(TestCa, PathBuf)> {
    let ca = TestCa::new("zk-bench CA").map_err(|e| format!("making a test CA: {e}"))?;
    let file = opts.out.join("tls-ca.pem");
    std::fs::write(&file, ca.cert_pem()).map_err(|e| format!("{}: {e}", file.display()))?;
    let file = file.canonicalize().map_err(|e| format!("{}: {e}", file.display()))?;
    if file.to_string_lossy().contains(char::is_whitespace) {
        return Err(format!("{}: the TLS clients cannot take a path with spaces; use another --out", file.display()));
    }
    Ok((ca, file))
}

fn start_server(opts: &Options) -> Res<Server> {
    if let Some(given) = &opts.server {
        let address = given
            .to_socket_addrs()
            .map_err(|e| format!("--server {given}: {e}"))?
            .next()
            .ok_or_else(|| format!("--server {given}: no address"))?;
        if address.port() == 2181 {
            return Err("refusing port 2181: zk-bench replaces /zkb on the server, and 2181 is where a shared \
                        ZooKeeper usually runs; use a private one"
                .into());
        }
        let version = server_version(address);
        let description = format!("{version} at {address} (given)");
        return Ok(Server { _owned: None, address, tls: None, pid: None, description });
    }
    eprintln!("starting ZooKeeper (zk_dsl::testing, benchmark settings) ...");
    let mut builder = ZkServer::builder().benchmark();
    let ca = if opts.clients.iter().any(|k| k.is_tls()) {
        let (ca, file) = tls_ca(opts)?;
        builder = builder.tls(&ca);
        Some(file)
    } else {
        None
    };
    let server = builder.start().map_err(|e| format!("starting ZooKeeper: {e}"))?;
    let address = server.address();
    let version = server_version(address);
    let mut description =
        format!("{version}, standalone on {address}, forceSync=no, snapCount=10000000, -Xms1g -Xmx1g, fresh data dir");
    let tls = match (ca, server.secure_address()) {
        (Some(ca_file), Some(secure)) => {
            description.push_str(&format!(
                "; TLS on secureClientPort {secure} (certificate from a fresh test CA, PEM key and trust stores, \
                 clientAuth=want: the clients present none), which makes both ports Netty's \
                 (NettyServerCnxnFactory) instead of the default NIO"
            ));
            Some(ServerTls { address: secure, ca_file })
        }
        _ => None,
    };
    Ok(Server { pid: server.pid(), address, tls, description, _owned: Some(server) })
}

fn server_version(address: SocketAddr) -> String {
    four_letter(address, "srvr")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Zookeeper version: ").map(str::to_string)))
        .map(|v| format!("ZooKeeper {}", v.split(['-', ',']).next().unwrap_or(&v)))
        .unwrap_or_else(|| "ZooKeeper (version unknown)".into())
}

/// Samples the server JVM's CPU every 50 ms, so each run's window can be looked up afterwards.
struct ServerCpu {
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

impl ServerCpu {
    fn start(pid: Option<u32>) -> ServerCpu {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = pid.map(|pid| {
            let (samples, stop) = (samples.clone(), stop.clone());
            std::thread::spawn(move || {
                let pid = pid.to_string();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(t) = procfs::cpu_ticks(&pid) {
                        let mut s = samples.lock().unwrap_or_else(|e| e.into_inner());
                        s.push((unix_ms(), t));
                        // Keep about ten minutes.
                        if s.len() > 12_000 {
                            s.drain(..2000);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        });
        ServerCpu { samples, stop, thread }
    }

    fn at(s: &[(f64, u64)], t: f64) -> Option<f64> {
        let i = s.partition_point(|&(ts, _)| ts < t);
        let (a, b) = (s.get(i.checked_sub(1)?)?, s.get(i)?);
        let f = if b.0 > a.0 { (t - a.0) / (b.0 - a.0) } else { 0.0 };
        Some(a.1 as f64 + f * (b.1 as f64 - a.1 as f64))
    }

    /// Server ticks between two Unix times (ms), interpolated.
    fn ticks(&self, from: f64, to: f64) -> Option<u64> {
        // The window may have ended a moment ago: wait for a sample past it.
        let deadline = Instant::now() + Duration::from_millis(300);
        while self.thread.is_some() && Instant::now() < deadline {
            let last = self.samples.lock().unwrap_or_else(|e| e.into_inner()).last().map_or(0.0, |s| s.0);
            if last > to {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        Some((ServerCpu::at(&s, to)? - ServerCpu::at(&s, from)?).max(0.0).round() as u64)
    }
}

impl Drop for ServerCpu {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn data_root(payload: usize) -> String {
    format!("{ROOT}/data-{payload}")
}

fn children_root(children: usize) -> String {
    format!("{ROOT}/children-{children}")
}

/// The tree of a cache cell: `nodes` nodes of `payload` bytes below its root (see [`tree_paths`]).
fn tree_root(nodes: usize) -> String {
    format!("{ROOT}/tree-{nodes}")
}

/// The nodes of a cache cell's tree below `root`, parents first: 100 directories `d00`..`d99`,
/// each with `nodes / 100 - 1` leaves, `nodes` in all (the root makes `nodes + 1`).
fn tree_paths(root: &str, nodes: usize) -> Vec<String> {
    let dirs = 100.min(nodes.max(1));
    let leaves = nodes / dirs - 1;
    let mut paths: Vec<String> = (0..dirs).map(|d| format!("{root}/d{d:02}")).collect();
    for d in 0..dirs {
        paths.extend((0..leaves).map(|l| format!("{root}/d{d:02}/n{l:05}")));
    }
    paths
}

/// Creates what the cells read: `/zkb/data-<payload>/k00000..`, `/zkb/children-<n>/..` and the
/// cache cells' trees `/zkb/tree-<n>/d00/n00000..`.
fn setup(address: SocketAddr, cells: &[Cell], keys: usize, memory: bool) -> Res<()> {
    let payloads: BTreeSet<usize> = cells
        .iter()
        .filter(|c| !matches!(c.workload, Workload::Connect | Workload::Children) && !c.workload.is_recipe())
        .map(|c| c.payload)
        .chain(memory.then_some(100))
        .collect();
    let children: BTreeSet<usize> =
        cells.iter().filter(|c| c.workload == Workload::Children).map(|c| c.children).collect();
    let trees: BTreeSet<(usize, usize)> =
        cells.iter().filter(|c| c.workload.is_cache()).map(|c| (c.children, c.payload)).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = Client::connect(address.to_string()).await.map_err(|e| format!("setup: {e}"))?;
        match client.delete_all(ROOT).await {
            Ok(()) | Err(Error::NoNode { .. }) => {}
            Err(e) => return Err(format!("setup: clearing {ROOT}: {e}")),
        }
        for dir in [ROOT, EPH_ROOT] {
            client.create(dir).persistent().await.map_err(|e| format!("setup: {dir}: {e}"))?;
        }
        for &p in &payloads {
            let root = data_root(p);
            client.create(root.as_str()).persistent().await.map_err(|e| format!("setup: {root}: {e}"))?;
            let data = bytes::Bytes::from(payload(p));
            let paths: Vec<String> = (0..keys).map(|i| key_path(&root, i)).collect();
            create_many(&client, &paths, &data).await?;
        }
        for &n in &children {
            let root = children_root(n);
            client.create(root.as_str()).persistent().await.map_err(|e| format!("setup: {root}: {e}"))?;
            let paths: Vec<String> = (0..n).map(|i| format!("{root}/child-{i:06}")).collect();
            create_many(&client, &paths, &bytes::Bytes::new()).await?;
        }
        for &(nodes, size) in &trees {
            let root = tree_root(nodes);
            client.create(root.as_str()).persistent().await.map_err(|e| format!("setup: {root}: {e}"))?;
            eprintln!("creating the {nodes}-node tree {root} ...");
            create_many(&client, &tree_paths(&root, nodes), &bytes::Bytes::from(payload(size))).await?;
        }
        client.close().await.map_err(|e| format!("setup: {e}"))
    })
}

async fn create_many(client: &Client, paths: &[String], data: &bytes::Bytes) -> Res<()> {
    for chunk in paths.chunks(200) {
        let calls: Vec<_> =
            chunk.iter().map(|p| client.create(p.as_str()).persistent().bytes(data.clone()).send()).collect();
        for call in calls {
            call.await.map_err(|e| format!("setup: {e}"))?;
        }
    }
    Ok(())
}

/// Waits until the server has no sessions but those it had at the start (every client closes
/// its sessions at the end of a run; some do it in the background).
fn wait_idle(address: SocketAddr, baseline: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match four_letter(address, "cons") {
            Ok(reply) if session_ids_from_cons(&reply).len() <= baseline => return,
            Ok(_) => {}
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("  (sessions still open on the server after 20 s)");
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_default();
    let mem_gib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse::<f64>().ok())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPUs ({model}), {:.0} GiB, Linux {}", mem_gib.unwrap_or(0.0) / 1048576.0, kernel.trim())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn spec_for(cell: &Cell, opts: &Options, (address, tls_ca): (SocketAddr, Option<String>), tag: String) -> RunSpec {
    RunSpec {
        workload: cell.workload,
        connect: address.to_string(),
        tls_ca,
        payload: cell.payload,
        outstanding: cell.outstanding,
        sessions: cell.sessions,
        warmup_ms: opts.warmup.as_millis() as u64,
        measure_ms: opts.measure.as_millis() as u64,
        data_root: data_root(if cell.workload == Workload::Children { 100 } else { cell.payload }),
        keys: opts.keys,
        children_path: if cell.workload.is_cache() { tree_root(cell.children) } else { children_root(cell.children) },
        eph_root: EPH_ROOT.into(),
        tag,
        multi_ops: cell.multi_ops,
        count: if cell.workload.is_cache() { cell.children } else { opts.memory_count },
    }
}

fn run_timeout(opts: &Options) -> Duration {
    opts.warmup + opts.measure + Duration::from_secs(120)
}

/// A cache load can take longer than a window (kazoo's `TreeCache` of 100,000 nodes).
fn cell_timeout(cell: &Cell, opts: &Options) -> Duration {
    run_timeout(opts) + if cell.workload == Workload::CacheLoad { Duration::from_secs(300) } else { Duration::ZERO }
}

pub fn main(opts: Options, command_line: String) -> Res<()> {
    if let Some(dir) = &opts.render {
        return render(dir);
    }
    let mut cells = plan::standard();
    if !opts.only.is_empty() {
        cells = plan::select(cells, &opts.only);
    }
    if opts.list {
        for c in &cells {
            println!("{}", c.label());
        }
        return Ok(());
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let ticks_per_s = procfs::clock_ticks_per_second();
    let server = start_server(&opts)?;
    eprintln!("server: {}", server.description);
    setup(server.address, &cells, opts.keys, opts.memory)?;
    let baseline = four_letter(server.address, "cons").map_or(0, |r| session_ids_from_cons(&r).len());

    let mut workers = Vec::new();
    let mut skipped = BTreeMap::new();
    // Only the clients some selected cell runs (`--only lock` starts no raw worker).
    for &kind in opts.clients.iter().filter(|&&k| cells.iter().any(|c| c.runs_with(k))) {
        let ca = server.tls.as_ref().map(|t| t.ca_file.as_path());
        let started = if kind.is_tls() && ca.is_none() {
            Err("the TLS clients need the server zk-bench starts (not --server)".to_string())
        } else {
            let budget = opts.client_cpu.map(|share| CpuBudget::create(share, &kind.to_string())).transpose();
            budget.and_then(|budget| {
                peers::prepare(kind, &opts, ca).and_then(|cmd| Worker::start(kind, cmd, &opts.out.join("logs"), budget))
            })
        };
        match started {
            Ok(w) => {
                eprintln!("{kind}: {}", w.hello);
                workers.push(w);
            }
            Err(e) => {
                eprintln!("skipping {kind}: {e}");
                skipped.insert(kind.to_string(), e);
            }
        }
    }
    if workers.is_empty() {
        return Err("no client could be started".into());
    }
    prime(&mut workers, &cells, &opts, &server, baseline);
    let server_cpu = ServerCpu::start(server.pid);
    let total = cells.len();
    let started = Instant::now();
    let hellos: BTreeMap<String, String> = workers.iter().map(|w| (w.kind.to_string(), w.hello.clone())).collect();
    let mut results = Results {
        meta: BTreeMap::new(),
        clients: hellos,
        skipped,
        cells: Vec::new(),
        memory: None,
        targets: Vec::new(),
    };
    // Other work on the machine is noise in every number: the results say how much there was.
    let load_at_start = procfs::load_average();
    let budgeted = workers.iter().find_map(Worker::budget).map(CpuBudget::describe);
    let mode = match (opts.contended, &budgeted) {
        (false, None) => "idle: nothing else started beside the runs".to_string(),
        (true, None) => contend::describe(),
        (false, Some(b)) => b.clone(),
        (true, Some(b)) => format!("{}; {b}", contend::describe()),
    };
    let meta = |results: &mut Results, state: String| {
        let m = &mut results.meta;
        m.insert("command".to_string(), command_line.clone());
        m.insert("date".to_string(), date());
        m.insert("machine".to_string(), machine());
        m.insert("server".to_string(), server.description.clone());
        m.insert("mode".to_string(), mode.clone());
        m.insert("load".to_string(), format!("{load_at_start} at the start, {} at the end", procfs::load_average()));
        m.insert(
            "runs".to_string(),
            format!(
                "{} rounds per cell, clients alternating, after one discarded run of each client's first cell; \
                 {:.2} s warm-up + {:.2} s measured per run; {} keys per payload; Rust clients on a tokio {} \
                 runtime; {state} after {:.0} s",
                opts.rounds,
                opts.warmup.as_secs_f64(),
                opts.measure.as_secs_f64(),
                opts.keys,
                opts.runtime.name(),
                started.elapsed().as_secs_f64()
            ),
        );
    };
    for (ci, cell) in cells.iter().enumerate() {
        let mut runs: Vec<Vec<RunSummary>> = vec![Vec::new(); workers.len()];
        for round in 0..opts.rounds {
            for (wi, w) in workers.iter_mut().enumerate() {
                if !cell.runs_with(w.kind) {
                    continue;
                }
                let tag = format!("c{ci}-r{round}-{}", w.kind);
                let spec = spec_for(cell, &opts, server.target(w.kind), tag);
                if cell.workload == Workload::CacheLoad {
                    // Memory per cached node is an RSS delta: measured in a fresh process, so no
                    // earlier run's freed pages are reused.
                    w.restart();
                }
                let neighbour = opts.contended.then(contend::Neighbour::start);
                let report = w.run(&spec, cell_timeout(cell, &opts));
                drop(neighbour);
                let server_ticks = (report.ok && report.window_start_unix_ms > 0.0).then(|| {
                    server_cpu
                        .ticks(report.window_start_unix_ms, report.window_start_unix_ms + report.elapsed_s * 1000.0)
                });
                let summary = RunSummary::new(round, &report, ticks_per_s, server_ticks.flatten());
                progress(ci, total, cell, round, opts.rounds, w.kind, &summary);
                runs[wi].push(summary);
                wait_idle(server.address, baseline);
            }
        }
        let clients = workers
            .iter()
            .zip(runs)
            .filter(|(w, _)| cell.runs_with(w.kind))
            .map(|(w, r)| ClientSummary::new(w.kind, r))
            .collect();
        results.cells.push(CellSummary::new(cell.clone(), clients));
        // Keep what is done on disk: a run interrupted later still leaves its finished cells.
        meta(&mut results, format!("partial: {} of {total} cells", ci + 1));
        write_files(&mut results, &opts.out)?;
    }
    // Zero for a client would mean its budget never bit: it ran as if unlimited.
    let throttled: Vec<String> =
        workers.iter().filter_map(|w| Some(format!("{} {}", w.kind, w.budget()?.throttled_periods()?))).collect();
    if !throttled.is_empty() {
        results.meta.insert("budget".to_string(), format!("quota periods run out: {}", throttled.join(", ")));
    }
    drop(workers);

    results.memory = (opts.memory && opts.clients.contains(&ClientKind::ZkDsl)).then(|| memory(&opts, server.address));
    meta(&mut results, "complete".to_string());
    let md = write_files(&mut results, &opts.out)?;
    println!("{md}");
    write_plots(&results, &opts.out)
}

/// One discarded run per worker before any is measured: its first request cell, once. A JVM
/// starts interpreted and compiles while it runs, so without this the Java clients' first round
/// of the first cell measured their JIT (java-tls at get n=1: 478 µs of CPU per op in round 1,
/// 60 in round 3).
fn prime(workers: &mut [Worker], cells: &[Cell], opts: &Options, server: &Server, baseline: usize) {
    for w in workers.iter_mut() {
        let Some(cell) = cells.iter().find(|c| c.runs_with(w.kind) && !c.workload.is_cache()) else { continue };
        let spec = spec_for(cell, opts, server.target(w.kind), format!("prime-{}", w.kind));
        let report = w.run(&spec, cell_timeout(cell, opts));
        let outcome = if report.ok { format!("{} units", report.ops) } else { report.error.unwrap_or_default() };
        eprintln!("primed {} with {} (discarded): {outcome}", w.kind, cell.label());
        wait_idle(server.address, baseline);
    }
}

/// Reads a finished run's results.json back and writes its report again (verdicts, markdown,
/// plots), so a change to the report needs no new measurement.
fn render(dir: &Path) -> Res<()> {
    let json_path = dir.join("results.json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let mut results: Results = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    write_files(&mut results, dir)?;
    write_plots(&results, dir)
}

/// Judges the targets on the cells there are, then writes results.md, summary.md (the README's
/// short table) and results.json into `dir`; returns the markdown.
fn write_files(results: &mut Results, dir: &Path) -> Res<String> {
    results.targets = report::targets(&results.cells);
    let md = report::markdown(results);
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("results.md", &md)?;
    write("summary.md", &report::summary(results))?;
    write("results.json", &json)?;
    Ok(md)
}

fn write_plots(results: &Results, dir: &Path) -> Res<()> {
    for p in plot::write(results, dir)? {
        eprintln!("wrote {}", p.display());
    }
    eprintln!("wrote {}, {}", dir.join("results.md").display(), dir.join("results.json").display());
    Ok(())
}

fn progress(ci: usize, total: usize, cell: &Cell, round: usize, rounds: usize, kind: ClientKind, s: &RunSummary) {
    let what = if !s.ok {
        format!("FAILED: {}", s.error.clone().unwrap_or_default())
    } else {
        let cpu = s.cpu_us_per_op.map_or("–".into(), |c| format!("{c:.1}"));
        let errors = if s.errors > 0 {
            format!("  errors {} ({})", s.errors, s.first_error.clone().unwrap_or_default())
        } else {
            String::new()
        };
        format!(
            "{:>8} ops/s  p50 {:>7} ms  p99 {:>7} ms  cpu {cpu:>6} µs/op{errors}",
            report::fmt_ops(s.ops_per_s),
            report::fmt_ms(s.p50_us),
            report::fmt_ms(s.p99_us)
        )
    };
    eprintln!("[{:>2}/{total}] {:<22} round {}/{rounds}  {:<16} {what}", ci + 1, cell.label(), round + 1, kind.name());
}

/// zk-dsl's memory measurements, in a fresh worker (so earlier runs do not blur the RSS).
fn memory(opts: &Options, address: SocketAddr) -> Memory {
    eprintln!("memory: {} outstanding requests and watches (zk-dsl) ...", opts.memory_count);
    let cell =
        Cell { workload: Workload::Memory, payload: 100, outstanding: 1, sessions: 1, children: 0, multi_ops: 0 };
    let spec = spec_for(&cell, opts, (address, None), "mem".into());
    let result = peers::prepare(ClientKind::ZkDsl, opts, None)
        .and_then(|cmd| Worker::start(ClientKind::ZkDsl, cmd, &opts.out.join("logs"), None))
        .map(|mut w| w.run(&spec, run_timeout(opts)));
    wait_idle(address, 0);
    match result {
        Ok(r) if r.ok => Memory {
            numbers: r.extra,
            error: (r.errors > 0).then(|| format!("{} errors: {}", r.errors, r.first_error.unwrap_or_default())),
        },
        Ok(r) => Memory { numbers: BTreeMap::new(), error: r.error },
        Err(e) => Memory { numbers: BTreeMap::new(), error: Some(e) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_tree_has_its_nodes_parents_first() {
        for nodes in [1_000, 10_000, 100_000] {
            let paths = tree_paths("/t", nodes);
            assert_eq!(paths.len(), nodes);
            assert_eq!(paths[0], "/t/d00");
            assert_eq!(paths[100], "/t/d00/n00000");
            let unique: BTreeSet<&String> = paths.iter().collect();
            assert_eq!(unique.len(), nodes);
        }
    }
}
