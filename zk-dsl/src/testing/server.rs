//! [`ZkServer`]: one real standalone ZooKeeper on a private loopback port.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::certs::TestCa;
use super::config::ServerSettings;
use super::error::HarnessError;
use super::four_letter::session_ids_from_cons;
use super::install::Installation;
use super::jvm::{JvmSettings, STANDALONE_MAIN};
use super::mode::Mode;
use super::node::{Node, NodeSpec};
use super::ports::free_port;
use super::security::{ClientAuth, Security, ServerTls};
use super::timeouts::{scaled, BASE_TIMEOUT};

/// Fresh-port attempts when another process steals the port between picking and binding it.
const START_ATTEMPTS: usize = 3;

/// Options for a test server (also the per-member template of an [`Ensemble`](super::Ensemble)).
///
/// Defaults suit tests: tick time 500 ms (so the server grants session timeouts from 1 s to 10 s,
/// ZooKeeper's 2 and 20 ticks), no fsync, every four-letter word allowed, a 64–512 MiB heap and a
/// JVM tuned to start fast.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ZkServerBuilder {
    pub(crate) settings: ServerSettings,
    pub(crate) jvm: JvmSettings,
    pub(crate) start_timeout: Option<Duration>,
    port: Option<u16>,
    pub(crate) install: Option<Installation>,
    pub(crate) security: Security,
}

impl ZkServerBuilder {
    /// ZooKeeper's basic time unit (`tickTime`); session timeouts default to 2–20 ticks.
    pub fn tick_time(mut self, tick: Duration) -> Self {
        self.settings.tick_time = tick;
        self
    }

    /// The shortest session timeout the server grants (`minSessionTimeout`).
    pub fn min_session_timeout(mut self, timeout: Duration) -> Self {
        self.settings.min_session_timeout = Some(timeout);
        self
    }

    /// The longest session timeout the server grants (`maxSessionTimeout`).
    pub fn max_session_timeout(mut self, timeout: Duration) -> Self {
        self.settings.max_session_timeout = Some(timeout);
        self
    }

    /// Whether the transaction log is fsynced before replying (`forceSync`, default off for speed).
    pub fn force_sync(mut self, on: bool) -> Self {
        self.settings.force_sync = on;
        self
    }

    /// The allowed four-letter words (`4lw.commands.whitelist`, comma-separated), default `*`.
    /// `ruok`, `srvr` and `cons` are always added: the harness watches its servers with them.
    pub fn four_letter_whitelist(mut self, list: impl Into<String>) -> Self {
        self.settings.four_letter_whitelist = list.into();
        self
    }

    /// Transactions between snapshots (`snapCount`), default 10,000,000 (never, in a test).
    pub fn snap_count(mut self, count: u64) -> Self {
        self.settings.snap_count = count;
        self
    }

