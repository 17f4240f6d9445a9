//! The machinery every builder shares.
//!
//! An operation ([`Op`]) knows how to encode its request and decode its reply. [`Call`] pairs
//! it with a client and gives every builder the same three ways to run:
//!
//! * `.await` — dispatch and wait (builders are `IntoFuture`);
//! * `.send()` — dispatch now and get a [`Pending`] handle (the seed's promise), so many
//!   requests can be in flight while the caller goes on;
//! * `.callback(f)` — dispatch now, run `f` with the result on the dispatcher thread (in wire
//!   order with watch callbacks), and still get the handle.
//!
//! Dispatch happens when `send`/`callback`/`into_future` is called, not when the future is first
//! polled, so requests go out in the order the program issued them.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot, AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Client;
use crate::error::Error;
use crate::proto::{encode_request, Encode, OpCode};
use crate::session::chroot::Chroot;
use crate::session::request::{complete, Command, Completion, RawReply, ReplyFn, Request, WatchAction};
use crate::session::state::StateHub;
use crate::watch::dispatcher::Dispatcher;
use crate::watch::registry::WatchFn;
use crate::watch::{WatchedEvent, Watcher};

/// What a reply is decoded with: the request's op and path (for errors) and the chroot (for
/// paths in the reply).
#[derive(Debug)]
pub struct ReplyContext {
    pub op: OpCode,
    pub path: String,
    pub chroot: Chroot,
    /// For multi and multiRead: each op and path, so a failure names the op that failed.
    pub parts: Vec<(OpCode, String)>,
}

impl ReplyContext {
    pub(crate) fn new(op: OpCode, path: String, chroot: Chroot) -> ReplyContext {
        ReplyContext { op, path, chroot, parts: Vec::new() }
    }

    /// The error for a non-zero reply code.
    pub fn server_error(&self, err: i32) -> Error {
        Error::from_server(err, self.op, &self.path)
    }

    /// The error of part `index` of a multi or multiRead.
    pub fn part_error(&self, index: usize, code: i32) -> Error {
        match self.parts.get(index) {
            Some((op, path)) => Error::from_server(code, *op, path),
            None => Error::from_server(code, self.op, &self.path),
        }
    }

    /// Fails on a non-zero code, else hands back the body.
    pub fn ok(&self, reply: RawReply) -> Result<bytes::Bytes, Error> {
        if reply.err == 0 {
            Ok(reply.body)
        } else {
            Err(self.server_error(reply.err))
        }
    }

    /// Decodes a whole reply body as `T`.
    pub fn decode<T: crate::proto::Decode>(&self, body: bytes::Bytes, record: &'static str) -> Result<T, Error> {
        crate::proto::decode_exact(body, record).map_err(|e| Error::decode(self.op, &self.path, e))
    }
}

/// ZooKeeper's path rules, as the crate's error.
pub(crate) fn check_path(path: &str, sequential: bool) -> Result<(), Error> {
    crate::proto::validate_path(path, sequential).map_err(|reason| Error::InvalidPath { path: path.to_owned(), reason })
}

/// A builder option that failed (a data conversion, an ACL entry) is reported when the call is
/// made, then the path is checked.
pub(crate) fn check_deferred(deferred: &Option<Error>, path: &str) -> Result<(), Error> {
    match deferred {
        Some(e) => Err(e.clone()),
        None => check_path(path, false),
    }
}

/// The seal of [`Op`], [`Watchable`], [`ReadKind`](super::ReadKind) and
/// [`Versioned`](super::Versioned): a public trait in a private module, so the traits can
/// appear in public bounds but only zk-dsl implements them.
pub(crate) mod sealed {
    pub trait Sealed {}
}

