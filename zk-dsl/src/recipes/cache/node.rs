//! [`PersistentNode`]: an ephemeral node kept present for as long as its session lives.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;

use crate::client::{Client, SessionSource, WatchStream};
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{CreateMode, EventType, KeeperState, OpCode};
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::{child_path, new_protected_id, split_path};
use crate::recipes::retry::RetryPolicy;

/// How long to wait before trying again to set a node up in a session whose connection is down.
const SETUP_RETRY: Duration = Duration::from_millis(100);

/// A node that stays (Curator's `PersistentNode`): created with its data at
/// [`start`](Self::start), created again when someone deletes it, and checked after every
/// reconnection (a deletion while disconnected is not reported by the server).
/// [`close`](PersistentNodeHandle::close) deletes it.
///
/// Ephemeral by default; [`mode`](Self::mode) or [`ttl`](Self::ttl) choose a persistent or TTL
/// node instead. With [`protected`](Self::protected) the name gets Curator's `_c_<uuid>-` prefix
/// (the same one for every re-creation), so the node is recognisably this handle's.
///
/// Built from a `&Client`, the node is kept for that session's life (an ephemeral node cannot
/// outlive it); built from [`Sessions`](crate::client::Sessions), it is created again in every
/// new session after an expiry.
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
    source: SessionSource,
    path: String,
    data: Result<Bytes, Error>,
    protected: bool,
    spec: NodeSpec,
}

/// How the node is created.
#[derive(Debug, Clone, Copy)]
struct NodeSpec {
    mode: CreateMode,
    ttl: Option<Duration>,
}

impl PersistentNode {
    /// The node at `path` (its parents are created as containers when missing), empty and
    /// ephemeral, kept in the sessions of `source` (a `&Client` or `&Sessions`).
    pub fn new(source: impl Into<SessionSource>, path: impl Into<String>) -> PersistentNode {
        PersistentNode {
            source: source.into(),
            path: path.into(),
            data: Ok(Bytes::new()),
            protected: false,
            spec: NodeSpec { mode: CreateMode::Ephemeral, ttl: None },
        }
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

    /// The node's mode: `Ephemeral` (the default), `Persistent`, `Container` or
    /// `PersistentWithTtl` (with [`ttl`](Self::ttl)). Sequential modes are refused at
    /// [`start`](Self::start): a re-created sequential node would be a different node.
    pub fn mode(mut self, mode: CreateMode) -> Self {
        self.spec.mode = mode;
        self
    }

    /// A TTL node (`PersistentWithTtl`): the server deletes it once it has had no children and
    /// no changes for `ttl` (needs `zookeeper.extendedTypesEnabled=true` on the servers).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.spec = NodeSpec { mode: CreateMode::PersistentWithTtl, ttl: Some(ttl) };
        self
    }

    /// Where the node's sessions come from.
    pub(crate) fn source(&self) -> &SessionSource {
        &self.source
    }

    /// Creates the node (waiting until it exists) and keeps it present from then on.
    pub async fn start(self) -> Result<PersistentNodeHandle, Error> {
        let PersistentNode { source, path, data, protected, spec } = self;
        let data = data?;
        if spec.mode.is_sequential() {
            return Err(Error::invalid_argument(
                Some(OpCode::Create),
                Some(&path),
                "a persistent node cannot be sequential (each re-creation would be a new node)",
            ));
        }
        let path = if protected {
            let (parent, name) = split_path(&path)?;
            child_path(parent, &format!("{}{name}", new_protected_id()))
        } else {
            split_path(&path)?;
            path
        };
        let client = source.client();
        let keeper = Keeper { source: source.clone(), path: path.clone(), data: Arc::new(RwLock::new(data)), spec };
        let events = keeper.set_up(&client).await?;
        let data = keeper.data.clone();
        let task = client.inner.runtime.clone().spawn(keeper.run(client, events));
        Ok(PersistentNodeHandle { source, path, data, task })
    }
}

/// The background task's state: what to keep, and where.
struct Keeper {
    source: SessionSource,
    path: String,
    data: Arc<RwLock<Bytes>>,
    spec: NodeSpec,
}

