//! What the orchestrator asks a worker to run (one line of `key=value` words on the worker's
//! stdin), and what the worker answers (one line of JSON on its stdout). Every worker speaks
//! this: the Rust clients (this binary, `zk-bench worker <client>`), the Java harness and the
//! kazoo script, so all of them are timed and measured the same way.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One kind of request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// getData over pre-created znodes, round robin.
    Get,
    /// setData (version -1) over the same znodes.
    Set,
    /// create2 of ephemeral znodes with unique names.
    Create,
    /// create then delete of the same znode, both sent at once (one unit = two requests).
    CreateDelete,
    /// getChildren2 of a znode with `children` children.
    Children,
    /// multi of `multi_ops` setData ops.
    Multi,
    /// One session sets, another has a watch: set issued → notification delivered.
    Watch,
    /// connect → session established (then closed, untimed).
    Connect,
    /// zk-dsl memory: bytes per outstanding request and per registered watch.
    Memory,
    /// Lock handoff: `outstanding` contenders (one session each, all in the worker) take and
    /// release one mutex in a loop, holding it for no time. A unit is one acquisition; its
    /// latency is the handoff, the previous holder's release → this holder's acquire returning
    /// (one process, one clock).
    Lock,
    /// Leader failover: `sessions` latch participants; the leader's session is closed and a unit
    /// is the time from that close → another participant knowing it leads (then a fresh
    /// participant joins, untimed, so there are always `sessions`).
    Failover,
    /// Shared counter: `outstanding` contenders (one session each, all in the worker) increment
    /// one counter in a loop. A unit is one increment; its latency the call → its return (the
    /// compare-and-set retries included).
    Counter,
    /// Typed atom: `outstanding` contenders swap one small struct (read, change, write if
    /// unchanged) in a loop. A unit is one successful swap.
    Atom,
    /// Queue: one producer session offers `payload`-byte items, one consumer session takes
    /// them, at most `outstanding` items offered and not yet taken. A unit is one item taken;
    /// its latency the offer issued → the take returning (one process, one clock).
    Queue,
    /// Cache initial load: a cache of the `children`-node tree at `children_path` (100 B a node)
    /// is started in a fresh worker process; one unit is the load (start → `Initialized`), with
    /// the process's RSS (and, where the client can tell, its heap) before and after, per node.
    CacheLoad,
    /// Cache update propagation: a cache of the tree at `children_path`; another session sets a
    /// node, one at a time. A unit is one set; its latency the set issued → the caching session's
    /// event for it.
    CacheUpdate,
}

impl Workload {
    pub const ALL: [Workload; 16] = [
        Workload::Get,
        Workload::Set,
        Workload::Create,
        Workload::CreateDelete,
        Workload::Children,
        Workload::Multi,
        Workload::Watch,
        Workload::Connect,
        Workload::Memory,
        Workload::Lock,
        Workload::Failover,
        Workload::Counter,
        Workload::Atom,
        Workload::Queue,
        Workload::CacheLoad,
        Workload::CacheUpdate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Get => "get",
            Workload::Set => "set",
            Workload::Create => "create",
            Workload::CreateDelete => "create-delete",
            Workload::Children => "children",
            Workload::Multi => "multi",
            Workload::Watch => "watch",
            Workload::Connect => "connect",
            Workload::Memory => "memory",
            Workload::Lock => "lock",
            Workload::Failover => "failover",
            Workload::Counter => "counter",
            Workload::Atom => "atom",
            Workload::Queue => "queue",
            Workload::CacheLoad => "cache-load",
            Workload::CacheUpdate => "cache-update",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }

    /// A recipe's cell (a lock, a latch, a counter, an atom, a queue, a cache) rather than a
    /// request stream: run by the clients that have the recipe, reported in tables of their own.
    pub fn is_recipe(self) -> bool {
        matches!(
            self,
            Workload::Lock
                | Workload::Failover
                | Workload::Counter
                | Workload::Atom
                | Workload::Queue
                | Workload::CacheLoad
                | Workload::CacheUpdate
        )
    }