/// One ZooKeeper operation: how to check, encode and decode it. Sealed: the operations are
/// zk-dsl's (one per verb); its methods are the client's internals.
pub trait Op: sealed::Sealed + Send + Sized + 'static {
    /// What the call resolves to.
    type Output: Send + 'static;

    /// The request's opcode.
    fn opcode(&self) -> OpCode;

    /// The client path the operation is about (for errors; `""` when there is none).
    fn path(&self) -> &str;

    /// The path, handed over to the reply's context once the request is encoded (ops that own
    /// it as a `String` move it instead of copying it).
    fn take_path(&mut self) -> String {
        self.path().to_owned()
    }

    /// Refuses bad input before anything is sent (path rules by default).
    fn validate(&self) -> Result<(), Error> {
        check_path(self.path(), false)
    }

    /// Encodes the request body, with paths through `chroot` (nothing for header-only requests).
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot);

    /// Roughly how many bytes the body takes, to size the frame buffer once.
    fn size_hint(&self) -> usize {
        self.path().len()
    }

    /// For multi and multiRead: each part's op and path (the reply context's `parts`).
    fn parts(&self) -> Vec<(OpCode, String)> {
        Vec::new()
    }

    /// What the decoder needs that only exists from dispatch on (the receiving end of a watch);
    /// `()` for most operations.
    type Carry: Default + Send + 'static;

    /// Hands the carry over at dispatch; [`decode`](Op::decode) gets it back, typed.
    fn carry(&mut self) -> Self::Carry {
        Self::Carry::default()
    }

    /// The watch to register or remove when the reply comes back.
    fn take_watch(&mut self) -> Option<WatchAction> {
        None
    }

    /// The call's result from the server's reply and what [`carry`](Op::carry) handed over.
    /// The context is the decoder's to use up: a result that names its path takes it rather
    /// than copying it (the handle is done with the context once the decoder has run).
    fn decode(reply: RawReply, ctx: &mut ReplyContext, carry: Self::Carry) -> Result<Self::Output, Error>;
}

/// An operation about to be sent: options are methods on it (see each op's module).
#[must_use = "a call does nothing until it is awaited, sent or given a callback"]
pub struct Call<'c, O> {
    pub(crate) client: &'c Client,
    pub(crate) op: O,
    /// The call's own deadline ([`timeout`](Call::timeout)); `None`: the client's default.
    pub(crate) timeout: Option<Duration>,
}

impl<O: std::fmt::Debug> std::fmt::Debug for Call<'_, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("op", &self.op).finish()
    }
}

impl<'c, O: Op> Call<'c, O> {
    pub(crate) fn new(client: &'c Client, op: O) -> Self {
        Call { client, op, timeout: None }
    }

