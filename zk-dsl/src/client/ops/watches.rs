//! Persistent watches (addWatch) and watch removal (removeWatches, checkWatches).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::sync::mpsc;

use super::server_path;
use crate::client::call::{Call, Op, ReplyContext};
use crate::error::Error;
use crate::proto::{AddWatchMode, AddWatchRequest, Encode, OpCode, WatcherType, WatchesRequest};
use crate::session::chroot::Chroot;
use crate::session::request::{Command, RawReply, WatchAction};
use crate::watch::{WatchKind, WatchedEvent, Watcher};

/// `addWatch`: a watch that stays until removed. Persistent watches see data changes,
/// creation, deletion and child changes of the node; recursive ones see creation, deletion and
/// data changes of the node and every descendant (not child-list changes).
///
/// Awaiting it yields a [`WatchStream`]; with `.watcher(f)` the callback is called instead.
#[derive(Debug)]
pub struct AddWatchOp {
    pub(crate) path: String,
    pub(crate) mode: AddWatchMode,
    pub(crate) watcher: Option<Watcher>,
    pub(crate) events: Option<mpsc::UnboundedReceiver<WatchedEvent>>,
    /// The session's command channel, for the stream's drop notice.
    pub(crate) commands: mpsc::WeakUnboundedSender<Command>,
}

impl AddWatchOp {
    pub(crate) fn new(path: String, mode: AddWatchMode, commands: mpsc::WeakUnboundedSender<Command>) -> AddWatchOp {
        let (tx, rx) = mpsc::unbounded_channel();
        AddWatchOp { path, mode, watcher: Some(Watcher::Stream(tx)), events: Some(rx), commands }
    }
}

/// What the decoder of an `addWatch` gets from dispatch: the stream's receiving end and how it
/// reports being dropped. (Nominally `pub`, as `AddWatchOp::Carry`; unreachable outside the
/// crate.)
#[derive(Debug)]
pub struct StreamCarry {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
    notice: DropNotice,
}

impl Call<'_, AddWatchOp> {
    /// Watch the whole subtree (addWatch mode PERSISTENT_RECURSIVE).
    pub fn recursive(mut self) -> Self {
        self.op.mode = AddWatchMode::PersistentRecursive;
        self
    }

    /// Call `f` on the dispatcher thread for every event instead of yielding a stream (the
    /// stream returned then ends immediately).
    pub fn watcher(mut self, f: impl Fn(WatchedEvent) + Send + Sync + 'static) -> Self {
        self.op.watcher = Some(Watcher::Callback(std::sync::Arc::new(f)));
        self.op.events = None;
        self
    }
}

impl crate::client::call::sealed::Sealed for AddWatchOp {}

impl Op for AddWatchOp {
    type Output = WatchStream;
    type Carry = Option<StreamCarry>;

    fn opcode(&self) -> OpCode {
        OpCode::AddWatch
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        AddWatchRequest { path: server_path(chroot, &self.path), mode: self.mode }.encode(buf);
    }
    fn carry(&mut self) -> Option<StreamCarry> {
        let notice = DropNotice { tx: self.commands.clone(), path: self.path.clone() };
        self.events.take().map(|rx| StreamCarry { rx, notice })
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        let kind = match self.mode {
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
            _ => WatchKind::Persistent,
        };
        let path = self.path.clone();
        self.watcher.take().map(|watcher| WatchAction::Register { kind, path, watcher })
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, carry: Option<StreamCarry>) -> Result<WatchStream, Error> {
        ctx.ok(reply)?;
        Ok(match carry {
            Some(StreamCarry { rx, notice }) => WatchStream { rx: Some(rx), on_drop: Some(notice) },
            // `.watcher(f)`: the callback gets the events; the stream is empty.
            None => WatchStream { rx: None, on_drop: None },
        })
    }
}

/// The events of a persistent watch. Ends when the watch is removed or the session ends (the
/// last event is then the `*WatchRemoved` or session event).
///
/// Connection-state changes arrive in order with the node events: `Disconnected` when the
/// connection drops, `SyncConnected` once the watch is re-registered on a new connection. The
/// server does not replay what changed in between for persistent watches, so a consumer that
/// mirrors state (a cache) re-reads on `SyncConnected`.
///
/// Dropping the stream removes the watch from the server too, unless another watch of the
/// session remains on the same path.
///
/// Use [`next`](WatchStream::next), or the `futures` `Stream` trait it implements.
#[derive(Debug)]
pub struct WatchStream {
    pub(crate) rx: Option<mpsc::UnboundedReceiver<WatchedEvent>>,
    pub(crate) on_drop: Option<DropNotice>,
}

/// How a dropped stream tells the session task. The sender is weak, so a stream alone does not
/// keep the session open.
#[derive(Debug)]
pub(crate) struct DropNotice {
    pub(crate) tx: mpsc::WeakUnboundedSender<Command>,
    pub(crate) path: String,
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        let Some(notice) = self.on_drop.take() else { return };
        // Closing the receiver first makes the registry see the watcher as gone.
        drop(self.rx.take());
        if let Some(tx) = notice.tx.upgrade() {
            // A closed channel means the session is over; its watches went with it.
            let _ = tx.send(Command::WatchDropped { path: notice.path });
        }
    }
}

impl WatchStream {
    /// The next event, or `None` once the watch is gone.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => None,
        }
    }

    /// An event if one is already waiting.
    pub fn try_next(&mut self) -> Option<WatchedEvent> {
        self.rx.as_mut().and_then(|rx| rx.try_recv().ok())
    }
}

impl futures_core::Stream for WatchStream {
    type Item = WatchedEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        match &mut self.get_mut().rx {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}

/// `removeWatches` (or, with `check`, `checkWatches`) for the watches of a type on a path.
#[derive(Debug)]
pub struct RemoveWatchesOp {
    pub(crate) path: String,
    pub(crate) kind: WatcherType,
    pub(crate) check_only: bool,
}

impl crate::client::call::sealed::Sealed for RemoveWatchesOp {}

impl Op for RemoveWatchesOp {
    type Output = ();
    type Carry = ();

    fn opcode(&self) -> OpCode {
        if self.check_only {
            OpCode::CheckWatches
        } else {
            OpCode::RemoveWatches
        }
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        WatchesRequest { path: server_path(chroot, &self.path), kind: self.kind }.encode(buf);
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        // checkWatches only asks; removeWatches also removes locally on success. Both are
        // refused locally when this client holds no such watch, as the Java client does.
        Some(WatchAction::Remove { path: self.path.clone(), kind: self.kind, check_only: self.check_only })
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<(), Error> {
        ctx.ok(reply).map(drop)
    }
}
