//! The harness's error type: what went wrong, and enough of the server's log to see why.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a test server, ensemble or proxy could not do what was asked.
///
/// `Debug` prints the same multi-line text as `Display`, so `server.unwrap()` in a test shows the
/// server's log tail readably instead of as one escaped string.
#[non_exhaustive]
pub enum HarnessError {
    /// No `java` executable was found.
    JavaNotFound {
        /// The places looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// No ZooKeeper jars were found (or `ZOOKEEPER_HOME` / `ZOOKEEPER_CLASSPATH` is unusable).
    ZooKeeperNotFound {
        /// What was looked for and where.
        reason: String,
    },
    /// A builder option cannot be turned into a working configuration.
    InvalidConfig(String),
    /// A file-system or socket operation of the harness itself failed.
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server could not bind one of its ports (someone else took it). `start` retries this
    /// with fresh ports; `restart` cannot, since it must keep the port.
    PortInUse {
        /// Which server.
        what: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// The JVM exited while the harness waited for it to serve.
    Exited {
        /// Which server.
        what: String,
        /// The exit status as the OS reported it.
        status: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// The server (or quorum) did not become ready in time.
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the harness waited.
        waited: Duration,
        /// The end of the relevant log(s).
        log_tail: String,
    },
    /// Too few ensemble members run to form a quorum, so waiting for one is pointless.
    NoQuorum {
        /// Members running.
        running: usize,
        /// Ensemble size.
        size: usize,
    },
    /// An ensemble member index out of range.
    NoSuchMember {
        /// The index asked for.
        index: usize,
        /// The ensemble's size.
        size: usize,
    },
}

impl HarnessError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        HarnessError::Io { context: context.into(), source }
    }

    /// True when the failure was a port collision, which a fresh start with new ports may avoid.
    pub fn is_port_in_use(&self) -> bool {
        matches!(self, HarnessError::PortInUse { .. })
    }
}

fn write_tail(f: &mut fmt::Formatter<'_>, log_tail: &str) -> fmt::Result {
    if log_tail.trim().is_empty() {
        Ok(())
    } else {
        write!(f, "\n--- server log (last lines) ---\n{}\n--- end of server log ---", log_tail.trim_end())
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::JavaNotFound { searched } => {
                write!(
                    f,
                    "no Java runtime found (looked at: {}); install one, e.g. `apt-get install default-jre-headless`, \
                     or set JAVA_HOME",
                    searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            }
            HarnessError::ZooKeeperNotFound { reason } => write!(
                f,
                "Apache ZooKeeper not found: {reason}; install it with `apt-get install zookeeper`, or set \
                 ZOOKEEPER_HOME (an unpacked release) or ZOOKEEPER_CLASSPATH (a full Java class path)"
            ),
            HarnessError::InvalidConfig(why) => write!(f, "invalid test server configuration: {why}"),
            HarnessError::Io { context, source } => write!(f, "{context}: {source}"),
            HarnessError::PortInUse { what, log_tail } => {
                write!(f, "{what} could not bind its port (address already in use)")?;
                write_tail(f, log_tail)
            }
            HarnessError::Exited { what, status, log_tail } => {
                write!(f, "{what} exited before it was ready ({status})")?;
                write_tail(f, log_tail)
            }
            HarnessError::Timeout { what, waited, log_tail } => {
                write!(
                    f,
                    "timed out after {:.1}s waiting for {what} (raise ZK_TEST_TIMEOUT_SCALE on slow machines)",
                    waited.as_secs_f64()
                )?;
                write_tail(f, log_tail)
            }
            HarnessError::NoQuorum { running, size } => {
                write!(f, "no quorum possible: only {running} of {size} ensemble members are running")
            }
            HarnessError::NoSuchMember { index, size } => {
                write!(f, "no ensemble member {index} (members are 0..{size})")
            }
        }
    }
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HarnessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_fix() {
        let java = HarnessError::JavaNotFound { searched: vec![PathBuf::from("/usr/bin/java")] }.to_string();
        assert!(java.contains("default-jre-headless") && java.contains("/usr/bin/java"), "{java}");
        let zk = HarnessError::ZooKeeperNotFound { reason: "no jar".into() }.to_string();
        assert!(zk.contains("apt-get install zookeeper") && zk.contains("ZOOKEEPER_HOME"), "{zk}");
    }

    #[test]
    fn debug_shows_the_log_tail_verbatim() {
        let e = HarnessError::Exited { what: "zk".into(), status: "exit status: 1".into(), log_tail: "a\nb".into() };
        let debug = format!("{e:?}");
        assert!(debug.contains("\na\nb\n"), "{debug}");
        assert!(!e.is_port_in_use());
    }
}
