//! What travels from a `Client` handle to the session task, and back.

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::proto::{OpCode, WatcherType};
use crate::watch::{WatchKind, Watcher};

/// A reply as the session task hands it over: the header's zxid and error code, and the body
/// (only meaningful when `err == 0`, or for the few replies that carry one regardless). Bodies
/// are decoded by the caller, off the connection's task.
#[derive(Debug, Clone)]
pub struct RawReply {
    pub zxid: i64,
    pub err: i32,
    pub body: Bytes,
}

/// Where a reply goes.
pub enum Completion {
    /// Straight to a waiting future.
    Future(oneshot::Sender<Result<RawReply, Error>>),
    /// To a closure run on the dispatcher thread (reply callbacks), in wire order with watch
    /// callbacks.
    Callback(ReplyFn),
}

/// A reply callback, as the dispatcher runs it.
pub type ReplyFn = Box<dyn FnOnce(Result<RawReply, Error>) + Send>;

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Completion::Future(_) => "Completion::Future",
            Completion::Callback(_) => "Completion::Callback",
        })
    }
}

/// What the session task does to its watch registry when the reply arrives.
#[derive(Debug)]
pub enum WatchAction {
    /// Register on success.
    Register { kind: WatchKind, path: String, watcher: Watcher },
    /// `exists`: a data watch if the node exists, an exist watch if the reply is NoNode.
    RegisterExists { path: String, watcher: Watcher },
    /// `removeWatches` / `checkWatches`: refused locally (NoWatcher) when nothing matches; on a
    /// successful removal the removed watchers are told with a `*WatchRemoved` event.
    Remove { path: String, kind: WatcherType, check_only: bool },
}

/// One request, encoded on the caller's task. The frame carries a placeholder xid that the
/// session task stamps when it queues the frame, so xids follow wire order. The frame stays a
/// `BytesMut`: it is only copied into the write buffer, and freezing it would cost an allocation.
#[derive(Debug)]
pub struct Request {
    pub frame: BytesMut,
    /// Past this the caller has been told `Timeout`: a request still queued then is dropped
    /// unsent (one already sent has its late reply discarded).
    pub deadline: Option<tokio::time::Instant>,
    pub op: OpCode,
    /// Boxed: most requests set no watch, and a request is moved several times on its way
    /// (into the channel, out of it, into the in-flight queue), so it is kept small.
    pub watch: Option<Box<WatchAction>>,
    pub completion: Completion,
    /// Its place under `Connect::max_pending`, given back when the request is done with
    /// (completed, failed or dropped).
    pub permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Everything a handle can ask of the session task. (`Debug` by hand: an `Auth`'s
/// credentials are a secret.)
pub enum Command {
    Request(Request),
    /// `addAuth`: sent now and replayed on every reconnect.
    Auth {
        scheme: String,
        auth: Vec<u8>,
        completion: Completion,
    },
    /// Close the session after everything queued before it.
    Close {
        completion: Completion,
    },
    /// A [`WatchStream`](crate::WatchStream) was dropped: forget it, and if no other watch of
    /// this session remains on the path, remove the server's watch too (fire and forget).
    WatchDropped {
        path: String,
    },
    /// A new server list (`Client::update_servers`): used from now on, and this connection
    /// moved to rebalance the load when the rule says so.
    UpdateServers {
        hosts: Vec<super::connect_string::HostPort>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Request(request) => f.debug_tuple("Request").field(request).finish(),
            Command::Auth { scheme, auth, completion } => f
                .debug_struct("Auth")
                .field("scheme", scheme)
                .field("auth", &crate::proto::Redacted(auth))
                .field("completion", completion)
                .finish(),
            Command::Close { completion } => f.debug_struct("Close").field("completion", completion).finish(),
            Command::WatchDropped { path } => f.debug_struct("WatchDropped").field("path", path).finish(),
            Command::UpdateServers { hosts } => f.debug_struct("UpdateServers").field("hosts", hosts).finish(),
        }
    }
}

impl Command {
    /// Fails the command without sending it.
    pub fn fail(self, error: Error, dispatcher: &crate::watch::dispatcher::Dispatcher) {
        let completion = match self {
            Command::Request(r) => r.completion,
            Command::Auth { completion, .. } | Command::Close { completion } => completion,
            // Nobody waits for them.
            Command::WatchDropped { .. } | Command::UpdateServers { .. } => return,
        };
        complete(dispatcher, completion, Err(error));
    }
}

/// Completes a request: a future at once, from the session task (so futures never wait for
/// callbacks, and a callback may block on a future); a callback through the dispatcher, in wire
/// order with watch callbacks.
pub fn complete(
    dispatcher: &crate::watch::dispatcher::Dispatcher,
    completion: Completion,
    result: Result<RawReply, Error>,
) {
    match completion {
        // A dropped receiver means the caller stopped waiting; nothing to do.
        Completion::Future(tx) => drop(tx.send(result)),
        Completion::Callback(f) => dispatcher.reply(f, result),
    }
}