    /// Any other `zoo.cfg` property; written last, so it overrides the harness's own choices.
    /// Unknown keys become `zookeeper.<key>` system properties, as in ZooKeeper itself.
    pub fn cfg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.extra.push((key.into(), value.into()));
        self
    }

    /// Enables TTL nodes and other extended types (`-Dzookeeper.extendedTypesEnabled=true`).
    pub fn extended_types(self, on: bool) -> Self {
        self.system_property("zookeeper.extendedTypesEnabled", on.to_string())
    }

    /// A JVM system property, passed as `-Dkey=value`.
    pub fn system_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.jvm.system_properties.retain(|(k, _)| *k != key);
        self.jvm.system_properties.push((key, value.into()));
        self
    }

    /// A raw JVM argument, placed after the harness's own (so it wins where the JVM lets the last one win).
    pub fn jvm_arg(mut self, arg: impl Into<String>) -> Self {
        self.jvm.extra_args.push(arg.into());
        self
    }

    /// The JVM heap (`-Xms`, `-Xmx`) in MiB; default 64 and 512.
    pub fn heap_mib(mut self, min: u32, max: u32) -> Self {
        self.jvm.heap_min_mib = min;
        self.jvm.heap_max_mib = max;
        self
    }

    /// Serial GC and C1-only JIT (default on): the JVM starts in about half the time but runs slower.
    pub fn fast_startup(mut self, on: bool) -> Self {
        self.jvm.fast_startup = on;
        self
    }

    /// Settings for benchmarks: a fixed 1 GiB heap and the JVM's default GC and full JIT, as in
    /// `java -Xms1g -Xmx1g`. Warm the server up before measuring.
    pub fn benchmark(self) -> Self {
        self.heap_mib(1024, 1024).fast_startup(false)
    }

    /// How long `start` and `restart` wait for the server to serve; default [`BASE_TIMEOUT`], scaled.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = Some(timeout);
        self
    }

    /// A fixed client port instead of a free one (then a taken port is an error, not retried).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Lets `user` log in with SASL DIGEST-MD5 and `password` (the server's JAAS
    /// `DigestLoginModule`, and `SASLAuthenticationProvider`, so the session's identity is
    /// `sasl:<user>`). Call once per user.
    pub fn sasl_digest_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.security.digest_users.push((user.into(), password.into()));
        self
    }

    /// Also serves TLS on a `secureClientPort` (Netty), with a server certificate from `ca`
    /// for `localhost` and `127.0.0.1`. Clients may present certificates from `ca` and are then
    /// `x509:<subject>` (see [`tls_client_auth`](Self::tls_client_auth)). The plain client port
    /// stays open too (the harness watches the server through it).
    pub fn tls(mut self, ca: &TestCa) -> Self {
        self.security.tls = Some(ServerTls {
            ca: ca.clone(),
            names: vec!["localhost".into(), "127.0.0.1".into()],
            client_auth: ClientAuth::Want,
        });
        self
    }

    /// The names the TLS server certificate carries instead of `localhost` and `127.0.0.1`
    /// (to test host name verification). Needs [`tls`](Self::tls) first.
    pub fn tls_server_names(mut self, names: &[&str]) -> Self {
        if let Some(tls) = &mut self.security.tls {
            tls.names = names.iter().map(|n| n.to_string()).collect();
        }
        self
    }

    /// Whether TLS clients must present a certificate (default [`ClientAuth::Want`]).
    pub fn tls_client_auth(mut self, auth: ClientAuth) -> Self {
        if let Some(tls) = &mut self.security.tls {
            tls.client_auth = auth;
        }
        self
    }

    /// Uses this Java and class path instead of [`Installation::locate`].
    pub fn installation(mut self, install: Installation) -> Self {
        self.install = Some(install);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), HarnessError> {
        self.settings.validate()?;
        self.jvm.validate()?;
        self.security.validate()?;
        if self.port == Some(0) {
            return Err(HarnessError::InvalidConfig("port 0 cannot be a fixed client port".into()));
        }
        Ok(())
    }

    pub(crate) fn start_timeout_or_default(&self) -> Duration {
        self.start_timeout.unwrap_or_else(|| scaled(BASE_TIMEOUT))
    }

    pub(crate) fn installation_or_locate(&self) -> Result<Installation, HarnessError> {
        match &self.install {
            Some(install) => Ok(install.clone()),
            None => Installation::locate(),
        }
    }

    /// Starts the server and waits until it serves.
    pub fn start(self) -> Result<ZkServer, HarnessError> {
        self.validate()?;
        let install = self.installation_or_locate()?;
        let dir = tempfile::Builder::new()
            .prefix("zk-dsl-server-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating a temporary directory for ZooKeeper", e))?;
        let (settings, jvm) = self.security.apply(dir.path(), &self.settings, &self.jvm)?;
        let start_timeout = self.start_timeout_or_default();
        let attempts = if self.port.is_some() { 1 } else { START_ATTEMPTS };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = match self.port {
                Some(port) => port,
                None => free_port()?,
            };
            let node_dir = dir.path().to_path_buf();
            let secure_port = self.security.tls.as_ref().map(|_| free_port()).transpose()?;
            let config = with_secure_port(&settings, secure_port).render(&Node::data_dir_for(&node_dir), port, None)?;
            let node = Node::create(NodeSpec {
                label: format!("ZooKeeper at 127.0.0.1:{port}"),
                dir: node_dir,
                port,
                install: &install,
                jvm: &jvm,
                main_class: STANDALONE_MAIN,
                config,
                myid: None,
            })?;
            node.spawn()?;
            match node.wait_serving(Instant::now() + start_timeout) {
                Ok(_) => {
                    tracing::info!(address = %node.address(), dir = %dir.path().display(), "ZooKeeper test server ready");
                    return Ok(ZkServer { node, secure_port, start_timeout, _dir: dir });
                }
                Err(e) if e.is_port_in_use() && attempt < attempts => {
                    tracing::debug!(port, attempt, "port taken before ZooKeeper could bind it; retrying");
                    node.kill();
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A real standalone Apache ZooKeeper for tests, like Curator's `TestingServer`.
///
/// It listens on `127.0.0.1` on a free port, keeps its data in a temporary directory and logs to a
/// file there. Dropping it kills the JVM (and waits for it) and deletes the directory. All methods
/// take `&self`, so a server can be shared between threads or kept in a `static`.
///
/// The methods block (a JVM start takes about half a second to a few seconds); from async tests call
/// them directly if a blocked worker thread is acceptable, or via `tokio::task::spawn_blocking`.
#[derive(Debug)]
pub struct ZkServer {
    // Field order matters: the JVM must die before its directory is deleted.
    node: Node,
    secure_port: Option<u16>,
    start_timeout: Duration,
    _dir: tempfile::TempDir,
}

impl ZkServer {
    /// Starts a server with the default options.
    pub fn start() -> Result<ZkServer, HarnessError> {
        ZkServer::builder().start()
    }

    /// A builder for a server with non-default options.
    pub fn builder() -> ZkServerBuilder {
        ZkServerBuilder::default()
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.node.address().port()
    }

    /// The client address, `127.0.0.1:port`.
    pub fn address(&self) -> SocketAddr {
        self.node.address()
    }

    /// The connect string for clients, `"127.0.0.1:port"`.
    pub fn connect_string(&self) -> String {
        self.node.address().to_string()
    }

    /// The TLS port's address (with [`ZkServerBuilder::tls`]).
    pub fn secure_address(&self) -> Option<SocketAddr> {
        self.secure_port.map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The connect string of the TLS port, `"127.0.0.1:port"` (with [`ZkServerBuilder::tls`]).
    pub fn secure_connect_string(&self) -> Option<String> {
        self.secure_address().map(|a| a.to_string())
    }

    /// The data directory (snapshots and transaction logs).
    pub fn data_dir(&self) -> &Path {
        self.node.data_dir()
    }

    /// The server's own directory (`zoo.cfg`, `data/`, the log).
    pub fn dir(&self) -> &Path {
        self.node.dir()
    }

    /// The server's log file (the JVM's stdout and stderr, kept across restarts).
    pub fn log_path(&self) -> &Path {
        self.node.log_path()
    }

    /// The last `lines` lines of the log, for printing when a test fails.
    pub fn log_tail(&self, lines: usize) -> String {
        self.node.log_tail(lines)
    }

    /// Sends a four-letter word (`"ruok"`, `"srvr"`, `"wchc"`, `"mntr"`, ...) and returns the reply.
    pub fn four_letter(&self, cmd: &str) -> io::Result<String> {
        self.node.four_letter(cmd, scaled(BASE_TIMEOUT))
    }

    /// The server's role from `srvr` (`Mode::Standalone`), or `None` when it is down.
    pub fn mode(&self) -> Option<Mode> {
        self.node.mode()
    }

    /// Whether the JVM is alive (it may still be starting).
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// The JVM's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.node.pid()
    }

    /// Stops the server (SIGTERM, then SIGKILL after a grace period). Clients lose their connection;
    /// sessions survive in the data directory and can resume after [`restart`](Self::restart).
    pub fn stop(&self) {
        self.node.stop();
    }

    /// Kills the server at once with SIGKILL: a crash. Acknowledged writes survive (they are in the
    /// transaction log); with the default `forceSync=no` they are not fsynced, which only matters if
    /// the machine itself crashes.
    pub fn kill(&self) {
        self.node.kill();
    }

    /// Stops the server if it runs, then starts it again on the same port with the same data, and
    /// waits until it serves. Clients can resume their sessions if they reconnect within the timeout.
    pub fn restart(&self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + self.start_timeout;
        self.node.restart(deadline)?;
        self.node.wait_serving(deadline).map(|_| ())
    }

    /// The ids of the sessions connected to this server right now (from the `cons` four-letter word).
    pub fn connected_sessions(&self) -> io::Result<Vec<i64>> {
        self.four_letter("cons").map(|reply| session_ids_from_cons(&reply))
    }
}

/// `settings` with a `secureClientPort` on loopback when there is one.
pub(crate) fn with_secure_port(settings: &ServerSettings, secure_port: Option<u16>) -> ServerSettings {
    let mut settings = settings.clone();
    if let Some(port) = secure_port {
        settings.extra.push(("secureClientPort".into(), port.to_string()));
        settings.extra.push(("secureClientPortAddress".into(), "127.0.0.1".into()));
    }
    settings
}
