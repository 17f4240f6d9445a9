//! The acquire loop every lock-like recipe shares (ZooKeeper's lock recipe, as Curator's
//! `LockInternals` and kazoo's `Lock` run it):
//!
//! 1. create a protected ephemeral-sequential node `<dir>/_c_<uuid>-<marker><seq>` holding the
//!    participant id (the directory and its parents are created as containers if missing, so
//!    they go away when the last contender does);
//! 2. list the directory and order the contenders ([`contenders::sorted`]);
//! 3. if the recipe's rule says nothing blocks us, we hold it; otherwise watch *only* the
//!    contender that blocks us (`getData` with a watch, so no watch dangles on a node that is
//!    already gone) and go to 2 when it changes: one release wakes one waiter, no herd.
//!
//! Whatever ends the attempt early — a timeout, an error, the acquiring future being dropped —
//! deletes our node, also when the create's reply had not arrived yet (the node is found by its
//! protected prefix), so an abandoned attempt never blocks the others.

use std::time::Instant;

use super::super::contenders::{self, Contender, ContenderKind};
use super::super::protected::{child_path, create_protected, new_protected_id};
use super::super::retry::RetryPolicy;
use crate::client::ops::create::CreateSpec;
use crate::client::Client;
use crate::error::Error;
use crate::proto::{CreateMode, OpCode, Stat};

/// Which earlier contender, if any, keeps `me` (at `index` in `ordered`) from holding the lock.
pub(crate) type BlockedBy = fn(ordered: &[Contender], index: usize) -> Option<usize>;

/// An exclusive contender waits for the one just before it (which waits for the one before it).
pub(crate) fn exclusive(_ordered: &[Contender], index: usize) -> Option<usize> {
    index.checked_sub(1)
}

/// A reader waits only for the nearest exclusive contender before it.
pub(crate) fn reader(ordered: &[Contender], index: usize) -> Option<usize> {
    ordered.get(..index)?.iter().rposition(|c| c.kind == ContenderKind::Exclusive)
}

/// What one acquisition creates and how it decides.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub dir: String,
    /// The name's marker before the sequence (`lock-`, `__WRIT__`, `latch-`, ...).
    pub marker: &'static str,
    pub data: Vec<u8>,
    pub blocked_by: BlockedBy,
    pub retry: RetryPolicy,
}

/// A contender node this session owns.
#[derive(Debug, Clone)]
pub(crate) struct OwnNode {
    pub path: String,
    pub name: String,
    pub stat: Stat,
}

#[derive(Debug)]
/// Deletes our contender node unless disarmed: on every early exit of an acquisition, including
/// the future being dropped. The delete runs on the client's runtime, retried until it is done
/// or the session is over (which deletes the node anyway).
pub(crate) struct Cleanup {
    client: Client,
    dir: String,
    id: String,
    node: Option<String>,
    armed: bool,
}

impl Cleanup {
    pub(crate) fn new(client: &Client, dir: &str, id: &str) -> Cleanup {
        Cleanup { client: client.clone(), dir: dir.to_owned(), id: id.to_owned(), node: None, armed: true }
    }

    /// Deletes `node` when dropped (a guard released by dropping it).
    pub(crate) fn for_node(client: &Client, node: &str) -> Cleanup {
        let dir = node.rsplit_once('/').map_or("/", |(dir, _)| dir).to_owned();
        Cleanup { client: client.clone(), dir, id: String::new(), node: Some(node.to_owned()), armed: true }
    }

