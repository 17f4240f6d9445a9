//! Turning run reports into medians, ratios, the targets' verdicts, markdown and JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::clients::ClientKind;
use crate::plan::Cell;
use crate::spec::{RunReport, Workload};

/// One run, reduced to its numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub round: usize,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ops: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    /// Client CPU (user + system) per unit, µs.
    pub cpu_us_per_op: Option<f64>,
    /// Client CPU as % of one core over the window.
    pub cpu_pct: f64,
    pub rss_mb: f64,
    /// The server JVM's CPU per unit over the same window (a sanity check), µs.
    pub server_cpu_us_per_op: Option<f64>,
    /// The client process's voluntary context switches per unit in the window (blocking waits:
    /// a thread parking on a futex or epoll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcsw_per_op: Option<f64>,
    /// Involuntary context switches (preemptions) per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivcsw_per_op: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl RunSummary {
    pub fn new(round: usize, r: &RunReport, ticks_per_s: u64, server_ticks: Option<u64>) -> RunSummary {
        let mut hist = Histogram::<u64>::new(3).expect("valid sigfig");
        for &(v, c) in &r.lat_ns {
            // Values come from our own workers; a rejected value only loses a sample.
            let _ = hist.record_n(v.max(1), c);
        }
        let pct = |q: f64| if hist.is_empty() { 0.0 } else { hist.value_at_quantile(q) as f64 / 1000.0 };
        let tick_us = 1e6 / ticks_per_s as f64;
        let per_op = |ticks: u64| (r.ops > 0).then(|| ticks as f64 * tick_us / r.ops as f64);
        RunSummary {
            round,
            ok: r.ok,
            error: r.error.clone(),
            ops: r.ops,
            errors: r.errors,
            first_error: r.first_error.clone(),
            elapsed_s: r.elapsed_s,
            ops_per_s: if r.elapsed_s > 0.0 { r.ops as f64 / r.elapsed_s } else { 0.0 },
            p50_us: pct(0.5),
            p90_us: pct(0.9),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            max_us: if hist.is_empty() { 0.0 } else { hist.max() as f64 / 1000.0 },
            mean_us: if hist.is_empty() { 0.0 } else { hist.mean() / 1000.0 },
            cpu_us_per_op: per_op(r.cpu_ticks),
            cpu_pct: if r.elapsed_s > 0.0 { r.cpu_ticks as f64 * tick_us / 1e4 / r.elapsed_s } else { 0.0 },
            rss_mb: r.rss_kb as f64 / 1024.0,
            server_cpu_us_per_op: server_ticks.and_then(per_op),
            vcsw_per_op: r.vcsw.filter(|_| r.ops > 0).map(|v| v as f64 / r.ops as f64),
            ivcsw_per_op: r.ivcsw.filter(|_| r.ops > 0).map(|v| v as f64 / r.ops as f64),
            extra: r.extra.clone(),
        }
    }
}

/// Median, min and max over the rounds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientSummary {
    pub client: ClientKind,
    pub runs: Vec<RunSummary>,
    pub ops_per_s: Option<Spread>,
    pub p50_us: Option<Spread>,
    pub p99_us: Option<Spread>,
    pub p999_us: Option<Spread>,
    pub cpu_us_per_op: Option<Spread>,
    pub server_cpu_us_per_op: Option<Spread>,
    /// Voluntary and involuntary context switches per unit (the Rust workers measure them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcsw_per_op: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivcsw_per_op: Option<Spread>,
    pub rss_mb_max: f64,
    /// Failed units over all rounds.
    pub errors: u64,
    /// Runs that could not be done at all.
    pub failed_runs: usize,
    /// Median ops/s over raw's median ops/s in the same cell.
    pub ratio_to_raw: Option<f64>,
}

impl ClientSummary {
    pub fn new(client: ClientKind, runs: Vec<RunSummary>) -> ClientSummary {
        let ok: Vec<&RunSummary> = runs.iter().filter(|r| r.ok && r.ops > 0).collect();
        ClientSummary {
            client,
            ops_per_s: Spread::of(ok.iter().map(|r| r.ops_per_s)),
            p50_us: Spread::of(ok.iter().map(|r| r.p50_us)),
            p99_us: Spread::of(ok.iter().map(|r| r.p99_us)),
            p999_us: Spread::of(ok.iter().map(|r| r.p999_us)),
            cpu_us_per_op: Spread::of(ok.iter().filter_map(|r| r.cpu_us_per_op)),
            server_cpu_us_per_op: Spread::of(ok.iter().filter_map(|r| r.server_cpu_us_per_op)),
            vcsw_per_op: Spread::of(ok.iter().filter_map(|r| r.vcsw_per_op)),
            ivcsw_per_op: Spread::of(ok.iter().filter_map(|r| r.ivcsw_per_op)),
            rss_mb_max: runs.iter().map(|r| r.rss_mb).fold(0.0, f64::max),
            errors: runs.iter().map(|r| r.errors).sum(),
            failed_runs: runs.iter().filter(|r| !r.ok).count(),
            ratio_to_raw: None,
            runs,
        }
    }

