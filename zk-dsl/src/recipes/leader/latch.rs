//! [`LeaderLatch`]: leader election in Curator's `LeaderLatch` layout.

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::{Client, WatchFuture};
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::contenders;
use crate::recipes::fence::Fence;
use crate::recipes::lock::driver::{self, Attempt, OwnNode};
use crate::recipes::lock::{participants, LossPolicy, Participant};
use crate::recipes::options::{recipe_options, RecipeOptions};
use crate::recipes::protected::child_path;
use crate::session::SessionEvent;

/// Leader election among the participants of a directory, in Curator's `LeaderLatch` layout:
/// each participant holds an ephemeral-sequential `_c_<uuid>-latch-<seq>` node whose data is
/// its participant id (so Curator's `getParticipants` and [`Latch::participants`] read each
/// other's), the lowest sequence leads, and every other participant watches only the node just
/// before its own.
///
/// Leadership is never reported without being owned: before it says "leader", the latch checks
/// that the first node's `ephemeralOwner` is this session (Curator's CURATOR-696 double-leader
/// bug). A disconnection makes leadership uncertain, which under the default
/// [`LossPolicy::Standard`] stops it; an expired session ends it for good (start a new latch on
/// the new session, e.g. inside `run_sessions`).
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::LeaderLatch;
///
/// let mut latch = LeaderLatch::new(client, "/services/indexer/leader").id("indexer-7").start().await?;
/// latch.wait_leader().await?;
/// if let Some(fence) = latch.fence() {
///     fence.set_data("/services/indexer/epoch", "7", -1).await?; // refused once we no longer lead
/// }
/// latch.close().await?; // relinquish
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LeaderLatch {
    client: Client,
    dir: String,
    options: RecipeOptions,
}

recipe_options!(LeaderLatch, options);

impl LeaderLatch {
    /// A latch on `path` (created, as a container, on first use).
    pub fn new(client: &Client, path: impl Into<String>) -> LeaderLatch {
        LeaderLatch {
            client: client.clone(),
            dir: path.into(),
            // Curator's default participant id.
            options: RecipeOptions::new(Vec::new()),
        }
    }

    /// Joins the election: creates our node and starts following the election in the
    /// background. Resolves once the node exists.
    pub async fn start(self) -> Result<Latch, Error> {
        let attempt = self.attempt();
        let node = driver::create_node(&self.client, &attempt, &crate::recipes::protected::new_protected_id()).await?;
        let (tx, status) = watch::channel(Status { leading: None, state: LatchState::Follower });
        let (close, closed) = oneshot::channel();
        // Subscribed before the task runs, so no connection change after the node exists is missed.
        let events = self.client.session_events();
        let task = self.client.inner.runtime.spawn(run(self.clone(), node, events, tx, closed));
        Ok(Latch { latch: self, status, close: Some(close), task: Some(task), reported: false })
    }

    fn attempt(&self) -> Attempt {
        Attempt {
            dir: self.dir.clone(),
            marker: "latch-",
            data: self.options.id.clone(),
            blocked_by: driver::exclusive,
            retry: self.options.retry,
        }
    }
}

/// Where a participant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatchState {
    /// Our node is first and owned by our session.
    Leader,
    /// Someone else leads (or the election is being re-checked).
    Follower,
    /// Disconnected: we led and may still, but cannot know (Curator's SUSPENDED).
    Uncertain,
    /// Closed, or the session ended: this latch will never lead again.
    Ended,
}

#[derive(Debug, Clone)]
struct Status {
    /// Our node and its fence while we lead (or lead uncertainly).
    leading: Option<Fence>,
    state: LatchState,
}

/// A participant in a [`LeaderLatch`] election. Dropping it (or [`close`](Self::close))
/// withdraws: our node is deleted and the next participant takes over at once.
#[derive(Debug)]
pub struct Latch {
    latch: LeaderLatch,
    status: watch::Receiver<Status>,
    close: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The leadership last reported to the caller.
    reported: bool,
}

impl Latch {
    /// Where we stand now.
    pub fn state(&self) -> LatchState {
        self.status.borrow().state
    }

