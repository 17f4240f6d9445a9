//! Ends a server JVM when the test process dies without running destructors.
//!
//! A tiny `sh` process blocks reading a pipe whose only writer is the test process. The kernel closes
//! that pipe however the test process ends (normal exit with a server still in a `static`, a signal,
//! an abort), the read sees end-of-file, and the shell sends SIGKILL to the JVM. When the harness
//! ends the JVM itself, it first kills the watchdog, so a reused pid is never hit.
//!
//! This avoids `prctl(PR_SET_PDEATHSIG)`, which would need `unsafe` and is Linux-only.

use std::process::Child;

/// The shell script: ignore terminal signals, wait for EOF on stdin, then kill the pid in `$1`.
#[cfg(unix)]
const SCRIPT: &str = r#"trap '' INT HUP; while read -r _; do :; done; kill -9 "$1" 2>/dev/null; exit 0"#;

#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts a watchdog for `pid`; `None` (with a warning) where that is impossible.
    #[cfg(unix)]
    pub(crate) fn spawn(pid: u32) -> Option<Watchdog> {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};

        let spawned = Command::new("/bin/sh")
            .args(["-c", SCRIPT, "zk-dsl-watchdog"])
            .arg(pid.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's process group, so Ctrl-C on the tests does not kill it first.
            .process_group(0)
            .spawn();
        match spawned {
            Ok(child) => Some(Watchdog { child }),
            Err(e) => {
                tracing::warn!(pid, error = %e, "no watchdog for the ZooKeeper JVM; it may outlive an aborted test");
                None
            }
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn spawn(_pid: u32) -> Option<Watchdog> {
        None
    }

    /// Stops the watchdog without it touching the JVM.
    pub(crate) fn disarm(self) {
        drop(self);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SIGKILL: the script never gets to its `kill` line.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