    fn ops(&self) -> Option<f64> {
        self.ops_per_s.map(|s| s.median)
    }

    /// Context switches per unit, voluntary / involuntary (medians), where measured.
    fn switches(&self) -> Option<String> {
        let (v, i) = (self.vcsw_per_op?, self.ivcsw_per_op?);
        Some(format!("{} / {}", fmt_per_op(v.median), fmt_per_op(i.median)))
    }
}

/// A count per unit: two significant digits below 1, two decimals above.
fn fmt_per_op(x: f64) -> String {
    if x >= 1.0 || x == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.2}").trim_start_matches('0').to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellSummary {
    pub label: String,
    pub cell: Cell,
    pub clients: Vec<ClientSummary>,
}

impl CellSummary {
    pub fn new(cell: Cell, mut clients: Vec<ClientSummary>) -> CellSummary {
        let raw = clients.iter().find(|c| c.client == ClientKind::Raw).and_then(ClientSummary::ops);
        for c in &mut clients {
            c.ratio_to_raw = match (c.ops(), raw) {
                (Some(x), Some(r)) if r > 0.0 => Some(x / r),
                _ => None,
            };
        }
        CellSummary { label: cell.label(), cell, clients }
    }

    pub fn client(&self, kind: ClientKind) -> Option<&ClientSummary> {
        self.clients.iter().find(|c| c.client == kind)
    }
}

/// The zk-dsl memory measurements.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    pub numbers: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One of the targets, checked on one cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub target: String,
    pub cell: String,
    pub measured: String,
    pub pass: bool,
}

/// Everything a run of zk-bench produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub meta: BTreeMap<String, String>,
    pub clients: BTreeMap<String, String>,
    pub skipped: BTreeMap<String, String>,
    pub cells: Vec<CellSummary>,
    pub memory: Option<Memory>,
    pub targets: Vec<Verdict>,
}

// ----- the targets ------------------------------------------------------------------------------

fn core(cells: &[CellSummary], w: Workload, n: usize) -> Option<&CellSummary> {
    cells.iter().find(|c| c.cell.is_core() && c.cell.workload == w && c.cell.outstanding == n)
}

fn best_peer(
    cell: &CellSummary,
    key: impl Fn(&ClientSummary) -> Option<f64>,
    lowest: bool,
) -> Option<(ClientKind, f64)> {
    cell.clients.iter().filter(|c| c.client.is_peer()).filter_map(|c| key(c).map(|v| (c.client, v))).reduce(|a, b| {
        if (b.1 < a.1) == lowest {
            b
        } else {
            a
        }
    })
}

