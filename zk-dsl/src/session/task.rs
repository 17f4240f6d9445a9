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
use super::inflight::{InFlight, Pending, Xids};
use super::rebalance::{rebalance, Rebalance};
use super::request::{complete, Command, Completion, RawReply, Request, WatchAction};
use super::state::{SessionEvent, SessionState, StateHub};
use super::transport::Transport;
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

    /// A connection-state change reaches every watcher — default, callbacks, watch futures and
    /// streams — in order with the node events around it, so whoever relies on a watch learns
    /// it may have missed changes (and re-reads after `SyncConnected`).
    fn tell_watchers(&mut self, state: KeeperState) {
        let watchers = self.watches.connection_watchers();
        deliver(&self.dispatcher, &WatchedEvent::session(state), watchers);
    }

    /// The error every remaining waiter gets once the session is over.
    fn terminal_error(state: SessionState) -> Error {
        Error::session_over(state, None, None)
    }

    /// Tells everyone the session is over and fails whatever is still waiting.
    async fn finish(mut self, state: SessionState) {
        tracing::debug!(session = format_args!("{:#x}", self.session_id), ?state, "session ended");
        self.hub.update(|s| {
            s.state = state;
            s.server = None;
        });
        let (event, keeper_state) = match state {
            SessionState::Expired => (SessionEvent::Expired, KeeperState::Expired),
            SessionState::AuthFailed => (SessionEvent::AuthFailed, KeeperState::AuthFailed),
            _ => (SessionEvent::Closed, KeeperState::Closed),
        };
        let ended = WatchedEvent::session(keeper_state);
        // The default watcher hears it once; every other watcher is told its watch is gone.
        let before = self.watch_count();
        let mut watchers: Vec<Watcher> =
            self.watches.drain().into_iter().filter(|w| !matches!(w, Watcher::Default)).collect();
        super::metrics::watches_changed(before, self.watch_count());
        watchers.push(Watcher::Default);
        deliver(&self.dispatcher, &ended, watchers);
        self.rx.close();
        while let Some(cmd) = self.queued.pop_front() {
            cmd.fail(Self::terminal_error(state), &self.dispatcher);
        }
        while let Some(cmd) = self.rx.recv().await {
            cmd.fail(Self::terminal_error(state), &self.dispatcher);
        }
        self.hub.emit(event);
    }

    // ----- connecting -------------------------------------------------------------------------

    /// Deadline after which a session that cannot reach any server is declared expired by the
    /// client itself. It must come only once the servers have certainly expired the session, or
    /// a new session re-creating this one's ephemeral nodes would find them still there.
    ///
    /// A server expires a session at the first tick boundary after its last packet plus the
    /// timeout (its expiry queue rounds up to `tickTime`), so up to timeout + tick after that
    /// packet; in an ensemble a follower reports the packet to the leader on its next ping,
    /// every half tick, which adds up to tick/2. The client does not know `tickTime`, but the
    /// server never negotiates a timeout below `minSessionTimeout`, which is 2 × `tickTime`
    /// unless an operator lowers it, so tick ≤ timeout/2. The last packet a server can have
    /// received left no later than the client's last write (`last_sent`). So the session is
    /// gone by last_sent + 1.75 × timeout; the client waits 2 × timeout, the rest being room for
    /// the expiry's closeSession to commit (the ephemeral nodes to go). A handshake that was
    /// never answered is assumed not to have reached a server (one that got it answers it). A
    /// reachable server's verdict comes first anyway: a reconnect told "expired" ends the
    /// session at once.
    fn expiry_deadline(&self) -> Option<Instant> {
        (self.ever_connected && !self.negotiated.is_zero())
            .then(|| self.last_sent.max(self.last_heard) + self.negotiated * 2)
    }

    /// Handles a command that arrives while no connection is up. Returns the terminal state if
    /// the client asked to close (or every handle was dropped).
    fn on_command_while_disconnected(&mut self, cmd: Option<Command>) -> Option<SessionState> {
        match cmd {
            None => Some(SessionState::Closed),
            Some(Command::Close { completion }) => {
                self.closing = true;
                complete(&self.dispatcher, completion, Ok(RawReply { zxid: 0, err: 0, body: Bytes::new() }));
                Some(SessionState::Closed)
            }
            Some(Command::UpdateServers { hosts }) => {
                // Not connected: nothing to move, the next attempt starts on the new list.
                self.use_hosts(hosts, Vec::new());
                None
            }
            Some(cmd) => {
                self.queued.push_back(cmd);
                None
            }
        }
    }

    /// Replaces the server list: `first` (shuffled) before the rest (in the configured order),
    /// starting a fresh round.
    fn use_hosts(&mut self, hosts: Vec<HostPort>, mut first: Vec<HostPort>) {
        let mut rest: Vec<HostPort> = hosts.into_iter().filter(|h| !first.contains(h)).collect();
        if self.cfg.shuffle_hosts {
            fastrand::shuffle(&mut first);
            fastrand::shuffle(&mut rest);
        }
        first.extend(rest);
        self.hosts = first;
        self.host_cursor = 0;
        self.round_failures = 0;
    }

    /// Whether the client-side expiry deadline has passed.
    fn expired_client_side(&self) -> bool {
        self.expiry_deadline().is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// A whole round of hosts failed after the session had been connected: what waits for a
    /// connection fails with ConnectionLoss now instead of waiting (through a quorum loss, say)
    /// until the session expires, as the Java client fails its queue on a failed attempt. None of
    /// it was sent. An identity being added is kept for the next connection (like every other
    /// identity), so its ConnectionLoss means "not confirmed yet", as for any request.
    fn fail_queued(&mut self) {
        for cmd in std::mem::take(&mut self.queued) {
            let op = match &cmd {
                Command::Request(r) => r.op,
                Command::Auth { scheme, auth, .. } => {
                    self.auth.push((scheme.clone(), auth.clone()));
                    OpCode::Auth
                }
                Command::Close { .. } => OpCode::CloseSession,
                // The next connection's SetWatches leaves the dropped stream out anyway.
                Command::WatchDropped { .. } => continue,
                Command::UpdateServers { hosts } => {
                    self.use_hosts(hosts.clone(), Vec::new());
                    continue;
                }
            };
            cmd.fail(Error::ConnectionLoss { op: Some(op), path: None }, &self.dispatcher);
        }
    }

    /// Tries hosts until one grants the session. Keeps taking commands meanwhile. Every time
    /// all hosts have failed once in this round, queued requests fail and the next round waits
    /// a backoff (with jitter).
    async fn connect(&mut self) -> Result<Conn, SessionState> {
        loop {
            if self.expired_client_side() {
                tracing::warn!(
                    session = format_args!("{:#x}", self.session_id),
                    "no server reachable within the session timeout; session expired"
                );
                return Err(SessionState::Expired);
            }
            if self.round_failures >= self.hosts.len() {
                self.round_failed().await?;
                continue;
            }
            let host = self.hosts[self.host_cursor].clone();
            self.host_cursor = (self.host_cursor + 1) % self.hosts.len();
            let request = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid,
                timeout_ms: i32::try_from(self.cfg.session_timeout.as_millis()).unwrap_or(i32::MAX),
                session_id: if self.seen_read_write { self.session_id } else { 0 },
                password: if self.seen_read_write { self.password.clone() } else { vec![0; 16] },
                read_only: self.cfg.can_be_read_only,
            };
            let mut limit = self.cfg.connect_timeout(self.negotiated);
            if let Some(deadline) = self.expiry_deadline() {
                // No attempt outlives the session: expiry is reported on time, not one (possibly
                // blackholed) attempt later.
                limit = limit.min(deadline.saturating_duration_since(Instant::now()));
            }
            let limits = (self.cfg.max_write_packet, self.cfg.max_read_packet);
            tracing::debug!(%host, ?limit, "connecting");
            let attempt = handshake(host.clone(), request, limit, limits, self.cfg.clone());
            tokio::pin!(attempt);
            let outcome = loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    cmd = self.rx.recv() => {
                        if let Some(state) = self.on_command_while_disconnected(cmd) {
                            return Err(state);
                        }
                    }
                }
            };
            match outcome {
                Ok((stream, resp, frames, addr)) => {
                    if resp.is_expired() {
                        tracing::warn!(
                            session = format_args!("{:#x}", self.session_id),
                            "server reports the session expired"
                        );
                        return Err(SessionState::Expired);
                    }
                    self.hub.set_last_failure(None);
                    return Ok(self.established(stream, resp, frames, addr, host));
                }
                Err(HandshakeError::Failed(reason)) => {
                    tracing::debug!(%host, %reason, "connection attempt failed");
                    self.hub.set_last_failure(Some(reason));
                    self.round_failures += 1;
                }
                Err(HandshakeError::AuthFailed(reason)) => {
                    tracing::warn!(%host, %reason, "authentication failed");
                    return Err(SessionState::AuthFailed);
                }
            }
        }
    }

    /// Every host failed once in this round: fail what waits (after the session had been
    /// connected) and back off before the next round.
    async fn round_failed(&mut self) -> Result<(), SessionState> {
        self.round_failures = 0;
        if self.ever_connected {
            self.fail_queued();
        }
        self.failed_rounds = self.failed_rounds.saturating_add(1);
        let base = Duration::from_millis(50u64.saturating_mul(1 << self.failed_rounds.min(5)));
        let pause = base.min(MAX_BACKOFF) + Duration::from_millis(fastrand::u64(0..50));
        let mut wake = Instant::now() + pause;
        if let Some(deadline) = self.expiry_deadline() {
            wake = wake.min(deadline);
        }
        loop {
            tokio::select! {
                _ = sleep_until(wake) => return Ok(()),
                cmd = self.rx.recv() => {
                    if let Some(state) = self.on_command_while_disconnected(cmd) {
                        return Err(state);
                    }
                }
            }
        }
    }

    fn established(
        &mut self,
        stream: Transport,
        resp: ConnectResponse,
        frames: FrameReader,
        addr: SocketAddr,
        host: HostPort,
    ) -> Conn {
        let reconnected = self.ever_connected && self.session_id == resp.session_id;
        let read_only = resp.read_only;
        self.seen_read_write |= !read_only;
        self.session_id = resp.session_id;
        self.password = resp.password;
        self.negotiated = Duration::from_millis(resp.timeout_ms.max(1) as u64);
        self.ever_connected = true;
        let now = Instant::now();
        self.last_heard = now;
        self.last_sent = now;
        self.connected_at = now;
        tracing::info!(session = format_args!("{:#x}", self.session_id), %addr, timeout = ?self.negotiated, reconnected, read_only, "session established");
        if reconnected {
            super::metrics::reconnected();
        }
        tracing::Span::current().record("session_id", format!("{:#x}", self.session_id).as_str());
        let read_timeout = self.negotiated * 2 / 3;
        let conn = Conn {
            stream,
            host,
            moving: false,
            read_only,
            frames,
            wbuf: BytesMut::with_capacity(WRITE_CHUNK),
            inflight: InFlight::default(),
            last_recv: now,
            last_send: now,
            read_timeout,
            ping_interval: (read_timeout / 2).min(MAX_PING_INTERVAL),
        };
        let (session_id, password, negotiated) = (self.session_id, self.password.clone(), self.negotiated);
        let (state, event, keeper_state) = match (read_only, reconnected) {
            (true, _) => {
                (SessionState::ConnectedReadOnly, SessionEvent::ConnectedReadOnly, KeeperState::ConnectedReadOnly)
            }
            (false, true) => (SessionState::Connected, SessionEvent::Reconnected, KeeperState::SyncConnected),
            (false, false) => (SessionState::Connected, SessionEvent::Connected, KeeperState::SyncConnected),
        };
        self.hub.transition(
            |s| {
                s.state = state;
                s.session_id = session_id;
                s.password = password;
                s.negotiated_timeout = negotiated;
                s.server = Some(addr);
            },
            event,
        );
        self.tell_watchers(keeper_state);
        conn
    }

    // ----- serving ----------------------------------------------------------------------------

    /// Auth packets, then SetWatches, then the requests queued while disconnected: the order
    /// the Java client primes a connection in, so no user request runs before auth is back.
    fn prime(&mut self, conn: &mut Conn) -> Result<(), Ended> {
        for (scheme, auth) in &self.auth {
            let packet = AuthPacket { kind: 0, scheme: scheme.into(), auth: auth.into() };
            encode_request(&mut conn.wbuf, xid::AUTH, OpCode::Auth, Some(&packet), self.cfg.max_write_packet)
                .map_err(|e| Ended::Lost(format!("auth packet: {e}")))?;
            conn.inflight.replayed_auth();
        }
        let chroot = self.cfg.chroot.clone();
        let to_server = |p: &str| chroot.to_server(p).into_owned();
        // A SetWatches2 frame with one path: header 8, zxid 8, five vector lengths, the path's
        // length. A watch on a longer path (one the server accepted a request for, up to a few
        // dozen bytes longer) cannot be restored: it is dropped and its watcher told with the
        // `*WatchRemoved` event, instead of failing (and so dropping) every new connection.
        let max_path = self.cfg.max_write_packet.saturating_sub(8 + 8 + 5 * 4 + 4);
        let before = self.watch_count();
        let unrestorable = self.watches.take_unrestorable(max_path, to_server);
        super::metrics::watches_changed(before, self.watch_count());
        for (path, watcher, event_type) in unrestorable {
            tracing::warn!(len = path.len(), ?event_type, "a watch too long to restore was dropped");
            deliver(&self.dispatcher, &WatchedEvent::node(event_type, path), vec![watcher]);
        }
        // Batches stay well within the write limit.
        let batch_bytes = self.cfg.set_watches_batch.min(max_path / 2);
        for batch in self.watches.set_watches(self.last_zxid, batch_bytes, to_server) {
            let op = if batch.needs_v2() { OpCode::SetWatches2 } else { OpCode::SetWatches };
            encode_request(&mut conn.wbuf, xid::SET_WATCHES, op, Some(&batch), self.cfg.max_write_packet)
                .map_err(|e| Ended::Lost(format!("SetWatches: {e}")))?;
        }
        while let Some(cmd) = self.queued.pop_front() {
            self.enqueue(conn, cmd);
        }
        Ok(())
    }

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
        let mut rw_probe = (conn.read_only && !others.is_empty())
            .then(|| Box::pin(find_read_write(others, self.cfg.resolver.clone())));
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
                ready = conn.stream.readable() => {
                    ready.map_err(|e| Ended::Lost(format!("socket error: {e}")))?;
                    self.read(conn)?;
                }
                ready = conn.stream.writable(), if want_write => {
                    ready.map_err(|e| Ended::Lost(format!("socket error: {e}")))?;
                    conn.flush()?;
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

    /// A watch stream on `path` was dropped. When it was the session's last watch there, the
    /// server's watch goes too (`removeWatches` of any type: ZooKeeper 3.8 removes persistent
    /// watches no other way), so the server stops sending events nobody wants. While another
    /// watch remains on the path the server's stays: removing "any" would take that one too.
    fn forget_watch(&mut self, conn: &mut Conn, path: String) {
        let before = self.watch_count();
        self.watches.prune();
        super::metrics::watches_changed(before, self.watch_count());
        if self.watches.has_any(&path) {
            return;
        }
        let server_path = self.cfg.chroot.to_server(&path);
        let request = proto::WatchesRequest { path: server_path, kind: proto::WatcherType::Any };
        let xid = self.xids.next();
        if encode_request(&mut conn.wbuf, xid, OpCode::RemoveWatches, Some(&request), self.cfg.max_write_packet).is_ok()
        {
            // The reply (NoWatcher if the server had already dropped it) interests nobody.
            let (tx, _) = tokio::sync::oneshot::channel();
            let completion = Completion::Future(tx);
            conn.inflight.push(Pending::internal(xid, OpCode::RemoveWatches, completion));
        }
    }

    fn enqueue_request(&mut self, conn: &mut Conn, req: Request) {
        if req.deadline.is_some_and(|d| d <= Instant::now()) {
            // The caller was told `Timeout` at the deadline (this completes nobody, or a
            // callback's timer already ran it); sending it now would be a write nobody awaits.
            complete(&self.dispatcher, req.completion, Err(Error::Timeout { op: req.op, path: String::new() }));
            return;
        }
        if let Some(WatchAction::Remove { path, kind, .. }) = &req.watch {
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
                    self.apply_watch_action(action, header.err);
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

    /// Watchers registered, for the metrics' gauge (not counted without the feature).
    fn watch_count(&self) -> usize {
        if cfg!(feature = "metrics") {
            self.watches.len()
        } else {
            0
        }
    }

    fn apply_watch_action(&mut self, action: WatchAction, err: i32) {
        let before = self.watch_count();
        self.apply_watch_action_counted(action, err);
        super::metrics::watches_changed(before, self.watch_count());
    }

    fn apply_watch_action_counted(&mut self, action: WatchAction, err: i32) {
        match action {
            WatchAction::Register { kind, path, watcher } if err == 0 => self.watches.add(kind, &path, watcher),
            WatchAction::RegisterExists { path, watcher } => {
                if err == 0 {
                    self.watches.add(WatchKind::Data, &path, watcher);
                } else if err == ErrorCode::NoNode.code() {
                    self.watches.add(WatchKind::Exist, &path, watcher);
                }
            }
            WatchAction::Remove { path, kind, check_only: false } if err == 0 => {
                for (watcher, event_type) in self.watches.remove(&path, kind) {
                    let event = WatchedEvent::node(event_type, path.clone());
                    deliver(&self.dispatcher, &event, vec![watcher]);
                }
            }
            _ => {}
        }
    }

    fn on_notification(&mut self, event: WatcherEvent) {
        if event.event_type == EventType::None {
            // Servers do not send session events as notifications; ignore rather than guess.
            tracing::debug!(?event, "ignoring a session-level notification");
            return;
        }
        let path = self.cfg.chroot.to_client(&event.path);
        let before = self.watch_count();
        let watchers = self.watches.trigger(event.event_type, &path);
        super::metrics::watches_changed(before, self.watch_count());
        let event = WatchedEvent { event_type: event.event_type, keeper_state: event.state, path: Some(path) };
        deliver(&self.dispatcher, &event, watchers);
    }
}

/// Why a connection attempt failed.
enum HandshakeError {
    /// This server could not be used now: try the next.
    Failed(String),
    /// The server refused the client's credentials: the session ends with `AuthFailed`.
    #[cfg_attr(not(feature = "sasl"), allow(dead_code))]
    AuthFailed(String),
}

impl From<String> for HandshakeError {
    fn from(reason: String) -> Self {
        HandshakeError::Failed(reason)
    }
}

type Handshaken = (Transport, ConnectResponse, FrameReader, SocketAddr);

/// One connection attempt: resolve, connect, (TLS), send ConnectRequest, read ConnectResponse,
/// (SASL). `limits` are the write and read packet limits.
async fn handshake(
    host: HostPort,
    request: ConnectRequest,
    limit: Duration,
    limits: (usize, usize),
    cfg: Arc<SessionConfig>,
) -> Result<Handshaken, HandshakeError> {
    let attempt = async {
        // Resolved on every attempt: a name whose addresses changed is followed.
        let addrs: Vec<SocketAddr> = match &cfg.resolver {
            Some(resolve) => resolve(&host.host, host.port).map_err(|e| format!("cannot resolve {host}: {e}"))?,
            None => tokio::net::lookup_host((host.host.as_str(), host.port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        let mut last_error = format!("{host} resolved to no address");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(|e| format!("{addr}: TCP_NODELAY: {e}"))?;
                    return over_stream(stream, &host, addr, &request, limits, &cfg).await;
                }
                Err(e) => last_error = format!("connect to {addr}: {e}"),
            }
        }
        Err(HandshakeError::Failed(last_error))
    };
    timeout(limit, attempt).await.map_err(|_| format!("{host}: no handshake within {limit:?}"))?
}

/// The session handshake (and SASL) over a fresh TCP connection, in TLS when configured.
#[cfg(feature = "tls")]
async fn over_stream(
    tcp: TcpStream,
    host: &HostPort,
    addr: SocketAddr,
    request: &ConnectRequest,
    limits: (usize, usize),
    cfg: &SessionConfig,
) -> Result<Handshaken, HandshakeError> {
    let Some(tls) = &cfg.tls else {
        return session_handshake(tcp, addr, request, limits, cfg)
            .await
            .map(|(s, r, f)| (Transport::Plain(s), r, f, addr));
    };
    // A bad (reloaded) file fails this attempt, not the session: it may be fixed by the next.
    let config = tls.client_config().map_err(|e| format!("{addr}: {e}"))?;
    let name = tls.name_for(&host.host).map_err(|e| format!("{addr}: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("{addr}: TLS handshake with {}: {e}", host.host))?;
    let (stream, response, frames) = session_handshake(stream, addr, request, limits, cfg).await?;
    let (tcp, conn) = stream.into_inner();
    Ok((Transport::Tls(Box::new(super::transport::TlsTransport::new(tcp, conn))), response, frames, addr))
}

#[cfg(not(feature = "tls"))]
async fn over_stream(
    tcp: TcpStream,
    _host: &HostPort,
    addr: SocketAddr,
    request: &ConnectRequest,
    limits: (usize, usize),
    cfg: &SessionConfig,
) -> Result<Handshaken, HandshakeError> {
    session_handshake(tcp, addr, request, limits, cfg).await.map(|(s, r, f)| (Transport::Plain(s), r, f, addr))
}

/// ConnectRequest → ConnectResponse, then the SASL exchange when configured and the session is
/// live (an expired session's connection is about to close anyway).
async fn session_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    request: &ConnectRequest,
    limits: (usize, usize),
    cfg: &SessionConfig,
) -> Result<(S, ConnectResponse, FrameReader), HandshakeError> {
    let (response, frames) = finish_handshake(&mut stream, addr, request, limits).await?;
    #[cfg(feature = "sasl")]
    let frames = {
        let mut frames = frames;
        if let (Some(login), false) = (&cfg.sasl, response.is_expired()) {
            let server = addr.to_string();
            super::sasl::authenticate(&mut stream, &mut frames, login, &server, cfg.max_write_packet).await.map_err(
                |failure| match failure {
                    super::sasl::SaslFailure::Connection(reason) => HandshakeError::Failed(reason),
                    super::sasl::SaslFailure::Refused(reason) => HandshakeError::AuthFailed(reason),
                },
            )?;
        }
        frames
    };
    #[cfg(not(feature = "sasl"))]
    let _ = cfg;
    Ok((stream, response, frames))
}

async fn finish_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    addr: SocketAddr,
    request: &ConnectRequest,
    (max_write, max_read): (usize, usize),
) -> Result<(ConnectResponse, FrameReader), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = BytesMut::with_capacity(64);
    encode_bare(&mut out, request, max_write).map_err(|e| e.to_string())?;
    stream.write_all(&out).await.map_err(|e| format!("{addr}: {e}"))?;
    stream.flush().await.map_err(|e| format!("{addr}: {e}"))?;
    let mut frames = FrameReader::new(max_read);
    loop {
        match frames.next_frame().map_err(|e| format!("{addr}: {e}"))? {
            Some(Incoming::Frame(frame)) => {
                let response = proto::decode_exact::<ConnectResponse>(frame, "ConnectResponse")
                    .map_err(|e| format!("{addr}: malformed handshake: {e}"))?;
                return Ok((response, frames));
            }
            Some(Incoming::TooLarge { length, .. }) => {
                return Err(format!("{addr}: a handshake reply of {length} bytes is not ZooKeeper's"));
            }
            None => {}
        }
        // A server that refuses (it is behind our zxid, or read-only) just closes.
        if stream.read_buf(frames.buffer()).await.map_err(|e| format!("{addr}: {e}"))? == 0 {
            return Err(format!("{addr} closed the connection during the handshake"));
        }
    }
}

/// The output of `future` once it is there; never, for `None`.
async fn poll_some<F: std::future::Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// The first of `hosts` that answers the `isro` four-letter word with `rw`, probing them in
/// rounds that back off from 100 ms to a minute (the Java client's schedule).
async fn find_read_write(hosts: Vec<HostPort>, resolver: Option<super::config::Resolver>) -> HostPort {
    let mut pause = Duration::from_millis(100);
    loop {
        tokio::time::sleep(pause).await;
        for host in &hosts {
            if is_read_write(host, resolver.as_ref()).await {
                return host.clone();
            }
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// Whether `host` says it is a read-write server (`isro` → `rw`).
async fn is_read_write(host: &HostPort, resolver: Option<&super::config::Resolver>) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
    let probe = async {
        let addrs: Vec<SocketAddr> = match resolver {
            Some(resolve) => resolve(&host.host, host.port).ok()?,
            None => tokio::net::lookup_host((host.host.as_str(), host.port)).await.ok()?.collect(),
        };
        let addr = addrs.first()?;
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(b"isro").await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"rw"))
    };
    timeout(PROBE_TIMEOUT, probe).await.ok().flatten().unwrap_or(false)
}