    /// The same call with its op turned into another (the options that change the call's
    /// type), keeping the deadline.
    pub(crate) fn map_op<P>(self, f: impl FnOnce(O) -> P) -> Call<'c, P> {
        Call { client: self.client, op: f(self.op), timeout: self.timeout }
    }

    /// Fails the call with [`Error::Timeout`] (naming its op and path) when no reply has come
    /// `timeout` after it was sent, instead of the client's default
    /// ([`Connect::request_timeout`](crate::Connect::request_timeout)). A request still queued
    /// then (waiting for a connection) is dropped unsent; a reply arriving later is discarded.
    /// A write that timed out may still have been applied, as after a connection loss.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// When the call gives up, from now (`None`: never, or so far off it cannot be told).
    fn deadline(&self) -> Option<Instant> {
        self.timeout.or(self.client.inner.request_timeout).and_then(|d| Instant::now().checked_add(d))
    }

    /// Dispatches the request now and returns a handle to its result.
    pub fn send(self) -> Pending<O::Output> {
        let deadline = self.deadline();
        match &self.client.inner.permits {
            None => self.send_now(None, deadline),
            Some(permits) => match permits.clone().try_acquire_owned() {
                Ok(permit) => self.send_now(Some(permit), deadline),
                Err(_) => self.send_later(permits.clone(), deadline),
            },
        }
    }

    /// Over `Connect::max_pending`: a handle that dispatches the call once a permit is free.
    /// Its place in the semaphore's (FIFO) queue is taken now, so calls still go out in the
    /// order they were made.
    fn send_later(self, permits: Arc<Semaphore>, deadline: Option<Instant>) -> Pending<O::Output> {
        let (op, path) = (self.op.opcode(), self.op.path().to_owned());
        let mut acquire: Acquire = Box::pin(permits.acquire_owned());
        let waker = std::task::Waker::from(Arc::new(NoWake));
        match acquire.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(permit)) => return self.send_now(Some(permit), deadline),
            // The semaphore is never closed; were it, the call would go unbounded.
            Poll::Ready(Err(_)) => return self.send_now(None, deadline),
            Poll::Pending => {}
        }
        let Call { client, op: call_op, timeout } = self;
        let (client, driver) = (client.clone(), client.inner.driver_thread);
        let timer = deadline.map(|at| {
            let _runtime = client.inner.runtime.enter();
            Box::pin(tokio::time::sleep_until(at))
        });
        let dispatch: Box<dyn FnOnce(OwnedSemaphorePermit) -> Pending<O::Output> + Send> =
            Box::new(move |permit| Call { client: &client, op: call_op, timeout }.send_now(Some(permit), deadline));
        Pending { state: State::Waiting { acquire, dispatch: Some(dispatch), op, path }, timer, driver }
    }

    /// Dispatches the call now, holding `permit` (if the client is bounded) until it is done.
    fn send_now(mut self, permit: Option<OwnedSemaphorePermit>, deadline: Option<Instant>) -> Pending<O::Output> {
        let (tx, rx) = oneshot::channel();
        let inner = &self.client.inner;
        let (hub, driver) = (inner.hub.clone(), inner.driver_thread);
        let timer = deadline.map(|at| {
            // The timer belongs to the session's runtime, whatever thread sends (the blocking
            // client's callers run none).
            let _runtime = inner.runtime.enter();
            Box::pin(tokio::time::sleep_until(at))
        });
        let carry = self.op.carry();
        self.dispatch(Completion::Future(tx), deadline, permit);
        // Encoded: the op's path moves into the reply's context.
        let path = self.op.take_path();
        let ctx = self.context(path);
        // For the carry-less ops (every plain read and write) the closure is zero-sized, so
        // boxing it does not allocate.
        let mut pending = Pending::raw(rx, ctx, Box::new(move |reply, ctx| O::decode(reply, ctx, carry)), hub, driver);
        pending.timer = timer;
        pending
    }

    /// Dispatches the request now; `f` runs with the result on the dispatcher thread (in wire
    /// order with watch callbacks and other callbacks). The returned handle resolves to the same
    /// result.
    pub fn callback<F>(mut self, f: F) -> Pending<O::Output>
    where
        F: FnOnce(&Result<O::Output, Error>) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op = self.op.opcode();
        let deadline = self.deadline();
        let carry = self.op.carry();
        let encoded = self.encode();
        // Encoded (or refused), its watch and carry taken: the op's path moves into the
        // reply's context.
        let path = self.op.take_path();
        let handle_path = path.clone();
        let mut ctx = self.context(path);
        let job: ReplyFn = Box::new(move |raw: Result<RawReply, Error>| {
            let result = match raw {
                Ok(reply) => O::decode(reply, &mut ctx, carry),
                Err(e) => Err(e.for_request(ctx.op, &ctx.path)),
            };
            // A panicking callback must not cost the handle its result.
            crate::watch::dispatcher::guarded("reply callback", || f(&result));
            let _ = tx.send(result);
        });
        let inner = &self.client.inner;
        let (dispatcher, driver) = (inner.dispatcher.clone(), inner.driver_thread);
        let completion = match deadline {
            Some(at) => race_deadline(job, at, inner, op, handle_path.clone()),
            None => Completion::Callback(job),
        };
        // Not held back over the bound (nobody awaits a callback's handle), but counted.
        let permit = inner.permits.clone().and_then(|p| p.try_acquire_owned().ok());
        self.submit(encoded, completion, deadline, permit);
        Pending { state: State::Typed { rx, op, path: handle_path, dispatcher }, timer: None, driver }
    }

    /// The reply's context, naming `path`.
    fn context(&self, path: String) -> ReplyContext {
        let mut ctx = ReplyContext::new(self.op.opcode(), path, self.client.inner.chroot.clone());
        ctx.parts = self.op.parts();
        ctx
    }

    /// Validates, encodes and queues the request: [`encode`](Self::encode), then
    /// [`submit`](Self::submit).
    fn dispatch(&mut self, completion: Completion, deadline: Option<Instant>, permit: Option<OwnedSemaphorePermit>) {
        let encoded = self.encode();
        self.submit(encoded, completion, deadline, permit);
    }

    /// Validates the op and encodes its frame (with a placeholder xid); takes its watch.
    fn encode(&mut self) -> Result<Encoded, Error> {
        let inner = &self.client.inner;
        self.op.validate()?;
        let mut frame = BytesMut::with_capacity(self.op.size_hint() + 64);
        let body = OpBody(&self.op, &inner.chroot);
        encode_request(&mut frame, 0, self.op.opcode(), Some(&body), inner.max_write_packet)
            .map_err(|e| Error::frame(self.op.opcode(), self.op.path(), e))?;
        Ok(Encoded { frame, watch: self.op.take_watch().map(Box::new) })
    }

    /// Queues an encoded request. One refused by [`encode`](Self::encode) (bad path, too
    /// large) is completed with the error through the same completion, so futures and
    /// callbacks see it exactly like a server's refusal.
    fn submit(
        &self,
        encoded: Result<Encoded, Error>,
        completion: Completion,
        deadline: Option<Instant>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let inner = &self.client.inner;
        let Encoded { frame, watch } = match encoded {
            Ok(encoded) => encoded,
            Err(e) => return complete(&inner.dispatcher, completion, Err(e)),
        };
        let request = Request { frame, deadline, op: self.op.opcode(), watch, completion, permit };
        inner.submit(Command::Request(request));
    }
}

