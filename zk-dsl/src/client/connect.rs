//! Connecting: [`Connect`] collects the session options and, when awaited, starts the
//! session task and waits for the first connection.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Client, Inner};
use crate::error::Error;
use crate::proto::frame::{MIN_PACKET, REPLY_OVERHEAD};
use crate::proto::{OpCode, DEFAULT_MAX_PACKET, DEFAULT_MAX_READ_PACKET};
use crate::session::chroot::Chroot;
use crate::session::config::SessionConfig;
use crate::session::connect_string::ConnectString;
use crate::session::state::{SessionState, StateHub};
use crate::session::task::SessionTask;
use crate::watch::dispatcher::Dispatcher;
use crate::watch::WatchedEvent;

/// The default session timeout. ZooKeeper clamps it into its own bounds (by default 2 to 20
/// ticks: 4–40 s with the usual 2 s tick).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for a new session; await it (or call [`connect`](Connect::connect)) to connect.
#[must_use = "nothing connects until the builder is awaited"]
pub struct Connect {
    connect_string: String,
    session_timeout: Duration,
    wait: Option<Duration>,
    attempt_timeout: Option<Duration>,
    watcher: Option<crate::watch::registry::WatchFn>,
    max_packet: usize,
    max_read_packet: Option<usize>,
    resume: Option<(i64, Vec<u8>)>,
    shuffle_hosts: bool,
    resolver: Option<crate::session::config::Resolver>,
    connector: Option<crate::session::connector::Connector>,
    can_be_read_only: bool,
    follow_config: bool,
    #[cfg(feature = "sasl")]
    sasl: Option<crate::session::sasl::SaslLogin>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
    request_timeout: Option<Duration>,
    max_pending: Option<usize>,
}

/// The longest timeout accepted: ZooKeeper carries timeouts as 32-bit milliseconds (about 24.8
/// days), so anything longer is a unit mistake, not a wish.
const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("connect_string", &self.connect_string)
            .field("session_timeout", &self.session_timeout)
            .finish_non_exhaustive()
    }
}

impl Connect {
    pub(crate) fn new(connect_string: String) -> Connect {
        Connect {
            connect_string,
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            wait: None,
            attempt_timeout: None,
            watcher: None,
            max_packet: DEFAULT_MAX_PACKET,
            max_read_packet: None,
            resume: None,
            shuffle_hosts: true,
            resolver: None,
            connector: None,
            can_be_read_only: false,
            follow_config: false,
            #[cfg(feature = "sasl")]
            sasl: None,
            #[cfg(feature = "tls")]
            tls: None,
            request_timeout: None,
            max_pending: None,
        }
    }

    /// Bounds the requests of this client that are queued or in flight at `requests`: a call
    /// beyond it is dispatched once an earlier one completes, in the order the calls were made,
    /// so a producer faster than the network waits (`.await` on its calls or their `.send()`
    /// handles) instead of growing memory. A `.send()` handle beyond the bound is dispatched
    /// when it is polled and a request has completed; one dropped before that withdraws its call
    /// (nothing is sent), as a request still queued at its deadline is. Reply callbacks are
    /// not held back (nobody awaits them). Unbounded by default.
    pub fn max_pending(mut self, requests: usize) -> Self {
        self.max_pending = Some(requests);
        self
    }