    /// A cache cell.
    pub fn is_cache(self) -> bool {
        matches!(self, Workload::CacheLoad | Workload::CacheUpdate)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One run of one cell by one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub workload: Workload,
    /// `host:port` of the server.
    pub connect: String,
    /// Payload bytes for get/set/create/multi/watch.
    pub payload: usize,
    /// Requests (units) outstanding in total, spread evenly over the sessions.
    pub outstanding: usize,
    pub sessions: usize,
    pub warmup_ms: u64,
    pub measure_ms: u64,
    /// Parent of the pre-created keys `k0000`..: `<data_root>/k0000`.
    pub data_root: String,
    pub keys: usize,
    /// The znode whose children `children` lists.
    pub children_path: String,
    /// Parent for ephemeral creates.
    pub eph_root: String,
    /// Unique per run: names of created znodes start with it.
    pub tag: String,
    pub multi_ops: usize,
    /// Memory workload: how many requests / watches.
    pub count: usize,
    /// For the TLS clients: the PEM file of the CA that signed the server's certificate (then
    /// `connect` is the server's `secureClientPort`). Written `tls_ca=PATH` only when set.
    pub tls_ca: Option<String>,
}

impl RunSpec {
    /// The `key=value` line a worker reads. Values never contain spaces (paths, numbers, names).
    pub fn to_line(&self) -> String {
        format!(
            "workload={} connect={} payload={} outstanding={} sessions={} warmup_ms={} measure_ms={} \
             data_root={} keys={} children_path={} eph_root={} tag={} multi_ops={} count={}",
            self.workload,
            self.connect,
            self.payload,
            self.outstanding,
            self.sessions,
            self.warmup_ms,
            self.measure_ms,
            self.data_root,
            self.keys,
            self.children_path,
            self.eph_root,
            self.tag,
            self.multi_ops,
            self.count
        ) + &self.tls_ca.as_ref().map_or(String::new(), |ca| format!(" tls_ca={ca}"))
    }

    pub fn parse_line(line: &str) -> Result<RunSpec, String> {
        let mut map = BTreeMap::new();
        for word in line.split_whitespace() {
            let (k, v) = word.split_once('=').ok_or_else(|| format!("spec word {word:?} is not key=value"))?;
            map.insert(k, v);
        }
        let text = |k: &str| map.get(k).map(|v| v.to_string()).ok_or_else(|| format!("spec lacks {k}"));
        let num = |k: &str| -> Result<u64, String> {
            let v = map.get(k).ok_or_else(|| format!("spec lacks {k}"))?;
            v.parse::<u64>().map_err(|e| format!("spec {k}={v}: {e}"))
        };
        let workload = map.get("workload").ok_or("spec lacks workload")?;
        Ok(RunSpec {
            workload: Workload::parse(workload).ok_or_else(|| format!("unknown workload {workload}"))?,
            connect: text("connect")?,
            payload: num("payload")? as usize,
            outstanding: num("outstanding")? as usize,
            sessions: num("sessions")? as usize,
            warmup_ms: num("warmup_ms")?,
            measure_ms: num("measure_ms")?,
            data_root: text("data_root")?,
            keys: num("keys")? as usize,
            children_path: text("children_path")?,
            eph_root: text("eph_root")?,
            tag: text("tag")?,
            multi_ops: num("multi_ops")? as usize,
            count: num("count")? as usize,
            tls_ca: map.get("tls_ca").map(|v| v.to_string()),
        })
    }