/// The targets for zk-dsl (the `.send()` window style), on the cells that measure them.
pub fn targets(cells: &[CellSummary]) -> Vec<Verdict> {
    let ours = ClientKind::ZkDsl;
    let mut out = Vec::new();
    let ops = |c: &ClientSummary| c.ops();
    for w in [Workload::Get, Workload::Set, Workload::Create] {
        for n in [10, 100] {
            let Some(cell) = core(cells, w, n) else { continue };
            if let Some(r) = cell.client(ours).and_then(|c| c.ratio_to_raw) {
                out.push(Verdict {
                    target: "≥ 0.95 × raw (10 and 100 outstanding)".into(),
                    cell: cell.label.clone(),
                    measured: format!("{r:.2} × raw"),
                    pass: r >= 0.95,
                });
            }
        }
    }
    for w in [Workload::Set, Workload::Create] {
        let Some(cell) = core(cells, w, 100) else { continue };
        if let (Some(x), Some((peer, best))) = (cell.client(ours).and_then(ops), best_peer(cell, ops, false)) {
            out.push(Verdict {
                target: "≥ 1.1 × best peer (set, create at 100)".into(),
                cell: cell.label.clone(),
                measured: format!("{:.2} × {peer}", x / best),
                pass: x >= 1.1 * best,
            });
        }
    }
    let cpu = |c: &ClientSummary| c.cpu_us_per_op.map(|s| s.median);
    for w in [Workload::Get, Workload::Set, Workload::Create] {
        for n in [1, 10, 100, 1000] {
            let Some(cell) = core(cells, w, n) else { continue };
            if let (Some(x), Some((peer, best))) = (cell.client(ours).and_then(cpu), best_peer(cell, cpu, true)) {
                out.push(Verdict {
                    target: "client CPU/op ≤ 0.8 × best peer".into(),
                    cell: cell.label.clone(),
                    measured: format!("{x:.1} vs {best:.1} µs ({peer}): {:.2}×", x / best),
                    pass: x <= 0.8 * best,
                });
            }
        }
    }
    for cell in cells {
        let (Some(builder), Some(mac)) = (cell.client(ours), cell.client(ClientKind::ZkDslMacro)) else { continue };
        if let (Some(m), Some(b)) = (mac.ops_per_s, builder.ops_per_s) {
            // The two send byte-identical requests (tests/macro_requests.rs), so what is left is
            // the run-to-run noise of a server sharing two cores: each median inside the other's
            // range over the rounds (or within 10 %) is "the same within noise".
            let inside = |x: f64, s: Spread| s.min <= x && x <= s.max;
            let ratio = m.median / b.median;
            let cpu = match (mac.cpu_us_per_op, builder.cpu_us_per_op) {
                (Some(mc), Some(bc)) => format!("; CPU {:.1} vs {:.1} µs/op", mc.median, bc.median),
                _ => String::new(),
            };
            out.push(Verdict {
                target: "zk! = builder chain within noise".into(),
                cell: cell.label.clone(),
                measured: format!(
                    "{ratio:.2} × builder ({} [{}–{}] vs {} [{}–{}]){cpu}",
                    fmt_ops(m.median),
                    fmt_ops(m.min),
                    fmt_ops(m.max),
                    fmt_ops(b.median),
                    fmt_ops(b.min),
                    fmt_ops(b.max)
                ),
                pass: (ratio - 1.0).abs() <= 0.10 || inside(m.median, b) || inside(b.median, m),
            });
        }
    }
    out.extend(lock_targets(cells));
    out.extend(shared_targets(cells));
    out.extend(cache_targets(cells));
    let p50 = |c: &ClientSummary| c.p50_us.map(|s| s.median);
    for w in [Workload::Get, Workload::Set, Workload::Create] {
        let Some(cell) = core(cells, w, 1) else { continue };
        if let (Some(x), Some(raw)) = (cell.client(ours).and_then(p50), cell.client(ClientKind::Raw).and_then(p50)) {
            out.push(Verdict {
                target: "p50 within 20 µs of raw (1 outstanding)".into(),
                cell: cell.label.clone(),
                measured: format!("{x:.0} vs {raw:.0} µs ({:+.0} µs)", x - raw),
                pass: x - raw <= 20.0,
            });
        }
    }
    for w in [Workload::Get, Workload::Set, Workload::Create] {
        let (Some(c1000), Some(c100)) = (core(cells, w, 1000), core(cells, w, 100)) else { continue };
        let (Some(a), Some(b)) = (c1000.client(ours), c100.client(ours)) else { continue };
        if let (Some(x), Some(y)) = (a.ops(), b.ops()) {
            out.push(Verdict {
                target: "1,000 outstanding: 0 errors, ops/s ≥ at 100".into(),
                cell: c1000.label.clone(),
                measured: format!("{} errors, {:.2} × n=100", a.errors, x / y),
                pass: a.errors == 0 && a.failed_runs == 0 && x >= y,
            });
        }
    }
    out
}

/// The lock-handoff targets: zk-dsl at least Curator's acquisitions/s with a lower
/// handoff p99, and client CPU per acquisition below Curator's and kazoo's.
/// Issue 14's target for the counter, atom and queue cells: zk-dsl's median ahead of every
/// peer's that ran the cell.
fn shared_targets(cells: &[CellSummary]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for cell in cells.iter().filter(|c| matches!(c.cell.workload, Workload::Counter | Workload::Atom | Workload::Queue))
    {
        let Some(x) = cell.client(ClientKind::ZkDsl).and_then(ClientSummary::ops) else { continue };
        let peers: Vec<(ClientKind, f64)> =
            cell.clients.iter().filter(|c| c.client.is_peer()).filter_map(|c| c.ops().map(|v| (c.client, v))).collect();
        if peers.is_empty() {
            continue;
        }
        let others: Vec<String> =
            peers.iter().map(|(k, v)| format!("{}/s ({k}, {:.2}×)", fmt_ops(*v), x / v)).collect();
        out.push(Verdict {
            target: "shared data: ahead of both peers in every cell".into(),
            cell: cell.label.clone(),
            measured: format!("{}/s vs {}", fmt_ops(x), others.join(", ")),
            pass: peers.iter().all(|&(_, v)| x > v),
        });
    }
    out
}

fn lock_targets(cells: &[CellSummary]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let Some(cell) = cells.iter().find(|c| c.cell.workload == Workload::Lock) else { return out };
    let Some(ours) = cell.client(ClientKind::ZkDsl) else { return out };
    let median = |s: Option<Spread>| s.map(|s| s.median);
    if let Some(curator) = cell.client(ClientKind::Curator) {
        if let (Some(x), Some(c)) = (median(ours.ops_per_s), median(curator.ops_per_s)) {
            out.push(Verdict {
                target: "lock handoff: acquisitions/s ≥ Curator's".into(),
                cell: cell.label.clone(),
                measured: format!("{} vs {}/s: {:.2} × curator", fmt_ops(x), fmt_ops(c), x / c),
                pass: x >= c,
            });
        }
        if let (Some(x), Some(c)) = (median(ours.p99_us), median(curator.p99_us)) {
            out.push(Verdict {
                target: "lock handoff: p99 below Curator's".into(),
                cell: cell.label.clone(),
                measured: format!("{} vs {} ms", fmt_ms(x), fmt_ms(c)),
                pass: x < c,
            });
        }
    }
    let peers: Vec<(ClientKind, f64)> = [ClientKind::Curator, ClientKind::Kazoo]
        .into_iter()
        .filter_map(|k| median(cell.client(k)?.cpu_us_per_op).map(|v| (k, v)))
        .collect();
    if let (Some(x), false) = (median(ours.cpu_us_per_op), peers.is_empty()) {
        let others: Vec<String> = peers.iter().map(|(k, v)| format!("{v:.0} µs ({k})")).collect();
        out.push(Verdict {
            target: "lock handoff: client CPU/acquisition below Curator's and kazoo's".into(),
            cell: cell.label.clone(),
            measured: format!("{x:.0} vs {}", others.join(", ")),
            pass: peers.iter().all(|&(_, v)| x < v),
        });
    }
    out
}

