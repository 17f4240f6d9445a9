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
    /// zk-dsl, a window of N `.send()` handles in a `FuturesUnordered` per session.
    ZkDsl,
    /// zk-dsl, N tasks per session, each awaiting one call at a time.
    ZkDslTasks,
    /// zk-dsl through the `zk!` macro: the same window as `ZkDsl`, each call a `zk!` command.
    ZkDslMacro,
    /// zk-dsl's blocking facade (`zk_dsl::blocking`): N threads, each `.wait()`-ing.
    ZkDslBlocking,
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
    pub const ALL: [ClientKind; 9] = [
        ClientKind::Raw,
        ClientKind::ZkDsl,
        ClientKind::ZkDslTasks,
        ClientKind::ZkDslMacro,
        ClientKind::ZkDslBlocking,
        ClientKind::ZookeeperClient,
        ClientKind::Java,
        ClientKind::Kazoo,
        ClientKind::Curator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw",
            ClientKind::ZkDsl => "zk-dsl",
            ClientKind::ZkDslTasks => "zk-dsl-tasks",
            ClientKind::ZkDslMacro => "zk-dsl-macro",
            ClientKind::ZkDslBlocking => "zk-dsl-blocking",
            ClientKind::ZookeeperClient => "zookeeper-client",
            ClientKind::Java => "java",
            ClientKind::Kazoo => "kazoo",
            ClientKind::Curator => "curator",
        }
    }

    pub fn parse(s: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Run by this binary (`zk-bench worker <name>`).
    pub fn is_rust(self) -> bool {
        !matches!(self, ClientKind::Java | ClientKind::Kazoo | ClientKind::Curator)
    }

    /// Another project's client (the targets compare zk-dsl with the best of these).
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
