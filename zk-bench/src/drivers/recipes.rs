//! zk-dsl's coordination recipes under load, as a user writes them: a [`Mutex`] handed between
//! contenders (one session each, all in this process, so a handoff is timed on one clock), a
//! [`LeaderLatch`] losing its leader's session, a [`SharedCount`] and a typed [`Atom`] under
//! contention, and a [`SimpleQueue`] from a producer to a consumer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Semaphore};
use zk_dsl::recipes::{Atom, LeaderLatch, Mutex, SharedCount, SimpleQueue};
use zk_dsl::{Client, Error, ZNodeData};

use super::Ctx;
use crate::measure::{merge_all, CpuSampler, Recorder, Timing};
use crate::spec::{atom_path, counter_path, latch_path, lock_path, queue_path, RunReport};

type Res<T> = Result<T, String>;

/// How long one acquisition may wait before it counts as an error (a healthy handoff among ten
/// takes milliseconds; this only keeps a broken run from hanging).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

async fn connect(addr: &str) -> Res<Client> {
    Client::connect(addr).session_timeout(Duration::from_secs(10)).await.map_err(|e| format!("connect {addr}: {e}"))
}

/// When the last holder started releasing: taken by the next holder the moment its acquire
/// returns. One holder at a time, so there is never more than one release waiting here.
type LastRelease = Arc<std::sync::Mutex<Option<Instant>>>;

/// `outstanding` contenders, each on its own session with its own [`Mutex`] handle on one lock
/// path, acquire and release in a loop without holding: acquisitions per second, the handoff
/// latency (release → the next holder's acquire), client CPU per acquisition.
pub async fn lock_handoff(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let path = lock_path(spec);
    let contenders = spec.outstanding.max(1);
    let mut clients = Vec::with_capacity(contenders);
    for _ in 0..contenders {
        clients.push(connect(&spec.connect).await?);
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let last: LastRelease = Arc::default();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mutex = Mutex::new(c, path.as_str()).id(format!("zk-bench-{i}"));
            tokio::spawn(contender(mutex, timing, last.clone()))
        })
        .collect();
    let mut recorders = Vec::with_capacity(tasks.len());
    for task in tasks {
        recorders.push(task.await.unwrap_or_else(|e| {
            let mut rec = Recorder::new();
            rec.error(format!("contender task failed: {e}"));
            rec
        }));
    }
    let cpu = cpu.finish();
    for c in &clients {
        let _ = c.close().await;
    }
    Ok(merge_all(recorders).into_report(&timing, cpu))
}

