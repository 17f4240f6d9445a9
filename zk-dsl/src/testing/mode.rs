//! What a server says it is doing, as reported by the `srvr` four-letter word.

use std::fmt;

/// A serving server's role (`Mode:` in the `srvr` reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// A single server, not part of an ensemble.
    Standalone,
    /// The ensemble's leader.
    Leader,
    /// An ensemble member following the leader.
    Follower,
    /// A non-voting ensemble member.
    Observer,
    /// A member without a quorum, serving reads only (`readonlymode.enabled`).
    ReadOnly,
}

impl Mode {
    /// Parses the `Mode:` line of a `srvr` (or `stat`) reply; `None` when the server is not serving
    /// ("This ZooKeeper instance is not currently serving requests") or the text has no such line.
    pub fn from_srvr(reply: &str) -> Option<Mode> {
        let value = reply.lines().find_map(|line| line.trim().strip_prefix("Mode:"))?.trim();
        match value {
            "standalone" => Some(Mode::Standalone),
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            "observer" => Some(Mode::Observer),
            "read-only" => Some(Mode::ReadOnly),
            _ => None,
        }
    }

    /// True for the roles of a member of a working quorum.
    pub fn in_quorum(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower | Mode::Observer)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::ReadOnly => "read-only",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_srvr_replies() {
        let reply = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(Mode::from_srvr(reply), Some(Mode::Follower));
        assert_eq!(Mode::from_srvr("Mode: leader\n"), Some(Mode::Leader));
        assert_eq!(Mode::from_srvr("This ZooKeeper instance is not currently serving requests\n"), None);
        assert_eq!(Mode::from_srvr(""), None);
        assert_eq!(Mode::from_srvr("Mode: standalone").map(|m| m.to_string()).as_deref(), Some("standalone"));
        assert!(Mode::Leader.in_quorum() && !Mode::Standalone.in_quorum());
    }
}
