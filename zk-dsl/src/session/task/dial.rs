//! Finding a server: host rotation, attempts with their timeouts, backoff between failed rounds,
//! the handshake (TLS, SASL), client-side expiry, priming a new connection (auth, SetWatches,
//! what queued meanwhile), new server lists, and looking for a read-write server while
//! read-only.

use super::*;

impl SessionTask {
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
    pub(super) fn expiry_deadline(&self) -> Option<Instant> {
        (self.ever_connected && !self.negotiated.is_zero())
            .then(|| self.last_sent.max(self.last_heard) + self.negotiated * 2)
    }

    /// Handles a command that arrives while no connection is up. Returns the terminal state if
    /// the client asked to close (or every handle was dropped).
    pub(super) fn on_command_while_disconnected(&mut self, cmd: Option<Command>) -> Option<SessionState> {
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
    pub(super) fn use_hosts(&mut self, hosts: Vec<HostPort>, mut first: Vec<HostPort>) {
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
    pub(super) fn expired_client_side(&self) -> bool {
        self.expiry_deadline().is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// A whole round of hosts failed after the session had been connected: what waits for a
    /// connection fails with ConnectionLoss now instead of waiting (through a quorum loss, say)
    /// until the session expires, as the Java client fails its queue on a failed attempt. None of
    /// it was sent. An identity being added is kept for the next connection (like every other
    /// identity), so its ConnectionLoss means "not confirmed yet", as for any request.
    pub(super) fn fail_queued(&mut self) {
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
    pub(super) async fn connect(&mut self) -> Result<Conn, SessionState> {
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
    pub(super) async fn round_failed(&mut self) -> Result<(), SessionState> {
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

    pub(super) fn established(
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
            crate::session::metrics::reconnected();
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

    /// Auth packets, then SetWatches, then the requests queued while disconnected: the order
    /// the Java client primes a connection in, so no user request runs before auth is back.
    pub(super) fn prime(&mut self, conn: &mut Conn) -> Result<(), Ended> {
        for (scheme, auth) in &self.auth {
            let packet = AuthPacket { kind: 0, scheme: scheme.into(), auth: auth.into() };
            encode_request(&mut conn.wbuf, xid::AUTH, OpCode::Auth, Some(&packet), self.cfg.max_write_packet)
                .map_err(|e| Ended::Lost(format!("auth packet: {e}")))?;
            conn.inflight.replayed_auth();
        }
        let chroot = self.cfg.chroot.clone();
        let to_server = |p: &str| chroot.watch_to_server(p).into_owned();
        // A SetWatches2 frame with one path: header 8, zxid 8, five vector lengths, the path's
        // length. A watch on a longer path (one the server accepted a request for, up to a few
        // dozen bytes longer) cannot be restored: it is dropped and its watcher told with the
        // `*WatchRemoved` event, instead of failing (and so dropping) every new connection.
        let max_path = self.cfg.max_write_packet.saturating_sub(8 + 8 + 5 * 4 + 4);
        let before = self.watch_count();
        let unrestorable = self.watches.take_unrestorable(max_path, to_server);
        crate::session::metrics::watches_changed(before, self.watch_count());
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
}

/// Why a connection attempt failed.
pub(super) enum HandshakeError {
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

pub(super) type Handshaken = (Transport, ConnectResponse, FrameReader, SocketAddr);

/// One connection attempt: resolve, connect, (TLS), send ConnectRequest, read ConnectResponse,
/// (SASL). `limits` are the write and read packet limits.
pub(super) async fn handshake(
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
            if let Some(open) = &cfg.connector {
                match open(addr).await {
                    Ok(stream) => return over_stream(stream, &host, addr, &request, limits, &cfg).await,
                    Err(e) => last_error = format!("connect to {addr}: {e}"),
                }
                continue;
            }
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

/// The session handshake (and SASL) over a fresh connection, in TLS when configured; the stream
/// then becomes the session's transport its own way (see [`IntoTransport`]).
async fn over_stream<S: IntoTransport>(
    stream: S,
    host: &HostPort,
    addr: SocketAddr,
    request: &ConnectRequest,
    limits: (usize, usize),
    cfg: &SessionConfig,
) -> Result<Handshaken, HandshakeError> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &cfg.tls {
        let stream = tls_handshake(tls, host, addr, stream).await?;
        let (stream, response, frames) = session_handshake(stream, addr, request, limits, cfg).await?;
        return Ok((S::over_tls(stream), response, frames, addr));
    }
    let _ = host;
    let (stream, response, frames) = session_handshake(stream, addr, request, limits, cfg).await?;
    Ok((stream.plain(), response, frames, addr))
}

/// The TLS handshake over `stream`, checking the server's certificate against `host`'s name.
#[cfg(feature = "tls")]
async fn tls_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    tls: &crate::tls::TlsConfig,
    host: &HostPort,
    addr: SocketAddr,
    stream: S,
) -> Result<tokio_rustls::client::TlsStream<S>, HandshakeError> {
    // A bad (reloaded) file fails this attempt, not the session: it may be fixed by the next.
    let config = tls.client_config().map_err(|e| format!("{addr}: {e}"))?;
    let name = tls.name_for(&host.host).map_err(|e| format!("{addr}: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| format!("{addr}: TLS handshake with {}: {e}", host.host))?;
    Ok(stream)
}

/// ConnectRequest → ConnectResponse, then the SASL exchange when configured and the session is
/// live (an expired session's connection is about to close anyway).
pub(super) async fn session_handshake<S: AsyncRead + AsyncWrite + Unpin>(
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
            crate::session::sasl::authenticate(&mut stream, &mut frames, login, &server, cfg.max_write_packet)
                .await
                .map_err(|failure| match failure {
                    crate::session::sasl::SaslFailure::Connection(reason) => HandshakeError::Failed(reason),
                    crate::session::sasl::SaslFailure::Refused(reason) => HandshakeError::AuthFailed(reason),
                })?;
        }
        frames
    };
    #[cfg(not(feature = "sasl"))]
    let _ = cfg;
    Ok((stream, response, frames))
}

pub(super) async fn finish_handshake<S: AsyncRead + AsyncWrite + Unpin>(
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

/// The first of `hosts` that answers the `isro` four-letter word with `rw`, probing them in
/// rounds that back off from 100 ms to a minute (the Java client's schedule).
pub(super) async fn find_read_write(hosts: Vec<HostPort>, cfg: Arc<SessionConfig>) -> HostPort {
    let mut pause = Duration::from_millis(100);
    loop {
        tokio::time::sleep(pause).await;
        for host in &hosts {
            if is_read_write(host, &cfg).await {
                return host.clone();
            }
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// Whether `host` says it is a read-write server (`isro` → `rw`).
pub(super) async fn is_read_write(host: &HostPort, cfg: &SessionConfig) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
    let probe = async {
        let addrs: Vec<SocketAddr> = match &cfg.resolver {
            Some(resolve) => resolve(&host.host, host.port).ok()?,
            None => tokio::net::lookup_host((host.host.as_str(), host.port)).await.ok()?.collect(),
        };
        let addr = *addrs.first()?;
        let mut stream: Box<dyn ServerStream> = match &cfg.connector {
            Some(open) => open(addr).await.ok()?,
            None => Box::new(TcpStream::connect(addr).await.ok()?),
        };
        stream.write_all(b"isro").await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"rw"))
    };
    timeout(PROBE_TIMEOUT, probe).await.ok().flatten().unwrap_or(false)
}
