//! Getting the worker programs ready: this binary for the Rust clients, the Java harness
//! (compiled with javac into the output directory) and the kazoo script (in a venv with kazoo
//! from PyPI). A peer that cannot be prepared is skipped with the reason, never faked.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::Options;
use crate::clients::ClientKind;

const JAVA_SOURCE: &str = include_str!("../peers/ZkBench.java");
const CURATOR_SOURCE: &str = include_str!("../peers/ZkBenchCurator.java");
const KAZOO_SOURCE: &str = include_str!("../peers/zk_bench_kazoo.py");
/// The kazoo release the reference numbers were taken with.
pub const KAZOO_VERSION: &str = "2.11.0";
const DEBIAN_JAVA_DIR: &str = "/usr/share/java";
/// Curator 5.4 from Debian (what `scripts/ensure-peers.sh` installs, the interop tests' class
/// path): the jars' manifests name the rest (netty, jackson) themselves.
const CURATOR_JARS: &[&str] = &[
    "curator-recipes.jar",
    "curator-framework.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
];
/// A complete Curator class path replacing the Debian jars (as for the interop tests).
const CURATOR_CLASSPATH_ENV: &str = "CURATOR_CLASSPATH";

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c
    }
}

/// How `kind`'s worker is started; `tls_ca` is the PEM file of the CA the TLS clients trust
/// (the Java client takes it as a system property, the Rust ones with every run's spec).
pub fn prepare(kind: ClientKind, opts: &Options, tls_ca: Option<&Path>) -> Result<WorkerCommand, String> {
    match kind {
        ClientKind::Java => java(opts, None),
        ClientKind::JavaTls => {
            java(opts, Some(tls_ca.ok_or("java-tls needs the TLS port of the server zk-bench starts")?))
        }
        ClientKind::Kazoo => kazoo(opts),
        ClientKind::Curator => curator(opts),
        _ => {
            let exe = std::env::current_exe().map_err(|e| format!("locating zk-bench itself: {e}"))?;
            let args = ["worker", kind.name(), "--runtime", opts.runtime.name()].map(OsString::from).to_vec();
            Ok(WorkerCommand { program: exe, args })
        }
    }
}

