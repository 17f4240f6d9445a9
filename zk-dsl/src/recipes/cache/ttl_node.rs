//! [`PersistentTtlNode`]: a TTL node kept alive by touching a TTL child (Curator's layout).

use std::time::Duration;

use bytes::Bytes;

use super::node::{PersistentNode, PersistentNodeHandle};
use crate::client::SessionSource;
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{CreateMode, OpCode};
use crate::recipes::protected::child_path;

/// The child Curator's `PersistentTtlNode` touches; peers look for this name.
pub const TOUCH_CHILD: &str = "touch";

/// A node that lives while its owner does, without an ephemeral node's tie to one session
/// (Curator's `PersistentTtlNode`): a `PersistentWithTtl` node at the path, kept present like a
/// [`PersistentNode`], plus a TTL child [`touch`](TOUCH_CHILD) written every `ttl / 2`. A TTL node
/// is deleted by the server only once it has no children and no changes for `ttl`, so the node
/// stays while the child does, and watches on the node itself never fire for the touches.
///
/// When the owner stops (closes, crashes, loses its sessions), the child goes after `ttl`, and
/// the node `ttl` after that — at the server's next TTL sweep (`znode.container.checkIntervalMs`,
/// one minute by default). Needs `zookeeper.extendedTypesEnabled=true` on the servers.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use std::time::Duration;
/// use zk_dsl::recipes::PersistentTtlNode;
///
/// let node = PersistentTtlNode::new(client, "/leases/batch-7", Duration::from_secs(30)).data("host-3").start().await?;
/// // ... work; the node stays, through disconnections and even session expiries ...
/// node.close(); // stops touching: the server removes both nodes about 2 × ttl later
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PersistentTtlNode {
    node: PersistentNode,
    path: String,
    ttl: Duration,
}

impl PersistentTtlNode {
    /// The TTL node at `path`, kept in the sessions of `source` (a `&Client` or `&Sessions`).
    pub fn new(source: impl Into<SessionSource>, path: impl Into<String>, ttl: Duration) -> PersistentTtlNode {
        let path = path.into();
        PersistentTtlNode { node: PersistentNode::new(source, path.clone()).ttl(ttl), path, ttl }
    }

    /// The node's data: bytes, text or any `ZNodeData` value.
    pub fn data<T: ToZNodeBytes + ?Sized>(mut self, value: &T) -> Self {
        self.node = self.node.data(value);
        self
    }

    /// Creates the node and its `touch` child, and keeps touching until closed.
    pub async fn start(self) -> Result<PersistentTtlNodeHandle, Error> {
        let PersistentTtlNode { node, path, ttl } = self;
        if ttl < Duration::from_millis(2) {
            return Err(Error::invalid_argument(
                Some(OpCode::Create),
                Some(&path),
                format!("a TTL of {ttl:?} leaves no time to touch the node"),
            ));
        }
        let source = node.source().clone();
        let node = node.start().await?;
        let touch = child_path(node.path(), TOUCH_CHILD);
        touch_once(&source, &touch, ttl).await?;
        let toucher = source.client().inner.runtime.clone().spawn(keep_touching(source, touch, ttl));
        Ok(PersistentTtlNodeHandle { node, toucher })
    }
}

/// Writes the touch child: a `setData` when it exists, else a TTL create.
async fn touch_once(source: &SessionSource, touch: &str, ttl: Duration) -> Result<(), Error> {
    let client = source.client();
    match client.set_data(touch, &[][..]).await {
        Ok(_) => Ok(()),
        Err(Error::NoNode { .. }) => {
            match client.create(touch).mode(CreateMode::PersistentWithTtl).ttl(ttl).await {
                // Created by a concurrent touch, or the parent is being re-created by its keeper
                // (the next touch creates the child under it).
                Ok(_) | Err(Error::NodeExists { .. }) | Err(Error::NoNode { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

async fn keep_touching(source: SessionSource, touch: String, ttl: Duration) {
    let mut every = tokio::time::interval(ttl / 2);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = touch_once(&source, &touch, ttl).await {
            if matches!(source, SessionSource::Client(_)) && e.is_session_terminal() {
                return;
            }
            // Disconnected, or between sessions: the next tick tries again.
            tracing::debug!(path = %touch, error = %e, "touching a TTL node failed");
        }
    }
}

/// A running [`PersistentTtlNode`]. Dropping it stops the touching (the server then removes the
/// nodes after their TTL); [`close`](Self::close) says so explicitly.
#[derive(Debug)]
pub struct PersistentTtlNodeHandle {
    node: PersistentNodeHandle,
    toucher: tokio::task::JoinHandle<()>,
}

impl PersistentTtlNodeHandle {
    /// The node's path.
    pub fn path(&self) -> &str {
        self.node.path()
    }

    /// The data the node is (re)created with.
    pub fn data(&self) -> Bytes {
        self.node.data()
    }

    /// Replaces the node's data, now and for every re-creation.
    pub async fn set_data<T: ToZNodeBytes + ?Sized>(&self, value: &T) -> Result<(), Error> {
        self.node.set_data(value).await
    }

    /// Stops keeping and touching the node, leaving it to expire (Curator's behaviour: a TTL
    /// node outlives its owner by its TTL, so a quick restart finds it still there).
    pub fn close(self) {
        // Drop aborts the toucher, and the node's handle stops its keeper.
        drop(self);
    }
}

impl Drop for PersistentTtlNodeHandle {
    fn drop(&mut self) {
        self.toucher.abort();
    }
}
