//! A running worker process: specs go to its stdin, JSON lines come back from its stdout
//! (read by a thread, so the orchestrator can time out), stderr goes to a log file.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::budget::CpuBudget;
use crate::clients::ClientKind;
use crate::peers::WorkerCommand;
use crate::spec::{RunReport, RunSpec};

/// How long a worker may take to say hello (a JVM with its JIT, a Python importing kazoo).
const HELLO_TIMEOUT: Duration = Duration::from_secs(60);

struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Worker {
    pub kind: ClientKind,
    cmd: WorkerCommand,
    log: PathBuf,
    proc: Option<Proc>,
    /// What the worker said it is (client and version).
    pub hello: String,
    /// Where each process of this worker goes once it has started (`--client-cpu`).
    budget: Option<CpuBudget>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("kind", &self.kind).field("hello", &self.hello).finish()
    }
}

impl Worker {
    pub fn start(
        kind: ClientKind,
        cmd: WorkerCommand,
        log_dir: &std::path::Path,
        budget: Option<CpuBudget>,
    ) -> Result<Worker, String> {
        fs::create_dir_all(log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
        let log = log_dir.join(format!("{kind}.stderr.log"));
        let mut w = Worker { kind, cmd, log, proc: None, hello: String::new(), budget };
        w.spawn()?;
        Ok(w)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let mut child = self
            .cmd
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("starting {:?}: {e}", self.cmd.program))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err("worker pipes missing".into());
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let proc = Proc { child, stdin, lines };
        let hello = match proc.lines.recv_timeout(HELLO_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                proc.kill();
                return Err(format!("the {} worker did not start (see {})", self.kind, self.log.display()));
            }
        };
        let value: serde_json::Value =
            serde_json::from_str(&hello).map_err(|e| format!("the {} worker said {hello:?}: {e}", self.kind))?;
        self.hello = value.get("hello").and_then(|h| h.as_str()).unwrap_or_default().to_string();
        // Limited once started: a JVM's start-up under a small budget would take minutes.
        if let Some(budget) = &self.budget {
            if let Err(e) = budget.add(proc.child.id()) {
                proc.kill();
                return Err(e);
            }
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Runs one spec; a worker that dies or hangs is replaced before the next run.
    pub fn run(&mut self, spec: &RunSpec, timeout: Duration) -> RunReport {
        if self.proc.is_none() {
            if let Err(e) = self.spawn() {
                return RunReport::failed(format!("restarting the worker: {e}"));
            }
        }
        let Some(proc) = self.proc.as_mut() else { return RunReport::failed("no worker") };
        if let Err(e) = writeln!(proc.stdin, "{}", spec.to_line()).and_then(|()| proc.stdin.flush()) {
            self.discard();
            return RunReport::failed(format!("worker stdin: {e}"));
        }
        match proc.lines.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| RunReport::failed(format!("bad report from the worker ({e}): {line:.200}"))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.discard();
                RunReport::failed(format!("no report within {timeout:?}; worker restarted"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.discard();
                RunReport::failed(format!("the worker died (see {})", self.log.display()))
            }
        }
    }

    /// What the worker's CPU budget is, if it has one.
    pub fn budget(&self) -> Option<&CpuBudget> {
        self.budget.as_ref()
    }

    /// Ends the worker process; the next [`run`](Self::run) starts a fresh one.
    pub fn restart(&mut self) {
        if let Some(p) = self.proc.take() {
            // Closing stdin ends a healthy worker; kill whatever is left.
            drop(p.stdin);
            std::thread::sleep(Duration::from_millis(50));
            let mut child = p.child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn discard(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.restart();
    }
}