/// Runs a preparation step; its output becomes the error if it fails.
fn step(what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let tail: Vec<&str> = text.lines().rev().take(8).collect();
    Err(format!("{what} failed ({}): {}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join(" | ")))
}

fn java_tool(name: &str) -> PathBuf {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let p = Path::new(&home).join("bin").join(name);
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Debian's zookeeper.jar manifest leaves out netty's codec and what it needs, which the Netty
/// client socket (TLS) cannot run without (the test harness adds them to the server's too).
const NETTY_EXTRA_JARS: [&str; 3] = ["netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar"];

fn java_classpath(opts: &Options, tls: bool) -> Result<String, String> {
    if let Some(cp) = &opts.java_classpath {
        return Ok(cp.clone());
    }
    let zk = Path::new(DEBIAN_JAVA_DIR).join("zookeeper.jar");
    if zk.is_file() {
        // zookeeper.jar's manifest pulls in jute, netty and slf4j-api; slf4j-nop silences the logging.
        let mut cp = vec![zk];
        let netty: &[&str] = if tls { &NETTY_EXTRA_JARS } else { &[] };
        let extra = std::iter::once(&"slf4j-nop.jar").chain(netty);
        cp.extend(extra.map(|jar| Path::new(DEBIAN_JAVA_DIR).join(jar)).filter(|jar| jar.is_file()));
        let joined = std::env::join_paths(cp).map_err(|e| e.to_string())?;
        return Ok(joined.to_string_lossy().into_owned());
    }
    let install = zk_dsl::testing::Installation::locate()
        .map_err(|e| format!("no ZooKeeper Java client (install libzookeeper-java): {e}"))?;
    Ok(install.classpath().to_string_lossy().into_owned())
}

/// The Java client's TLS settings (ZooKeeper 3.8 reads them as system properties): the Netty
/// client socket, which TLS needs, and the CA's PEM file as the trust store.
fn java_tls_properties(ca: &Path) -> Vec<OsString> {
    let ca = ca.display();
    [
        "-Dzookeeper.client.secure=true".to_string(),
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty".to_string(),
        format!("-Dzookeeper.ssl.trustStore.location={ca}"),
        "-Dzookeeper.ssl.trustStore.type=PEM".to_string(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

fn java(opts: &Options, tls_ca: Option<&Path>) -> Result<WorkerCommand, String> {
    let dir = opts.out.join("java");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let source = dir.join("ZkBench.java");
    fs::write(&source, JAVA_SOURCE).map_err(|e| format!("{}: {e}", source.display()))?;
    let cp = java_classpath(opts, tls_ca.is_some())?;
    let javac = java_tool("javac");
    step(
        "compiling the Java harness",
        Command::new(&javac).arg("-nowarn").arg("-cp").arg(&cp).arg("-d").arg(&dir).arg(&source),
    )?;
    let run_cp = format!("{}:{cp}", dir.display());
    let mut args = tls_ca.map(java_tls_properties).unwrap_or_default();
    args.extend([OsString::from("-cp"), OsString::from(run_cp), OsString::from("ZkBench")]);
    Ok(WorkerCommand { program: java_tool("java"), args })
}

fn curator_classpath() -> Result<String, String> {
    if let Some(cp) = std::env::var_os(CURATOR_CLASSPATH_ENV).filter(|c| !c.is_empty()) {
        return Ok(cp.to_string_lossy().into_owned());
    }
    let jars: Vec<PathBuf> = CURATOR_JARS.iter().map(|j| Path::new(DEBIAN_JAVA_DIR).join(j)).collect();
    if let Some(missing) = jars.iter().find(|j| !j.is_file()) {
        return Err(format!(
            "no Curator: {} is missing (scripts/ensure-peers.sh installs Debian's Curator 5.4, or set {})",
            missing.display(),
            CURATOR_CLASSPATH_ENV
        ));
    }
    let joined = std::env::join_paths(jars).map_err(|e| e.to_string())?;
    Ok(joined.to_string_lossy().into_owned())
}

/// The Curator worker: `ZkBenchCurator` (the recipe cells) compiled with the Java harness it
/// shares the spec, clock, recorder and report with.
fn curator(opts: &Options) -> Result<WorkerCommand, String> {
    let dir = opts.out.join("curator");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut sources = Vec::new();
    for (name, text) in [("ZkBench.java", JAVA_SOURCE), ("ZkBenchCurator.java", CURATOR_SOURCE)] {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        sources.push(path);
    }
    let cp = curator_classpath()?;
    step(
        "compiling the Curator harness",
        Command::new(java_tool("javac")).arg("-nowarn").arg("-cp").arg(&cp).arg("-d").arg(&dir).args(&sources),
    )?;
    let run_cp = format!("{}:{cp}", dir.display());
    let args = vec![OsString::from("-cp"), OsString::from(run_cp), OsString::from("ZkBenchCurator")];
    Ok(WorkerCommand { program: java_tool("java"), args })
}

/// The venv `scripts/ensure-peers.sh` builds for the interop tests (`$ZK_DSL_KAZOO_VENV`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/zk-dsl/kazoo-<version>`), if it is there.
fn shared_kazoo_venv() -> Option<PathBuf> {
    let venv = match std::env::var_os("ZK_DSL_KAZOO_VENV").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?
            .join("zk-dsl")
            .join(format!("kazoo-{KAZOO_VERSION}")),
    };
    venv.join("bin").join("python").is_file().then_some(venv)
}

fn kazoo(opts: &Options) -> Result<WorkerCommand, String> {
    let venv = opts.venv.clone().or_else(shared_kazoo_venv).unwrap_or_else(|| opts.out.join("venv"));
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        step("creating the kazoo venv", Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    let has_kazoo = Command::new(&python)
        .args(["-c", &format!("import kazoo.version as v, sys; sys.exit(v.__version__ != '{KAZOO_VERSION}')")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_kazoo {
        step(
            &format!("pip install kazoo=={KAZOO_VERSION}"),
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("kazoo=={KAZOO_VERSION}"),
            ]),
        )?;
    }
    // The script goes with this run's output, not into a venv other runs may share.
    let dir = opts.out.join("kazoo");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let script = dir.join("zk_bench_kazoo.py");
    fs::write(&script, KAZOO_SOURCE).map_err(|e| format!("{}: {e}", script.display()))?;
    Ok(WorkerCommand { program: python, args: vec![OsString::from("-u"), script.into_os_string()] })
}
