//! The measurement every Rust driver shares: the run's clock (warm-up, then the measured window),
//! an HDR histogram of issue → completion latencies, error counts, CPU and RSS samples, and the
//! closed-loop window that keeps N units outstanding.

use std::collections::VecDeque;
use std::future::Future;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;

use crate::procfs;
use crate::spec::{RunReport, RunSpec};

/// Latencies above this are clamped (a minute: nothing sane takes longer).
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// The run's clock: warm-up until `warm_end`, the measured window until `end`.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warm_end: Instant,
    pub end: Instant,
    /// `warm_end` as Unix time in ms.
    pub warm_end_unix_ms: f64,
}

impl Timing {
    /// Starts the clock now.
    pub fn start(spec: &RunSpec) -> Timing {
        Timing::new(Duration::from_millis(spec.warmup_ms), Duration::from_millis(spec.measure_ms))
    }

    /// A clock with this warm-up and window, starting now.
    pub fn new(warmup: Duration, window: Duration) -> Timing {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + warmup;
        let warm_end = Instant::now() + warmup;
        Timing { warm_end, end: warm_end + window, warm_end_unix_ms: unix.as_secs_f64() * 1000.0 }
    }

    /// Whether new units may still be issued.
    pub fn issuing(&self) -> bool {
        Instant::now() < self.end
    }

    pub fn in_window(&self, t: Instant) -> bool {
        t >= self.warm_end && t < self.end
    }

    pub fn window(&self) -> Duration {
        self.end - self.warm_end
    }
}

/// Counts and latencies of one session (merged at the end of a run).
#[derive(Debug)]
pub struct Recorder {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        // 3 significant digits from 1 ns to a minute: a few hundred kB, fixed.
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("constant, valid histogram bounds");
        Recorder { hist, ops: 0, errors: 0, first_error: None }
    }

    /// One unit finished at `done`; counted (and its latency kept) if it finished in the window.
    /// Errors count whenever they happen.
    pub fn record<E: std::fmt::Display>(
        &mut self,
        timing: &Timing,
        start: Instant,
        done: Instant,
        result: Result<(), E>,
    ) {
        match result {
            Ok(()) => {
                if timing.in_window(done) {
                    self.ops += 1;
                    self.latency(done - start);
                }
            }
            Err(e) => self.error(e),
        }
    }

    /// One unit finished at `done` with no latency to keep (a lock's first acquisition, which
    /// nobody handed over).
    pub fn count(&mut self, timing: &Timing, done: Instant) {
        if timing.in_window(done) {
            self.ops += 1;
        }
    }

    pub fn latency(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).clamp(1, MAX_LATENCY_NS);
        // In bounds by the clamp.
        let _ = self.hist.record(ns);
    }

    pub fn error<E: std::fmt::Display>(&mut self, e: E) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        // Same bounds on both sides.
        let _ = self.hist.add(&other.hist);
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The worker's answer for this run.
    /// The latencies kept, as (nanoseconds, count) pairs.
    pub fn latencies(&self) -> Vec<(u64, u64)> {
        self.hist.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
    }

    pub fn into_report(self, timing: &Timing, cpu: CpuWindow) -> RunReport {
        let lat_ns = self.latencies();
        RunReport {
            ok: true,
            error: None,
            ops: self.ops,
            errors: self.errors,
            first_error: self.first_error,
            elapsed_s: timing.window().as_secs_f64(),
            window_start_unix_ms: timing.warm_end_unix_ms,
            cpu_ticks: cpu.ticks,
            rss_kb: cpu.rss_kb,
            vcsw: cpu.switches.map(|s| s.0),
            ivcsw: cpu.switches.map(|s| s.1),
            lat_ns,
            extra: Default::default(),
        }
    }
}

/// CPU ticks spent in the measured window, RSS at its end, and the context switches (voluntary,
/// involuntary) in the window.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuWindow {
    pub ticks: u64,
    pub rss_kb: u64,
    pub switches: Option<(u64, u64)>,
}

/// Samples /proc/self/stat and `getrusage` at the window's start and end from a plain thread
/// (so a busy async runtime cannot delay the samples; the sampler's own two sleeps add two
/// voluntary switches to a window of thousands of units).
#[derive(Debug)]
pub struct CpuSampler(JoinHandle<CpuWindow>);

impl CpuSampler {
    pub fn start(timing: Timing) -> CpuSampler {
        CpuSampler(std::thread::spawn(move || {
            sleep_until(timing.warm_end);
            let before = procfs::cpu_ticks("self").unwrap_or(0);
            let switches_before = procfs::context_switches();
            sleep_until(timing.end);
            let after = procfs::cpu_ticks("self").unwrap_or(0);
            let switches = match (switches_before, procfs::context_switches()) {
                (Some(a), Some(b)) => Some((b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
                _ => None,
            };
            CpuWindow { ticks: after.saturating_sub(before), rss_kb: procfs::rss_kb(), switches }
        }))
    }

    pub fn finish(self) -> CpuWindow {
        self.0.join().unwrap_or_default()
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// The closed loop of one session: keeps `n` units outstanding until the window ends, then
/// waits for the stragglers. `issue(seq)` must put unit `seq` on its way before it returns (or
/// on the returned future's first poll) and resolve when the unit is done.
pub async fn window<F, Fut, E>(n: usize, timing: Timing, mut issue: F) -> Recorder
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut rec = Recorder::new();
    let mut inflight = FuturesUnordered::new();
    let mut seq = 0u64;
    loop {
        while inflight.len() < n && timing.issuing() {
            let start = Instant::now();
            let unit = issue(seq);
            seq += 1;
            inflight.push(async move { (start, unit.await) });
        }
        match inflight.next().await {
            Some((start, result)) => rec.record(&timing, start, Instant::now(), result),
            None => return rec,
        }
    }
}

/// [`window`] as a send-window: the N units in a `VecDeque`, the oldest awaited, then a new one
/// issued. Replies come back in request order, so awaiting the oldest is what a pipeline that
/// needs its results in order writes; a unit's latency ends when its turn to be awaited comes.
pub async fn deque<F, Fut, E>(n: usize, timing: Timing, mut issue: F) -> Recorder
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut rec = Recorder::new();
    let mut inflight = VecDeque::with_capacity(n);
    let mut seq = 0u64;
    loop {
        while inflight.len() < n && timing.issuing() {
            inflight.push_back((Instant::now(), issue(seq)));
            seq += 1;
        }
        let Some((start, unit)) = inflight.pop_front() else { return rec };
        let result = unit.await;
        rec.record(&timing, start, Instant::now(), result);
    }
}

/// Merges the per-session recorders of a run.
pub fn merge_all(recorders: impl IntoIterator<Item = Recorder>) -> Recorder {
    let mut all = Recorder::new();
    for r in recorders {
        all.merge(r);
    }
    all
}