impl Keeper {
    /// Watches the node and makes sure it exists, in `client`'s session.
    async fn set_up(&self, client: &Client) -> Result<WatchStream, Error> {
        // The watch first: a deletion right after the create is heard.
        let events = client.watch(self.path.as_str()).await?;
        RetryPolicy::default().run(|| self.ensure(client)).await?;
        Ok(events)
    }

    /// Keeps the node in each session the source gives, until the last one ends.
    async fn run(self, mut client: Client, mut events: WatchStream) {
        loop {
            self.keep(&client, &mut events).await;
            // The session is over: set up again in the next one, if there is one.
            let set_up = loop {
                let Some(next) = self.source.next_session(&client).await else { return };
                client = next;
                match self.set_up_in_session(&client).await {
                    Some(events) => break events,
                    None => continue,
                }
            };
            events = set_up;
        }
    }

    /// `set_up`, tried again while the session lives; `None` when it ends first.
    async fn set_up_in_session(&self, client: &Client) -> Option<WatchStream> {
        loop {
            match self.set_up(client).await {
                Ok(events) => return Some(events),
                Err(e) if e.is_session_terminal() => return None,
                Err(e) => {
                    tracing::debug!(path = %self.path, error = %e, "setting up a persistent node failed; trying again");
                    tokio::time::sleep(SETUP_RETRY).await;
                }
            }
        }
    }

    /// Re-creates the node whenever it is deleted or the connection comes back, until the
    /// session ends.
    async fn keep(&self, client: &Client, events: &mut WatchStream) {
        while let Some(event) = events.next().await {
            let check = match (event.event_type, event.keeper_state) {
                (EventType::NodeDeleted, _) => true,
                (EventType::None, KeeperState::SyncConnected | KeeperState::ConnectedReadOnly) => true,
                (EventType::None, KeeperState::Disconnected) => false,
                (EventType::None, _) => return,
                _ => false,
            };
            if check {
                if let Err(e) = self.ensure(client).await {
                    if e.is_session_terminal() {
                        return;
                    }
                    // A lost connection is followed by SyncConnected, which checks again.
                    tracing::debug!(path = %self.path, error = %e, "re-creating a persistent node failed");
                }
            }
        }
    }

    /// Creates the node unless it is already there as this handle's (then brings its data up to
    /// date). An ephemeral node owned by another session is left alone: its deletion is
    /// reported, and then it is ours.
    async fn ensure(&self, client: &Client) -> Result<(), Error> {
        let path = self.path.as_str();
        for _ in 0..4 {
            let bytes = self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            let mut create = client.create(path).mode(self.spec.mode).data(&bytes[..]);
            if let Some(ttl) = self.spec.ttl {
                create = create.ttl(ttl);
            }
            match create.await {
                Ok(_) => return Ok(()),
                Err(Error::NoNode { .. }) => {
                    let (parent, _) = split_path(path)?;
                    if parent != "/" {
                        make_containers(client, parent).await?;
                    }
                }
                Err(Error::NodeExists { .. }) => match client.get_data(path).await {
                    Ok(node) if !self.spec.mode.is_ephemeral() || node.stat.ephemeral_owner == client.session_id() => {
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
}

/// A running [`PersistentNode`]. Dropping it stops keeping the node (an ephemeral one then
/// stays until its session ends); [`close`](Self::close) also deletes it.
#[derive(Debug)]
pub struct PersistentNodeHandle {
    source: SessionSource,
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

    /// Whether the handle still keeps the node (its sessions have not ended).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Replaces the node's data, now and for every re-creation.
    pub async fn set_data<T: ToZNodeBytes + ?Sized>(&self, value: &T) -> Result<(), Error> {
        let bytes = Bytes::from(value.to_node_bytes().map_err(|e| e.with_path(&self.path))?);
        *self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner) = bytes.clone();
        match self.source.client().set_data(self.path.as_str(), &bytes[..]).await {
            // Being re-created: with the new data.
            Ok(_) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops keeping the node and deletes it.
    pub async fn close(self) -> Result<(), Error> {
        self.task.abort();
        match self.source.client().delete(self.path.as_str()).await {
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
