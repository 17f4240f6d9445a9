//! The clients zk-bench compares. Each is run by a worker process of its own (so CPU time and
//! RSS are the client's alone): this binary for the Rust clients, a javac-compiled harness for
//! Java, a script in a venv for kazoo.
//!
//! Adding a client (a `zk!` block style, say) means one more variant here, its entry in
//! [`ClientKind::ALL`] and `name`, and one arm in [`crate::drivers::run`] that drives it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKind {
    /// `zk_dsl_proto` over a bare socket: the ceiling one session can reach.
    Raw,
    /// `Raw`'s frames under the N-tasks pattern: one task per connection, N tasks each awaiting
    /// a `oneshot`. The floor `ZkDslTasks` is measured against.
    RawTasks,
    /// `Raw`'s frames with N callback chains run on one callback thread: `ZkDslCallbacks`' floor.
    RawCallbacks,
    /// `Raw`'s frames with N threads each blocking on a `oneshot`: `ZkDslBlocking`'s floor.
    RawBlocking,
    /// zk-dsl, a window of N `.send()` handles in a `FuturesUnordered` per session.
    ZkDsl,
    /// zk-dsl, N tasks per session, each awaiting one call at a time.
    ZkDslTasks,
    /// zk-dsl, a send-window of N `.send()` handles in a `VecDeque`, awaiting the oldest.
    ZkDslDeque,
    /// zk-dsl, `.callback(f)`: N chains per session, each callback issuing the next call.
    ZkDslCallbacks,
    /// zk-dsl through the `zk!` macro: the same window as `ZkDsl`, each call a `zk!` command.
    ZkDslMacro,
    /// zk-dsl's blocking facade (`zk_dsl::blocking`): N threads, each `.wait()`-ing.
    ZkDslBlocking,
    /// zk-dsl's blocking facade, one thread per session: N `.send()` handles in a `VecDeque`,
    /// the oldest `.wait()`-ed.
    ZkDslBlockingWindow,
    /// `Raw` over TLS (tokio-rustls, the same rustls as zk-dsl's): the TLS ceiling.
    RawTls,
    /// `ZkDsl` over TLS (`Connect::tls`), on the server's `secureClientPort`.
    ZkDslTls,
    /// `Java` over TLS (`zookeeper.client.secure`, the Netty client socket, a PEM trust store).
    JavaTls,
    /// kezhuw's `zookeeper-client` crate on tokio (the best Rust peer), window of N futures.
    ZookeeperClient,
    /// Debian's libzookeeper-java async API, Semaphore(N).
    Java,
    /// kazoo (PyPI) `*_async` API, Semaphore(N); its `Lock` recipe in the lock cell.
    Kazoo,
    /// Apache Curator 5.4 (Debian's jars): `InterProcessMutex` and `LeaderLatch`, the recipe
    /// cells only (its plain requests are the Java client's).
    Curator,
}

impl ClientKind {
    /// Every client, in the order runs alternate.
    pub const ALL: [ClientKind; 18] = [
        ClientKind::Raw,
        ClientKind::RawTasks,
        ClientKind::RawCallbacks,
        ClientKind::RawBlocking,
        ClientKind::ZkDsl,
        ClientKind::ZkDslTasks,
        ClientKind::ZkDslDeque,
        ClientKind::ZkDslCallbacks,
        ClientKind::ZkDslMacro,
        ClientKind::ZkDslBlocking,
        ClientKind::ZkDslBlockingWindow,
        ClientKind::RawTls,
        ClientKind::ZkDslTls,
        ClientKind::JavaTls,
        ClientKind::ZookeeperClient,
        ClientKind::Java,
        ClientKind::Kazoo,
        ClientKind::Curator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw",
            ClientKind::RawTasks => "raw-tasks",
            ClientKind::RawCallbacks => "raw-callbacks",
            ClientKind::RawBlocking => "raw-blocking",
            ClientKind::ZkDsl => "zk-dsl",
            ClientKind::ZkDslTasks => "zk-dsl-tasks",
            ClientKind::ZkDslDeque => "zk-dsl-deque",
            ClientKind::ZkDslCallbacks => "zk-dsl-callbacks",
            ClientKind::RawTls => "raw-tls",
            ClientKind::ZkDslTls => "zk-dsl-tls",
            ClientKind::JavaTls => "java-tls",
            ClientKind::ZkDslMacro => "zk-dsl-macro",
            ClientKind::ZkDslBlocking => "zk-dsl-blocking",
            ClientKind::ZkDslBlockingWindow => "zk-dsl-blocking-window",
            ClientKind::ZookeeperClient => "zookeeper-client",
            ClientKind::Java => "java",
            ClientKind::Kazoo => "kazoo",
            ClientKind::Curator => "curator",
        }
    }

    pub fn parse(s: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Every client but the TLS ones and the pattern floors: what runs when `--clients` is not
    /// given (the TLS clients change the server: see [`ClientKind::is_tls`]; the floors are for
    /// the pattern tables).
    pub fn default_set() -> Vec<ClientKind> {
        ClientKind::ALL.into_iter().filter(|k| !k.is_tls() && !k.is_floor()).collect()
    }

    /// Raw's frames under one of zk-dsl's calling patterns.
    pub fn is_floor(self) -> bool {
        matches!(self, ClientKind::RawTasks | ClientKind::RawCallbacks | ClientKind::RawBlocking)
    }

    /// Run by this binary (`zk-bench worker <name>`).
    pub fn is_rust(self) -> bool {
        !matches!(self, ClientKind::Java | ClientKind::JavaTls | ClientKind::Kazoo | ClientKind::Curator)
    }

    /// Connects to the server's `secureClientPort`. When one of these is selected the bench server
    /// gets a TLS port, which makes it run Netty's connection factory on both ports.
    pub fn is_tls(self) -> bool {
        matches!(self, ClientKind::RawTls | ClientKind::ZkDslTls | ClientKind::JavaTls)
    }

    /// The same client over plain TCP, for a TLS client.
    pub fn plain(self) -> Option<ClientKind> {
        match self {
            ClientKind::RawTls => Some(ClientKind::Raw),
            ClientKind::ZkDslTls => Some(ClientKind::ZkDsl),
            ClientKind::JavaTls => Some(ClientKind::Java),
            _ => None,
        }
    }

    /// Another project's client over plain TCP (the targets compare zk-dsl with the best of these).
    pub fn is_peer(self) -> bool {
        matches!(self, ClientKind::ZookeeperClient | ClientKind::Java | ClientKind::Kazoo | ClientKind::Curator)
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ClientKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ClientKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClientKind, D::Error> {
        let name = String::deserialize(d)?;
        ClientKind::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown client {name:?}")))
    }
}
