//! What holding a lock (or leading) looks like: a guard that knows whether it still holds,
//! carries a fencing token, and can make writes that only land while it holds.

use tokio::sync::{oneshot, watch};

use super::driver::{Cleanup, OwnNode};
use crate::client::call::Call;
use crate::client::{Client, TransactionOp, WatchFuture};
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{EventType, OpCode, Stat};
use crate::recipes::retry::RetryPolicy;
use crate::session::SessionEvent;

/// Whether a lock (or leadership) is still held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldState {
    /// Connected, and our node is there.
    Held,
    /// The connection dropped (Curator's SUSPENDED): the session, and the node, may live on,
    /// but another holder may exist by the time we know. Back to `Held` on reconnecting with
    /// the node in place.
    Uncertain,
    /// The session ended or our node was deleted: someone else may hold it now. Final.
    Lost,
}

/// What a disconnection means for [`LockGuard::is_held`] and [`LockGuard::lost`] (Curator's
/// connection-state error policies). Guarded writes are safe under either: they check the lock
/// node on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LossPolicy {
    /// Uncertain counts as lost (Curator's default, `StandardConnectionStateErrorPolicy`): stop
    /// acting as the holder as soon as the connection drops. Right when acting while another
    /// holder exists would do harm that fencing cannot prevent.
    #[default]
    Standard,
    /// Only a real loss counts (`SessionConnectionStateErrorPolicy`): keep acting through a
    /// disconnection shorter than the session timeout. Right when the work is fenced or
    /// idempotent and interruptions are costly.
    Session,
}

impl LossPolicy {
    /// Whether `state` counts as holding under this policy.
    pub fn holds(self, state: HoldState) -> bool {
        match self {
            LossPolicy::Standard => state == HoldState::Held,
            LossPolicy::Session => state != HoldState::Lost,
        }
    }
}

/// A held lock. Release it with [`release`](Self::release); dropping it releases it too (in
/// the background, on the client's runtime).
///
/// While held, a background task follows the session and the lock node, so
/// [`state`](Self::state) is always current and [`lost`](Self::lost) resolves when the lock
/// is lost (under the guard's [`LossPolicy`]).
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    client: Client,
    node: OwnNode,
    policy: LossPolicy,
    state: watch::Receiver<HoldState>,
    /// Stops the monitor when the guard goes.
    _stop: oneshot::Sender<()>,
    release: Option<Cleanup>,
}

impl LockGuard {
    pub(crate) fn new(client: &Client, node: OwnNode, policy: LossPolicy) -> LockGuard {
        let (tx, state) = watch::channel(initial_state(client));
        let (stop, stopped) = oneshot::channel();
        client.inner.runtime.spawn(monitor(client.clone(), node.path.clone(), tx, stopped));
        let release = Some(Cleanup::for_node(client, &node.path));
        LockGuard { client: client.clone(), node, policy, state, _stop: stop, release }
    }

    /// The lock node's path (ours).
    pub fn node(&self) -> &str {
        &self.node.path
    }

    /// A number that grows with every new holder of this lock: the lock node's creation zxid.
    /// Hand it to a storage system that refuses writes with a lower token than it has seen, so
    /// a holder that lost the lock without knowing (a long pause, a partition) cannot overwrite
    /// its successor's work.
    pub fn fencing_token(&self) -> i64 {
        self.node.stat.czxid
    }

    /// Where the lock stands now.
    pub fn state(&self) -> HoldState {
        *self.state.borrow()
    }

    /// Whether the lock counts as held under the guard's policy.
    pub fn is_held(&self) -> bool {
        self.policy.holds(self.state())
    }

    /// The next change of [`state`](Self::state); `Lost` is the last.
    pub async fn changed(&mut self) -> HoldState {
        if self.state.changed().await.is_err() {
            return HoldState::Lost;
        }
        *self.state.borrow_and_update()
    }

    /// Resolves once the lock no longer counts as held under the guard's policy.
    pub async fn lost(&mut self) {
        let policy = self.policy;
        // The sender lives as long as the monitor, which ends only after publishing `Lost`.
        let _ = self.state.wait_for(|s| !policy.holds(*s)).await;
    }

