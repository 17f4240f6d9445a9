//! The session task: the one task that owns the socket.
//!
//! It connects (trying hosts in turn, resuming the session id and password), primes the new
//! connection (auth packets, then SetWatches, then whatever requests queued up meanwhile), and
//! then serves: every request taken from the channel is appended to one write buffer with its
//! xid stamped in, everything buffered goes out in as few writes as the socket allows, replies
//! are matched to pending requests in FIFO order, watches are registered before a reply is
//! completed, notifications trigger watchers. Pings keep the session alive; silence past the read
//! timeout drops the connection. A dropped connection fails in-flight requests with
//! ConnectionLoss and the loop starts over with the same session, until the server (or the
//! client-side expiry timer) says the session is gone, or the client closes it. Requests made
//! while disconnected wait for the next connection, but fail with ConnectionLoss whenever a whole
//! round of hosts fails, so nothing waits out a lost quorum.
//!
//! One job per file: this one the socket IO and the serve loop (writing, reading, matching
//! replies); [`dial`] finding a server (rotation, backoff, TLS, handshake, SASL, priming, new
//! server lists, read-only probing); [`routing`] the watch registry's side; [`ending`] telling
//! everyone the session is over. The in-flight bookkeeping is a plain type of its own
//! (`session/inflight.rs`), and so is the byte stream (`session/transport.rs`).

mod dial;
mod ending;
mod routing;

use dial::find_read_write;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};

use super::config::SessionConfig;
use super::connect_string::HostPort;
use super::connector::ServerStream;
use super::inflight::{InFlight, Pending, Xids};
use super::rebalance::{rebalance, Rebalance};
use super::request::{complete, Command, Completion, RawReply, Request, WatchAction};
use super::state::{SessionEvent, SessionState, StateHub};
use super::transport::{IntoTransport, Transport};
use crate::error::Error;
use crate::proto::{
    self, encode_bare, encode_request, xid, AuthPacket, ConnectRequest, ConnectResponse, Decode, ErrorCode, EventType,
    FrameReader, Incoming, KeeperState, OpCode, Reader, ReplyHeader, WatcherEvent,
};
use crate::watch::dispatcher::{deliver, Dispatcher};
use crate::watch::registry::{WatchKind, WatchRegistry};
use crate::watch::{WatchedEvent, Watcher};

/// Stop taking requests from the channel while this much is waiting to be written; the socket
/// (and the server's throttle) then pace the callers.
const WRITE_HIGH_WATER: usize = 4 << 20;
/// Initial size of the write buffer.
const WRITE_CHUNK: usize = 64 << 10;
/// The Java client never lets more than this pass without a ping.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(10);
/// The longest pause between two rounds of connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A connection that heard nothing from the server after the handshake and ended sooner than
/// this counts as a failed attempt on its host, not as a connection: without this, a server (or
/// a priming step) that drops every new connection at once made the client reconnect in a tight
/// loop, thousands of times a second, because only failed handshakes ever backed off.
const MIN_STABLE_CONNECTION: Duration = MAX_BACKOFF;

/// Why a connection ended.
enum Ended {
    /// The connection dropped; the session may live on.
    Lost(String),
    /// The server sent something that is not ZooKeeper protocol; the connection is dropped and
    /// in-flight requests fail with [`Error::Protocol`]. The session may live on.
    Protocol(String),
    /// The session is over in this state.
    Terminal(SessionState),
}

/// Per-connection state; dropped with the connection.
struct Conn {
    stream: Transport,
    /// The server as the list names it (for rebalancing).
    host: HostPort,
    /// A new server list says this client should move: end the connection.
    moving: bool,
    /// The server is in read-only mode: look for a read-write one meanwhile.
    read_only: bool,
    frames: FrameReader,
    wbuf: BytesMut,
    /// Requests and auth packets written whose replies have not arrived.
    inflight: InFlight,
    last_recv: Instant,
    last_send: Instant,
    read_timeout: Duration,
    ping_interval: Duration,
}

