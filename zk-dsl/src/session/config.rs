//! Session settings, resolved from the client builder.

use std::time::Duration;

use super::chroot::Chroot;
use super::connect_string::HostPort;
use crate::watch::registry::WatchFn;

/// A host name resolver: the addresses of `host` (with `port`), asked before every connection
/// attempt, so a name whose addresses change is followed.
pub type Resolver = std::sync::Arc<dyn Fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>> + Send + Sync>;

/// Everything the session task needs to know up front.
#[derive(Clone)]
pub struct SessionConfig {
    pub hosts: Vec<HostPort>,
    pub chroot: Chroot,
    /// Requested session timeout; the server clamps it into its own bounds.
    pub session_timeout: Duration,
    /// Per-attempt TCP connect + handshake timeout; by default the session timeout divided by
    /// the number of hosts (the Java client's rule), at least one second.
    pub connect_timeout: Option<Duration>,
    /// The largest request sent (the servers' `jute.maxbuffer`).
    pub max_write_packet: usize,
    /// The largest reply accepted; a larger one fails only its own request.
    pub max_read_packet: usize,
    /// The default watcher (the seed's `:watcher` to `connect`).
    pub default_watcher: Option<WatchFn>,
    /// Resume this session instead of creating one.
    pub resume: Option<(i64, Vec<u8>)>,
    /// Upper bound of path text per SetWatches batch (the Java client uses 128 KiB).
    pub set_watches_batch: usize,
    /// Try hosts in a random order (as every ZooKeeper client does, to spread load).
    pub shuffle_hosts: bool,
    /// SASL DIGEST-MD5 credentials, authenticated on every connection.
    #[cfg(feature = "sasl")]
    pub sasl: Option<super::sasl::SaslLogin>,
    /// Accept read-only servers (partitioned from their quorum) and keep looking for a
    /// read-write one meanwhile.
    pub can_be_read_only: bool,
    /// Resolves host names instead of the system resolver (called on every attempt).
    pub resolver: Option<Resolver>,
    /// Opens connections instead of TCP (called with each resolved address).
    pub connector: Option<super::connector::Connector>,
    /// TLS for every connection.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsConfig>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("hosts", &self.hosts)
            .field("chroot", &self.chroot)
            .field("session_timeout", &self.session_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_write_packet", &self.max_write_packet)
            .field("max_read_packet", &self.max_read_packet)
            .field("default_watcher", &self.default_watcher.is_some())
            .field("resume", &self.resume.as_ref().map(|(id, _)| format!("{id:#x}")))
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    pub fn connect_timeout(&self, negotiated: Duration) -> Duration {
        self.connect_timeout.unwrap_or_else(|| {
            let base = if negotiated.is_zero() { self.session_timeout } else { negotiated };
            (base / self.hosts.len().max(1) as u32).max(Duration::from_secs(1))
        })
    }
}
