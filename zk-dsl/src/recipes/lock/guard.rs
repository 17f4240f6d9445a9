//! What holding a lock (or leading) looks like: a guard that knows whether it still holds,
//! carries a fencing token, and can make writes that only land while it holds.

use tokio::sync::{oneshot, watch};

use super::driver::{delete_node, Cleanup, OwnNode};
use crate::client::{Client, WatchFuture};
use crate::error::Error;
use crate::proto::EventType;
use crate::recipes::fence::Fence;
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

/// A held lock (or semaphore lease). Release it with [`release`](Self::release); dropping it
/// releases it too (in the background, on the client's runtime).
///
/// While held, a background task follows the session's events and, once the hold has lasted
/// 25 ms, a watch on the lock node, so [`state`](Self::state) follows disconnections and
/// expiry at once and a deletion of the node by someone else within moments, and
/// [`lost`](Self::lost) resolves when the lock is lost (under the guard's [`LossPolicy`]).
/// Writes through the guard's [`Fence`] are checked on the server whatever the local state.
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    client: Client,
    node: OwnNode,
    fence: Fence,
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
        // Subscribed here, not in the task: a disconnection right after the acquisition (before
        // the task first runs) must still reach the guard.
        let events = client.session_events();
        client.inner.runtime.spawn(monitor(client.clone(), node.path.clone(), events, tx, stopped));
        let release = Some(Cleanup::for_node(client, &node.path));
        let fence = Fence { client: client.clone(), node: node.path.clone(), token: node.stat.czxid };
        LockGuard { client: client.clone(), node, fence, policy, state, _stop: stop, release }
    }

    /// The right to write while holding: fencing token and guarded writes (also reachable
    /// directly on the guard, which dereferences to it).
    pub fn fence(&self) -> &Fence {
        &self.fence
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

    /// Like [`lost`](Self::lost), as a future that borrows nothing (to race the holder's work
    /// against, say).
    pub fn until_lost(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (mut state, policy) = (self.state.clone(), self.policy);
        async move {
            let _ = state.wait_for(|s| !policy.holds(*s)).await;
        }
    }

    /// Resolves once the lock no longer counts as held under the guard's policy.
    pub async fn lost(&mut self) {
        let policy = self.policy;
        // The sender lives as long as the monitor, which ends only after publishing `Lost`.
        let _ = self.state.wait_for(|s| !policy.holds(*s)).await;
    }

    /// Releases the lock: deletes the node, retrying through connection loss. A session that
    /// is already over released it too (its ephemeral node is gone).
    pub async fn release(mut self) -> Result<(), Error> {
        if let Some(cleanup) = self.release.take() {
            cleanup.disarm();
        }
        delete_node(&self.client, &self.node.path).await
    }
}

/// The guard's [`Fence`]: `guard.fencing_token()`, `guard.set_data(..)` and the other guarded
/// writes read as what they are, writes made as the holder.
impl std::ops::Deref for LockGuard {
    type Target = Fence;

    fn deref(&self) -> &Fence {
        &self.fence
    }
}

fn initial_state(client: &Client) -> HoldState {
    match client.state() {
        crate::SessionState::Connected => HoldState::Held,
        s if s.is_terminal() => HoldState::Lost,
        _ => HoldState::Uncertain,
    }
}

/// How long a hold lasts before its monitor arms a watch on the lock node.
const ARM_DELAY: std::time::Duration = std::time::Duration::from_millis(25);

/// Follows the session and the lock node until the lock is lost or the guard is gone: an
/// exists-watch on the node (its deletion is a loss) and the session's events (a disconnection
/// makes it uncertain, a reconnection with the node in place held again, the session's end
/// lost). A request that fails with the connection just waits for the next session event.
async fn monitor(
    client: Client,
    node: String,
    mut events: crate::SessionEvents,
    state: watch::Sender<HoldState>,
    mut stopped: oneshot::Receiver<()>,
) {
    // Watchers of the state hear real changes only.
    let set = |new: HoldState| {
        state.send_if_modified(|s| std::mem::replace(s, new) != new);
    };
    let lost = |why: &str| {
        tracing::debug!(%node, why, "lock lost");
        set(HoldState::Lost);
    };
    // Most holds are short: the node watch is armed only once a hold has lasted a moment, so a
    // quick acquire-and-release costs no request beyond the lock's own. Until then the session
    // events cover expiry and disconnection; a deletion by someone else in that moment is seen
    // when the watch is armed (the node is found missing), and fenced writes are refused
    // regardless.
    tokio::select! {
        _ = &mut stopped => return,
        () = tokio::time::sleep(ARM_DELAY) => {}
        event = events.next() => match event {
            // Read-only: cut off from the quorum, which may be expiring the session meanwhile.
            Some(SessionEvent::Disconnected | SessionEvent::ConnectedReadOnly) => set(HoldState::Uncertain),
            Some(SessionEvent::Reconnected | SessionEvent::Connected) => {}
            _ => return lost("the session ended"),
        },
    }
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
                // Read-only: cut off from the quorum, which may be expiring the session meanwhile.
            Some(SessionEvent::Disconnected | SessionEvent::ConnectedReadOnly) => set(HoldState::Uncertain),
                // Same session, so the node should be there; the loop makes sure (someone may
                // have deleted it meanwhile) and watches it again.
                Some(SessionEvent::Reconnected | SessionEvent::Connected) => gone = None,
                _ => return lost("the session ended"),
            },
        }
    }
}