impl Conn {
    /// Writes as much of the buffer as the socket takes now.
    fn flush(&mut self) -> Result<(), Ended> {
        if self.wbuf.is_empty() {
            // TLS records of earlier writes may still be waiting for the socket.
            return self.stream.try_flush().map_err(|e| Ended::Lost(format!("write failed: {e}")));
        }
        while !self.wbuf.is_empty() {
            match self.stream.try_write(&self.wbuf) {
                Ok(0) => return Err(Ended::Lost("socket closed while writing".into())),
                Ok(n) => {
                    super::metrics::bytes_sent(n);
                    self.wbuf.advance(n);
                    self.last_send = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(Ended::Lost(format!("write failed: {e}"))),
            }
        }
        Ok(())
    }

    /// Reads what the socket has into the read buffer (`Ok(0)`: the server closed it).
    fn read_some(&mut self) -> std::io::Result<usize> {
        self.stream.read_some(self.frames.buffer())
    }

    /// The earliest moment the timer must look again.
    fn next_check(&self) -> Instant {
        (self.last_send + self.ping_interval).min(self.last_recv + self.read_timeout)
    }
}

/// The session task's state (see the module docs). Created by [`Connect`](crate::Connect).
pub struct SessionTask {
    cfg: Arc<SessionConfig>,
    rx: mpsc::UnboundedReceiver<Command>,
    hub: Arc<StateHub>,
    dispatcher: Dispatcher,
    watches: WatchRegistry,
    /// Auth packets to replay on every connection, in the order they were added.
    auth: Vec<(String, Vec<u8>)>,
    /// Commands that arrived while no connection was up.
    queued: VecDeque<Command>,
    session_id: i64,
    password: Vec<u8>,
    negotiated: Duration,
    last_zxid: i64,
    xids: Xids,
    hosts: Vec<HostPort>,
    host_cursor: usize,
    /// Hosts that failed in the current round. A round ends when every host has failed once
    /// (not when the cursor wraps: after losing host k the round goes on through the hosts
    /// after k and then those before it); only then do queued requests fail and the client
    /// back off.
    round_failures: usize,
    /// Consecutive failed rounds, for the backoff; reset by a connection that proved stable.
    failed_rounds: u32,
    /// When the current (or last) connection was established.
    connected_at: Instant,
    /// When the server last answered.
    last_heard: Instant,
    /// The latest moment a packet of this session may have reached a server: its last write on
    /// an established connection (pings included). Client-side expiry counts from here.
    last_sent: Instant,
    /// `close()` was called: no new commands, finish after the closeSession reply.
    closing: bool,
    ever_connected: bool,
    /// A read-write server has granted (or the caller resumed) this session. Until then, with
    /// read-only servers allowed, each connection asks for a new session (the Java client's
    /// rule: a session a read-only server made is not valid elsewhere).
    seen_read_write: bool,
}

impl std::fmt::Debug for SessionTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTask")
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("last_zxid", &self.last_zxid)
            .field("watches", &self.watches.len())
            .finish_non_exhaustive()
    }
}

impl SessionTask {
    pub fn new(
        cfg: Arc<SessionConfig>,
        rx: mpsc::UnboundedReceiver<Command>,
        hub: Arc<StateHub>,
        dispatcher: Dispatcher,
    ) -> SessionTask {
        let mut hosts = cfg.hosts.clone();
        if cfg.shuffle_hosts {
            fastrand::shuffle(&mut hosts);
        }
        let (session_id, password) = cfg.resume.clone().unwrap_or((0, vec![0; 16]));
        SessionTask {
            rx,
            hub,
            dispatcher,
            watches: WatchRegistry::default(),
            auth: Vec::new(),
            queued: VecDeque::new(),
            session_id,
            password,
            negotiated: Duration::ZERO,
            last_zxid: 0,
            xids: Xids::new(),
            hosts,
            host_cursor: 0,
            round_failures: 0,
            failed_rounds: 0,
            connected_at: Instant::now(),
            last_heard: Instant::now(),
            last_sent: Instant::now(),
            closing: false,
            ever_connected: false,
            seen_read_write: cfg.resume.is_some() || !cfg.can_be_read_only,
            cfg,
        }
    }

