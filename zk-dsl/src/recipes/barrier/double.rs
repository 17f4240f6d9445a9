//! [`DoubleBarrier`]: processes enter together and leave together (ZooKeeper's double-barrier
//! recipe, in Curator's `DistributedDoubleBarrier` layout).

use std::time::{Duration, Instant};

use super::wait_event;
use crate::client::Client;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::child_path;

const READY: &str = "ready";

/// A double barrier of `members` processes on a directory: each member is an ephemeral
/// `<path>/<uuid>` node (Curator's layout, so Curator members count too), and `<path>/ready`
/// is created by the member that completes the count.
///
/// * [`enter`](Self::enter) returns only once `members` members are present: nobody leaves the
///   enter phase early. The `ready` node is made only by a member that has counted `members`
///   member nodes itself, and a member trusts only a `ready` node created after it joined, so
///   one left over from an earlier round (its last member normally clears it) lets nobody
///   through. Rounds that overlap in time need a path each (`/barrier/round-17`): members still
///   leaving one round would count for the next.
/// * [`Member::leave`] returns only once every member's node is gone. A member that dies takes
///   its ephemeral node with it, so the others are not kept waiting for ever, and nobody is let
///   out while a live member is still in (Curator GH-1290 let the leave phase be bypassed).
///
/// Waiting is watch-driven: on entry everyone waits on the `ready` node; on leaving the lowest
/// member waits on the highest and everyone else on the lowest, as the recipe prescribes.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::DoubleBarrier;
///
/// let member = DoubleBarrier::new(client, "/jobs/batch-7", 5).enter().await?; // all 5 are in
/// // ... compute ...
/// member.leave().await?; // all 5 are done
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DoubleBarrier {
    client: Client,
    dir: String,
    members: usize,
}

impl DoubleBarrier {
    /// A barrier of `members` (at least 1) on `path`.
    pub fn new(client: &Client, path: impl Into<String>, members: usize) -> DoubleBarrier {
        DoubleBarrier { client: client.clone(), dir: path.into(), members: members.max(1) }
    }

    /// Joins and waits until `members` members are in.
    pub async fn enter(&self) -> Result<Member, Error> {
        self.enter_until(None).await
    }

    /// Joins and waits at most `timeout`; on [`Error::Timeout`] our member node is removed again.
    pub async fn enter_timeout(&self, timeout: Duration) -> Result<Member, Error> {
        self.enter_until(Some(Instant::now() + timeout)).await
    }

    async fn enter_until(&self, deadline: Option<Instant>) -> Result<Member, Error> {
        let client = &self.client;
        let ready = child_path(&self.dir, READY);
        let node = child_path(&self.dir, &uuid::Uuid::new_v4().to_string());
        let mut joined = None;
        for _ in 0..2 {
            match client.create(node.as_str()).with_stat().await {
                Ok((_, stat)) => {
                    joined = Some(stat.czxid);
                    break;
                }
                Err(Error::NoNode { .. }) => make_containers(client, &self.dir).await?,
                Err(e) => return Err(e),
            }
        }
        let Some(joined) = joined else {
            return Err(Error::NoNode { op: OpCode::Create, path: self.dir.clone() });
        };
        let member = Member { barrier: self.clone(), node };
        let outcome = async {
            loop {
                let (stat, changed) = client.exists(ready.as_str()).with_watch().await?;
                let stale = match stat {
                    // Made after we joined: our round is full.
                    Some(stat) if stat.czxid > joined => return Ok(()),
                    // Left over from an earlier round (a member died before clearing it): it
                    // says nothing about this one.
                    Some(stat) => Some(stat.version),
                    None => None,
                };
                if self.present().await?.len() >= self.members {
                    // We counted them ourselves: the round is full. Replace a stale marker, so
                    // the others (watching it) see a fresh one.
                    if let Some(version) = stale {
                        match client.delete(ready.as_str()).version(version).await {
                            Ok(()) | Err(Error::NoNode { .. } | Error::BadVersion { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    match client.create(ready.as_str()).persistent().await {
                        Ok(_) | Err(Error::NodeExists { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                wait_event(changed, deadline, &ready).await?;
            }
        }
        .await;
        match outcome {
            Ok(()) => Ok(member),
            Err(e) => {
                // Not entered: take our node back, so we do not count for a round we left.
                let _ = member.barrier.client.delete(member.node.as_str()).await;
                Err(e)
            }
        }
    }

    /// The member nodes present (names), `ready` left out, in name order.
    async fn present(&self) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> =
            self.client.children(self.dir.as_str()).await?.into_iter().filter(|c| c != READY).collect();
        names.sort();
        Ok(names)
    }
}

/// A member inside a [`DoubleBarrier`]; [`leave`](Self::leave) when done.
#[derive(Debug)]
#[must_use = "a member that never leaves keeps the others waiting until its session ends"]
pub struct Member {
    barrier: DoubleBarrier,
    node: String,
}

impl Member {
    /// Our member node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Leaves, and waits until every member has left.
    pub async fn leave(self) -> Result<(), Error> {
        self.leave_until(None).await
    }

    /// Leaves, waiting at most `timeout` for the others ([`Error::Timeout`]).
    pub async fn leave_timeout(self, timeout: Duration) -> Result<(), Error> {
        self.leave_until(Some(Instant::now() + timeout)).await
    }

    async fn leave_until(self, deadline: Option<Instant>) -> Result<(), Error> {
        let barrier = &self.barrier;
        let client = &barrier.client;
        let mine = self.node.rsplit('/').next().unwrap_or_default().to_owned();
        loop {
            let present = barrier.present().await?;
            if present.is_empty() {
                // Everyone is out: the last one clears `ready` for the next round.
                match client.delete(child_path(&barrier.dir, READY).as_str()).await {
                    Ok(()) | Err(Error::NoNode { .. }) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            let (Some(lowest), Some(highest)) = (present.first(), present.last()) else {
                continue; // unreachable: `present` is not empty here
            };
            let watch_on = if present.len() == 1 && *lowest == mine {
                // Only us left: go.
                delete_member(client, &self.node).await?;
                continue;
            } else if *lowest == mine {
                // The lowest waits for the highest to go, then looks again.
                highest.clone()
            } else {
                // Everyone else goes, then waits for the lowest.
                if present.contains(&mine) {
                    delete_member(client, &self.node).await?;
                }
                lowest.clone()
            };
            let path = child_path(&barrier.dir, &watch_on);
            let (stat, changed) = client.exists(path.as_str()).with_watch().await?;
            if stat.is_some() {
                wait_event(changed, deadline, &path).await?;
            }
        }
    }
}

async fn delete_member(client: &Client, node: &str) -> Result<(), Error> {
    match client.delete(node).await {
        Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
