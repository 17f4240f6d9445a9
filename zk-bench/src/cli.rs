//! Command-line options of the orchestrator.

use std::path::PathBuf;
use std::time::Duration;

use crate::clients::ClientKind;
use crate::worker::Runtime;

pub const USAGE: &str = "\
zk-bench: zk-dsl against the single-session ceiling (raw proto) and the peer ZooKeeper clients.

USAGE: cargo run -p zk-bench --release -- [OPTIONS]

Starts a ZooKeeper (Debian's, through zk_dsl::testing: private port, forceSync=no, 1 GiB heap),
runs every cell of the standard table with every client, alternating clients round after round,
and writes results.md (everything), summary.md (the README's short table), results.json and
SVG plots to the output directory.

OPTIONS:
  --quick                 short windows (0.2 s warm-up, 0.5 s measured): the whole table in ~8 minutes
  --warmup SECS           warm-up per run (default 2)
  --measure SECS          measured window per run (default 5)
  --rounds N              rounds of alternating clients per cell (default 3, at least 1)
  --clients A,B,...       clients to run (default: all but the TLS ones and the floors): raw,
                          raw-tasks, raw-callbacks, raw-blocking (floors: raw's frames under
                          zk-dsl-tasks', -callbacks' and -blocking's patterns), zk-dsl (a
                          FuturesUnordered of .send() handles), zk-dsl-tasks (N tasks awaiting),
                          zk-dsl-deque (a VecDeque of handles, the oldest awaited), zk-dsl-callbacks
                          (.callback() chains), zk-dsl-macro (zk!), zk-dsl-blocking (N threads),
                          zk-dsl-blocking-window (one thread per session: a VecDeque of .send()
                          handles, the oldest .wait()-ed),
                          zookeeper-client, java, kazoo, curator (Curator 5.4 from Debian's jars or
                          $CURATOR_CLASSPATH: the recipe cells only; 'lock-handoff c=10',
                          'counter c=10' and the cache cells run zk-dsl, curator and kazoo,
                          'leader-failover c=3', 'atom c=10' and 'queue 100B w=10' zk-dsl and
                          curator); zk-dsl-deque, zk-dsl-callbacks and zk-dsl-blocking-window
                          run get, set and create.
                          Over TLS: raw-tls, zk-dsl-tls, java-tls (the server then also serves a
                          secureClientPort from a fresh test CA, and runs Netty on both ports)
  --skip A,B,...          clients to leave out
  --only TEXT[,TEXT..]    only these cells: a whole label picks that cell ('get 100B n=1'), other
                          text every label containing it ('get 100B', 'n=100')
  --list                  print the cells and exit (--only lock,failover,counter,atom,queue:
                          the recipe cells; --only cache: the cache cells, each cache-load run
                          in a fresh worker process)
  --render DIR            run nothing: re-render DIR/results.json (verdicts, markdown, plots)
  --server HOST:PORT      use this running server instead of starting one (its /zkb is replaced)
  --out DIR               output directory (default target/zk-bench)
  --runtime multi|current tokio runtime of the Rust clients (default multi, as #[tokio::main])
  --keys N                pre-created znodes per payload size (default 1000)
  --contended             run every client beside a CPU-burning neighbour: one busy thread pinned to
                          each CPU through each run's warm-up and window (the results say so)
  --client-cpu PCT        limit every client process to PCT % of one CPU (a cgroup CPU quota; needs
                          root), the server unconstrained: throughput is then the client's budget
                          over its CPU per op
  --no-memory             skip the memory measurements
  --memory-count N        requests and watches for the memory measurements (default 100000)
  --java-classpath CP     class path of the Java client (default Debian's zookeeper.jar + slf4j-nop)
  --venv DIR              virtualenv for kazoo (default: the one scripts/ensure-peers.sh builds,
                          $ZK_DSL_KAZOO_VENV or ~/.cache/zk-dsl/kazoo-2.11.0, if present; else
                          <out>/venv, created with pip if missing)
  -h, --help              this text
";

#[derive(Debug, Clone)]
pub struct Options {
    pub warmup: Duration,
    pub measure: Duration,
    pub rounds: usize,
    pub quick: bool,
    pub clients: Vec<ClientKind>,
    pub only: Vec<String>,
    pub list: bool,
    pub server: Option<String>,
    pub out: PathBuf,
    pub runtime: Runtime,
    pub keys: usize,
    pub memory: bool,
    pub memory_count: usize,
    /// Runs beside a CPU-burning neighbour (`contend.rs`).
    pub contended: bool,
    /// Each client process limited to this % of one CPU (`budget.rs`).
    pub client_cpu: Option<f64>,
    pub java_classpath: Option<String>,
    pub venv: Option<PathBuf>,
    /// Re-render this directory's results.json instead of running anything.
    pub render: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            warmup: Duration::from_secs(2),
            measure: Duration::from_secs(5),
            rounds: 3,
            quick: false,
            clients: ClientKind::default_set(),
            only: Vec::new(),
            list: false,
            server: None,
            out: PathBuf::from("target/zk-bench"),
            runtime: Runtime::Multi,
            keys: 1000,
            memory: true,
            memory_count: 100_000,
            contended: false,
            client_cpu: None,
            java_classpath: None,
            venv: None,
            render: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Options>),
    Help,
}

fn secs(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = v.parse().map_err(|_| format!("{flag}: {v:?} is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&s) {
        return Err(format!("{flag}: {s} s is out of range"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn clients(flag: &str, v: &str) -> Result<Vec<ClientKind>, String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| ClientKind::parse(s.trim()).ok_or_else(|| format!("{flag}: unknown client {s:?}")))
        .collect()
}

pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut warmup = None;
    let mut measure = None;
    let mut skip = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quick" => o.quick = true,
            "--warmup" => warmup = Some(secs(flag, &value()?)?),
            "--measure" => measure = Some(secs(flag, &value()?)?),
            "--rounds" => {
                o.rounds = value()?.parse().ok().filter(|&r| r >= 1).ok_or("--rounds needs a number ≥ 1")?;
            }
            "--clients" => o.clients = clients(flag, &value()?)?,
            "--skip" => skip = clients(flag, &value()?)?,
            "--only" => o.only.extend(value()?.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from)),
            "--list" => o.list = true,
            "--server" => o.server = Some(value()?),
            "--out" => o.out = PathBuf::from(value()?),
            "--runtime" => o.runtime = Runtime::parse(&value()?).ok_or("--runtime is multi or current")?,
            "--keys" => o.keys = value()?.parse().ok().filter(|&k| k >= 1).ok_or("--keys needs a number ≥ 1")?,
            "--no-memory" => o.memory = false,
            "--contended" => o.contended = true,
            "--client-cpu" => {
                let share = value()?.parse().ok().filter(|&p| crate::budget::valid_share(p));
                o.client_cpu = Some(share.ok_or("--client-cpu needs a percentage above 0")?);
            }
            "--memory-count" => {
                o.memory_count =
                    value()?.parse().ok().filter(|&k| k >= 1).ok_or("--memory-count needs a number ≥ 1")?;
            }
            "--java-classpath" => o.java_classpath = Some(value()?),
            "--venv" => o.venv = Some(PathBuf::from(value()?)),
            "--render" => o.render = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if o.quick {
        o.warmup = Duration::from_millis(200);
        o.measure = Duration::from_millis(500);
    }
    o.warmup = warmup.unwrap_or(o.warmup);
    o.measure = measure.unwrap_or(o.measure);
    if o.measure.is_zero() {
        return Err("--measure must be above 0".into());
    }
    o.clients.retain(|c| !skip.contains(c));
    o.clients.sort();
    o.clients.dedup();
    if o.clients.is_empty() {
        return Err("no client left to run".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn quick_sets_short_windows_and_flags_override() {
        let Ok(Parsed::Run(o)) = parse(&args("--quick --measure 2 --skip kazoo,java")) else { panic!() };
        assert_eq!(o.warmup, Duration::from_millis(200));
        assert_eq!(o.measure, Duration::from_secs(2));
        assert!(!o.clients.contains(&ClientKind::Kazoo));
        assert_eq!(o.clients[0], ClientKind::Raw);
    }

    #[test]
    fn rejects_unknown_things() {
        assert!(parse(&args("--clients nope")).is_err());
        assert!(parse(&args("--bogus")).is_err());
        assert!(parse(&args("--rounds 0")).is_err());
        assert!(parse(&args("--client-cpu 0")).is_err());
        assert!(parse(&args("--client-cpu ten")).is_err());
    }

    #[test]
    fn a_client_cpu_budget_is_a_share_of_one_cpu() {
        let Ok(Parsed::Run(o)) = parse(&args("--client-cpu 12.5")) else { panic!() };
        assert_eq!(o.client_cpu, Some(12.5));
        let Ok(Parsed::Run(o)) = parse(&args("--contended")) else { panic!() };
        assert_eq!(o.client_cpu, None);
    }

    #[test]
    fn tls_clients_run_only_when_asked_for() {
        let Ok(Parsed::Run(o)) = parse(&args("--contended")) else { panic!() };
        assert!(o.contended);
        assert!(!o.clients.iter().any(|c| c.is_tls()));
        assert!(o.clients.contains(&ClientKind::ZkDslDeque));
        let Ok(Parsed::Run(o)) = parse(&args("--clients zk-dsl,zk-dsl-tls,raw-tls,java-tls")) else { panic!() };
        assert_eq!(o.clients.iter().filter(|c| c.is_tls()).count(), 3);
    }
}