// ----- markdown ---------------------------------------------------------------------------------

pub fn fmt_ops(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1}k", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.2}k", x / 1000.0)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

pub fn fmt_ms(us: f64) -> String {
    let ms = us / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

fn table(out: &mut String, results: &Results, clients: &[ClientKind], cell_fn: impl Fn(&ClientSummary) -> String) {
    table_by_cell(out, results, clients, |_, c| cell_fn(c));
}

/// [`table`] whose entries may look at the rest of their cell.
fn table_by_cell(
    out: &mut String,
    results: &Results,
    clients: &[ClientKind],
    cell_fn: impl Fn(&CellSummary, &ClientSummary) -> String,
) {
    let _ = write!(out, "| cell |");
    for c in clients {
        let _ = write!(out, " {c} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in clients {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    for cell in results.cells.iter().filter(|c| !c.cell.workload.is_recipe()) {
        let _ = write!(out, "| {} |", cell.label);
        for c in clients {
            let text = cell.client(*c).map_or_else(|| "–".to_string(), |s| cell_fn(cell, s));
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn spread_ops(s: Option<Spread>) -> String {
    s.map_or_else(|| "failed".into(), |s| format!("{} [{}–{}]", fmt_ops(s.median), fmt_ops(s.min), fmt_ops(s.max)))
}

fn spread_ms(s: Option<Spread>) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{} [{}–{}]", fmt_ms(s.median), fmt_ms(s.min), fmt_ms(s.max)))
}

/// One number from each successful run's `extra`, over the rounds.
pub fn extra_spread(c: &ClientSummary, key: &str) -> Option<Spread> {
    Spread::of(c.runs.iter().filter(|r| r.ok).filter_map(|r| r.extra.get(key).copied()))
}

/// How long each successful run took (a cache load: start → initialized), seconds.
fn load_seconds(c: &ClientSummary) -> Option<Spread> {
    Spread::of(c.runs.iter().filter(|r| r.ok && r.ops > 0).map(|r| r.elapsed_s))
}

fn spread_with(s: Option<Spread>, f: impl Fn(f64) -> String) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{} [{}–{}]", f(s.median), f(s.min), f(s.max)))
}

/// A cache-load cell: load time, memory per cached node (RSS delta; the JVM's heap after GC, and
/// zk-dsl's live heap from the counting allocator), CPU per load.
fn cache_load_table(out: &mut String, cell: &CellSummary, rounds: usize) {
    let _ = writeln!(
        out,
        "**{}**: the initial load of a tree of {} nodes of {} bytes (100 directories of leaves) by a cache \
         started in a fresh client process (zk-dsl `Cache`, taking its `Added` events up to `Initialized`; \
         Curator `CuratorCache` up to its `initialized()` callback; kazoo `TreeCache` up to its `INITIALIZED` \
         event). Load = start → initialized, s; memory per cached node = the process's RSS after the load \
         minus before, over the nodes cached; heap per node = live heap bytes (zk-dsl: a counting allocator; \
         Curator: heap in use after `System.gc()`); client CPU per load, s. Medians of {rounds} rounds \
         [min–max].\n",
        cell.label, cell.cell.children, cell.cell.payload
    );
    let _ = writeln!(
        out,
        "| client | load s | RSS B/node | heap B/node | CPU s/load | errors |\n|---|---:|---:|---:|---:|---:|"
    );
    for c in &cell.clients {
        let secs = |v: f64| format!("{v:.3}");
        let bytes = |v: f64| format!("{v:.0}");
        let cpu = Spread::of(c.runs.iter().filter(|r| r.ok).filter_map(|r| r.cpu_us_per_op.map(|u| u / 1e6)));
        let failed = if c.failed_runs > 0 { format!(" ({} runs failed)", c.failed_runs) } else { String::new() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}{failed} |",
            c.client,
            spread_with(load_seconds(c), secs),
            spread_with(extra_spread(c, "bytes_per_node"), bytes),
            spread_with(extra_spread(c, "heap_bytes_per_node"), bytes),
            spread_with(cpu, secs),
            c.errors
        );
    }
    out.push('\n');
}

/// Issue 13's cache targets: a faster initial load than both peers, memory per cached node at
/// most Curator's (zk-dsl's RSS delta against Curator's heap after GC, the stricter pairing: a
/// JVM's RSS grows by more than its live heap), update propagation p99 at most Curator's.
fn cache_targets(cells: &[CellSummary]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let median = |s: Option<Spread>| s.map(|s| s.median);
    for cell in cells.iter().filter(|c| c.cell.workload == Workload::CacheLoad) {
        let Some(ours) = cell.client(ClientKind::ZkDsl) else { continue };
        let peers: Vec<(ClientKind, f64)> = cell
            .clients
            .iter()
            .filter(|c| c.client.is_peer())
            .filter_map(|c| Some((c.client, median(load_seconds(c))?)))
            .collect();
        if let (Some(x), false) = (median(load_seconds(ours)), peers.is_empty()) {
            let others: Vec<String> = peers.iter().map(|(k, v)| format!("{v:.2} s ({k})")).collect();
            out.push(Verdict {
                target: "cache: initial load faster than both peers".into(),
                cell: cell.label.clone(),
                measured: format!("{x:.2} s vs {}", others.join(", ")),
                pass: peers.iter().all(|&(_, v)| x < v),
            });
        }
        let curator = cell.client(ClientKind::Curator);
        let theirs = curator.and_then(|c| median(extra_spread(c, "heap_bytes_per_node")));
        if let (Some(x), Some(c)) = (median(extra_spread(ours, "bytes_per_node")), theirs) {
            out.push(Verdict {
                target: "cache: memory per node ≤ Curator's".into(),
                cell: cell.label.clone(),
                measured: format!("{x:.0} B (RSS) vs {c:.0} B (Curator heap after GC)"),
                pass: x <= c,
            });
        }
    }
    for cell in cells.iter().filter(|c| c.cell.workload == Workload::CacheUpdate) {
        let (Some(ours), Some(curator)) = (cell.client(ClientKind::ZkDsl), cell.client(ClientKind::Curator)) else {
            continue;
        };
        if let (Some(x), Some(c)) = (median(ours.p99_us), median(curator.p99_us)) {
            out.push(Verdict {
                target: "cache: update propagation p99 ≤ Curator's".into(),
                cell: cell.label.clone(),
                measured: format!("{} vs {} ms", fmt_ms(x), fmt_ms(c)),
                pass: x <= c,
            });
        }
    }
    out
}

/// The recipe cells' tables (lock handoff, leader failover), one row per client that ran them.
fn recipes(out: &mut String, results: &Results) {
    for cell in results.cells.iter().filter(|c| c.cell.workload.is_recipe()) {
        let rounds = cell.clients.first().map_or(0, |c| c.runs.len());
        if cell.cell.workload == Workload::CacheLoad {
            cache_load_table(out, cell, rounds);
            continue;
        }
        match cell.cell.workload {
            Workload::CacheUpdate => {
                let _ = writeln!(
                    out,
                    "**{}**: a cache of a {}-node tree ({}-byte nodes) on one session (zk-dsl `Cache`, Curator \
                     `CuratorCache`, kazoo `TreeCache`); another session in the same process sets its nodes one \
                     after another. Units: updates/s; latency = the set issued → the caching session's event \
                     for it (one clock), ms; client CPU per update (both sessions). Medians of {rounds} rounds \
                     [min–max].\n",
                    cell.label, cell.cell.children, cell.cell.payload
                );
                let _ = writeln!(
                    out,
                    "| client | updates/s | p50 ms | p99 ms | CPU µs/update | errors |\n\
                     |---|---:|---:|---:|---:|---:|"
                );
            }
            Workload::Lock => {
                let _ = writeln!(
                    out,
                    "**{}**: {} contenders, one session each, all in one client process, take and release one \
                     mutex without holding it. Acquisitions/s; handoff = the holder's release → the next \
                     holder's acquire returning (one clock), ms; client CPU per acquisition. Medians of {rounds} \
                     rounds [min–max].\n",
                    cell.label, cell.cell.outstanding
                );
                let _ = writeln!(
                    out,
                    "| client | acquisitions/s | handoff p50 ms | handoff p99 ms | CPU µs/acquisition | errors |\n\
                     |---|---:|---:|---:|---:|---:|"
                );
            }
            Workload::Counter | Workload::Atom => {
                let (what, unit) = if cell.cell.workload == Workload::Counter {
                    (
                        "increment one shared counter in a loop (zk-dsl `SharedCount::add(1)`, Curator \
                         `DistributedAtomicLong.increment()` with RetryNTimes(1000, 1 ms), kazoo \
                         `Counter(support_curator=True)` `+= 1` with its default command retry)",
                        "increment",
                    )
                } else {
                    (
                        "swap one small typed value in a loop, count + 1 and themselves as the last writer \
                         (zk-dsl `Atom<T>::swap` of a 2-field struct; Curator has no swap: \
                         `DistributedAtomicValue` get() then compareAndSet(read, new) of 12 bytes, until it \
                         succeeds)",
                        "swap",
                    )
                };
                let _ = writeln!(
                    out,
                    "**{}**: {} contenders, one session each, all in one client process, {what}. Units: {unit}s/s; \
                     latency = the call → its return, retries included, ms; client CPU per {unit}. Medians of \
                     {rounds} rounds [min–max].\n",
                    cell.label, cell.cell.outstanding
                );
                let _ = writeln!(
                    out,
                    "| client | {unit}s/s | p50 ms | p99 ms | CPU µs/{unit} | errors |\n\
                     |---|---:|---:|---:|---:|---:|"
                );
            }
            Workload::Queue => {
                let _ = writeln!(
                    out,
                    "**{}**: one producer and one consumer session in one client process on one queue (zk-dsl \
                     `SimpleQueue<Vec<u8>>`, Curator `SimpleDistributedQueue`); the producer offers {}-byte items \
                     one at a time while fewer than {} are offered and not yet taken, the consumer takes them. \
                     Items/s taken; latency = offer issued → take returned, ms; client CPU per item. Medians of \
                     {rounds} rounds [min–max].\n",
                    cell.label, cell.cell.payload, cell.cell.outstanding
                );
                let _ = writeln!(
                    out,
                    "| client | items/s | p50 ms | p99 ms | CPU µs/item | errors |\n\
                     |---|---:|---:|---:|---:|---:|"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "**{}**: {} latch participants, one session each, in one client process; the leader's \
                     session is closed and the failover is that close → another participant knowing it leads, \
                     ms (then a fresh participant joins, untimed). Medians of {rounds} rounds [min–max]; CPU per \
                     failover includes the fresh participant's connect.\n",
                    cell.label, cell.cell.sessions
                );
                let _ = writeln!(
                    out,
                    "| client | failovers | failover p50 ms | failover p99 ms | CPU µs/failover | errors |\n\
                     |---|---:|---:|---:|---:|---:|"
                );
            }
        }
        for c in &cell.clients {
            let first = match cell.cell.workload {
                Workload::Lock | Workload::Counter | Workload::Atom | Workload::Queue | Workload::CacheUpdate => {
                    spread_ops(c.ops_per_s)
                }
                _ => c.runs.iter().filter(|r| r.ok).map(|r| r.ops).sum::<u64>().to_string(),
            };
            let cpu =
                c.cpu_us_per_op.map_or_else(|| "–".into(), |s| format!("{:.0} [{:.0}–{:.0}]", s.median, s.min, s.max));
            let failed = if c.failed_runs > 0 { format!(" ({} runs failed)", c.failed_runs) } else { String::new() };
            let _ = writeln!(
                out,
                "| {} | {first} | {} | {} | {cpu} | {}{failed} |",
                c.client,
                spread_ms(c.p50_us),
                spread_ms(c.p99_us),
                c.errors
            );
        }
        out.push('\n');
    }
}

/// The short table for the README: every cell, zk-dsl (the `.send()` window) beside the ceiling
/// and the peers, each as median ops/s, its ratio to raw, and client CPU per unit.
pub fn summary(results: &Results) -> String {
    const SHOWN: [ClientKind; 5] =
        [ClientKind::Raw, ClientKind::ZkDsl, ClientKind::ZookeeperClient, ClientKind::Java, ClientKind::Kazoo];
    let present = |k: &ClientKind| request_cells(results).any(|c| c.client(*k).is_some());
    let clients: Vec<ClientKind> = SHOWN.into_iter().filter(present).collect();
    let mut out = String::new();
    if clients.is_empty() {
        recipes(&mut out, results);
        return out;
    }
    let _ = writeln!(
        out,
        "Units/s (median of {} alternating rounds), ratio to raw, client CPU µs per unit. {}\n",
        results.cells.first().and_then(|c| c.clients.first()).map_or(0, |c| c.runs.len()),
        results.meta.get("date").map_or(String::new(), |d| format!("Measured {d}."))
    );
    table(&mut out, results, &clients, |c| {
        let ops = c.ops_per_s.map_or_else(|| "failed".to_string(), |s| fmt_ops(s.median));
        let ratio =
            c.ratio_to_raw.filter(|_| c.client != ClientKind::Raw).map_or(String::new(), |r| format!(" ×{r:.2}"));
        let cpu = c.cpu_us_per_op.map_or(String::new(), |s| format!(" · {:.1} µs", s.median));
        format!("{ops}{ratio}{cpu}")
    });
    every_client(&mut out, results);
    recipes(&mut out, results);
    out
}

/// When clients beyond the short table's ran (zk-dsl's other patterns, the TLS clients): every
/// client's units/s, client CPU per unit and context switches per unit, and for a TLS client its
/// throughput as a ratio to the same client over plain TCP.
fn every_client(out: &mut String, results: &Results) {
    let mut clients: Vec<ClientKind> =
        request_cells(results).flat_map(|c| c.clients.iter().map(|s| s.client)).collect();
    clients.sort();
    clients.dedup();
    const SHORT: [ClientKind; 5] =
        [ClientKind::Raw, ClientKind::ZkDsl, ClientKind::ZookeeperClient, ClientKind::Java, ClientKind::Kazoo];
    if clients.iter().all(|c| SHORT.contains(c)) {
        return;
    }
    let _ = writeln!(
        out,
        "Every client: units/s (median), client CPU µs per unit, context switches per unit (voluntary / \
         involuntary; – where not measured); a TLS client's ×ratio is to the same client over plain TCP in \
         this run.\n"
    );
    let by_cell = |cell: &CellSummary, c: &ClientSummary| {
        let ops = c.ops_per_s.map_or_else(|| "failed".to_string(), |s| fmt_ops(s.median));
        let vs_plain = c
            .client
            .plain()
            .and_then(|p| cell.client(p)?.ops())
            .zip(c.ops())
            .map_or(String::new(), |(plain, x)| format!(" ×{:.2}", x / plain));
        let cpu = c.cpu_us_per_op.map_or(String::new(), |s| format!(" · {:.1} µs", s.median));
        let sw = c.switches().map_or(String::new(), |s| format!(" · {s}"));
        format!("{ops}{vs_plain}{cpu}{sw}")
    };
    table_by_cell(out, results, &clients, by_cell);
}

/// The request cells (not the recipes').
fn request_cells(results: &Results) -> impl Iterator<Item = &CellSummary> {
    results.cells.iter().filter(|c| !c.cell.workload.is_recipe())
}

pub fn markdown(results: &Results) -> String {
    let mut all: Vec<ClientKind> = results.cells.iter().flat_map(|c| c.clients.iter().map(|s| s.client)).collect();
    all.sort();
    all.dedup();
    // The request tables' columns: the clients that ran a request cell.
    let mut clients: Vec<ClientKind> =
        request_cells(results).flat_map(|c| c.clients.iter().map(|s| s.client)).collect();
    clients.sort();
    clients.dedup();
    let mut out = String::new();
    let meta = |k: &str| results.meta.get(k).cloned().unwrap_or_default();
    let _ = writeln!(out, "# zk-bench results\n");
    let _ = writeln!(out, "- command: `{}`", meta("command"));
    let _ = writeln!(out, "- date: {}; machine: {}", meta("date"), meta("machine"));
    let _ = writeln!(out, "- server: {}", meta("server"));
    let _ = writeln!(out, "- runs: {}", meta("runs"));
    for key in ["mode", "budget", "load"] {
        if let Some(value) = results.meta.get(key) {
            let _ = writeln!(out, "- {key}: {value}");
        }
    }
    for (client, hello) in &results.clients {
        let _ = writeln!(out, "- {client}: {hello}");
    }
    for (client, why) in &results.skipped {
        let _ = writeln!(out, "- **skipped {client}**: {why}");
    }
    out.push('\n');

    if request_cells(results).next().is_some() {
        let _ = writeln!(
            out,
            "## Throughput\n\nUnits/s in the measured window: median of the rounds [min–max], and the median's ratio to \
             raw. `n` = units outstanding in total, `s` = sessions (one unless given). A create-delete unit is two \
             requests; a multi unit is one request of 10 ops.\n"
        );
        table(&mut out, results, &clients, |c| match c.ops_per_s {
            Some(s) => {
                let ratio = c
                    .ratio_to_raw
                    .filter(|_| c.client != ClientKind::Raw)
                    .map_or(String::new(), |r| format!(" ×{r:.2}"));
                format!("{} [{}–{}]{ratio}", fmt_ops(s.median), fmt_ops(s.min), fmt_ops(s.max))
            }
            None => "failed".into(),
        });

        let _ = writeln!(out, "## Latency\n\nIssue → completion, ms: p50 / p99 / p99.9 (medians of the rounds).\n");
        table(&mut out, results, &clients, |c| match (c.p50_us, c.p99_us, c.p999_us) {
            (Some(a), Some(b), Some(d)) => {
                format!("{} / {} / {}", fmt_ms(a.median), fmt_ms(b.median), fmt_ms(d.median))
            }
            _ => "–".into(),
        });

        let _ = writeln!(
            out,
            "## Client CPU\n\nµs of user + system CPU per unit in the measured window (whole client process, \
             /proc/self/stat; 10 ms tick resolution), median of the rounds. Server CPU per unit in the last column \
             group is the ZooKeeper JVM's over the same windows.\n"
        );
        table(&mut out, results, &clients, |c| c.cpu_us_per_op.map_or("–".into(), |s| format!("{:.1}", s.median)));
        let _ = writeln!(out, "Server CPU µs per unit, while each client ran:\n");
        table(&mut out, results, &clients, |c| {
            c.server_cpu_us_per_op.map_or("–".into(), |s| format!("{:.0}", s.median))
        });

        // Results from before the switches were measured have none: no empty table for them.
        let switches_measured = request_cells(results).any(|c| c.clients.iter().any(|s| s.vcsw_per_op.is_some()));
        if switches_measured {
            let _ = writeln!(
                out,
                "## Context switches\n\nVoluntary / involuntary context switches of the whole client process per unit \
                 in the measured window (`getrusage(RUSAGE_SELF)`: every thread, exited ones too), median of the \
                 rounds. A voluntary switch is a thread blocking (parking on a futex, waiting in epoll); an \
                 involuntary one a preemption. The Java harness sums its live threads' counts \
                 (`/proc/self/task/*/status`: Java has no getrusage); kazoo uses getrusage too.\n"
            );
            table(&mut out, results, &clients, |c| c.switches().unwrap_or_else(|| "–".into()));
        }
    }

    if results.cells.iter().any(|c| c.cell.workload.is_recipe()) {
        let _ = writeln!(out, "## Recipes\n");
        recipes(&mut out, results);
    }

    let _ = writeln!(out, "## Client memory and errors\n");
    let _ = writeln!(out, "| client | max RSS (MiB) | failed units | failed runs |\n|---|---:|---:|---:|");
    for c in &all {
        let all: Vec<&ClientSummary> = results.cells.iter().filter_map(|cell| cell.client(*c)).collect();
        let rss = all.iter().map(|s| s.rss_mb_max).fold(0.0, f64::max);
        let errors: u64 = all.iter().map(|s| s.errors).sum();
        let failed: usize = all.iter().map(|s| s.failed_runs).sum();
        let _ = writeln!(out, "| {c} | {rss:.0} | {errors} | {failed} |");
    }
    out.push('\n');
    let failures: Vec<String> = results
        .cells
        .iter()
        .flat_map(|cell| {
            cell.clients.iter().flat_map(move |c| {
                c.runs.iter().filter(|r| !r.ok || r.errors > 0).map(move |r| {
                    let why = r.error.clone().or_else(|| r.first_error.clone()).unwrap_or_default();
                    format!("- {} / {} / round {}: {} errors; {}", cell.label, c.client, r.round + 1, r.errors, why)
                })
            })
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "Errors:\n\n{}\n", failures.join("\n"));
    }

    if let Some(m) = &results.memory {
        let _ = writeln!(out, "## zk-dsl memory\n");
        if let Some(e) = &m.error {
            let _ = writeln!(out, "Failed: {e}\n");
        }
        let n = |k: &str| m.numbers.get(k).copied();
        // Live heap bytes are exact (a counting allocator); RSS deltas are shown beside them.
        let each = |heap: &str, rss: &str| match (n(heap), n(rss)) {
            (Some(h), Some(r)) => Some(format!("{h:.0} heap bytes each ({r:.0} by RSS delta)")),
            (None, Some(r)) => Some(format!("{r:.0} bytes each by RSS delta")),
            _ => None,
        };
        if let Some(v) = each("heap_per_outstanding", "bytes_per_outstanding") {
            let _ = writeln!(
                out,
                "- {:.0} outstanding getData requests (handles held, server unreachable): {v}; RSS {:.1} → {:.1} MiB",
                n("outstanding").unwrap_or(0.0),
                n("rss_base_kb").unwrap_or(0.0) / 1024.0,
                n("rss_outstanding_kb").unwrap_or(0.0) / 1024.0
            );
        }
        if let Some(v) = each("heap_per_watch", "bytes_per_watch") {
            let _ = writeln!(
                out,
                "- {:.0} one-shot watches (`.watch()`, {}-byte paths): {v}; RSS at {:.1} MiB",
                n("watches").unwrap_or(0.0),
                n("watch_path_bytes").unwrap_or(0.0),
                n("rss_watches_kb").unwrap_or(0.0) / 1024.0
            );
        }
        if let Some(v) = each("heap_per_watch_future", "bytes_per_watch_future") {
            let _ = writeln!(
                out,
                "- as many awaitable watches (`.with_watch()`, `WatchFuture`s held): {v}; RSS at {:.1} MiB",
                n("rss_watch_futures_kb").unwrap_or(0.0) / 1024.0
            );
        }
        let _ = writeln!(
            out,
            "\nHeap bytes come from a counting allocator (exact, the difference between two readings); an RSS \
             delta reads low once the allocator reuses pages freed by an earlier step."
        );
        out.push('\n');
    }

    if !results.targets.is_empty() {
        let _ =
            writeln!(out, "## Targets (zk-dsl, `.send()` window)\n\n| target | cell | measured | |\n|---|---|---|---|");
        for v in &results.targets {
            let mark = if v.pass { "met" } else { "**missed**" };
            let _ = writeln!(out, "| {} | {} | {} | {mark} |", v.target, v.cell, v.measured);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_median() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert!(Spread::of([]).is_none());
    }

    #[test]
    fn summaries_compute_percentiles_and_cpu() {
        let r = RunReport {
            ok: true,
            ops: 1000,
            elapsed_s: 1.0,
            cpu_ticks: 10,
            lat_ns: vec![(100_000, 500), (200_000, 500)],
            ..RunReport::default()
        };
        let s = RunSummary::new(0, &r, 100, Some(50));
        assert_eq!(s.ops_per_s, 1000.0);
        assert!((s.p50_us - 100.0).abs() < 1.0);
        assert_eq!(s.cpu_us_per_op, Some(100.0));
        assert_eq!(s.server_cpu_us_per_op, Some(500.0));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ops(20_123.0), "20.1k");
        assert_eq!(fmt_ops(4_578.0), "4.58k");
        assert_eq!(fmt_ms(210.0), "0.210");
        assert_eq!(fmt_ms(47_000.0), "47.0");
    }
}