async fn contender(mutex: Mutex, timing: Timing, last: LastRelease) -> Recorder {
    let mut rec = Recorder::new();
    let take = |last: &LastRelease| last.lock().unwrap_or_else(|e| e.into_inner()).take();
    while timing.issuing() {
        match mutex.acquire().timeout(ACQUIRE_TIMEOUT).await {
            Ok(guard) => {
                let acquired = Instant::now();
                match take(&last) {
                    Some(released) => rec.record(&timing, released, acquired, Ok::<(), String>(())),
                    None => rec.count(&timing, acquired),
                }
                *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                if let Err(e) = guard.release().await {
                    // No handoff follows a failed release: forget its start.
                    take(&last);
                    rec.error(e);
                }
            }
            Err(e) => {
                rec.error(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    rec
}

/// One latch participant: its own session, and the task holding its [`Latch`](zk_dsl::recipes::Latch) (which reports
/// when it leads, then keeps the latch until told to stop: dropping a latch withdraws it).
struct Participant {
    generation: u64,
    client: Client,
    stop: oneshot::Sender<()>,
}

/// (participant generation, when its latch said it leads)
type Leads = mpsc::UnboundedSender<(u64, Instant)>;

async fn join(spec_connect: &str, path: &str, generation: u64, leads: &Leads) -> Res<Participant> {
    let client = connect(spec_connect).await?;
    // Resolves once the participant's node exists: it is in line.
    let mut latch = LeaderLatch::new(&client, path)
        .id(format!("zk-bench-{generation}"))
        .start()
        .await
        .map_err(|e| format!("starting a latch: {e}"))?;
    let (stop, mut stopped) = oneshot::channel();
    let leads = leads.clone();
    tokio::spawn(async move {
        tokio::select! {
            led = latch.wait_leader() => {
                if led.is_ok() {
                    let _ = leads.send((generation, Instant::now()));
                }
                let _ = (&mut stopped).await;
            }
            _ = &mut stopped => {}
        }
        drop(latch);
    });
    Ok(Participant { generation, client, stop })
}

/// `sessions` participants of one [`LeaderLatch`]. A unit: the leader's session is closed
/// (`Client::close`; its latch is not closed, so it relinquishes nothing) → another
/// participant's latch says it leads; then a fresh participant joins, untimed.
pub async fn leader_failover(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let path = latch_path(spec);
    let (leads, mut led) = mpsc::unbounded_channel();
    let mut parts = Vec::new();
    let mut generation = 0;
    for _ in 0..spec.sessions.max(2) {
        parts.push(join(&spec.connect, &path, generation, &leads).await?);
        generation += 1;
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    let mut leader = None;
    let outcome: Res<()> = async {
        while timing.issuing() {
            // Who leads: the last participant whose latch said so (waiting for the first).
            let current = match leader {
                Some(g) => g,
                None => next_leader(&mut led, None).await?.0,
            };
            let i = parts.iter().position(|p| p.generation == current).ok_or("the leader is not a participant")?;
            let closing = parts.swap_remove(i);
            let start = Instant::now();
            let _ = closing.client.close().await;
            let (next, at) = next_leader(&mut led, Some(current)).await?;
            rec.record(&timing, start, at, Ok::<(), String>(()));
            leader = Some(next);
            let _ = closing.stop.send(());
            parts.push(join(&spec.connect, &path, generation, &leads).await?);
            generation += 1;
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        rec.error(e);
    }
    let cpu = cpu.finish();
    for p in parts {
        let _ = p.stop.send(());
        let _ = p.client.close().await;
    }
    Ok(rec.into_report(&timing, cpu))
}

/// The next participant (other than `closed`) whose latch says it leads.
async fn next_leader(led: &mut mpsc::UnboundedReceiver<(u64, Instant)>, closed: Option<u64>) -> Res<(u64, Instant)> {
    loop {
        match tokio::time::timeout(ACQUIRE_TIMEOUT, led.recv()).await {
            Ok(Some((g, at))) if Some(g) != closed => return Ok((g, at)),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the participants are gone".into()),
            Err(_) => return Err(format!("no leader within {ACQUIRE_TIMEOUT:?}")),
        }
    }
}

/// `outstanding` contenders, each on its own session, run `op` in a loop until the window ends:
/// one unit per successful call, its latency the call → its return.
async fn contend<S, F, Fut>(ctx: &Ctx, make: impl Fn(&Client, usize) -> S, op: F) -> Res<RunReport>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (S, Result<(), Error>)> + Send,
{
    let spec = &ctx.spec;
    let contenders = spec.outstanding.max(1);
    let mut clients = Vec::with_capacity(contenders);
    for _ in 0..contenders {
        clients.push(connect(&spec.connect).await?);
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut state = make(c, i);
            let op = op.clone();
            tokio::spawn(async move {
                let mut rec = Recorder::new();
                while timing.issuing() {
                    let start = Instant::now();
                    let (next, result) = op(state).await;
                    state = next;
                    rec.record(&timing, start, Instant::now(), result);
                }
                rec
            })
        })
        .collect();
    let mut recorders = Vec::with_capacity(tasks.len());
    for task in tasks {
        recorders.push(task.await.unwrap_or_else(|e| {
            let mut rec = Recorder::new();
            rec.error(format!("contender task failed: {e}"));
            rec
        }));
    }
    let cpu = cpu.finish();
    for c in &clients {
        let _ = c.close().await;
    }
    Ok(merge_all(recorders).into_report(&timing, cpu))
}

/// `outstanding` contenders, each with its own [`SharedCount`] on its own session, `add(1)` in a
/// loop: increments per second.
pub async fn counter(ctx: &Ctx) -> Res<RunReport> {
    let path = counter_path(&ctx.spec);
    contend(
        ctx,
        |c, _| SharedCount::new(c, path.as_str()),
        |count: SharedCount| async move {
            let result = count.add(1).await.map(drop);
            (count, result)
        },
    )
    .await
}

/// The atom cell's value: a small typed struct (bincode, the codec the published runs used;
/// enabled for the bench in its Cargo.toml).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ZNodeData)]
#[znode(codec = bincode)]
struct Tally {
    count: u64,
    last_writer: u32,
}

/// `outstanding` contenders, each with its own `Atom<Tally>` on its own session, swap in a loop
/// (count + 1, themselves as the last writer): swaps per second.
pub async fn atom(ctx: &Ctx) -> Res<RunReport> {
    let path = atom_path(&ctx.spec);
    contend(
        ctx,
        |c, i| (Atom::new(c, path.as_str(), Tally::default()), i as u32),
        |(atom, me): (Atom<Tally>, u32)| async move {
            let result = atom.swap(|t| Tally { count: t.count + 1, last_writer: me }).await.map(drop);
            ((atom, me), result)
        },
    )
    .await
}

/// How long the consumer waits for an item before looking at the clock again.
const TAKE_PATIENCE: Duration = Duration::from_millis(500);

/// One producer and one consumer, each on its own session, on one [`SimpleQueue<Vec<u8>>`]:
/// the producer offers `payload`-byte items one after another while fewer than `outstanding`
/// are offered and not yet taken; the consumer takes them. An item carries the time its offer
/// was issued (nanoseconds since the run's start, its first 8 bytes), so a unit's latency is
/// offer issued → take returned.
pub async fn queue(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let path = queue_path(spec);
    let (pc, cc) = (connect(&spec.connect).await?, connect(&spec.connect).await?);
    let window = Arc::new(Semaphore::new(spec.outstanding.max(1)));
    let base = Instant::now();
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let producer = {
        let (queue, window) = (SimpleQueue::<Vec<u8>>::new(&pc, path.as_str()), window.clone());
        let mut item = ctx.payload.to_vec();
        item.resize(item.len().max(8), b'-');
        tokio::spawn(async move {
            let mut rec = Recorder::new();
            while timing.issuing() {
                // Closed when the consumer is done.
                let Ok(permit) = window.acquire().await else { break };
                permit.forget();
                let offered = base.elapsed().as_nanos() as u64;
                item[..8].copy_from_slice(&offered.to_be_bytes());
                if let Err(e) = queue.offer(&item).await {
                    rec.error(e);
                    window.add_permits(1);
                }
            }
            rec
        })
    };
    let consumer = {
        let (queue, window) = (SimpleQueue::<Vec<u8>>::new(&cc, path.as_str()), window.clone());
        tokio::spawn(async move {
            let mut rec = Recorder::new();
            while timing.issuing() {
                match queue.take_timeout(TAKE_PATIENCE).await {
                    Ok(item) => {
                        let done = Instant::now();
                        window.add_permits(1);
                        match item.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                            Some(b) => {
                                let offered = base + Duration::from_nanos(u64::from_be_bytes(b));
                                rec.record(&timing, offered, done, Ok::<(), String>(()));
                            }
                            None => rec.error(format!("an item of {} bytes", item.len())),
                        }
                    }
                    Err(Error::Timeout { .. }) if !timing.issuing() => {}
                    Err(e) => rec.error(e),
                }
            }
            window.close();
            rec
        })
    };
    let mut recorders = Vec::new();
    for task in [producer, consumer] {
        recorders.push(task.await.unwrap_or_else(|e| {
            let mut rec = Recorder::new();
            rec.error(format!("queue task failed: {e}"));
            rec
        }));
    }
    let cpu = cpu.finish();
    for c in [&pc, &cc] {
        let _ = c.close().await;
    }
    Ok(merge_all(recorders).into_report(&timing, cpu))
}