    pub async fn run(mut self) {
        let end = loop {
            let conn = match self.connect().await {
                Ok(conn) => conn,
                Err(state) => break state,
            };
            match self.serve(conn).await {
                Ended::Terminal(state) => break state,
                Ended::Lost(reason) | Ended::Protocol(reason) => {
                    tracing::info!(session = format_args!("{:#x}", self.session_id), %reason, "connection lost");
                    let heard = self.last_heard > self.connected_at;
                    if heard || self.connected_at.elapsed() >= MIN_STABLE_CONNECTION {
                        // A working connection: a new round starts at the next host, at once.
                        self.round_failures = 0;
                        self.failed_rounds = 0;
                    } else {
                        // Lost as soon as it was made: its host failed in this round.
                        self.round_failures += 1;
                    }
                    self.hub.transition(
                        |s| {
                            s.state = SessionState::Connecting;
                            s.server = None;
                        },
                        SessionEvent::Disconnected,
                    );
                    self.tell_watchers(KeeperState::Disconnected);
                }
            }
        };
        self.finish(end).await;
    }

    // ----- connecting -------------------------------------------------------------------------

    // ----- serving ----------------------------------------------------------------------------

    async fn serve(&mut self, mut conn: Conn) -> Ended {
        let end = match self.serve_loop(&mut conn).await {
            Ok(never) => match never {},
            Err(end) => end,
        };
        self.last_sent = self.last_sent.max(conn.last_send);
        // Whatever was in flight on this connection is lost with it.
        let (op_err, state) = match &end {
            Ended::Lost(_) => (None, None),
            Ended::Protocol(reason) => (Some(Error::protocol(reason.clone())), None),
            Ended::Terminal(state) => (Some(Self::terminal_error(*state)), Some(*state)),
        };
        // Lost while closing: the close is done as far as this client goes. The server closes the
        // session if the closeSession got through, else expires it; reconnecting would only keep
        // a session nobody can use (or close) alive.
        let lost_while_closing = self.closing && state.is_none();
        let (requests, auth_waiters) = conn.inflight.drain();
        for p in requests {
            if lost_while_closing && p.op == OpCode::CloseSession {
                complete(&self.dispatcher, p.completion, Ok(RawReply { zxid: 0, err: 0, body: Bytes::new() }));
                continue;
            }
            let error = match (&op_err, p.op) {
                // The close reply itself completed the close future; anything after it is moot.
                (Some(e), _) => e.clone(),
                (None, op) => Error::ConnectionLoss { op: Some(op), path: None },
            };
            complete(&self.dispatcher, p.completion, Err(error));
        }
        for c in auth_waiters {
            let error = match (state, &op_err) {
                (Some(s), _) => Self::terminal_error(s),
                (None, Some(e)) => e.clone(),
                (None, None) => Error::ConnectionLoss { op: Some(OpCode::Auth), path: None },
            };
            complete(&self.dispatcher, c, Err(error));
        }
        if lost_while_closing {
            tracing::debug!(session = format_args!("{:#x}", self.session_id), "connection lost while closing");
            return Ended::Terminal(SessionState::Closed);
        }
        end
    }

