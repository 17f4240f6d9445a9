//! zk-dsl, as users write it: the builder chain, `.send()` handles in a window (a
//! `FuturesUnordered`, or a `VecDeque` awaiting the oldest), N tasks awaiting, `.callback(f)`
//! chains, `zk!`. Also the memory measurements (bytes per outstanding request and per watch).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use zk_dsl::testing::FaultProxy;
use zk_dsl::tls::TlsConfig;
use zk_dsl::{zk, Client, Connect, Error};

use super::Ctx;
use crate::measure::{deque, merge_all, window, CpuSampler, CpuWindow, Recorder, Timing};
use crate::procfs;
use crate::spec::{RunReport, RunSpec, Workload};

type Res<T> = Result<T, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One task per session keeps N `.send()` handles in a `FuturesUnordered`.
    Window,
    /// One task per session keeps N `.send()` handles in a `VecDeque` and awaits the oldest.
    Deque,
    /// N `.callback(f)` chains per session: each callback records its result and issues the
    /// next call (on zk-dsl's dispatcher thread), so no task waits on anything.
    Callbacks,
    /// N tasks per session, each `.await`-ing one call at a time.
    Tasks,
    /// As `Window`, with every call written as a `zk!` command (the macro layer's cost).
    Macro,
}

/// The connection a run asks for: over TLS, trusting the run's CA, when it names one.
fn connection(spec: &RunSpec, addr: &str) -> Connect {
    let connect = Client::connect(addr).session_timeout(Duration::from_secs(10));
    match &spec.tls_ca {
        Some(ca) => connect.tls(TlsConfig::new().ca_pem_file(ca)),
        None => connect,
    }
}

async fn connect(spec: &RunSpec, addr: &str) -> Res<Client> {
    connection(spec, addr).await.map_err(|e| format!("connect {addr}: {e}"))
}

async fn close_all(clients: &[Client]) {
    for c in clients {
        let _ = c.close().await;
    }
}

pub async fn run(ctx: &Ctx, style: Style) -> Res<RunReport> {
    let spec = &ctx.spec;
    match spec.workload {
        Workload::Watch => return watch(ctx, style).await,
        Workload::Connect => return connect_loop(ctx).await,
        Workload::Memory => return memory(ctx).await,
        _ => {}
    }
    let mut clients = Vec::with_capacity(spec.sessions);
    for _ in 0..spec.sessions {
        clients.push(connect(spec, &spec.connect).await?);
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let rec = match style {
        Style::Window | Style::Deque => {
            let loops = clients
                .iter()
                .enumerate()
                .map(|(i, c)| session_window(c, ctx, i, spec.outstanding_of(i), timing, style));
            merge_all(join_all(loops).await)
        }
        Style::Tasks => tasks(ctx, &clients, timing).await,
        Style::Callbacks => callbacks(ctx, &clients, timing).await,
        Style::Macro => {
            let loops =
                clients.iter().enumerate().map(|(i, c)| session_macro(c, ctx, i, spec.outstanding_of(i), timing));
            merge_all(join_all(loops).await)
        }
    };
    let cpu = cpu.finish();
    close_all(&clients).await;
    Ok(rec.into_report(&timing, cpu))
}

/// The loop holding a session's handles: a `FuturesUnordered` ([`window`]) or a `VecDeque`
/// awaiting the oldest ([`deque`]).
async fn drive<F, Fut, E>(style: Style, n: usize, timing: Timing, issue: F) -> Recorder
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    match style {
        Style::Deque => deque(n, timing, issue).await,
        _ => window(n, timing, issue).await,
    }
}