    /// Whether we lead, under the latch's [`LossPolicy`] (uncertain leadership counts only
    /// under [`LossPolicy::Session`]).
    pub fn is_leader(&self) -> bool {
        leads(self.latch.options.policy, self.state())
    }

    /// While we lead: the fencing token and writes that land only while our node exists.
    pub fn fence(&self) -> Option<Fence> {
        if self.is_leader() {
            self.status.borrow().leading.clone()
        } else {
            None
        }
    }

    /// Waits until we lead; fails if the latch ends first.
    pub async fn wait_leader(&mut self) -> Result<(), Error> {
        let policy = self.latch.options.policy;
        let status = self.status.wait_for(|s| leads(policy, s.state) || s.state == LatchState::Ended).await;
        match status.map(|s| s.state) {
            Ok(state) if leads(policy, state) => {
                self.reported = true;
                Ok(())
            }
            _ => Err(self.ended_error()),
        }
    }

    /// The next change of leadership since this latch last reported it (by this method or
    /// [`wait_leader`](Self::wait_leader)): resolves to the new value, or `None` once the latch
    /// has ended (after reporting `false` if it led). A change that happened before the call is
    /// reported at once, so none is missed: `while let Some(leading) = latch.leadership_changed().await`.
    pub async fn leadership_changed(&mut self) -> Option<bool> {
        let policy = self.latch.options.policy;
        loop {
            let state = self.status.borrow_and_update().state;
            let leading = leads(policy, state);
            if leading != self.reported {
                self.reported = leading;
                return Some(leading);
            }
            if state == LatchState::Ended || self.status.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Everyone in the election, in order; the first leads (`holds`).
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.latch.client, &self.latch.dir, driver::exclusive).await
    }

    /// The current leader, as the election stands on the server.
    pub async fn leader(&self) -> Result<Option<Participant>, Error> {
        Ok(self.participants().await?.into_iter().next())
    }

    /// Withdraws from the election: our node is deleted (so the next participant leads at
    /// once) and the latch ends.
    pub async fn close(mut self) -> Result<(), Error> {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.map_err(|e| Error::Protocol {
                reason: "the latch task failed".into(),
                source: Some(std::sync::Arc::new(e)),
            })?;
        }
        Ok(())
    }

    fn ended_error(&self) -> Error {
        Error::Closed { op: Some(OpCode::Create), path: Some(self.latch.dir.clone()) }
    }
}

