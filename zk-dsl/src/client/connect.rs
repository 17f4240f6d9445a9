//! Connecting: [`Connect`] collects the session options and, when awaited, starts the
//! session task and waits for the first connection.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{terminal_error, Client, Inner};
use crate::error::Error;
use crate::proto::{OpCode, DEFAULT_MAX_PACKET};
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
    resume: Option<(i64, Vec<u8>)>,
    shuffle_hosts: bool,
}

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
            resume: None,
            shuffle_hosts: true,
        }
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

    /// The packet limit both ways; must match the servers' `jute.maxbuffer` (default 0xfffff).
    pub fn max_packet(mut self, bytes: usize) -> Self {
        self.max_packet = bytes;
        self
    }

    /// Resume an existing session (from another client's [`status`](Client::status)) instead
    /// of creating one.
    pub fn resume(mut self, session_id: i64, password: Vec<u8>) -> Self {
        self.resume = Some((session_id, password));
        self
    }

    /// Try hosts in the given order instead of a random one (useful in tests).
    pub fn ordered_hosts(mut self) -> Self {
        self.shuffle_hosts = false;
        self
    }

    /// Starts the session without waiting for it to connect; requests queue until it does.
    /// Needs to be called within a tokio runtime.
    pub fn start(self) -> Result<Client, Error> {
        let parsed = ConnectString::parse(&self.connect_string)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::InvalidArgument {
            op: OpCode::CreateSession,
            path: self.connect_string.clone(),
            reason: "zk-dsl needs a tokio runtime (or use zk_dsl::blocking)".into(),
        })?;
        let config = Arc::new(SessionConfig {
            hosts: parsed.hosts,
            chroot: Chroot::new(parsed.chroot),
            session_timeout: self.session_timeout,
            connect_timeout: self.attempt_timeout,
            max_packet: self.max_packet,
            default_watcher: self.watcher.clone(),
            resume: self.resume,
            set_watches_batch: 128 * 1024,
            shuffle_hosts: self.shuffle_hosts,
        });
        let dispatcher = Dispatcher::new("zk-dsl-dispatch", self.watcher);
        // On a current-thread runtime the session task only runs while this thread drives the
        // runtime, so a blocking wait on this thread could never end (see `blocking::wait`).
        let driver_thread = (runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
            .then(|| std::thread::current().id());
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(StateHub::new());
        let task = SessionTask::new(config.clone(), rx, hub.clone(), dispatcher.clone());
        runtime.spawn(task.run());
        Ok(Client {
            inner: Arc::new(Inner {
                tx,
                hub,
                dispatcher,
                chroot: config.chroot.clone(),
                max_packet: config.max_packet,
                driver_thread,
                runtime,
            }),
        })
    }

    /// Connects and waits until the session is established. If no server answers within the
    /// connect timeout, the attempt is abandoned with [`Error::Timeout`].
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
                    return Err(terminal_error(state, OpCode::CreateSession, &connect_string));
                }
                debug_assert_ne!(state, SessionState::Connected);
                Err(Error::Timeout { op: OpCode::CreateSession, path: connect_string })
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
