//! One server's directory and JVM, shared by [`ZkServer`](super::ZkServer) and ensemble members.
//!
//! Layout of the directory: `zoo.cfg`, `data/` (snapshots, transaction logs, `myid`), and
//! `zookeeper.log` (the JVM's stdout and stderr, appended across restarts).

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::HarnessError;
use super::four_letter::four_letter_with_timeout;
use super::install::Installation;
use super::jvm::{JvmProcess, JvmSettings, Launch};
use super::log;
use super::mode::Mode;
use super::timeouts::scaled;

/// Pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Time given to one `srvr` from [`Node::mode`]; a loaded JVM can be slow to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Time given to one probe while waiting for readiness. Short, so a JVM that died meanwhile (or
/// something else answering on the port) is noticed quickly; a slow reply is simply probed again.
const READY_PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Time `stop` gives the JVM to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Pause between restart attempts while the old port is still taken.
const RESTART_RETRY_PAUSE: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub(crate) struct Node {
    label: String,
    address: SocketAddr,
    dir: PathBuf,
    config_path: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    install: Installation,
    jvm: JvmSettings,
    main_class: &'static str,
    /// The current (or last, if it exited) JVM. Dropping the node kills it.
    process: Mutex<Option<JvmProcess>>,
    /// Length of the log when the current JVM started, so old failures are not blamed on it.
    log_offset: AtomicU64,
}

/// What a new node needs.
#[derive(Debug)]
pub(crate) struct NodeSpec<'a> {
    pub(crate) label: String,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) install: &'a Installation,
    pub(crate) jvm: &'a JvmSettings,
    pub(crate) main_class: &'static str,
    /// Rendered from the data dir path, see [`Node::data_dir_for`].
    pub(crate) config: String,
    /// Ensemble members' `myid`.
    pub(crate) myid: Option<u32>,
}

fn io_err(context: String) -> impl FnOnce(io::Error) -> HarnessError {
    move |e| HarnessError::io(context, e)
}

impl Node {
    /// Where the node in `dir` keeps its data (needed to render its config before creating it).
    pub(crate) fn data_dir_for(dir: &Path) -> PathBuf {
        dir.join("data")
    }

