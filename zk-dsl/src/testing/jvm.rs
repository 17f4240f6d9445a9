//! Launching and ending one ZooKeeper JVM.
//!
//! The JVM's stdout and stderr are appended to a log file (kept across restarts). Each JVM gets a
//! [`Watchdog`] so that it dies with the test process even when no destructor runs: a test binary
//! killed by a signal, `panic = "abort"`, or a server kept in a `static`.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::error::HarnessError;
use super::install::Installation;
use super::watchdog::Watchdog;

/// Main class of a standalone server.
pub(crate) const STANDALONE_MAIN: &str = "org.apache.zookeeper.server.ZooKeeperServerMain";
/// Main class of an ensemble member.
pub(crate) const QUORUM_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// How the JVM itself is configured.
#[derive(Debug, Clone)]
pub(crate) struct JvmSettings {
    pub(crate) heap_min_mib: u32,
    pub(crate) heap_max_mib: u32,
    /// Serial GC and the C1 compiler only: starts in about half the time, runs slower.
    pub(crate) fast_startup: bool,
    pub(crate) system_properties: Vec<(String, String)>,
    pub(crate) extra_args: Vec<String>,
}

impl Default for JvmSettings {
    fn default() -> Self {
        JvmSettings {
            heap_min_mib: 64,
            heap_max_mib: 512,
            fast_startup: true,
            system_properties: Vec::new(),
            extra_args: Vec::new(),
        }
    }
}

impl JvmSettings {
    pub(crate) fn validate(&self) -> Result<(), HarnessError> {
        if self.heap_max_mib < 16 || self.heap_min_mib > self.heap_max_mib {
            return Err(HarnessError::InvalidConfig(format!(
                "JVM heap must satisfy 16 MiB <= max and min <= max, got min {} MiB, max {} MiB",
                self.heap_min_mib, self.heap_max_mib
            )));
        }
        for (key, value) in &self.system_properties {
            if key.is_empty() || key.contains('=') || key.chars().any(char::is_whitespace) {
                return Err(HarnessError::InvalidConfig(format!("{key:?} is not a usable system property name")));
            }
            if value.contains('\0') {
                return Err(HarnessError::InvalidConfig(format!("system property {key} contains a NUL byte")));
            }
        }
        if self.extra_args.iter().any(|a| a.contains('\0')) {
            return Err(HarnessError::InvalidConfig("a JVM argument contains a NUL byte".into()));
        }
        Ok(())
    }

    /// Everything between `java` and `-cp`.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec![format!("-Xms{}m", self.heap_min_mib), format!("-Xmx{}m", self.heap_max_mib)];
        if self.fast_startup {
            args.extend(["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"].map(String::from));
        }
        args.extend(
            [
                // No /tmp/hsperfdata_* files left behind by killed JVMs.
                "-XX:-UsePerfData",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.net.preferIPv4Stack=true",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
            ]
            .map(String::from),
        );
        args.extend(self.system_properties.iter().map(|(k, v)| format!("-D{k}={v}")));
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// Everything needed to start one server JVM.
#[derive(Debug, Clone)]
pub(crate) struct Launch<'a> {
    pub(crate) install: &'a Installation,
    pub(crate) jvm: &'a JvmSettings,
    pub(crate) main_class: &'a str,
    pub(crate) config: &'a Path,
    pub(crate) log: &'a Path,
    pub(crate) workdir: &'a Path,
}

/// A running (or exited but not yet reaped) server JVM. Dropping it kills the JVM and waits for it.
#[derive(Debug)]
pub(crate) struct JvmProcess {
    child: Child,
    watchdog: Option<Watchdog>,
    exited: Option<ExitStatus>,
}

fn open_log(path: &Path) -> Result<(File, File), HarnessError> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| HarnessError::io(format!("opening log file {}", path.display()), e))?;
    let err = out.try_clone().map_err(|e| HarnessError::io("duplicating the log file handle", e))?;
    Ok((out, err))
}