/// A request's frame and its watch, ready to queue.
struct Encoded {
    frame: BytesMut,
    watch: Option<Box<WatchAction>>,
}

/// Waiting for a place under `Connect::max_pending`.
type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A waker for the first poll of an [`Acquire`], which only queues it; the handle's own poll
/// brings the real waker.
struct NoWake;

impl std::task::Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

/// A callback's completion that runs `job` with whichever comes first: the reply, or
/// `Timeout` at `at` (a timer task on the session's runtime, ending at the deadline). The job
/// runs once, on the dispatcher thread either way; the loser finds the slot empty.
fn race_deadline(job: ReplyFn, at: Instant, inner: &super::Inner, op: OpCode, path: String) -> Completion {
    let slot = Arc::new(Mutex::new(Some(job)));
    let take = |slot: &Mutex<Option<ReplyFn>>| slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let (timer_slot, dispatcher) = (slot.clone(), inner.dispatcher.clone());
    inner.runtime.spawn(async move {
        tokio::time::sleep_until(at).await;
        if let Some(job) = take(&timer_slot) {
            dispatcher.reply(job, Err(Error::Timeout { op, path }));
        }
    });
    Completion::Callback(Box::new(move |raw| {
        if let Some(job) = take(&slot) {
            job(raw);
        }
    }))
}

/// An op's body, encoded straight into the frame.
struct OpBody<'a, O>(&'a O, &'a Chroot);

impl<O: Op> Encode for OpBody<'_, O> {
    fn encode(&self, buf: &mut BytesMut) {
        self.0.encode_body(buf, self.1);
    }
}

impl<'c, O: Op> IntoFuture for Call<'c, O> {
    type Output = Result<O::Output, Error>;
    type IntoFuture = Pending<O::Output>;

    fn into_future(self) -> Pending<O::Output> {
        self.send()
    }
}

/// A reply's decoder, made at dispatch: the op's `decode` with its carry.
pub(crate) type Decoder<T> = Box<dyn FnOnce(RawReply, &mut ReplyContext) -> Result<T, Error> + Send>;