/// One session, N handles outstanding (each arm is the builder chain a user would write).
async fn session_window(c: &Client, ctx: &Ctx, session: usize, n: usize, timing: Timing, style: Style) -> Recorder {
    match ctx.spec.workload {
        Workload::Get => {
            drive(style, n, timing, |seq| {
                let call = c.get_data(ctx.key(session, seq)).send();
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Set => {
            drive(style, n, timing, |seq| {
                let call = c.set_data(ctx.key(session, seq), &ctx.payload[..]).send();
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Create => {
            drive(style, n, timing, |seq| {
                let call = c.create(ctx.eph_path(session, seq)).bytes(ctx.payload.clone()).send();
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::CreateDelete => {
            drive(style, n, timing, |seq| {
                let path = ctx.eph_path(session, seq);
                let create = c.create(path.as_str()).bytes(ctx.payload.clone()).send();
                let delete = c.delete(path).send();
                async move {
                    let created = create.await;
                    let deleted = delete.await;
                    created.and(deleted)
                }
            })
            .await
        }
        Workload::Children => {
            drive(style, n, timing, |_| {
                let call = c.children(ctx.spec.children_path.as_str()).send();
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Multi => {
            let m = ctx.spec.multi_ops as u64;
            drive(style, n, timing, |seq| {
                let mut txn = c.transaction();
                for j in 0..m {
                    txn = txn.set_data(ctx.key(session, seq * m + j), &ctx.payload[..], -1);
                }
                let call = txn.send();
                async move { call.await.map(drop) }
            })
            .await
        }
        other => {
            let mut rec = Recorder::new();
            rec.error(format!("{other} is not a pipelined workload"));
            rec
        }
    }
}

/// [`session_window`] with each call written as a `zk!` command: the expansion should be the
/// same builder chain, so this measures what the macro layer costs (nothing, if it is right).
async fn session_macro(c: &Client, ctx: &Ctx, session: usize, n: usize, timing: Timing) -> Recorder {
    let data = &ctx.payload[..];
    match ctx.spec.workload {
        Workload::Get => {
            window(n, timing, |seq| {
                let call = zk!(c, get_data (ctx.key(session, seq)) send);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Set => {
            window(n, timing, |seq| {
                let call = zk!(c, set_data (ctx.key(session, seq)) data send);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Create => {
            window(n, timing, |seq| {
                let call = zk!(c, create (ctx.eph_path(session, seq)) bytes = ctx.payload.clone() send);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::CreateDelete => {
            window(n, timing, |seq| {
                let path = ctx.eph_path(session, seq);
                let create = zk!(c, create (path.as_str()) bytes = ctx.payload.clone() send);
                let delete = zk!(c, delete path send);
                async move {
                    let created = create.await;
                    let deleted = delete.await;
                    created.and(deleted)
                }
            })
            .await
        }
        Workload::Children => {
            window(n, timing, |_| {
                let call = zk!(c, children (ctx.spec.children_path.as_str()) send);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Multi if ctx.spec.multi_ops == 10 => {
            window(n, timing, |seq| {
                let k = |j: u64| ctx.key(session, seq * 10 + j);
                let call = zk!(c, txn {
                    set_data (k(0)) data;
                    set_data (k(1)) data;
                    set_data (k(2)) data;
                    set_data (k(3)) data;
                    set_data (k(4)) data;
                    set_data (k(5)) data;
                    set_data (k(6)) data;
                    set_data (k(7)) data;
                    set_data (k(8)) data;
                    set_data (k(9)) data;
                } send);
                async move { call.await.map(drop) }
            })
            .await
        }
        other => {
            let mut rec = Recorder::new();
            rec.error(format!("{other} (multi of {} ops) is not written with zk! here", ctx.spec.multi_ops));
            rec
        }
    }
}

/// One call of the workload, awaited (the N-tasks style).
async fn one_call(c: &Client, ctx: &Ctx, session: usize, seq: u64) -> Result<(), Error> {
    match ctx.spec.workload {
        Workload::Get => c.get_data(ctx.key(session, seq)).await.map(drop),
        Workload::Set => c.set_data(ctx.key(session, seq), &ctx.payload[..]).await.map(drop),
        Workload::Create => c.create(ctx.eph_path(session, seq)).bytes(ctx.payload.clone()).await.map(drop),
        Workload::CreateDelete => {
            let path = ctx.eph_path(session, seq);
            let create = c.create(path.as_str()).bytes(ctx.payload.clone()).send();
            let delete = c.delete(path).send();
            let created = create.await;
            created.and(delete.await)
        }
        Workload::Children => c.children(ctx.spec.children_path.as_str()).await.map(drop),
        Workload::Multi => {
            let m = ctx.spec.multi_ops as u64;
            let mut txn = c.transaction();
            for j in 0..m {
                txn = txn.set_data(ctx.key(session, seq * m + j), &ctx.payload[..], -1);
            }
            txn.await.map(drop)
        }
        other => Err(Error::invalid_argument(None, None, format!("{other} is not a pipelined workload"))),
    }
}

/// N spawned tasks per session, sharing one recorder per session.
async fn tasks(ctx: &Ctx, clients: &[Client], timing: Timing) -> Recorder {
    // Tasks need 'static data: share a copy of the context.
    let shared = Arc::new(Ctx::new(ctx.spec.clone()));
    let mut handles = Vec::new();
    let mut recorders = Vec::new();
    for (session, client) in clients.iter().enumerate() {
        let rec = Arc::new(Mutex::new(Recorder::new()));
        recorders.push(rec.clone());
        for t in 0..ctx.spec.outstanding_of(session) {
            let (client, ctx, rec) = (client.clone(), shared.clone(), rec.clone());
            handles.push(tokio::spawn(async move {
                // Each task walks its own subsequence of the session's keys.
                let stride = ctx.spec.outstanding_of(session).max(1) as u64;
                let mut seq = t as u64;
                while timing.issuing() {
                    let start = Instant::now();
                    let result = one_call(&client, &ctx, session, seq).await;
                    let done = Instant::now();
                    seq += stride;
                    rec.lock().unwrap_or_else(|e| e.into_inner()).record(&timing, start, done, result);
                }
            }));
        }
    }
    let mut all = Recorder::new();
    for h in join_all(handles).await {
        if let Err(e) = h {
            all.error(format!("task failed: {e}"));
        }
    }
    for rec in recorders {
        if let Ok(m) = Arc::try_unwrap(rec) {
            all.merge(m.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
    }
    all
}

/// One `.callback(f)` chain of a session: every callback records its unit and issues the next
/// (`stride` further along the session's keys) until the window closes, then says it is done.
struct Chain {
    client: Client,
    ctx: Arc<Ctx>,
    session: usize,
    stride: u64,
    timing: Timing,
    rec: Arc<Mutex<Recorder>>,
    done: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Chain {
    /// Issues unit `seq`, its callback the next link.
    fn issue(self: Arc<Chain>, seq: u64) {
        if !self.timing.issuing() {
            let _ = self.done.send(());
            return;
        }
        let start = Instant::now();
        let (c, ctx, session) = (self.client.clone(), self.ctx.clone(), self.session);
        let next = move |result: Result<(), &Error>| {
            let done = Instant::now();
            self.rec.lock().unwrap_or_else(|e| e.into_inner()).record(&self.timing, start, done, result);
            let stride = self.stride;
            self.issue(seq + stride);
        };
        // The handles are dropped: the callback is what completes a unit.
        match ctx.spec.workload {
            Workload::Get => drop(c.get_data(ctx.key(session, seq)).callback(move |r| next(r.as_ref().map(drop)))),
            Workload::Set => {
                drop(c.set_data(ctx.key(session, seq), &ctx.payload[..]).callback(move |r| next(r.as_ref().map(drop))))
            }
            Workload::Create => drop(
                c.create(ctx.eph_path(session, seq))
                    .bytes(ctx.payload.clone())
                    .callback(move |r| next(r.as_ref().map(drop))),
            ),
            other => {
                let e = Error::invalid_argument(None, None, format!("{other} is not written with callbacks here"));
                next(Err(&e));
            }
        }
    }
}

/// N `.callback(f)` chains per session ([`Chain`]); waits until every chain has ended.
async fn callbacks(ctx: &Ctx, clients: &[Client], timing: Timing) -> Recorder {
    let shared = Arc::new(Ctx::new(ctx.spec.clone()));
    let (done, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let mut recorders = Vec::new();
    let mut chains = 0;
    for (session, client) in clients.iter().enumerate() {
        let rec = Arc::new(Mutex::new(Recorder::new()));
        recorders.push(rec.clone());
        let n = ctx.spec.outstanding_of(session);
        for t in 0..n {
            let chain = Chain {
                client: client.clone(),
                ctx: shared.clone(),
                session,
                stride: n as u64,
                timing,
                rec: rec.clone(),
                done: done.clone(),
            };
            Arc::new(chain).issue(t as u64);
            chains += 1;
        }
    }
    drop(done);
    for _ in 0..chains {
        if ended.recv().await.is_none() {
            break;
        }
    }
    merge_all(recorders.into_iter().map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|e| e.into_inner()))))
}

/// Watcher session: getData with an awaitable watch; setter session: setData. Timed from the
/// set being issued to the watch future resolving.
async fn watch(ctx: &Ctx, style: Style) -> Res<RunReport> {
    let spec = &ctx.spec;
    let watcher = connect(spec, &spec.connect).await?;
    let setter = connect(spec, &spec.connect).await?;
    let path = ctx.key(0, 0);
    let data = &ctx.payload[..];
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let call = match style {
            Style::Macro => zk!(watcher, get_data path with_watch send),
            _ => watcher.get_data(path).with_watch().send(),
        };
        let fired = match call.await {
            Ok((_, fired)) => fired,
            Err(e) => {
                rec.error(e);
                continue;
            }
        };
        let start = Instant::now();
        let set = match style {
            Style::Macro => zk!(setter, set_data path data send),
            _ => setter.set_data(path, &ctx.payload[..]).send(),
        };
        let event = fired.await;
        let done = Instant::now();
        let result = match set.await {
            Ok(_) if event.path.is_some() => Ok(()),
            Ok(_) => Err(format!("unexpected event {event:?}")),
            Err(e) => Err(e.to_string()),
        };
        rec.record(&timing, start, done, result);
    }
    let cpu = cpu.finish();
    close_all(&[watcher, setter]).await;
    Ok(rec.into_report(&timing, cpu))
}

/// connect → Connected, timed; then close (untimed).
async fn connect_loop(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let start = Instant::now();
        match connection(spec, &spec.connect).await {
            Ok(client) => {
                rec.record::<String>(&timing, start, Instant::now(), Ok(()));
                if let Err(e) = client.close().await {
                    rec.error(e);
                }
            }
            Err(e) => rec.error(e),
        }
    }
    let cpu = cpu.finish();
    Ok(rec.into_report(&timing, cpu))
}

/// Bytes per outstanding request and per registered watch, from RSS deltas. The session goes
/// through an in-process proxy that is blackholed while the requests are in flight, so they stay
/// outstanding until RSS is read.
async fn memory(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let count = spec.count.max(1);
    let target = spec.connect.parse().map_err(|e| format!("{}: {e}", spec.connect))?;
    let proxy = FaultProxy::start(target).map_err(|e| format!("proxy: {e}"))?;
    let client = connect(spec, &proxy.connect_string()).await?;
    let mut extra = std::collections::BTreeMap::new();
    let mut rec = Recorder::new();
    // Warm the allocator and the session's buffers.
    let warm = Timing::new(Duration::ZERO, Duration::from_millis(300));
    rec.merge(
        window(100, warm, |seq| {
            let call = client.get_data(ctx.key(0, seq)).send();
            async move { call.await.map(drop) }
        })
        .await,
    );
    settle().await;
    let heap = crate::heap::Counting::start();
    let base = procfs::rss_kb();
    let heap_base = heap.live();
    extra.insert("rss_base_kb".to_string(), base as f64);

    // 1. `count` getData requests outstanding, their handles held.
    proxy.blackhole(true);
    let started = Instant::now();
    let handles: Vec<_> = (0..count as u64).map(|i| client.get_data(ctx.key(0, i)).send()).collect();
    settle().await;
    let rss = procfs::rss_kb();
    extra.insert("heap_per_outstanding".to_string(), heap_per_item(heap_base, heap.live(), count));
    proxy.blackhole(false);
    for h in handles {
        if let Err(e) = h.await {
            rec.error(e);
        }
    }
    extra.insert("outstanding".to_string(), count as f64);
    extra.insert("rss_outstanding_kb".to_string(), rss as f64);
    extra.insert("bytes_per_outstanding".to_string(), per_item(base, rss, count));
    extra.insert("outstanding_round_trip_s".to_string(), started.elapsed().as_secs_f64());
    settle().await;

    // 2. `count` one-shot watches on the default watcher (exists on absent nodes).
    let watch_root = format!("{}/{}-w", spec.eph_root, spec.tag);
    let paths: Vec<String> = (0..count).map(|i| format!("{watch_root}{i:06}")).collect();
    let base = procfs::rss_kb();
    let heap_base = heap.live();
    for chunk in paths.chunks(1000) {
        let calls: Vec<_> = chunk.iter().map(|p| client.exists(p.as_str()).watch().send()).collect();
        for call in calls {
            if let Err(e) = call.await {
                rec.error(e);
            }
        }
    }
    settle().await;
    let rss = procfs::rss_kb();
    extra.insert("watches".to_string(), count as f64);
    extra.insert("rss_watches_kb".to_string(), rss as f64);
    extra.insert("bytes_per_watch".to_string(), per_item(base, rss, count));
    extra.insert("heap_per_watch".to_string(), heap_per_item(heap_base, heap.live(), count));
    extra.insert("watch_path_bytes".to_string(), paths.first().map_or(0, |p| p.len()) as f64);

    // 3. `count` awaitable watches (`.with_watch()`) on other absent nodes, their futures held.
    let paths: Vec<String> = (0..count).map(|i| format!("{watch_root}f{i:06}")).collect();
    let base = procfs::rss_kb();
    let heap_base = heap.live();
    let mut futures = Vec::with_capacity(count);
    for chunk in paths.chunks(1000) {
        let calls: Vec<_> = chunk.iter().map(|p| client.exists(p.as_str()).with_watch().send()).collect();
        for call in calls {
            match call.await {
                Ok((_, fired)) => futures.push(fired),
                Err(e) => rec.error(e),
            }
        }
    }
    settle().await;
    let rss = procfs::rss_kb();
    extra.insert("rss_watch_futures_kb".to_string(), rss as f64);
    extra.insert("bytes_per_watch_future".to_string(), per_item(base, rss, count));
    extra.insert("heap_per_watch_future".to_string(), heap_per_item(heap_base, heap.live(), count));
    drop(futures);
    let _ = client.close().await;
    let timing = Timing::new(Duration::ZERO, Duration::ZERO);
    let mut report = rec.into_report(&timing, CpuWindow { ticks: 0, rss_kb: procfs::rss_kb(), switches: None });
    report.extra = extra;
    Ok(report)
}

fn per_item(before_kb: u64, after_kb: u64, items: usize) -> f64 {
    (after_kb.saturating_sub(before_kb) as f64 * 1024.0) / items as f64
}

fn heap_per_item(before: i64, after: i64, items: usize) -> f64 {
    (after - before) as f64 / items as f64
}

/// Lets the session task drain its channel and the allocator settle before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