    /// The deadline of every call on this client that does not give its own
    /// ([`Call::timeout`](crate::Call::timeout)): past it the call fails with
    /// [`Error::Timeout`]. None by default (as the Java client's `zookeeper.request.timeout`
    /// of 0): a call waits for its reply, or for the connection loss that fails it.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Requested session timeout: how long the ensemble keeps the session (and its ephemeral
    /// nodes) when it cannot hear from this client.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long to wait for the first connection before giving up (default: the session
    /// timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.wait = Some(timeout);
        self
    }

    /// Both timeouts at once, like the seed's `:timeout-msec`.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.session_timeout(timeout).connect_timeout(timeout)
    }

    /// Time allowed for one TCP connect + handshake with one server before trying the next
    /// (default: session timeout / number of hosts, at least 1 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The default watcher (the seed's `:watcher`): hears every session event
    /// (`SyncConnected`, `Disconnected`, `Expired`, `Closed`) and the events of `.watch()`
    /// watches. Runs on the dispatcher thread.
    pub fn watcher(mut self, f: impl Fn(WatchedEvent) + Send + Sync + 'static) -> Self {
        self.watcher = Some(Arc::new(f));
        self
    }

    /// The servers' `jute.maxbuffer` (default 0xfffff, ZooKeeper's default): the largest request
    /// this client sends. A request over it is refused before sending with
    /// [`Error::InvalidArgument`] (the server would drop the connection instead). Unless
    /// [`max_read_packet`](Self::max_read_packet) says otherwise, the read limit follows it: at
    /// least this plus a reply's header-and-Stat overhead, so every node this client can write,
    /// it can read back. At least 1 KiB (a smaller limit is a unit mistake: a handshake and a
    /// short path barely fit), at most `i32::MAX` minus that overhead.
    pub fn max_packet(mut self, bytes: usize) -> Self {
        self.max_packet = bytes;
        self
    }

    /// The largest reply this client accepts (default 16 MiB, or more when
    /// [`max_packet`](Self::max_packet) needs it). Separate from the write limit because the
    /// server limits only what it *receives*: one small `getChildren` can answer with megabytes
    /// (200,000 children take about 2.2 MB). A reply over the limit fails only its own request,
    /// with [`Error::ReplyTooLarge`] naming the op, path and size; its bytes are discarded as they
    /// arrive (never buffered), and the connection and every other request carry on. Must be at
    /// least `max_packet` plus the reply overhead, so anything written can be read back.
    pub fn max_read_packet(mut self, bytes: usize) -> Self {
        self.max_read_packet = Some(bytes);
        self
    }

    /// Resume an existing session (from another client's [`status`](Client::status)) instead
    /// of creating one.
    pub fn resume(mut self, session_id: i64, password: Vec<u8>) -> Self {
        self.resume = Some((session_id, password));
        self
    }

    /// Authenticates with SASL DIGEST-MD5 as `username` on every connection (feature `sasl`),
    /// before any request: the session's identity is then `sasl:<username>`, which ACLs with
    /// scheme `sasl` name. Refused credentials end the session with
    /// [`Error::AuthFailed`], as in the Java client. The server needs
    /// `SASLAuthenticationProvider` and a JAAS `Server` section with `DigestLoginModule`
    /// ([`ZkServerBuilder::sasl_digest_user`](crate::testing::ZkServerBuilder::sasl_digest_user)
    /// sets one up for tests). DIGEST-MD5 proves the password without sending it, but does not
    /// protect the connection: use TLS for that.
    #[cfg(feature = "sasl")]
    pub fn sasl_digest(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.sasl = Some(crate::session::sasl::SaslLogin { username: username.into(), password: password.into() });
        self
    }

    /// Speaks TLS on every connection (feature `tls`; see [`crate::tls`]): give the servers'
    /// `secureClientPort`s in the connection string. The configuration is checked (PEM read,
    /// trust roots present) when the client starts, so a mistake fails `connect` at once.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Resolves the connection string's host names with `resolve` instead of the system's
    /// resolver (a service registry, a test's fake DNS). Like the system resolver it is asked
    /// before every connection attempt, so a name whose addresses change is followed at the
    /// next reconnection. It runs on the session task: keep it quick and non-blocking.
    pub fn resolver(
        mut self,
        resolve: impl Fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(resolve));
        self
    }

    /// Opens every connection with `open` instead of the client's own TCP connect: a proxy, a
    /// tunnel, a socket with options of your choosing, a simulated network in a test. `open` gets
    /// each address the connection string's names resolve to (see
    /// [`resolver`](Connect::resolver)), in the order the client tries them, and returns any
    /// [`ServerStream`](crate::session::ServerStream) (`AsyncRead + AsyncWrite`). Everything
    /// above the byte stream works as over TCP: [`tls`](Connect::tls) (the handshake runs over
    /// the returned stream), SASL, reconnects, read-only probes. Each attempt, `open` included,
    /// is bounded by the attempt timeout.
    ///
    /// ```no_run
    /// # async fn run() -> zk_dsl::Result<()> {
    /// // Connect from a chosen local address.
    /// let client = zk_dsl::Client::connect("zk1:2181,zk2:2181")
    ///     .connector(|addr: std::net::SocketAddr| async move {
    ///         let socket = tokio::net::TcpSocket::new_v4()?;
    ///         socket.bind("10.0.0.5:0".parse().expect("an address"))?;
    ///         socket.connect(addr).await
    ///     })
    ///     .await?;
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connector<F, Fut, S>(mut self, open: F) -> Self
    where
        F: Fn(std::net::SocketAddr) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: crate::session::ServerStream,
    {
        self.connector = Some(crate::session::connector::connector(open));
        self
    }

    /// Accepts servers in read-only mode (ZooKeeper's `readonlymode.enabled`: a server cut off
    /// from its quorum keeps serving reads). The session is then
    /// [`ConnectedReadOnly`](crate::SessionState::ConnectedReadOnly): reads work, writes fail
    /// with [`Error::NotReadOnly`], and in the background the client probes the other servers
    /// (`isro`, backing off from 100 ms to a minute) and moves to a read-write one as soon as
    /// there is one. Watches set meanwhile are carried over. As in the Java client, a session
    /// first made by a read-only server is replaced by a real one at that move. Read-only
    /// servers do not resume sessions the quorum made (ZooKeeper refuses "global session
    /// reconnection in RO mode"): such a session waits for the quorum, so read-only mode is
    /// for clients that start, or start a new session, during a partition. The servers need
    /// `readonlymode.enabled=true` and `localSessionsEnabled=true` (a read-only server makes
    /// only local sessions), and must allow the `isro` four-letter word.
    pub fn can_be_read_only(mut self) -> Self {
        self.can_be_read_only = true;
        self
    }

    /// Follows the ensemble's dynamic reconfiguration (ZooKeeper 3.5+, `reconfigEnabled=true`):
    /// the client reads `/zookeeper/config` with a watch (never through the chroot), and each
    /// time the membership changes gives itself the new members' client addresses (participants
    /// and observers) as [`Client::update_servers`] would, so that clients spread over a grown
    /// ensemble and leave a removed member, moving no more than the change requires
    /// (ZOOKEEPER-1355). The watch is restored on every reconnection. Members whose line names
    /// no client address are left out; a configuration that names none (a static ensemble's),
    /// or that cannot be parsed, is logged and ignored (the current list stays). Following ends with the session; it holds no handle of its own, so it never
    /// keeps a session open. Off by default.
    pub fn follow_config(mut self) -> Self {
        self.follow_config = true;
        self
    }

    /// Try hosts in the given order instead of a random one (useful in tests).
    pub fn ordered_hosts(mut self) -> Self {
        self.shuffle_hosts = false;
        self
    }

    /// Refuses option values that cannot be meant, so a mistake fails here, at once, with
    /// [`Error::InvalidArgument`], instead of as a `Timeout` (or a hang) later. Returns the read
    /// limit to use.
    fn check_options(&self) -> Result<usize, Error> {
        let refuse =
            |reason: String| Error::invalid_argument(Some(OpCode::CreateSession), Some(&self.connect_string), reason);
        let timeouts = [
            ("session_timeout", Some(self.session_timeout)),
            ("connect_timeout", self.wait),
            ("attempt_timeout", self.attempt_timeout),
            ("request_timeout", self.request_timeout),
        ];
        for (name, value) in timeouts {
            match value {
                Some(d) if d.is_zero() => return Err(refuse(format!("{name} must be positive, got 0"))),
                Some(d) if d > MAX_TIMEOUT => {
                    return Err(refuse(format!("{name} of {d:?} exceeds ZooKeeper's maximum of {MAX_TIMEOUT:?}")))
                }
                _ => {}
            }
        }
        if let Some(n) = self.max_pending {
            if n == 0 || n > tokio::sync::Semaphore::MAX_PERMITS {
                return Err(refuse(format!(
                    "max_pending must be between 1 and {}, got {n}",
                    tokio::sync::Semaphore::MAX_PERMITS
                )));
            }
        }
        let max_write = i32::MAX as usize - REPLY_OVERHEAD;
        if !(MIN_PACKET..=max_write).contains(&self.max_packet) {
            return Err(refuse(format!(
                "max_packet must be between {MIN_PACKET} and {max_write} bytes, got {}",
                self.max_packet
            )));
        }
        let floor = self.max_packet + REPLY_OVERHEAD;
        match self.max_read_packet {
            None => Ok(DEFAULT_MAX_READ_PACKET.max(floor)),
            Some(read) if (floor..=i32::MAX as usize).contains(&read) => Ok(read),
            Some(read) => Err(refuse(format!(
                "max_read_packet must be between {floor} (max_packet {} plus {REPLY_OVERHEAD} bytes of reply \
                 header and Stat, so what is written can be read back) and {} bytes, got {read}",
                self.max_packet,
                i32::MAX
            ))),
        }
    }

    /// Starts the session without waiting for it to connect; requests queue until it does.
    /// Needs to be called within a tokio runtime.
    pub fn start(self) -> Result<Client, Error> {
        let parsed = ConnectString::parse(&self.connect_string)?;
        let max_read_packet = self.check_options()?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            // Read the PEM files now, so a wrong path or a bad key fails here, not in every attempt.
            tls.client_config().map_err(|e| {
                Error::invalid_argument(Some(OpCode::CreateSession), Some(&self.connect_string), e.to_string())
            })?;
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::invalid_argument(
                Some(OpCode::CreateSession),
                Some(&self.connect_string),
                "zk-dsl needs a tokio runtime (or use zk_dsl::blocking)",
            )
        })?;
        let config = Arc::new(SessionConfig {
            hosts: parsed.hosts,
            chroot: Chroot::new(parsed.chroot),
            session_timeout: self.session_timeout,
            connect_timeout: self.attempt_timeout,
            max_write_packet: self.max_packet,
            max_read_packet,
            default_watcher: self.watcher.clone(),
            resume: self.resume,
            set_watches_batch: 128 * 1024,
            shuffle_hosts: self.shuffle_hosts,
            resolver: self.resolver,
            connector: self.connector,
            can_be_read_only: self.can_be_read_only,
            #[cfg(feature = "sasl")]
            sasl: self.sasl,
            #[cfg(feature = "tls")]
            tls: self.tls,
        });
        let dispatcher = Dispatcher::new("zk-dsl-dispatch", self.watcher);
        // On a current-thread runtime the session task only runs while this thread drives the
        // runtime, so a blocking wait on this thread could never end (see `blocking::wait`).
        let driver_thread = (runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
            .then(|| std::thread::current().id());
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(StateHub::new());
        let task = SessionTask::new(config.clone(), rx, hub.clone(), dispatcher.clone());
        // One span per session, its id recorded once the first handshake gives it.
        let span = tracing::info_span!("zk_session", session_id = tracing::field::Empty);
        runtime.spawn(tracing::Instrument::instrument(task.run(), span));
        let client = Client {
            inner: Arc::new(Inner {
                tx,
                hub,
                dispatcher,
                chroot: config.chroot.clone(),
                max_write_packet: config.max_write_packet,
                request_timeout: self.request_timeout,
                permits: self.max_pending.map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
                driver_thread,
                runtime,
                followed_config: std::sync::Mutex::new(None),
            }),
        };
        if self.follow_config {
            crate::reconfig::follow::spawn(&client);
        }
        Ok(client)
    }

    /// Connects and waits until the session is established. If no server grants a session
    /// within the connect timeout, the attempt is abandoned with [`Error::NoServer`] saying how
    /// the last attempt failed, or [`Error::Timeout`] when none had finished.
    pub async fn connect(self) -> Result<Client, Error> {
        let wait = self.wait.unwrap_or(self.session_timeout);
        let connect_string = self.connect_string.clone();
        let client = self.start()?;
        match tokio::time::timeout(wait, client.wait_connected()).await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let state = client.state();
                let _ = client.close().await;
                if state.is_terminal() {
                    return Err(Error::session_over(state, Some(OpCode::CreateSession), Some(&connect_string)));
                }
                debug_assert_ne!(state, SessionState::Connected);
                match client.inner.hub.last_failure() {
                    Some(last_failure) => Err(Error::NoServer { connect_string, last_failure }),
                    None => Err(Error::Timeout { op: OpCode::CreateSession, path: connect_string }),
                }
            }
        }
    }
}

impl IntoFuture for Connect {
    type Output = Result<Client, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Client, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.connect())
    }
}