    /// A transaction that commits only while this lock is held: it starts with a check that the
    /// lock node exists. Add the writes and await it; if the lock was lost it fails with
    /// `TransactionFailed { index: 0, .. }` and nothing is written (see [`guarded`](Self::guarded)
    /// for that as [`Error::LockLost`]).
    pub fn transaction(&self) -> Call<'_, TransactionOp> {
        self.client.transaction().check(self.node.path.as_str(), -1)
    }

    /// Runs a [`transaction`](Self::transaction) and reports a lost lock as
    /// [`Error::LockLost`]; the results are those of the caller's operations (the check's is
    /// left out).
    pub async fn guarded(
        &self,
        build: impl FnOnce(Call<'_, TransactionOp>) -> Call<'_, TransactionOp>,
    ) -> Result<Vec<crate::OpResult>, Error> {
        match build(self.transaction()).await {
            Ok(mut results) => {
                // The check's own result ("Checked") comes first.
                if !results.is_empty() {
                    results.remove(0);
                }
                Ok(results)
            }
            Err(Error::TransactionFailed { index: 0, source }) => {
                let (op, path) = (source.op().unwrap_or(OpCode::Multi), source.path().unwrap_or_default().to_owned());
                Err(Error::LockLost { op, path, lock: self.node.path.clone() })
            }
            Err(Error::TransactionFailed { index, source }) => {
                Err(Error::TransactionFailed { index: index.saturating_sub(1), source })
            }
            Err(e) => Err(e),
        }
    }

    /// Sets `path`'s data only while the lock is held; [`Error::LockLost`] otherwise.
    pub async fn set_data<T: ToZNodeBytes + ?Sized>(&self, path: &str, data: &T, version: i32) -> Result<Stat, Error> {
        let results = self.guarded(|t| t.set_data(path, data, version)).await?;
        match results.into_iter().next() {
            Some(crate::OpResult::DataSet { stat }) => Ok(stat),
            other => Err(Error::Protocol { reason: format!("a guarded setData answered {other:?}") }),
        }
    }

    /// Deletes `path` only while the lock is held; [`Error::LockLost`] otherwise.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), Error> {
        self.guarded(|t| t.delete(path, version)).await.map(drop)
    }

    /// Creates `path` (persistent) with `data` only while the lock is held; resolves to the
    /// created path. [`Error::LockLost`] otherwise.
    pub async fn create<T: ToZNodeBytes + ?Sized>(&self, path: &str, data: &T) -> Result<String, Error> {
        let results = self.guarded(|t| t.create(path, data, crate::CreateMode::Persistent)).await?;
        match results.into_iter().next() {
            Some(crate::OpResult::Created { path, .. }) => Ok(path),
            other => Err(Error::Protocol { reason: format!("a guarded create answered {other:?}") }),
        }
    }

    /// Releases the lock: deletes the node, retrying through connection loss. A session that
    /// is already over released it too (its ephemeral node is gone).
    pub async fn release(mut self) -> Result<(), Error> {
        if let Some(cleanup) = self.release.take() {
            cleanup.disarm();
        }
        let (client, path) = (&self.client, self.node.path.as_str());
        let outcome = RetryPolicy::default()
            .run(|| async {
                match client.delete(path).await {
                    Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await;
        match outcome {
            Err(e) if e.is_session_terminal() => Ok(()),
            other => other,
        }
    }
}

fn initial_state(client: &Client) -> HoldState {
    match client.state() {
        crate::SessionState::Connected => HoldState::Held,
        s if s.is_terminal() => HoldState::Lost,
        _ => HoldState::Uncertain,
    }
}

/// Follows the session and the lock node until the lock is lost or the guard is gone: an
/// exists-watch on the node (its deletion is a loss) and the session's events (a disconnection
/// makes it uncertain, a reconnection with the node in place held again, the session's end
/// lost). A request that fails with the connection just waits for the next session event.
async fn monitor(client: Client, node: String, state: watch::Sender<HoldState>, mut stopped: oneshot::Receiver<()>) {
    let mut events = client.session_events();
    // Watchers of the state hear real changes only.
    let set = |new: HoldState| {
        state.send_if_modified(|s| std::mem::replace(s, new) != new);
    };
    let lost = |why: &str| {
        tracing::debug!(%node, why, "lock lost");
        set(HoldState::Lost);
    };
    let mut gone: Option<WatchFuture> = None;
    loop {
        if gone.is_none() && client.state().is_connected() {
            match client.exists(node.as_str()).with_watch().await {
                Ok((Some(_), watch)) => {
                    gone = Some(watch);
                    set(HoldState::Held);
                }
                Ok((None, _)) => return lost("the lock node is gone"),
                Err(e) if e.is_session_terminal() => return lost(&e.to_string()),
                // The connection dropped under the request; the session events say what next.
                Err(_) => set(HoldState::Uncertain),
            }
        }
        let node_event = async {
            match gone.as_mut() {
                Some(watch) => watch.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stopped => return,
            event = node_event => match event.event_type {
                EventType::NodeDeleted => return lost("the lock node was deleted"),
                // A session event here is its end (connection changes do not finish the watch).
                EventType::None => return lost("the session ended"),
                // Data changes (a revocation request, say) leave the lock held: watch again.
                _ => gone = None,
            },
            event = events.next() => match event {
                Some(SessionEvent::Disconnected) => set(HoldState::Uncertain),
                // Same session, so the node should be there; the loop makes sure (someone may
                // have deleted it meanwhile) and watches it again.
                Some(SessionEvent::Reconnected | SessionEvent::Connected) => gone = None,
                _ => return lost("the session ended"),
            },
        }
    }
}