enum State<T> {
    /// Completed by the session task with the raw reply; decoded by whoever polls.
    Raw {
        rx: oneshot::Receiver<Result<RawReply, Error>>,
        ctx: ReplyContext,
        /// Taken when the reply is decoded (a future is not polled after it is ready).
        decode: Option<Decoder<T>>,
        hub: Arc<StateHub>,
    },
    /// Over `Connect::max_pending`: not dispatched yet; `dispatch` sends it once `acquire`
    /// yields a permit, and the handle goes on as that call's.
    Waiting {
        acquire: Acquire,
        dispatch: Option<Box<dyn FnOnce(OwnedSemaphorePermit) -> Pending<T> + Send>>,
        op: OpCode,
        path: String,
    },
    /// Completed on the dispatcher thread, after the reply callback ran.
    Typed { rx: oneshot::Receiver<Result<T, Error>>, op: OpCode, path: String, dispatcher: Dispatcher },
}

/// A dispatched request: resolves to its result. Dropping it does not cancel the request (it
/// is already on its way); the result is then discarded.
#[must_use = "the request is sent; await the handle to see its result"]
pub struct Pending<T> {
    state: State<T>,
    /// The call's deadline, for a future completed by the session task (a callback's is raced
    /// where the callback runs).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// See [`Inner::driver_thread`](super::Inner): a blocking wait there would never end.
    driver: Option<std::thread::ThreadId>,
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

impl<T> Pending<T> {
    /// A handle for a raw reply decoded with `decode` when it arrives.
    pub(crate) fn raw(
        rx: oneshot::Receiver<Result<RawReply, Error>>,
        ctx: ReplyContext,
        decode: Decoder<T>,
        hub: Arc<StateHub>,
        driver: Option<std::thread::ThreadId>,
    ) -> Pending<T> {
        Pending { state: State::Raw { rx, ctx, decode: Some(decode), hub }, timer: None, driver }
    }

