//! [`Client`]: a cheap, cloneable handle to one ZooKeeper session, and one builder per verb.
//!
//! Every verb returns a [`Call`] whose options are builder methods
//! (`client.create("/a").persistent().data("x")`), which can be awaited, `.send()`-ed for a
//! handle, or given a `.callback(f)`. See [`Call`] for the dispatch rules.

pub(crate) mod call;
pub(crate) mod compound;
pub(crate) mod connect;
mod java_properties;
pub(crate) mod ops;
pub mod reconnect;
pub mod sessions;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

pub use call::{Call, Op, Pending, WatchFuture, Watchable};
pub use compound::{Compound, CreateAll, ResultExt};
pub use connect::Connect;
pub use ops::config::{GetConfigOp, ReconfigOp};
pub use ops::create::{CreateOp, CreateWithStatOp, MAX_TTL};
pub use ops::misc::{AllChildrenNumberOp, EphemeralsOp, SyncOp, WhoAmIOp};
pub use ops::multi::{MultiReadOp, OpResult, ReadResult, TransactionOp, TxnCreate};
pub use ops::read::ReadKind;
pub use ops::read::{
    ChildrenOp, ChildrenWithStatOp, ExistsOp, GetAclOp, GetDataAsOp, GetDataOp, NodeData, WatchableRead,
};
pub use ops::watches::{AddWatchOp, RemoveWatchesOp, WatchStream};
pub use ops::write::{DeleteOp, SetAclOp, SetDataOp, Versioned};
pub use sessions::{SessionSource, Sessions};

use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{Acl, AddWatchMode, OpCode, WatcherType};
use crate::session::chroot::Chroot;
use crate::session::request::{Command, Completion};
use crate::session::state::{SessionEvent, SessionState, SessionStatus, StateHub};
use crate::watch::dispatcher::Dispatcher;
use crate::watch::WatchedEvent;

/// A handle to one ZooKeeper session. Clones share the session; the session is closed when
/// [`close`](Client::close) is called or the last handle is dropped.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.inner.hub.status();
        f.debug_struct("Client")
            .field("session_id", &format_args!("{:#x}", status.session_id))
            .field("state", &status.state)
            .field("chroot", &self.inner.chroot.as_str())
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) tx: mpsc::UnboundedSender<Command>,
    pub(crate) hub: Arc<StateHub>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) chroot: Chroot,
    /// The largest request frame (see [`Connect::max_packet`](crate::Connect::max_packet)).
    pub(crate) max_write_packet: usize,
    /// The deadline of calls that set none (see [`Connect::request_timeout`]).
    pub(crate) request_timeout: Option<std::time::Duration>,
    /// One permit per request queued or in flight (see [`Connect::max_pending`]); `None`:
    /// unbounded.
    pub(crate) permits: Option<Arc<tokio::sync::Semaphore>>,
    /// The thread that drives the session task's runtime, when that is a current-thread runtime.
    pub(crate) driver_thread: Option<std::thread::ThreadId>,
    /// The runtime the session task runs on: where recipes run their background work (clean-up
    /// after a dropped acquire, watching a held lock), whatever thread the caller is on.
    #[cfg_attr(not(feature = "recipes"), allow(dead_code))]
    pub(crate) runtime: tokio::runtime::Handle,
    /// With `Connect::follow_config`: the ensemble configuration last applied.
    pub(crate) followed_config: std::sync::Mutex<Option<crate::reconfig::EnsembleConfig>>,
}

impl Inner {
    /// Queues a command; if the session is over, fails it with the reason.
    pub(crate) fn submit(&self, cmd: Command) {
        if let Err(mpsc::error::SendError(cmd)) = self.tx.send(cmd) {
            cmd.fail(Error::session_over(self.hub.state(), None, None), &self.dispatcher);
        }
    }
}

