//! [`PersistentNode`]: an ephemeral node kept present for as long as its session lives.

use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::client::Client;
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{KeeperState, OpCode};
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::{child_path, new_protected_id, split_path};
use crate::recipes::retry::RetryPolicy;

/// An ephemeral node that stays (Curator's `PersistentNode` with an ephemeral mode): created
/// with its data at [`start`](Self::start), created again when someone deletes it, and checked
/// after every reconnection (a deletion while disconnected is not reported by the server).
/// [`close`](PersistentNodeHandle::close) deletes it.
///
/// With [`protected`](Self::protected) the name gets Curator's `_c_<uuid>-` prefix (the same one
/// for every re-creation), so the node is recognisably this handle's.
///
/// An ephemeral node cannot outlive its session: after an expiry the handle's task stops, and
/// the node must be started again on a new client (for instance in each session of a
/// [`run_sessions`](crate::client::reconnect::run_sessions) loop).
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::PersistentNode;
///
/// let me = PersistentNode::new(client, "/members/worker-1").data("10.0.0.7:8080").start().await?;
/// // ... the node is there while this session lives, whoever deletes it ...
/// me.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PersistentNode {
    client: Client,
    path: String,
    data: Result<Bytes, Error>,
    protected: bool,
}

impl PersistentNode {
    /// The node at `path` (its parents are created as containers when missing), empty.
    pub fn new(client: &Client, path: impl Into<String>) -> PersistentNode {
        PersistentNode { client: client.clone(), path: path.into(), data: Ok(Bytes::new()), protected: false }
    }

    /// The node's data: bytes, text or any `ZNodeData` value.
    pub fn data<T: ToZNodeBytes + ?Sized>(mut self, value: &T) -> Self {
        self.data = value.to_node_bytes().map(Bytes::from).map_err(|e| e.with_path(&self.path));
        self
    }

    /// Names the node `_c_<uuid>-<name>` (Curator's protected mode).
    pub fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    /// Creates the node (waiting until it exists) and keeps it present from then on.
    pub async fn start(self) -> Result<PersistentNodeHandle, Error> {
        let PersistentNode { client, path, data, protected } = self;
        let data = data?;
        let path = if protected {
            let (parent, name) = split_path(&path)?;
            child_path(parent, &format!("{}{name}", new_protected_id()))
        } else {
            split_path(&path)?;
            path
        };
        // The watch first: a deletion right after the create is heard.
        let mut events = client.watch(path.as_str()).await?;
        let data = Arc::new(RwLock::new(data));
        RetryPolicy::default().run(|| ensure(&client, &path, &data)).await?;
        let task = {
            let (client, path, data) = (client.clone(), path.clone(), data.clone());
            client.inner.runtime.clone().spawn(async move {
                while let Some(event) = events.next().await {
                    let check = match (event.event_type, event.keeper_state) {
                        (crate::EventType::NodeDeleted, _) => true,
                        (crate::EventType::None, KeeperState::SyncConnected | KeeperState::ConnectedReadOnly) => true,
                        (crate::EventType::None, KeeperState::Disconnected) => false,
                        (crate::EventType::None, _) => break,
                        _ => false,
                    };
                    if check {
                        if let Err(e) = ensure(&client, &path, &data).await {
                            if e.is_session_terminal() {
                                break;
                            }
                            // A lost connection is followed by SyncConnected, which checks again.
                            tracing::debug!(path = %path, error = %e, "re-creating a persistent node failed");
                        }
                    }
                }
            })
        };
        Ok(PersistentNodeHandle { client, path, data, task })
    }
}

/// Creates the node unless this session already has it (then brings its data up to date). A
/// node owned by another session is left alone: its deletion is reported, and then it is ours.
async fn ensure(client: &Client, path: &str, data: &RwLock<Bytes>) -> Result<(), Error> {
    for _ in 0..4 {
        let bytes = data.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        match client.create(path).ephemeral().data(&bytes[..]).await {
            Ok(_) => return Ok(()),
            Err(Error::NoNode { .. }) => {
                let (parent, _) = split_path(path)?;
                if parent != "/" {
                    make_containers(client, parent).await?;
                }
            }
            Err(Error::NodeExists { .. }) => match client.get_data(path).await {
                Ok(node) if node.stat.ephemeral_owner == client.session_id() => {
                    if node.bytes() != &bytes[..] {
                        client.set_data(path, &bytes[..]).await?;
                    }
                    return Ok(());
                }
                Ok(_) => return Ok(()),
                // Deleted meanwhile: create it.
                Err(Error::NoNode { .. }) => {}
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Err(Error::invalid_argument(Some(OpCode::Create), Some(path), "the node kept changing while being created"))
}

/// A running [`PersistentNode`]. Dropping it stops keeping the node (which then stays until the
/// session ends); [`close`](Self::close) also deletes it.
#[derive(Debug)]
pub struct PersistentNodeHandle {
    client: Client,
    path: String,
    data: Arc<RwLock<Bytes>>,
    task: tokio::task::JoinHandle<()>,
}

impl PersistentNodeHandle {
    /// The node's path (with the `_c_<uuid>-` prefix if protected).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The data the node is (re)created with.
    pub fn data(&self) -> Bytes {
        self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether the handle still keeps the node (its session has not ended).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Replaces the node's data, now and for every re-creation.
    pub async fn set_data<T: ToZNodeBytes + ?Sized>(&self, value: &T) -> Result<(), Error> {
        let bytes = Bytes::from(value.to_node_bytes().map_err(|e| e.with_path(&self.path))?);
        *self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner) = bytes.clone();
        match self.client.set_data(self.path.as_str(), &bytes[..]).await {
            // Being re-created: with the new data.
            Ok(_) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops keeping the node and deletes it.
    pub async fn close(self) -> Result<(), Error> {
        self.task.abort();
        match self.client.delete(self.path.as_str()).await {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for PersistentNodeHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