    /// Refuses a blocking wait that could never end: on the thread that drives the session's
    /// current-thread runtime (the session task cannot run while it waits), or for a reply
    /// callback's result inside a callback of the same client (that callback runs only after
    /// the current one returns).
    pub(crate) fn check_can_block(&self) -> Result<(), Error> {
        let (op, path) = match &self.state {
            State::Raw { ctx, .. } => (ctx.op, ctx.path.as_str()),
            State::Waiting { op, path, .. } => (*op, path.as_str()),
            State::Typed { op, path, .. } => (*op, path.as_str()),
        };
        let refuse = |reason: &'static str| Err(Error::WouldDeadlock { op, path: path.to_owned(), reason });
        if self.driver == Some(std::thread::current().id()) {
            return refuse(
                "this thread drives the current-thread runtime the session runs on; use .await, \
                 or wait from another thread (std::thread, spawn_blocking) or a multi-thread runtime",
            );
        }
        if let State::Typed { dispatcher, .. } = &self.state {
            if dispatcher.is_current_thread() {
                return refuse(
                    "a reply callback's result cannot be waited for inside a callback of the same \
                     client: it runs after this callback returns; use .send() instead of .callback()",
                );
            }
        }
        Ok(())
    }
}

/// The session task dropped the request without answering: it ended. Say how.
fn ended(hub: &StateHub, op: OpCode, path: &str) -> Error {
    Error::session_over(hub.state(), Some(op), Some(path).filter(|p| !p.is_empty()))
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // No field is structurally pinned: receivers are Unpin, the rest is boxed.
        let this = self.get_mut();
        if let State::Waiting { acquire, dispatch, op, path } = &mut this.state {
            match acquire.as_mut().poll(cx) {
                Poll::Ready(Ok(permit)) => match dispatch.take() {
                    // Sent now; the handle goes on as the sent call's (same deadline).
                    Some(dispatch) => {
                        let sent = dispatch(permit);
                        this.state = sent.state;
                        this.timer = sent.timer;
                    }
                    None => return Poll::Ready(Err(Error::Closed { op: Some(*op), path: Some(std::mem::take(path)) })),
                },
                // The semaphore is never closed; treat it as the client being gone (and never
                // poll the finished future again).
                Poll::Ready(Err(_)) => {
                    *acquire = Box::pin(std::future::pending());
                    return Poll::Ready(Err(Error::Closed { op: Some(*op), path: Some(std::mem::take(path)) }));
                }
                Poll::Pending => {
                    return match this.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                        // Never sent: dropping the handle withdraws it.
                        Some(Poll::Ready(())) => {
                            Poll::Ready(Err(Error::Timeout { op: *op, path: std::mem::take(path) }))
                        }
                        _ => Poll::Pending,
                    };
                }
            }
        }
        match &mut this.state {
            State::Raw { rx, ctx, decode, hub } => match Pin::new(rx).poll(cx) {
                Poll::Pending => match this.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    // A late reply lands in the receiver, dropped unread with the handle.
                    Some(Poll::Ready(())) => {
                        Poll::Ready(Err(Error::Timeout { op: ctx.op, path: std::mem::take(&mut ctx.path) }))
                    }
                    _ => Poll::Pending,
                },
                Poll::Ready(Ok(Ok(reply))) => match decode.take() {
                    Some(decode) => Poll::Ready(decode(reply, ctx)),
                    // Polled again after it was ready: the reply was already handed out.
                    None => Poll::Ready(Err(ended(hub, ctx.op, &ctx.path))),
                },
                Poll::Ready(Ok(Err(e))) => Poll::Ready(Err(e.for_request(ctx.op, &ctx.path))),
                Poll::Ready(Err(_)) => Poll::Ready(Err(ended(hub, ctx.op, &ctx.path))),
            },
            State::Typed { rx, op, path, .. } => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                // The dispatcher dropped the job: its thread could not be started.
                Poll::Ready(Err(_)) => {
                    Poll::Ready(Err(Error::Closed { op: Some(*op), path: Some(std::mem::take(path)) }))
                }
            },
            // Dispatched above, or returned.
            State::Waiting { op, path, .. } => {
                Poll::Ready(Err(Error::Closed { op: Some(*op), path: Some(std::mem::take(path)) }))
            }
        }
    }
}

/// The watch options shared by exists, get_data and children. Sealed.
pub trait Watchable: sealed::Sealed {
    /// Where the call's watcher goes.
    fn watch_slot(&mut self) -> &mut Option<Watcher>;
}

impl<'c, O: Op + Watchable> Call<'c, O> {
    /// Leaves a one-shot watch that notifies the session's default watcher (the seed's
    /// `:watch? true`).
    pub fn watch(mut self) -> Self {
        *self.op.watch_slot() = Some(Watcher::Default);
        self
    }

    /// Leaves a one-shot watch that calls `f` on the dispatcher thread (the seed's `:watcher`).
    pub fn watcher(mut self, f: impl Fn(WatchedEvent) + Send + Sync + 'static) -> Self {
        *self.op.watch_slot() = Some(Watcher::Callback(Arc::new(f)));
        self
    }

    /// Like [`watcher`](Self::watcher) with a callback that runs at most once — with the event
    /// that fires the watch, or the session's end — so it may consume what it captures (a
    /// oneshot sender, the seed's promise). Connection changes, which the watch survives, are
    /// not passed to it.
    pub fn watcher_once(self, f: impl FnOnce(WatchedEvent) + Send + 'static) -> Self {
        let slot = Mutex::new(Some(f));
        self.watcher(move |event| {
            if event.is_connection_change() {
                return;
            }
            // A poisoned lock means an earlier call panicked; the slot is still consistent.
            if let Some(f) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                f(event);
            }
        })
    }

    /// Like [`watcher`](Self::watcher) with a shared callback, so registering the same one on
    /// several paths (or twice on one) notifies it once per event, as Java's watcher sets do.
    pub fn watcher_shared(mut self, f: WatchFn) -> Self {
        *self.op.watch_slot() = Some(Watcher::Callback(f));
        self
    }

    /// Leaves a one-shot watch you can `.await`: the result comes with a [`WatchFuture`].
    pub fn with_watch(mut self) -> Call<'c, WithWatch<O>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.op.watch_slot() = Some(Watcher::Oneshot(tx));
        self.map_op(|inner| WithWatch { inner, rx: Some(rx) })
    }
}