impl JvmProcess {
    pub(crate) fn spawn(launch: &Launch<'_>) -> Result<JvmProcess, HarnessError> {
        let (stdout, stderr) = open_log(launch.log)?;
        let mut command = Command::new(launch.install.java());
        command
            .args(launch.jvm.args())
            .arg("-cp")
            .arg(launch.install.classpath())
            .arg(launch.main_class)
            .arg(launch.config)
            .current_dir(launch.workdir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        #[cfg(unix)]
        {
            // Its own process group: a terminal's Ctrl-C reaches the test, whose watchdog then ends the JVM.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let printable: Vec<OsString> = std::iter::once(command.get_program().to_os_string())
            .chain(command.get_args().map(|a| a.to_os_string()))
            .collect();
        tracing::debug!(command = ?printable, log = %launch.log.display(), "starting ZooKeeper JVM");
        let child = command
            .spawn()
            .map_err(|e| HarnessError::io(format!("starting {}", launch.install.java().display()), e))?;
        let watchdog = Watchdog::spawn(child.id());
        Ok(JvmProcess { child, watchdog, exited: None })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the JVM has ended (reaping it), `None` while it runs.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exited = Some(status),
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(pid = self.pid(), error = %e, "cannot query the ZooKeeper JVM; treating it as gone");
                    // Kill it (harmless if gone) so the treatment is true.
                    let _ = self.child.kill();
                    self.exited = self.child.wait().ok();
                    self.exited?;
                }
            }
            // Once reaped, its pid may be reused: the watchdog must not kill it later.
            self.disarm_watchdog();
        }
        self.exited
    }

    fn disarm_watchdog(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.disarm();
        }
    }

    fn wait_until(&mut self, deadline: Instant) -> bool {
        loop {
            if self.exit_status().is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then wait for the process to be gone.
    pub(crate) fn kill(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        // Disarm first: after `wait` the pid is free for reuse.
        self.disarm_watchdog();
        if let Err(e) = self.child.kill() {
            tracing::warn!(pid = self.pid(), error = %e, "failed to kill the ZooKeeper JVM");
        }
        match self.child.wait() {
            Ok(status) => self.exited = Some(status),
            Err(e) => tracing::warn!(pid = self.pid(), error = %e, "failed to wait for the ZooKeeper JVM"),
        }
    }

    /// SIGTERM, up to `grace` for the JVM to exit, then SIGKILL.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        if self.exit_status().is_some() {
            return;
        }
        if send_sigterm(self.pid()) && self.wait_until(Instant::now() + grace) {
            return;
        }
        self.kill();
    }
}

impl Drop for JvmProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Asks the process to exit. Std has no portable SIGTERM, and this crate forbids `unsafe`, so the
/// shell's `kill` builtin sends it. Returns false if that could not be done.
#[cfg(unix)]
fn send_sigterm(pid: u32) -> bool {
    Command::new("/bin/sh")
        .args(["-c", "kill -TERM \"$1\"", "zk-dsl-stop"])
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn send_sigterm(_pid: u32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_args_are_fast_and_quiet() {
        let args = JvmSettings::default().args();
        for a in ["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"] {
            assert!(args.iter().any(|x| x == a), "missing {a} in {args:?}");
        }
    }

    #[test]
    fn benchmark_style_args_keep_the_full_jit() {
        let jvm = JvmSettings {
            heap_min_mib: 1024,
            heap_max_mib: 1024,
            fast_startup: false,
            system_properties: vec![("zookeeper.extendedTypesEnabled".into(), "true".into())],
            extra_args: vec!["-XX:+AlwaysPreTouch".into()],
        };
        let args = jvm.args();
        assert!(args.contains(&"-Xms1024m".to_string()) && args.contains(&"-Xmx1024m".to_string()));
        assert!(!args.iter().any(|a| a.contains("TieredStopAtLevel")));
        assert!(args.contains(&"-Dzookeeper.extendedTypesEnabled=true".to_string()));
        assert_eq!(args.last().map(String::as_str), Some("-XX:+AlwaysPreTouch"));
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let inverted = JvmSettings { heap_min_mib: 1024, heap_max_mib: 512, ..JvmSettings::default() };
        assert!(inverted.validate().is_err());
        let bad_prop = JvmSettings { system_properties: vec![("a=b".into(), "c".into())], ..JvmSettings::default() };
        assert!(bad_prop.validate().is_err());
        assert!(JvmSettings::default().validate().is_ok());
    }
}