    /// The node's path, once its create has answered.
    pub(crate) fn found(&mut self, node: &str) {
        self.node = Some(node.to_owned());
    }

    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Cleanup {
    /// Deletes the node now (not in the background) and disarms: for callers that must know it
    /// is gone before they go on.
    pub(crate) async fn run_now(mut self) {
        self.armed = false;
        remove(self.client.clone(), self.dir.clone(), self.id.clone(), self.node.take()).await;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (client, dir, id, node) = (self.client.clone(), self.dir.clone(), self.id.clone(), self.node.take());
        let runtime = client.inner.runtime.clone();
        runtime.spawn(remove(client, dir, id, node));
    }
}

/// Deletes an abandoned contender node (found by its protected `id` when its create's reply
/// never came), retrying through connection loss; a session that ended took it already.
async fn remove(client: Client, dir: String, id: String, node: Option<String>) {
    let path = match node {
        Some(path) => path,
        // Without the node's name, find it by prefix; the listing is sent after the create, so
        // it sees the node if it was made.
        None => {
            match RetryPolicy::default().run(|| super::super::protected::find_own(&client, &dir, &id, true)).await {
                Ok(Some((path, _))) => path,
                Ok(None) => return,
                Err(e) => return warn_undeleted(&e, &dir),
            }
        }
    };
    if let Err(e) = delete_node(&client, &path).await {
        warn_undeleted(&e, &path);
    }
}

fn warn_undeleted(e: &Error, what: &str) {
    // A session that is over took its ephemeral nodes with it: nothing to warn about.
    if e.is_session_terminal() {
        return;
    }
    tracing::warn!(error = %e, %what, "could not delete an abandoned recipe node; it goes with the session");
}

/// Deletes one of our ephemeral recipe nodes, retrying through connection loss; a node already
/// gone, or a session already over (which took its ephemeral nodes), counts as deleted.
pub(crate) async fn delete_node(client: &Client, path: &str) -> Result<(), Error> {
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

/// Like [`acquire`], but gives up when `cancel` resolves, deleting the node before it returns
/// `Ok(None)` (dropping an acquisition deletes it too, but in the background).
pub(crate) async fn acquire_or_cancel(
    client: &Client,
    attempt: &Attempt,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Option<OwnNode>, Error> {
    let id = new_protected_id();
    let mut cleanup = Cleanup::new(client, &attempt.dir, &id);
    let outcome = tokio::select! {
        acquired = acquire_with(client, attempt, None, &id, &mut cleanup) => Some(acquired),
        () = cancel => None,
    };
    match outcome {
        Some(Ok(node)) => {
            cleanup.disarm();
            Ok(Some(node))
        }
        Some(Err(e)) => Err(e),
        None => {
            cleanup.run_now().await;
            Ok(None)
        }
    }
}

/// Runs one acquisition to the end: `Ok` when the rule lets us hold it, `Err(Timeout)` at the
/// deadline, or the error that stopped it. Our node is gone again unless it returns `Ok`.
pub(crate) async fn acquire(client: &Client, attempt: &Attempt, deadline: Option<Instant>) -> Result<OwnNode, Error> {
    let id = new_protected_id();
    let mut cleanup = Cleanup::new(client, &attempt.dir, &id);
    let node = acquire_with(client, attempt, deadline, &id, &mut cleanup).await?;
    cleanup.disarm();
    Ok(node)
}

/// The acquire loop; `cleanup` learns the node's path as soon as it exists, and stays armed (the
/// caller disarms it on success).
async fn acquire_with(
    client: &Client,
    attempt: &Attempt,
    deadline: Option<Instant>,
    id: &str,
    cleanup: &mut Cleanup,
) -> Result<OwnNode, Error> {
    let node = create_node(client, attempt, id).await?;
    cleanup.found(&node.path);
    loop {
        // Reads are safe to repeat: a listing or a watch cut off with the connection is sent again
        // (by the recipe's retry policy) instead of failing the whole acquisition.
        let dir = attempt.dir.as_str();
        let children = attempt.retry.run(|| client.children(dir).send()).await?;
        let ordered = contenders::sorted(children);
        let Some(index) = ordered.iter().position(|c| c.name == node.name) else {
            // Deleted under us (by another client, or with an expired session).
            return Err(Error::NoNode { op: OpCode::GetChildren2, path: node.path.clone() });
        };
        let Some(blocker) = (attempt.blocked_by)(&ordered, index) else {
            return Ok(node);
        };
        // `BlockedBy` rules return an index below `index`, itself an index of `ordered`.
        let Some(blocker) = ordered.get(blocker) else { continue };
        let blocker = child_path(&attempt.dir, &blocker.name);
        let blocker = blocker.as_str();
        let watch = match attempt.retry.run(|| async move { client.get_data(blocker).with_watch().await }).await {
            Ok((_, watch)) => watch,
            // Gone between the listing and the read: look again.
            Err(Error::NoNode { .. }) => continue,
            Err(e) => return Err(e),
        };
        let event = match deadline {
            None => watch.await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), watch).await {
                Ok(event) => event,
                Err(_) => return Err(Error::Timeout { op: OpCode::Create, path: attempt.dir.clone() }),
            },
        };
        if event.is_session_event() {
            // The session ended; the next request says how.
            tracing::debug!(%event, "the watch on the predecessor ended with the session");
        }
    }
}

/// Creates our contender node, making the directory (as containers) when it is missing.
pub(crate) async fn create_node(client: &Client, attempt: &Attempt, id: &str) -> Result<OwnNode, Error> {
    let mut spec = CreateSpec::new(child_path(&attempt.dir, attempt.marker));
    spec.mode = CreateMode::EphemeralSequential;
    spec.data = Some(attempt.data.clone().into());
    for _ in 0..3 {
        match create_protected(client, spec.clone(), id, &attempt.retry).await {
            Ok((path, stat)) => {
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                return Ok(OwnNode { path, name, stat });
            }
            Err(Error::NoNode { .. }) => make_containers(client, &attempt.dir).await?,
            Err(e) => return Err(e),
        }
    }
    Err(Error::NoNode { op: OpCode::Create, path: attempt.dir.clone() })
}

/// Creates `dir` and its missing ancestors as container nodes (Curator's
/// `creatingParentContainersIfNeeded`), tolerating concurrent creators.
pub(crate) async fn make_containers(client: &Client, dir: &str) -> Result<(), Error> {
    // Each '/' after the first ends an ancestor; '/' is ASCII, so the slices fall on char
    // boundaries.
    let mut prefixes: Vec<&str> = dir.match_indices('/').skip(1).map(|(i, _)| &dir[..i]).collect();
    prefixes.push(dir);
    // Pipelined: every create leaves at once; each tolerates the node existing.
    let pending: Vec<_> = prefixes.iter().map(|p| client.create(*p).container().send()).collect();
    for result in pending {
        match result.await {
            Ok(_) | Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(names: &[&str]) -> Vec<Contender> {
        contenders::sorted(names.iter().map(|s| s.to_string()))
    }

    #[test]
    fn exclusive_waits_for_its_predecessor_reader_for_the_nearest_writer() {
        let o = ordered(&[
            "a-__WRIT__0000000001",
            "b-__READ__0000000002",
            "c-__WRIT__0000000003",
            "d-__READ__0000000004",
            "e-__READ__0000000005",
        ]);
        assert_eq!(exclusive(&o, 0), None);
        assert_eq!(exclusive(&o, 2), Some(1));
        assert_eq!(reader(&o, 1), Some(0));
        assert_eq!(reader(&o, 4), Some(2), "readers wait for the nearest writer, not for readers");
        let readers = ordered(&["a-__READ__0000000001", "b-__READ__0000000002"]);
        assert_eq!(reader(&readers, 1), None, "readers share");
    }
}