/// An op whose result comes with an awaitable watch.
pub struct WithWatch<O> {
    inner: O,
    rx: Option<mpsc::UnboundedReceiver<WatchedEvent>>,
}

impl<O: std::fmt::Debug> std::fmt::Debug for WithWatch<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithWatch").field("inner", &self.inner).finish()
    }
}

impl<O: Op> crate::client::call::sealed::Sealed for WithWatch<O> {}

impl<O: Op> Op for WithWatch<O> {
    type Output = (O::Output, WatchFuture);
    type Carry = (O::Carry, Option<mpsc::UnboundedReceiver<WatchedEvent>>);

    fn opcode(&self) -> OpCode {
        self.inner.opcode()
    }
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn take_path(&mut self) -> String {
        self.inner.take_path()
    }
    fn validate(&self) -> Result<(), Error> {
        self.inner.validate()
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        self.inner.encode_body(buf, chroot)
    }
    fn size_hint(&self) -> usize {
        self.inner.size_hint()
    }
    fn carry(&mut self) -> Self::Carry {
        (self.inner.carry(), self.rx.take())
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        self.inner.take_watch()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, (inner, rx): Self::Carry) -> Result<Self::Output, Error> {
        let value = O::decode(reply, ctx, inner)?;
        Ok((value, WatchFuture { rx, done: false }))
    }
}

/// A one-shot watch: resolves to the event that fired it. If the session ends first it
/// resolves to that session event (`Expired`, `Closed`, `AuthFailed`).
///
/// The watch survives connection loss (it is re-registered on the next connection, and the
/// server fires it for a change missed meanwhile), so `.await` skips connection-state events.
/// To hear them too — to treat what the watch guards as uncertain while disconnected — use
/// [`next_event`](WatchFuture::next_event), which yields `Disconnected` and `SyncConnected` in
/// order with the node event.
#[must_use = "a watch does nothing unless awaited"]
pub struct WatchFuture {
    rx: Option<mpsc::UnboundedReceiver<WatchedEvent>>,
    /// The node event (or the session's end) was handed out.
    done: bool,
}

impl std::fmt::Debug for WatchFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchFuture").field("done", &self.done).finish()
    }
}

impl WatchFuture {
    /// The next event for this watch, connection-state changes included; `None` once the node
    /// event (or the session's end) has been handed out.
    pub async fn next_event(&mut self) -> Option<WatchedEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx, false)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>, skip_connection_changes: bool) -> Poll<Option<WatchedEvent>> {
        if self.done {
            return Poll::Ready(None);
        }
        let Some(rx) = self.rx.as_mut() else {
            self.done = true;
            return Poll::Ready(Some(WatchedEvent::session(crate::proto::KeeperState::Closed)));
        };
        loop {
            match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(event)) if event.is_connection_change() => {
                    if !skip_connection_changes {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(Some(event)) => {
                    self.done = true;
                    return Poll::Ready(Some(event));
                }
                // Dropped without firing: the session task is gone.
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(WatchedEvent::session(crate::proto::KeeperState::Closed)));
                }
            }
        }
    }
}

impl Future for WatchFuture {
    type Output = WatchedEvent;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        match self.get_mut().poll_event(cx, true) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(event)) => Poll::Ready(event),
            // Polled again after it resolved: the session view is all there is to say.
            Poll::Ready(None) => Poll::Ready(WatchedEvent::session(crate::proto::KeeperState::Closed)),
        }
    }
}
