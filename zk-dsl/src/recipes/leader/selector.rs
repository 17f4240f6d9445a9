//! [`LeaderSelector`]: run a task while leader, in Curator's `LeaderSelector` layout.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::Error;
use crate::recipes::lock::{LockGuard, Mutex, Participant};
use crate::recipes::options::recipe_options;

/// Takes turns at leading: each participant waits for a [`Mutex`] on the election path
/// (Curator's `LeaderSelector` is an `InterProcessMutex`: `_c_<uuid>-lock-<seq>` nodes holding
/// the participant id, so Curator selectors and zk-dsl selectors take turns together), runs the
/// work while it holds it, and lets go when the work returns. The work is cancelled (its future
/// dropped) as soon as leadership is lost under the [`LossPolicy`](crate::recipes::LossPolicy) — a disconnection with the
/// default policy — so it never runs on as a leader that is not. With `auto_requeue` (the
/// default) the participant queues again after each turn.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::LeaderSelector;
///
/// let selector = LeaderSelector::new(client, "/services/compactor/leader").id("compactor-2").run(|leadership| async move {
///     // Leader now; writes through the fence are refused once we are not.
///     let _ = leadership.set_data("/services/compactor/last", "compactor-2", -1).await;
/// });
/// // ... later:
/// selector.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LeaderSelector {
    mutex: Mutex,
    requeue: bool,
}

recipe_options!(LeaderSelector, mutex.options);

impl LeaderSelector {
    /// A selector on `path` (created, as a container, on first use).
    pub fn new(client: &Client, path: impl Into<String>) -> LeaderSelector {
        LeaderSelector { mutex: Mutex::new(client, path), requeue: true }
    }

    /// Whether to queue again after each turn (default true); false leads at most once.
    pub fn auto_requeue(mut self, requeue: bool) -> Self {
        self.requeue = requeue;
        self
    }

    /// Everyone in line, the leader first.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        self.mutex.participants().await
    }

    /// Starts taking turns: `work` runs with the turn's [`LockGuard`] (fencing token, guarded
    /// writes, state) each time this participant leads. Runs on the client's runtime until
    /// [`Selector::stop`], the session's end, or (without requeue) the first turn's end.
    pub fn run<F, Fut>(self, mut work: F) -> Selector
    where
        F: FnMut(Arc<LockGuard>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (leading_tx, leading) = watch::channel(Turn { number: 0, leading: false });
        let (stop, mut stopped) = oneshot::channel();
        let turns = Arc::new(AtomicU64::new(0));
        let counted = turns.clone();
        let client = self.mutex.client().clone();
        let task = client.inner.runtime.spawn(async move {
            loop {
                // Stopping while queued removes our node before `stop` returns.
                let acquired = self.mutex.acquire_or_cancel(async { drop((&mut stopped).await) }).await;
                let guard = match acquired {
                    Ok(Some(guard)) => Arc::new(guard),
                    Ok(None) => return Ok(()),
                    Err(e) if e.is_session_terminal() => return Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not queue for leadership; trying again");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let number = counted.fetch_add(1, Ordering::Relaxed) + 1;
                leading_tx.send_replace(Turn { number, leading: true });
                let lost = guard.until_lost();
                let stop_now = tokio::select! {
                    () = work(guard.clone()) => false,
                    () = lost => {
                        tracing::info!(node = %guard.node(), "leadership lost; the turn's work is cancelled");
                        false
                    }
                    _ = &mut stopped => true,
                };
                leading_tx.send_replace(Turn { number, leading: false });
                // The work's future is gone, and with it its handle on the guard (unless it
                // kept one elsewhere: then the last handle's drop releases).
                if let Ok(guard) = Arc::try_unwrap(guard) {
                    if let Err(e) = guard.release().await {
                        tracing::warn!(error = %e, "could not release leadership cleanly; it goes with the session");
                    }
                }
                if stop_now || !self.requeue {
                    return Ok(());
                }
            }
        });
        Selector { leading, stop: Some(stop), task: Some(task), turns, reported: Turn::default() }
    }
}

/// A running [`LeaderSelector`]. Dropping it stops taking turns (in the background).
#[derive(Debug)]
pub struct Selector {
    leading: watch::Receiver<Turn>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Error>>>,
    turns: Arc<AtomicU64>,
    /// The turn state last reported by `leadership_changed`.
    reported: Turn,
}

/// Which turn this participant is on, and whether it is running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Turn {
    number: u64,
    leading: bool,
}

impl Selector {
    /// Whether this participant's work is running as leader now.
    pub fn is_leader(&self) -> bool {
        self.leading.borrow().leading
    }

    /// How many turns this participant has had.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    /// The next change of leadership since this selector last reported it: `Some(true)` when a
    /// turn began, `Some(false)` when it ended. Every turn is reported as both, in order, even
    /// if it began and ended before the call. `None` once the selector stopped.
    pub async fn leadership_changed(&mut self) -> Option<bool> {
        loop {
            let now = *self.leading.borrow_and_update();
            let seen = self.reported;
            let next = if seen.leading && (now.number != seen.number || !now.leading) {
                // The turn we reported as begun has ended (and maybe another began since).
                Turn { number: seen.number, leading: false }
            } else if now.number != seen.number {
                // A turn we have not reported began.
                Turn { number: now.number, leading: true }
            } else {
                seen
            };
            if next != seen {
                self.reported = next;
                return Some(next.leading);
            }
            self.leading.changed().await.ok()?;
        }
    }

    /// Stops: a running turn's work is cancelled and leadership released; a queued node is
    /// removed. Resolves once done; an error says why the selector had already stopped.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| Error::Protocol {
                reason: "the selector task failed".into(),
                source: Some(std::sync::Arc::new(e)),
            })?,
            None => Ok(()),
        }
    }
}

impl Drop for Selector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