    /// Outstanding units of session `i`: the total spread evenly, the first sessions taking
    /// the remainder.
    pub fn outstanding_of(&self, session: usize) -> usize {
        let sessions = self.sessions.max(1);
        self.outstanding / sessions + usize::from(session < self.outstanding % sessions)
    }
}

pub fn key_path(root: &str, i: usize) -> String {
    format!("{root}/k{i:05}")
}

/// The lock directory of a lock-handoff run: unique per run, under the ephemeral root.
pub fn lock_path(spec: &RunSpec) -> String {
    format!("{}/{}-lock", spec.eph_root, spec.tag)
}

/// The latch directory of a leader-failover run.
pub fn latch_path(spec: &RunSpec) -> String {
    format!("{}/{}-latch", spec.eph_root, spec.tag)
}

/// The counter node of a counter run (each client its own, so formats never meet).
pub fn counter_path(spec: &RunSpec) -> String {
    format!("{}/{}-counter", spec.eph_root, spec.tag)
}

/// The atom node of an atom run.
pub fn atom_path(spec: &RunSpec) -> String {
    format!("{}/{}-atom", spec.eph_root, spec.tag)
}

/// The queue directory of a queue run.
pub fn queue_path(spec: &RunSpec) -> String {
    format!("{}/{}-queue", spec.eph_root, spec.tag)
}

/// What a worker reports for one run. The Java and kazoo harnesses print the same fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// False when the run could not be done at all (`error` says why).
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// Units completed successfully inside the measured window.
    #[serde(default)]
    pub ops: u64,
    /// Failed units over the whole run (warm-up, window and drain).
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub first_error: Option<String>,
    /// Length of the measured window.
    #[serde(default)]
    pub elapsed_s: f64,
    /// When the measured window started (Unix time, ms), to line up the server's CPU samples.
    #[serde(default)]
    pub window_start_unix_ms: f64,
    /// utime + stime (clock ticks, /proc/self/stat) over the measured window.
    #[serde(default)]
    pub cpu_ticks: u64,
    /// VmRSS at the end of the window.
    #[serde(default)]
    pub rss_kb: u64,
    /// Voluntary context switches of the whole process over the measured window
    /// (`getrusage(RUSAGE_SELF)`: every thread, exited ones too). The Rust workers report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcsw: Option<u64>,
    /// Involuntary context switches (preemptions) over the window, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivcsw: Option<u64>,
    /// Issue → completion latencies in the window, as (nanoseconds, count) pairs.
    #[serde(default)]
    pub lat_ns: Vec<(u64, u64)>,
    /// Workload-specific numbers (memory).
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

impl RunReport {
    pub fn failed(error: impl Into<String>) -> RunReport {
        RunReport { ok: false, error: Some(error.into()), ..RunReport::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            workload: Workload::CreateDelete,
            connect: "127.0.0.1:1234".into(),
            payload: 100,
            outstanding: 100,
            sessions: 16,
            warmup_ms: 1,
            measure_ms: 2,
            data_root: "/zkb/data-100".into(),
            keys: 1000,
            children_path: "/zkb/children-100".into(),
            eph_root: "/zkb/eph".into(),
            tag: "t1".into(),
            multi_ops: 10,
            count: 0,
            tls_ca: None,
        }
    }

    #[test]
    fn spec_lines_round_trip() {
        let s = spec();
        assert_eq!(RunSpec::parse_line(&s.to_line()), Ok(s));
        let tls = RunSpec { tls_ca: Some("/tmp/out/tls-ca.pem".into()), ..spec() };
        assert!(tls.to_line().ends_with(" tls_ca=/tmp/out/tls-ca.pem"));
        assert_eq!(RunSpec::parse_line(&tls.to_line()), Ok(tls));
    }

    #[test]
    fn outstanding_is_spread_over_sessions() {
        let s = spec();
        let per: Vec<usize> = (0..16).map(|i| s.outstanding_of(i)).collect();
        assert_eq!(per.iter().sum::<usize>(), 100);
        assert_eq!(per[0], 7);
        assert_eq!(per[15], 6);
    }

    #[test]
    fn reports_parse_with_missing_fields() {
        let r: RunReport = serde_json::from_str(r#"{"ok":true,"ops":5,"lat_ns":[[100,2]]}"#).unwrap();
        assert_eq!(r.ops, 5);
        assert_eq!(r.lat_ns, vec![(100, 2)]);
    }
}