    /// Creates the directory, data dir, `zoo.cfg` and `myid`. Starts nothing.
    pub(crate) fn create(spec: NodeSpec<'_>) -> Result<Node, HarnessError> {
        let data_dir = Node::data_dir_for(&spec.dir);
        fs::create_dir_all(&data_dir).map_err(io_err(format!("creating {}", data_dir.display())))?;
        let config_path = spec.dir.join("zoo.cfg");
        fs::write(&config_path, &spec.config).map_err(io_err(format!("writing {}", config_path.display())))?;
        if let Some(id) = spec.myid {
            let myid = data_dir.join("myid");
            fs::write(&myid, format!("{id}\n")).map_err(io_err(format!("writing {}", myid.display())))?;
        }
        Ok(Node {
            label: spec.label,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, spec.port)),
            log_path: spec.dir.join("zookeeper.log"),
            dir: spec.dir,
            config_path,
            data_dir,
            install: spec.install.clone(),
            jvm: spec.jvm.clone(),
            main_class: spec.main_class,
            process: Mutex::new(None),
            log_offset: AtomicU64::new(0),
        })
    }

    fn process(&self) -> MutexGuard<'_, Option<JvmProcess>> {
        // A panic elsewhere while holding the lock leaves the Option itself consistent.
        self.process.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn log_tail(&self, lines: usize) -> String {
        log::tail(&self.log_path, lines)
    }

    /// Starts the JVM unless one is already running.
    pub(crate) fn spawn(&self) -> Result<(), HarnessError> {
        let mut process = self.process();
        if let Some(running) = process.as_mut() {
            if running.exit_status().is_none() {
                return Ok(());
            }
        }
        self.log_offset.store(log::len(&self.log_path), Ordering::Relaxed);
        let launch = Launch {
            install: &self.install,
            jvm: &self.jvm,
            main_class: self.main_class,
            config: &self.config_path,
            log: &self.log_path,
            workdir: &self.dir,
        };
        // Replacing an exited process just reaps it.
        *process = Some(JvmProcess::spawn(&launch)?);
        tracing::debug!(server = %self.label, address = %self.address, "ZooKeeper JVM started");
        Ok(())
    }

    pub(crate) fn is_running(&self) -> bool {
        self.process().as_mut().is_some_and(|p| p.exit_status().is_none())
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        let mut process = self.process();
        let p = process.as_mut()?;
        p.exit_status().is_none().then(|| p.pid())
    }

    /// SIGTERM, a grace period, then SIGKILL. No-op when not running.
    pub(crate) fn stop(&self) {
        if let Some(mut p) = self.process().take() {
            p.terminate(scaled(STOP_GRACE));
            tracing::debug!(server = %self.label, "ZooKeeper stopped");
        }
    }

    /// SIGKILL: a crash as far as the server and its clients can tell. No-op when not running.
    pub(crate) fn kill(&self) {
        if let Some(mut p) = self.process().take() {
            p.kill();
            tracing::debug!(server = %self.label, "ZooKeeper killed");
        }
    }

    pub(crate) fn four_letter(&self, cmd: &str, timeout: Duration) -> io::Result<String> {
        four_letter_with_timeout(self.address, cmd, timeout)
    }

    /// The server's role, or `None` when it is down or not serving.
    pub(crate) fn mode(&self) -> Option<Mode> {
        self.four_letter("srvr", scaled(PROBE_TIMEOUT)).ok().and_then(|reply| Mode::from_srvr(&reply))
    }

    /// Stops the JVM if it runs, starts it again with the same port and data, and waits until it
    /// listens. Retries while the port is still taken (by a lingering connection or another process).
    pub(crate) fn restart(&self, deadline: Instant) -> Result<(), HarnessError> {
        self.stop();
        loop {
            self.spawn()?;
            match self.wait_listening(deadline) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_port_in_use() && Instant::now() + RESTART_RETRY_PAUSE < deadline => {
                    self.kill();
                    std::thread::sleep(RESTART_RETRY_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `Err` with the reason when the JVM has exited (or was never started); `Ok` while it runs.
    pub(crate) fn check_alive(&self) -> Result<(), HarnessError> {
        match self.failure() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Why the JVM is not running: exited (with status) or never started / stopped.
    fn failure(&self) -> Option<HarnessError> {
        let status = {
            let mut process = self.process();
            match process.as_mut() {
                None => "not started, or stopped".to_string(),
                Some(p) => p.exit_status()?.to_string(),
            }
        };
        let log_tail = self.log_tail(log::ERROR_TAIL_LINES);
        Some(if log::shows_port_in_use(&self.log_path, self.log_offset.load(Ordering::Relaxed)) {
            HarnessError::PortInUse { what: self.label.clone(), log_tail }
        } else {
            HarnessError::Exited { what: self.label.clone(), status, log_tail }
        })
    }

    /// Probes with `cmd` until `ready` accepts the reply, the JVM exits, or `deadline` passes.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        cmd: &str,
        deadline: Instant,
        ready: impl Fn(&str) -> bool,
    ) -> Result<String, HarnessError> {
        let started = Instant::now();
        loop {
            if let Some(failure) = self.failure() {
                return Err(failure);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let probe = left.min(scaled(READY_PROBE_TIMEOUT)).max(Duration::from_millis(1));
            if let Ok(reply) = self.four_letter(cmd, probe) {
                if ready(&reply) {
                    return Ok(reply);
                }
            }
            if Instant::now() >= deadline {
                let log_tail = self.log_tail(log::ERROR_TAIL_LINES);
                if log::shows_port_in_use(&self.log_path, self.log_offset.load(Ordering::Relaxed)) {
                    return Err(HarnessError::PortInUse { what: self.label.clone(), log_tail });
                }
                return Err(HarnessError::Timeout {
                    what: format!("{what} ({})", self.label),
                    waited: started.elapsed(),
                    log_tail,
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until `srvr` reports any serving mode.
    pub(crate) fn wait_serving(&self, deadline: Instant) -> Result<Mode, HarnessError> {
        let reply = self.wait_for("the server to serve", "srvr", deadline, |r| Mode::from_srvr(r).is_some())?;
        // `wait_for` only returns replies the predicate accepted.
        Mode::from_srvr(&reply).ok_or_else(|| HarnessError::Timeout {
            what: format!("a serving mode from {}", self.label),
            waited: Duration::ZERO,
            log_tail: String::new(),
        })
    }

    /// Waits until the JVM accepts connections (`ruok` answers `imok`), serving or not.
    pub(crate) fn wait_listening(&self, deadline: Instant) -> Result<(), HarnessError> {
        self.wait_for("the server to listen", "ruok", deadline, |r| r == "imok").map(|_| ())
    }
}