impl Client {
    /// Starts connecting to `connect_string` (`host:port,...[/chroot]`); options are builder
    /// methods, and awaiting the builder waits until the session is established.
    ///
    /// ```no_run
    /// # async fn demo() -> zk_dsl::Result<()> {
    /// use std::time::Duration;
    /// let client = zk_dsl::Client::connect("127.0.0.1:2181/app")
    ///     .session_timeout(Duration::from_secs(10))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn connect(connect_string: impl Into<String>) -> Connect {
        Connect::new(connect_string.into())
    }

    // ----- nodes --------------------------------------------------------------------------------

    /// Creates a node; resolves to its path (with the sequence suffix for sequential nodes).
    /// Ephemeral by default, as in the seed: add `.persistent()` for a lasting node.
    pub fn create(&self, path: impl Into<String>) -> Call<'_, CreateOp> {
        Call::new(self, CreateOp { spec: ops::create::CreateSpec::new(path) })
    }

    /// The node's Stat, or `None` if it does not exist.
    pub fn exists(&self, path: impl Into<String>) -> Call<'_, ExistsOp> {
        Call::new(self, ExistsOp::new(path.into()))
    }

    /// The node's data and Stat (the seed's `data`).
    pub fn get_data(&self, path: impl Into<String>) -> Call<'_, GetDataOp> {
        Call::new(self, GetDataOp::new(path.into()))
    }

    /// Replaces the node's data; resolves to the new Stat. `data` is raw bytes or any
    /// [`ZNodeData`](crate::ZNodeData) value. Add `.version(v)` to make it conditional.
    pub fn set_data<T: ToZNodeBytes + ?Sized>(&self, path: impl Into<String>, data: &T) -> Call<'_, SetDataOp> {
        let path = path.into();
        let (data, error) = match data.to_node_bytes() {
            Ok(bytes) => (Some(bytes::Bytes::from(bytes)), None),
            Err(e) => (None, Some(e.with_path(&path))),
        };
        Call::new(self, SetDataOp { path, data, version: -1, error })
    }

    /// Stores null as the node's data (the seed's `(set-data c path nil v)`).
    pub fn clear_data(&self, path: impl Into<String>) -> Call<'_, SetDataOp> {
        Call::new(self, SetDataOp { path: path.into(), data: None, version: -1, error: None })
    }

    /// Deletes the node. Add `.version(v)` to make it conditional.
    pub fn delete(&self, path: impl Into<String>) -> Call<'_, DeleteOp> {
        Call::new(self, DeleteOp { path: path.into(), version: -1 })
    }

    /// The names of the node's children, in the server's order.
    pub fn children(&self, path: impl Into<String>) -> Call<'_, ChildrenOp> {
        Call::new(self, ChildrenOp::new(path.into()))
    }

    /// The node's ACL and Stat.
    pub fn get_acl(&self, path: impl Into<String>) -> Call<'_, GetAclOp> {
        Call::new(self, GetAclOp { path: path.into() })
    }

    /// Replaces the node's ACL; resolves to the new Stat.
    pub fn set_acl(&self, path: impl Into<String>, acl: impl Into<Vec<Acl>>) -> Call<'_, SetAclOp> {
        Call::new(self, SetAclOp { path: path.into(), acl: acl.into(), version: -1, error: None })
    }

    /// Waits until the connected server has caught up with the leader on `path`.
    pub fn sync(&self, path: impl Into<String>) -> Call<'_, SyncOp> {
        Call::new(self, SyncOp { path: path.into() })
    }

    /// An atomic transaction: add operations with `.create(..)`, `.set_data(..)`, `.check(..)`,
    /// `.delete(..)`, then await it.
    pub fn transaction(&self) -> Call<'_, TransactionOp> {
        Call::new(self, TransactionOp::default())
    }

    /// Several reads in one round trip (ZooKeeper 3.6+); each read succeeds or fails alone.
    pub fn multi_read(&self) -> Call<'_, MultiReadOp> {
        Call::new(self, MultiReadOp::default())
    }

    /// This session's ephemeral nodes whose path starts with `prefix` (3.6+).
    pub fn get_ephemerals(&self, prefix: impl Into<String>) -> Call<'_, EphemeralsOp> {
        Call::new(self, EphemeralsOp { path: prefix.into() })
    }

    /// The number of nodes below `path`, at any depth (3.6+).
    pub fn get_all_children_number(&self, path: impl Into<String>) -> Call<'_, AllChildrenNumberOp> {
        Call::new(self, AllChildrenNumberOp { path: path.into() })
    }

    /// The identities this session is authenticated as (3.7+).
    pub fn who_am_i(&self) -> Call<'_, WhoAmIOp> {
        Call::new(self, WhoAmIOp)
    }

    /// The ensemble's configuration (`/zookeeper/config`): its bytes and Stat, and the members
    /// parsed. Read from the ensemble's own node whatever this client's chroot; add
    /// `.with_watch()` (or `.watcher(f)`) to hear of the next change. A line that cannot be
    /// read fails the call with [`Error::BadConfig`].
    pub fn get_config(&self) -> Call<'_, GetConfigOp> {
        Call::new(self, GetConfigOp::default())
    }

    /// Changes the ensemble's membership (ZooKeeper's `reconfig`): `.add(server)` and
    /// `.remove(id)` for an incremental change, or `.members(all)` for the whole new list,
    /// optionally `.from_config(version)`. Resolves to the new configuration. The servers need
    /// `reconfigEnabled=true` (else `Error::Server` with `ReconfigDisabled`) and, since 3.5.3,
    /// a super user's session (else `NoAuth`); a change the new members cannot form a quorum
    /// for is refused with `NewConfigNoQuorum`, one while another runs with
    /// `ReconfigInProgress`.
    pub fn reconfig(&self) -> Call<'_, ReconfigOp> {
        Call::new(self, ReconfigOp::new())
    }

    // ----- watches ------------------------------------------------------------------------------

    /// A persistent watch on `path` (3.6+); add `.recursive()` for the whole subtree. Awaiting
    /// it yields a [`WatchStream`].
    pub fn watch(&self, path: impl Into<String>) -> Call<'_, AddWatchOp> {
        Call::new(self, AddWatchOp::new(path.into(), AddWatchMode::Persistent, self.inner.tx.downgrade()))
    }

    /// Removes this session's watches of `kind` on `path` (3.5+). Every removed watcher is
    /// told with a `DataWatchRemoved`, `ChildWatchRemoved` or `PersistentWatchRemoved` event.
    /// On 3.8 servers persistent watches are removed with [`WatcherType::Any`].
    pub fn remove_watches(&self, path: impl Into<String>, kind: WatcherType) -> Call<'_, RemoveWatchesOp> {
        Call::new(self, RemoveWatchesOp { path: path.into(), kind, check_only: false })
    }

    /// Asks whether the server holds this session's watches of `kind` on `path` (NoWatcher if
    /// not).
    pub fn check_watches(&self, path: impl Into<String>, kind: WatcherType) -> Call<'_, RemoveWatchesOp> {
        Call::new(self, RemoveWatchesOp { path: path.into(), kind, check_only: true })
    }

    /// Replaces the session's default watcher (the seed's `register-watcher`): it receives
    /// session events and the events of `.watch()` watches.
    pub fn register_watcher(&self, f: impl Fn(WatchedEvent) + Send + Sync + 'static) {
        self.inner.dispatcher.set_default(Some(Arc::new(f)));
    }

    // ----- session ------------------------------------------------------------------------------

    /// Adds an identity to the session (the seed's `add-auth-info`), e.g.
    /// `add_auth("digest", "user:password")`. It is replayed on every reconnect. An unknown
    /// scheme makes the server close the connection: the session ends in `AuthFailed`.
    pub fn add_auth(&self, scheme: impl Into<String>, auth: impl Into<Vec<u8>>) -> Pending<()> {
        let scheme = scheme.into();
        let (tx, rx) = oneshot::channel();
        let ctx = call::ReplyContext::new(OpCode::Auth, scheme.clone(), self.inner.chroot.clone());
        self.inner.submit(Command::Auth { scheme, auth: auth.into(), completion: Completion::Future(tx) });
        let decode: call::Decoder<()> = Box::new(|reply, ctx| ctx.ok(reply).map(drop));
        Pending::raw(rx, ctx, decode, self.inner.hub.clone(), self.inner.driver_thread)
    }

    /// Gives the session a new server list (`host:port,...`, no chroot: the session keeps its
    /// own), for ensembles that grew, shrank or moved. From the next connection attempt on only
    /// these servers are tried; and to spread clients evenly, this one may move now, with
    /// ZooKeeper's probabilistic rule (ZOOKEEPER-1355): when the ensemble grows from N to M
    /// servers each client moves to a new server with probability 1 - N/M, when a server is
    /// removed its clients spread over the rest, and otherwise nobody moves. Moving drops the
    /// connection (requests in flight fail with `ConnectionLoss`, as in the Java client) and
    /// resumes the same session on the chosen server.
    pub fn update_servers(&self, connect_string: &str) -> Result<(), Error> {
        let parsed = crate::session::ConnectString::parse(connect_string)?;
        if parsed.chroot.is_some() {
            return Err(Error::invalid_argument(
                Some(OpCode::CreateSession),
                Some(connect_string),
                "a new server list cannot change the chroot",
            ));
        }
        self.inner.submit(Command::UpdateServers { hosts: parsed.hosts });
        Ok(())
    }

    /// Closes the session: requests sent before are answered first, ephemeral nodes are
    /// deleted, every watcher hears `Closed`, and later calls fail with [`Error::Closed`].
    pub fn close(&self) -> Compound<'_, ()> {
        Compound::new(self.close_session())
    }

    async fn close_session(&self) -> Result<(), Error> {
        if self.inner.hub.state().is_terminal() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let completion = Completion::Future(tx);
        if let Err(mpsc::error::SendError(_)) = self.inner.tx.send(Command::Close { completion }) {
            return Ok(());
        }
        let result = match rx.await {
            Ok(Ok(_)) | Err(_) => Ok(()),
            Ok(Err(e)) if e.is_session_terminal() => Ok(()),
            Ok(Err(e)) => Err(e),
        };
        // The reply arrives before the session task has wound down; wait for that too, so that
        // `state()` says Closed (and later calls fail) once `close` returns.
        let mut status = self.inner.hub.watch();
        while !status.borrow_and_update().state.is_terminal() {
            if status.changed().await.is_err() {
                break;
            }
        }
        result
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.inner.hub.state()
    }

    /// Session id, negotiated timeout, connected server and state.
    pub fn status(&self) -> SessionStatus {
        self.inner.hub.status()
    }

    /// Whether `other` is a handle to the same session object as this one (a clone of it).
    pub(crate) fn same_session_handle(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The session id (0 before the first connection).
    pub fn session_id(&self) -> i64 {
        self.inner.hub.status().session_id
    }

    /// A stream of connection-state changes from now on (Connected, Disconnected,
    /// Reconnected, Expired, AuthFailed, Closed).
    pub fn session_events(&self) -> SessionEvents {
        SessionEvents { rx: self.inner.hub.subscribe() }
    }

    /// Waits until the session is connected, or fails if it ends first.
    pub fn wait_connected(&self) -> Compound<'_, ()> {
        Compound::new(self.wait_until_connected())
    }

    async fn wait_until_connected(&self) -> Result<(), Error> {
        let mut status = self.inner.hub.watch();
        loop {
            let state = status.borrow_and_update().state;
            if state.is_connected() {
                return Ok(());
            }
            if state.is_terminal() {
                return Err(Error::session_over(state, Some(OpCode::CreateSession), None));
            }
            if status.changed().await.is_err() {
                return Err(Error::session_over(self.state(), Some(OpCode::CreateSession), None));
            }
        }
    }

    /// With [`Connect::follow_config`]: the ensemble configuration this client follows, the
    /// last it read and gave its session as the server list (`None` before the first, or
    /// without the option). Its members' client addresses are the servers the client uses.
    pub fn followed_config(&self) -> Option<crate::reconfig::EnsembleConfig> {
        // A panic elsewhere while holding the lock leaves the Option itself consistent.
        self.inner.followed_config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The chroot this client's paths are relative to.
    pub fn chroot(&self) -> Option<&str> {
        self.inner.chroot.as_str()
    }
}

/// Connection-state changes, from [`Client::session_events`].
#[derive(Debug)]
pub struct SessionEvents {
    rx: mpsc::UnboundedReceiver<SessionEvent>,
}

impl SessionEvents {
    /// The next change; `None` after the session's terminal event.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for SessionEvents {
    type Item = SessionEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        self.get_mut().rx.poll_recv(cx)
    }
}