impl Drop for Latch {
    fn drop(&mut self) {
        // The task deletes our node and ends.
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

fn leads(policy: LossPolicy, state: LatchState) -> bool {
    match state {
        LatchState::Leader => true,
        LatchState::Uncertain => policy == LossPolicy::Session,
        LatchState::Follower | LatchState::Ended => false,
    }
}

/// What the election loop waits on next.
enum Wait {
    /// Our node's deletion (we lead) or our predecessor's (we follow).
    Node(WatchFuture),
    /// A session event (after a request failed with the connection).
    Session,
}

/// The election loop: find our place, lead or watch our predecessor, re-check on every change
/// and on reconnection, recreate our node if it was deleted under a live session, and delete
/// it when closed.
async fn run(
    latch: LeaderLatch,
    mut node: OwnNode,
    mut events: crate::SessionEvents,
    status: watch::Sender<Status>,
    mut closed: oneshot::Receiver<()>,
) {
    let client = latch.client.clone();
    let set = |state: LatchState, node: &OwnNode| {
        let leading = matches!(state, LatchState::Leader | LatchState::Uncertain).then(|| Fence {
            client: client.clone(),
            node: node.path.clone(),
            token: node.stat.czxid,
        });
        status.send_if_modified(|s| {
            let changed = s.state != state;
            *s = Status { leading, state };
            changed
        });
    };
    loop {
        let wait = match check(&latch, &node).await {
            Ok(Place::Leader(watch)) => {
                set(LatchState::Leader, &node);
                Wait::Node(watch)
            }
            Ok(Place::Follower(watch)) => {
                set(LatchState::Follower, &node);
                Wait::Node(watch)
            }
            Ok(Place::Recheck) => continue,
            Ok(Place::Gone) => {
                // Deleted under a live session (by an operator, or a reset): join again.
                set(LatchState::Follower, &node);
                match driver::create_node(&client, &latch.attempt(), &crate::recipes::protected::new_protected_id())
                    .await
                {
                    Ok(fresh) => {
                        node = fresh;
                        continue;
                    }
                    Err(e) if e.is_session_terminal() => break,
                    Err(_) => Wait::Session,
                }
            }
            Err(e) if e.is_session_terminal() => break,
            // The connection dropped under a request: wait for the session to say more.
            Err(_) => Wait::Session,
        };
        let node_event = async {
            match wait {
                Wait::Node(watch) => watch.await,
                Wait::Session => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut closed => {
                withdraw(&client, &node).await;
                break;
            }
            event = node_event => {
                if event.is_session_event() {
                    break; // the session ended
                }
            }
            event = events.next() => match event {
                Some(SessionEvent::Disconnected | SessionEvent::ConnectedReadOnly) => {
                    if status.borrow().state == LatchState::Leader {
                        set(LatchState::Uncertain, &node);
                    }
                    // Wait for the reconnection (or the end) before looking again.
                    match wait_reconnected(&mut events, &mut closed).await {
                        Reconnect::Back => {}
                        Reconnect::Closed => {
                            withdraw(&client, &node).await;
                            break;
                        }
                        Reconnect::Ended => break,
                    }
                }
                Some(SessionEvent::Reconnected | SessionEvent::Connected) => {}
                _ => break,
            },
        }
    }
    status.send_modify(|s| *s = Status { leading: None, state: LatchState::Ended });
}

enum Reconnect {
    Back,
    Closed,
    Ended,
}

async fn wait_reconnected(events: &mut crate::SessionEvents, closed: &mut oneshot::Receiver<()>) -> Reconnect {
    loop {
        tokio::select! {
            _ = &mut *closed => return Reconnect::Closed,
            event = events.next() => match event {
                Some(SessionEvent::Reconnected | SessionEvent::Connected) => return Reconnect::Back,
                // Read-only is no better than disconnected for a leader: wait for the quorum.
                Some(SessionEvent::Disconnected | SessionEvent::ConnectedReadOnly) => {}
                _ => return Reconnect::Ended,
            },
        }
    }
}

enum Place {
    /// We lead; the future fires when our node changes.
    Leader(WatchFuture),
    /// We follow; the future fires when our predecessor changes.
    Follower(WatchFuture),
    /// Something moved between two reads: look again.
    Recheck,
    /// Our node is gone.
    Gone,
}

/// One look at the election.
async fn check(latch: &LeaderLatch, node: &OwnNode) -> Result<Place, Error> {
    let client = &latch.client;
    let ordered = contenders::sorted(client.children(latch.dir.as_str()).await?);
    let Some(index) = ordered.iter().position(|c| c.name == node.name) else { return Ok(Place::Gone) };
    match index.checked_sub(1) {
        None => {
            // First: make sure the node is ours (CURATOR-696), and watch it.
            match client.exists(node.path.as_str()).with_watch().await? {
                (Some(stat), watch) if stat.ephemeral_owner == client.session_id() => Ok(Place::Leader(watch)),
                (Some(stat), _) => {
                    tracing::warn!(node = %node.path, owner = format_args!("{:#x}", stat.ephemeral_owner), "our latch node belongs to another session");
                    Ok(Place::Gone)
                }
                (None, _) => Ok(Place::Gone),
            }
        }
        Some(before) => {
            // `before` is `index - 1`, and `index` is a position in `ordered`.
            let Some(predecessor) = ordered.get(before) else { return Ok(Place::Recheck) };
            let predecessor = child_path(&latch.dir, &predecessor.name);
            match client.get_data(predecessor.as_str()).with_watch().await {
                Ok((_, watch)) => Ok(Place::Follower(watch)),
                Err(Error::NoNode { .. }) => Ok(Place::Recheck),
                Err(e) => Err(e),
            }
        }
    }
}

/// Deletes our node, retrying through connection loss; a session that ended took it already.
async fn withdraw(client: &Client, node: &OwnNode) {
    if let Err(e) = driver::delete_node(client, &node.path).await {
        tracing::warn!(error = %e, node = %node.path, "could not withdraw from the election; the node goes with the session");
    }
}