    async fn serve_loop(&mut self, conn: &mut Conn) -> Result<std::convert::Infallible, Ended> {
        self.prime(conn)?;
        let timer = sleep_until(conn.next_check());
        tokio::pin!(timer);
        let others: Vec<HostPort> = self.hosts.iter().filter(|h| **h != conn.host).cloned().collect();
        let mut rw_probe =
            (conn.read_only && !others.is_empty()).then(|| Box::pin(find_read_write(others, self.cfg.clone())));
        loop {
            // Take everything already queued, so it leaves in one write.
            while !self.closing && conn.wbuf.len() < WRITE_HIGH_WATER {
                match self.rx.try_recv() {
                    Ok(cmd) => self.enqueue(conn, cmd),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.close_for_dropped_handles(conn);
                        break;
                    }
                }
            }
            if conn.moving {
                // Like the Java client: the connection is dropped (what is in flight fails with
                // ConnectionLoss) and the session resumes on a server of the new list.
                return Err(Ended::Lost("moving to another server of the new server list".into()));
            }
            conn.flush()?;
            let want_write = !conn.wbuf.is_empty() || conn.stream.wants_write();
            let take_commands = !self.closing && conn.wbuf.len() < WRITE_HIGH_WATER;
            tokio::select! {
                biased;
                ready = conn.stream.ready(want_write) => {
                    let ready = ready.map_err(|e| Ended::Lost(format!("socket error: {e}")))?;
                    if ready.readable {
                        self.read(conn)?;
                    }
                    if ready.writable {
                        conn.flush()?;
                    }
                }
                found = poll_some(&mut rw_probe), if rw_probe.is_some() => {
                    tracing::info!(server = %found, "found a read-write server; moving to it");
                    let hosts = std::mem::take(&mut self.hosts);
                    self.use_hosts(hosts, vec![found]);
                    return Err(Ended::Lost("moving from a read-only server to a read-write one".into()));
                }
                cmd = self.rx.recv(), if take_commands => match cmd {
                    Some(cmd) => self.enqueue(conn, cmd),
                    None => self.close_for_dropped_handles(conn),
                },
                () = &mut timer => {
                    let now = Instant::now();
                    if now >= conn.last_recv + conn.read_timeout {
                        return Err(Ended::Lost(format!("no answer from the server for {:?}", conn.read_timeout)));
                    }
                    if now >= conn.last_send + conn.ping_interval && conn.wbuf.is_empty() {
                        encode_request(&mut conn.wbuf, xid::PING, OpCode::Ping, None, self.cfg.max_write_packet)
                            .map_err(|e| Ended::Lost(format!("ping: {e}")))?;
                        // Counts as sent now, so a blocked socket does not queue pings.
                        conn.last_send = now;
                    }
                    timer.as_mut().reset(conn.next_check().max(now + Duration::from_millis(1)));
                }
            }
        }
    }

    /// Every handle is gone: close the session so its ephemeral nodes go now rather than at
    /// expiry.
    fn close_for_dropped_handles(&mut self, conn: &mut Conn) {
        if !self.closing {
            let (tx, _rx) = tokio::sync::oneshot::channel();
            self.enqueue(conn, Command::Close { completion: Completion::Future(tx) });
        }
    }

    fn enqueue(&mut self, conn: &mut Conn, cmd: Command) {
        match cmd {
            Command::Request(req) => self.enqueue_request(conn, req),
            Command::Auth { scheme, auth, completion } => {
                let packet = AuthPacket { kind: 0, scheme: (&*scheme).into(), auth: (&*auth).into() };
                match encode_request(&mut conn.wbuf, xid::AUTH, OpCode::Auth, Some(&packet), self.cfg.max_write_packet)
                {
                    Ok(()) => {
                        self.auth.push((scheme, auth));
                        conn.inflight.push_auth(completion);
                    }
                    Err(e) => complete(&self.dispatcher, completion, Err(Error::frame(OpCode::Auth, &scheme, e))),
                }
            }
            Command::WatchDropped { path } => self.forget_watch(conn, path),
            Command::UpdateServers { hosts } => {
                let old = std::mem::take(&mut self.hosts);
                match rebalance(&old, Some(&conn.host), &hosts, fastrand::f64()) {
                    Rebalance::Stay => self.use_hosts(hosts, Vec::new()),
                    Rebalance::Move { first } => {
                        tracing::info!(from = %conn.host, "moving to another server to rebalance the new server list");
                        self.use_hosts(hosts, first);
                        conn.moving = true;
                    }
                }
            }
            Command::Close { completion } => {
                self.closing = true;
                let xid = self.xids.next();
                // A bare header cannot exceed the packet limit.
                let _ = encode_request(&mut conn.wbuf, xid, OpCode::CloseSession, None, self.cfg.max_write_packet);
                conn.inflight.push(Pending::internal(xid, OpCode::CloseSession, completion));
            }
        }
    }

    fn enqueue_request(&mut self, conn: &mut Conn, req: Request) {
        if req.deadline.is_some_and(|d| d <= Instant::now()) {
            // The caller was told `Timeout` at the deadline (this completes nobody, or a
            // callback's timer already ran it); sending it now would be a write nobody awaits.
            complete(&self.dispatcher, req.completion, Err(Error::Timeout { op: req.op, path: String::new() }));
            return;
        }
        if let Some(WatchAction::Remove { path, kind, .. }) = req.watch.as_deref() {
            // As the Java client does: nothing to remove locally means NoWatcher, unsent.
            if !self.watches.has(path, *kind) {
                let error = Error::Server { code: ErrorCode::NoWatcher, op: req.op, path: path.clone() };
                complete(&self.dispatcher, req.completion, Err(error));
                return;
            }
        }
        let xid = self.xids.next();
        let at = conn.wbuf.len();
        conn.wbuf.extend_from_slice(&req.frame);
        proto::frame::set_xid(&mut conn.wbuf[at..], xid);
        tracing::trace!(xid, op = req.op.name(), "request written");
        conn.inflight.push(Pending::new(xid, req.op, req.watch, req.completion, req.permit));
    }

    fn read(&mut self, conn: &mut Conn) -> Result<(), Ended> {
        match conn.read_some() {
            Ok(0) => return Err(Ended::Lost("server closed the connection".into())),
            Ok(n) => super::metrics::bytes_received(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(Ended::Lost(format!("read failed: {e}"))),
        }
        conn.last_recv = Instant::now();
        self.last_heard = conn.last_recv;
        // The callbacks of every reply and event in this read reach the dispatcher as one.
        let _batch = self.dispatcher.batch();
        loop {
            let incoming =
                conn.frames.next_frame().map_err(|e| Ended::Protocol(format!("bad frame from the server: {e}")))?;
            match incoming {
                None => return Ok(()),
                Some(Incoming::Frame(frame)) => self.on_frame(conn, frame)?,
                Some(Incoming::TooLarge { length, head }) => self.on_oversized(conn, length, head)?,
            }
        }
    }

    /// A reply over the read limit: its header is in and the rest is being discarded. It fails
    /// only the request it answers (the first pending one, as replies come in xid order), with
    /// the op and size; the caller's side adds the path. Its watch is not registered: the caller
    /// gets an error, not a watch. Anything else that large (a notification, a ping or auth
    /// reply) cannot be a real server's and ends the connection as a protocol error.
    fn on_oversized(&mut self, conn: &mut Conn, length: usize, head: Bytes) -> Result<(), Ended> {
        let limit = self.cfg.max_read_packet;
        let header = ReplyHeader::decode(&mut Reader::new(head, "reply header"))
            .map_err(|e| Ended::Protocol(format!("over-limit frame of {length} bytes: {e}")))?;
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        let Some(p) = conn.inflight.answer_if(header.xid) else {
            return Err(Ended::Protocol(format!(
                "frame of {length} bytes (xid {}) exceeds the {limit}-byte read limit",
                header.xid
            )));
        };
        tracing::warn!(op = %p.op, size = length, limit, "reply over the read limit discarded");
        let error = Error::ReplyTooLarge { op: p.op, path: String::new(), size: length, limit };
        complete(&self.dispatcher, p.completion, Err(error));
        Ok(())
    }

    fn on_frame(&mut self, conn: &mut Conn, frame: Bytes) -> Result<(), Ended> {
        let protocol = Ended::Protocol;
        let mut r = Reader::new(frame, "reply");
        let header = ReplyHeader::decode(&mut r).map_err(|e| protocol(e.to_string()))?;
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        match header.xid {
            xid::NOTIFICATION => {
                let event = WatcherEvent::decode(&mut r).map_err(|e| protocol(e.to_string()))?;
                self.on_notification(event);
            }
            xid::PING => {}
            xid::AUTH => {
                let Some(completion) = conn.inflight.auth_reply() else {
                    // Replayed auth packets have no waiter; only a failure matters.
                    if header.err == ErrorCode::AuthFailed.code() {
                        return Err(Ended::Terminal(SessionState::AuthFailed));
                    }
                    return Ok(());
                };
                let failed = header.err == ErrorCode::AuthFailed.code();
                complete(
                    &self.dispatcher,
                    completion,
                    Ok(RawReply { zxid: header.zxid, err: header.err, body: r.rest() }),
                );
                if failed {
                    return Err(Ended::Terminal(SessionState::AuthFailed));
                }
            }
            xid::SET_WATCHES => {
                if header.err != 0 {
                    tracing::warn!(err = header.err, "the server refused to restore watches");
                }
            }
            xid => {
                let p = conn.inflight.answer(xid).map_err(|mismatch| protocol(mismatch.to_string()))?;
                tracing::trace!(xid, op = p.op.name(), err = header.err, "reply");
                if let Some(action) = p.watch {
                    self.apply_watch_action(*action, header.err);
                }
                let closed = p.op == OpCode::CloseSession;
                complete(
                    &self.dispatcher,
                    p.completion,
                    Ok(RawReply { zxid: header.zxid, err: header.err, body: r.rest() }),
                );
                if closed {
                    return Err(Ended::Terminal(SessionState::Closed));
                }
            }
        }
        Ok(())
    }
}

/// The output of `future` once it is there; never, for `None`.
async fn poll_some<F: std::future::Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
