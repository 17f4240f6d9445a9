//! zk-dsl's coordination recipes under load, as a user writes them: a [`Mutex`] handed between
//! contenders (one session each, all in this process, so a handoff is timed on one clock), and
//! a leader latch losing its leader's session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_dsl::recipes::Mutex;
use zk_dsl::Client;

use super::Ctx;
use crate::measure::{merge_all, CpuSampler, Recorder, Timing};
use crate::spec::{lock_path, RunReport};

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

/// Leader failover with zk-dsl's `LeaderLatch`: not in this tree yet (the latch is being
/// written in `zk-dsl/src/recipes/leader/`); the run says so instead of measuring something else.
pub async fn leader_failover(_ctx: &Ctx) -> Res<RunReport> {
    Err("zk-dsl has no LeaderLatch in this build yet (zk-dsl/src/recipes/leader/)".into())
}
