//! Real Curator (Java) and kazoo (Python) processes for interop tests, and a log of who held a
//! lock when.
//!
//! The contenders are the small programs in `tests/peers/` (protocol in `tests/peers/README.md`):
//! each speaks one line per event on stdout (`READY <id>`, `ACQUIRED <id> <epoch micros>`,
//! `RELEASING …`, `LEADER …`, `DONE <id>`, `ERROR <id> <message>`) and takes commands on stdin
//! (`go`, `release`, `who`, `bounce`, `yield`, `quit`). The Java ones are compiled with `javac` once
//! per test process into `target/<profile>/peers/java-<hash of the sources>` (into a temporary
//! directory renamed into place, so concurrent test binaries are safe); kazoo runs from the venv
//! `scripts/ensure-peers.sh` builds. When either is missing the test fails and says to run that
//! script: interop tests are never skipped.
//!
//! ```no_run
//! # fn demo(connect: &str) {
//! use suite::peers::{self, HolderLog};
//! let mut a = peers::curator_mutex(connect, "/lock", "a").iterations(50).counter("/n").gate().spawn();
//! let mut b = peers::kazoo_lock(connect, "/lock", "b").iterations(50).counter("/n").gate().spawn();
//! peers::start_together(&mut [&mut a, &mut b]);
//! let log = HolderLog::new();
//! for p in [&mut a, &mut b] {
//!     p.expect_line("^DONE ", suite::patience());
//!     p.wait_success(suite::patience());
//!     log.add_peer(p);
//! }
//! log.assert_no_overlap();
//! assert_eq!(log.acquisitions(), 100);
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;

use crate::patience;

/// The kazoo release the contenders run (`scripts/ensure-peers.sh` installs it).
pub const KAZOO_VERSION: &str = "2.11.0";
/// Overrides where the kazoo venv is (default `${XDG_CACHE_HOME:-$HOME/.cache}/zk-dsl/kazoo-2.11.0`).
pub const VENV_ENV: &str = "ZK_DSL_KAZOO_VENV";
/// A complete Java class path for Curator, replacing the Debian jars in `/usr/share/java`.
pub const CURATOR_CLASSPATH_ENV: &str = "CURATOR_CLASSPATH";

const INSTALL_HINT: &str =
    "run scripts/ensure-peers.sh (scripts/test.sh does) to install Curator, a JDK and the kazoo venv";
const DEBIAN_JAVA_DIR: &str = "/usr/share/java";
/// Curator 5.4 from Debian: the jars' manifests name the rest (netty, jackson) themselves.
const DEBIAN_JARS: &[&str] = &[
    "curator-recipes.jar",
    "curator-framework.jar",
    "curator-client.jar",
    "curator-x-discovery.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
];
const JAVA_SOURCES: &[(&str, &str)] = &[
    ("PeerSupport.java", include_str!("../peers/java/PeerSupport.java")),
    ("CuratorMutex.java", include_str!("../peers/java/CuratorMutex.java")),
    ("CuratorRwLock.java", include_str!("../peers/java/CuratorRwLock.java")),
    ("CuratorLatch.java", include_str!("../peers/java/CuratorLatch.java")),
    ("CuratorSelector.java", include_str!("../peers/java/CuratorSelector.java")),
    ("CuratorCounter.java", include_str!("../peers/java/CuratorCounter.java")),
    ("CuratorQueue.java", include_str!("../peers/java/CuratorQueue.java")),
    ("CuratorDoubleBarrier.java", include_str!("../peers/java/CuratorDoubleBarrier.java")),
    ("CuratorGroupMember.java", include_str!("../peers/java/CuratorGroupMember.java")),
    ("CuratorDiscovery.java", include_str!("../peers/java/CuratorDiscovery.java")),
    ("CuratorCacheMirror.java", include_str!("../peers/java/CuratorCacheMirror.java")),
];
const KAZOO_LOCK_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python/kazoo_lock.py");
const KAZOO_COUNTER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python/kazoo_counter.py");
const KAZOO_PARTY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python/kazoo_party.py");
const KAZOO_TREE_CACHE_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python/kazoo_tree_cache.py");
/// Small heaps and the C1 compiler only: contenders are short-lived and the CI box has 2 cores.
const JVM_FLAGS: &[&str] = &["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmx128m"];

/// Microseconds since the Unix epoch on the wall clock, the clock the peers print. Rust
/// contenders use it for [`HolderLog::record`] so their holds compare with the peers'.
pub fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Locating and preparing the peers

struct JavaPeers {
    java: PathBuf,
    classpath: OsString,
}

fn unavailable(what: &str, why: impl std::fmt::Display) -> String {
    format!("interop peers unavailable: {what}: {why}; {INSTALL_HINT}")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn java_tool(name: &str) -> Result<PathBuf, String> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let p = Path::new(&home).join("bin").join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    find_on_path(name).ok_or_else(|| unavailable(name, "not found in $JAVA_HOME/bin or on PATH"))
}

fn curator_classpath() -> Result<OsString, String> {
    if let Some(cp) = std::env::var_os(CURATOR_CLASSPATH_ENV).filter(|c| !c.is_empty()) {
        return Ok(cp);
    }
    let jars: Vec<PathBuf> = DEBIAN_JARS.iter().map(|j| Path::new(DEBIAN_JAVA_DIR).join(j)).collect();
    if let Some(missing) = jars.iter().find(|j| !j.is_file()) {
        return Err(unavailable("Curator", format_args!("{} is missing", missing.display())));
    }
    std::env::join_paths(jars).map_err(|e| unavailable("Curator class path", e))
}

/// FNV-1a: a stable key for the compiled classes (the sources, the class path, the javac).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0u8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// `target/<profile>/peers` next to the test binary (`target/<profile>/deps/<test>`).
fn peers_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|p| p.join("peers")))
        .unwrap_or_else(|| std::env::temp_dir().join("zk-dsl-peers"))
}

fn compile_java() -> Result<JavaPeers, String> {
    let classpath = curator_classpath()?;
    let javac = java_tool("javac")?;
    let java = java_tool("java")?;
    let mut parts: Vec<&[u8]> = JAVA_SOURCES.iter().flat_map(|(n, s)| [n.as_bytes(), s.as_bytes()]).collect();
    let cp_bytes = classpath.to_string_lossy().into_owned();
    let javac_name = javac.to_string_lossy().into_owned();
    parts.push(cp_bytes.as_bytes());
    parts.push(javac_name.as_bytes());
    let base = peers_dir();
    let out = base.join(format!("java-{:016x}", fnv1a(&parts)));
    if !out.join("PeerSupport.class").is_file() {
        std::fs::create_dir_all(&base).map_err(|e| format!("creating {}: {e}", base.display()))?;
        let tmp = base.join(format!(".java-tmp-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        let src = tmp.join("src");
        std::fs::create_dir_all(&src).map_err(|e| format!("creating {}: {e}", src.display()))?;
        let mut cmd = Command::new(&javac);
        cmd.args(["-nowarn", "-Xlint:none", "-encoding", "UTF-8", "-cp"]).arg(&classpath).arg("-d").arg(&tmp);
        for (name, text) in JAVA_SOURCES {
            let file = src.join(name);
            std::fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
            cmd.arg(file);
        }
        let result =
            cmd.output().map_err(|e| unavailable("javac", format_args!("cannot run {}: {e}", javac.display())))?;
        if !result.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(format!(
                "javac failed ({}) on tests/peers/java:\n{}{}",
                result.status,
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            ));
        }
        // Another test binary may have won the race; its classes are the same.
        if std::fs::rename(&tmp, &out).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
            if !out.join("PeerSupport.class").is_file() {
                return Err(format!("could not move the compiled contenders to {}", out.display()));
            }
        }
    }
    let mut full = OsString::from(out.as_os_str());
    full.push(":");
    full.push(&classpath);
    Ok(JavaPeers { java, classpath: full })
}

fn java_peers() -> &'static JavaPeers {
    static JAVA: OnceLock<Result<JavaPeers, String>> = OnceLock::new();
    match JAVA.get_or_init(compile_java) {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    }
}

/// Where `scripts/ensure-peers.sh` puts the kazoo venv.
pub fn kazoo_venv() -> PathBuf {
    if let Some(v) = std::env::var_os(VENV_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("zk-dsl").join(format!("kazoo-{KAZOO_VERSION}"))
}

fn check_kazoo() -> Result<PathBuf, String> {
    let venv = kazoo_venv();
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        return Err(unavailable("kazoo", format_args!("no venv at {}", venv.display())));
    }
    let check = format!("import sys, kazoo.version as v; sys.exit(v.__version__ != '{KAZOO_VERSION}')");
    let ok = Command::new(&python).args(["-c", &check]).output().is_ok_and(|o| o.status.success());
    if !ok {
        return Err(unavailable("kazoo", format_args!("{} cannot import kazoo {KAZOO_VERSION}", python.display())));
    }
    Ok(python)
}

fn kazoo_python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(check_kazoo) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Compiles the Java contenders and checks the kazoo venv now, failing the test with the reason
/// (and the hint to run `scripts/ensure-peers.sh`) if either is missing.
pub fn ensure_available() {
    java_peers();
    kazoo_python();
}

// ---------------------------------------------------------------------------------------------
// Building a contender

/// Which contender program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `CuratorMutex`: InterProcessMutex.
    CuratorMutex,
    /// `CuratorRwLock`: InterProcessReadWriteLock (`--mode read|write`).
    CuratorRwLock,
    /// `CuratorLatch`: LeaderLatch participant (`who`, `bounce`, `quit`).
    CuratorLatch,
    /// `CuratorSelector`: LeaderSelector participant (`who`, `yield`, `quit`).
    CuratorSelector,
    /// `CuratorCounter`: SharedCount or DistributedAtomicLong incrementer.
    CuratorCounter,
    /// `CuratorQueue`: SimpleDistributedQueue producer or consumer.
    CuratorQueue,
    /// `CuratorDoubleBarrier`: DistributedDoubleBarrier member (`join <round>`, `leave`, `die`).
    CuratorDoubleBarrier,
    /// `CuratorGroupMember`: GroupMember (`who`, `leave`).
    CuratorGroupMember,
    /// `CuratorDiscovery`: curator-x-discovery ServiceDiscovery, ServiceCache and ServiceProvider
    /// (`register`, `unregister`, `query`, `cache`, `provider`, `get`, `names`).
    CuratorDiscovery,
    /// `CuratorCacheMirror`: a CuratorCache on a subtree (`dump <marker>`).
    CuratorCacheMirror,
    /// `kazoo_lock.py`: kazoo `Lock`.
    KazooLock,
    /// `kazoo_counter.py`: kazoo `Counter(support_curator=True)` incrementer.
    KazooCounter,
    /// `kazoo_party.py`: kazoo `Party` or `ShallowParty` member (`who`, `leave`).
    KazooParty,
    /// `kazoo_tree_cache.py`: a kazoo `TreeCache` on a subtree (`dump <marker>`).
    KazooTreeCache,
}

impl Role {
    fn java_class(self) -> Option<&'static str> {
        match self {
            Role::CuratorMutex => Some("CuratorMutex"),
            Role::CuratorRwLock => Some("CuratorRwLock"),
            Role::CuratorLatch => Some("CuratorLatch"),
            Role::CuratorSelector => Some("CuratorSelector"),
            Role::CuratorCounter => Some("CuratorCounter"),
            Role::CuratorQueue => Some("CuratorQueue"),
            Role::CuratorDoubleBarrier => Some("CuratorDoubleBarrier"),
            Role::CuratorGroupMember => Some("CuratorGroupMember"),
            Role::CuratorDiscovery => Some("CuratorDiscovery"),
            Role::CuratorCacheMirror => Some("CuratorCacheMirror"),
            Role::KazooLock | Role::KazooCounter | Role::KazooParty | Role::KazooTreeCache => None,
        }
    }

    fn python_script(self) -> &'static str {
        match self {
            Role::KazooCounter => KAZOO_COUNTER_SCRIPT,
            Role::KazooParty => KAZOO_PARTY_SCRIPT,
            Role::KazooTreeCache => KAZOO_TREE_CACHE_SCRIPT,
            _ => KAZOO_LOCK_SCRIPT,
        }
    }
}

/// A read or write side of a read/write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Read,
    Write,
}

/// The arguments of one contender; [`PeerBuilder::spawn`] starts it.
#[derive(Debug, Clone)]
pub struct PeerBuilder {
    role: Role,
    id: String,
    args: Vec<String>,
}

fn builder(role: Role, connect: &str, path: &str, id: &str) -> PeerBuilder {
    assert!(!id.is_empty() && !id.contains(char::is_whitespace), "a peer id is one word, not {id:?}");
    let connect_ms = patience().as_millis().to_string();
    let args = ["--connect", connect, "--path", path, "--id", id, "--connection-timeout-ms", &connect_ms];
    PeerBuilder { role, id: id.to_owned(), args: args.map(str::to_owned).to_vec() }
}

/// A Curator InterProcessMutex contender on `lock_path` (one acquisition unless [`PeerBuilder::iterations`]).
pub fn curator_mutex(connect: &str, lock_path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorMutex, connect, lock_path, id)
}

/// A Curator InterProcessReadWriteLock contender taking the `mode` side.
pub fn curator_rw_lock(connect: &str, lock_path: &str, id: &str, mode: LockMode) -> PeerBuilder {
    let mode = match mode {
        LockMode::Read => "read",
        LockMode::Write => "write",
    };
    builder(Role::CuratorRwLock, connect, lock_path, id).arg("--mode", mode)
}

/// A Curator LeaderLatch participant with participant id `id`.
pub fn curator_latch(connect: &str, latch_path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorLatch, connect, latch_path, id)
}

/// A Curator LeaderSelector participant (autoRequeue) holding leadership until `yield`.
pub fn curator_selector(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorSelector, connect, path, id)
}

/// A Curator SharedCount incrementer (4-byte big-endian int at `path`).
pub fn curator_shared_count(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorCounter, connect, path, id).arg("--kind", "shared-count")
}

/// A Curator DistributedAtomicLong incrementer (8-byte big-endian long at `path`).
pub fn curator_atomic_long(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorCounter, connect, path, id).arg("--kind", "atomic-long")
}

/// A Curator SimpleDistributedQueue producer offering items `<id>-<i>`.
pub fn curator_queue_producer(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorQueue, connect, path, id).arg("--role", "produce")
}

/// A Curator SimpleDistributedQueue consumer.
pub fn curator_queue_consumer(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorQueue, connect, path, id).arg("--role", "consume")
}

/// A kazoo `Counter(path, support_curator=True)` incrementer (4-byte big-endian int at `path`,
/// Curator SharedCount's format), retrying conflicts with a 2 ms-to-100 ms backoff.
pub fn kazoo_counter(connect: &str, path: &str, id: &str) -> PeerBuilder {
    builder(Role::KazooCounter, connect, path, id)
}

/// A Curator DistributedDoubleBarrier member of a barrier of `members` on `<path>/round-<r>`;
/// with [`PeerBuilder::gate`] it takes `join <r>` and `leave` from stdin, and `die` at any time
/// (see `tests/peers/java/CuratorDoubleBarrier.java`).
pub fn curator_double_barrier(connect: &str, path: &str, id: &str, members: usize) -> PeerBuilder {
    builder(Role::CuratorDoubleBarrier, connect, path, id).arg("--members", &members.to_string())
}

/// A Curator GroupMember `id` of the group at `path`, with `payload` (UTF-8).
pub fn curator_group_member(connect: &str, path: &str, id: &str, payload: &str) -> PeerBuilder {
    // `--payload=…` keeps an empty (or dash-led) payload one argument.
    builder(Role::CuratorGroupMember, connect, path, id).flag(&format!("--payload={payload}"))
}

/// A kazoo `Party` member (or `ShallowParty` with `shallow`) with identifier `id`.
pub fn kazoo_party(connect: &str, path: &str, id: &str, shallow: bool) -> PeerBuilder {
    let member = builder(Role::KazooParty, connect, path, id);
    if shallow {
        member.flag("--shallow")
    } else {
        member
    }
}

/// A curator-x-discovery peer: a `ServiceDiscovery` on `base_path` with a `ServiceCache` and a
/// round-robin `ServiceProvider` of `service`, driven by commands on stdin (see
/// `tests/peers/java/CuratorDiscovery.java`).
pub fn curator_discovery(connect: &str, base_path: &str, id: &str, service: &str) -> PeerBuilder {
    builder(Role::CuratorDiscovery, connect, base_path, id).arg("--service", service)
}

/// A Curator `CuratorCache` on the subtree at `root`: `READY` once initialized, then
/// [`Peer::dump_cache`] reads what it holds.
pub fn curator_cache_mirror(connect: &str, root: &str, id: &str) -> PeerBuilder {
    builder(Role::CuratorCacheMirror, connect, root, id)
}

/// A kazoo `TreeCache` on the subtree at `root`, with the protocol of [`curator_cache_mirror`].
pub fn kazoo_tree_cache(connect: &str, root: &str, id: &str) -> PeerBuilder {
    builder(Role::KazooTreeCache, connect, root, id)
}

/// A kazoo `Lock` contender, by default with `extra_lock_patterns=["-lock-"]` so it sees
/// Curator's (and zk-dsl's) `_c_<uuid>-lock-<seq>` nodes; see [`PeerBuilder::extra_lock_patterns`].
pub fn kazoo_lock(connect: &str, lock_path: &str, id: &str) -> PeerBuilder {
    builder(Role::KazooLock, connect, lock_path, id)
}

impl PeerBuilder {
    /// The participant id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The program.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Any `--flag value` argument of the contender (see `tests/peers/README.md`).
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.args.push(format!("{flag}={value}"));
        self
    }

    /// A `--flag` without a value.
    pub fn flag(mut self, flag: &str) -> Self {
        self.args.push(flag.to_owned());
        self
    }

    /// Acquisitions (increments, queue items) to do.
    pub fn iterations(self, n: usize) -> Self {
        self.arg("--iterations", &n.to_string())
    }

    /// The counter node each holder increments non-atomically (created with "0" if missing).
    pub fn counter(self, path: &str) -> Self {
        self.arg("--counter", path)
    }

    /// The contender's session timeout (default 10 s).
    pub fn session_timeout(self, timeout: Duration) -> Self {
        self.arg("--session-timeout-ms", &timeout.as_millis().to_string())
    }

    /// After `READY`, wait for `go` on stdin (see [`start_together`]).
    pub fn gate(self) -> Self {
        self.flag("--gate")
    }

    /// After every `ACQUIRED`, wait for `release` on stdin.
    pub fn hold(self) -> Self {
        self.flag("--hold")
    }

    /// kazoo only: `Lock(extra_lock_patterns=...)`; `&[]` is kazoo's default (sees only its own
    /// `__lock__` nodes).
    pub fn extra_lock_patterns(self, patterns: &[&str]) -> Self {
        assert_eq!(self.role, Role::KazooLock, "extra_lock_patterns is a kazoo option");
        assert!(patterns.iter().all(|p| !p.contains(',')), "patterns are passed comma-separated");
        let joined = patterns.join(",");
        self.arg("--extra-lock-patterns", &joined)
    }

    /// kazoo only: the lock node's name between the uuid and the sequence (kazoo's `_NODE_NAME`,
    /// default `__lock__`); `-lock-` gives nodes Curator orders by their sequence.
    pub fn node_name(self, name: &str) -> Self {
        assert_eq!(self.role, Role::KazooLock, "node_name is a kazoo option");
        self.arg("--node-name", name)
    }

    fn command(&self) -> Command {
        match self.role.java_class() {
            Some(class) => {
                let java = java_peers();
                let mut c = Command::new(&java.java);
                c.args(JVM_FLAGS).arg("-cp").arg(&java.classpath).arg(class);
                c
            }
            None => {
                let mut c = Command::new(kazoo_python());
                c.arg("-u").arg(self.role.python_script());
                c
            }
        }
    }

    /// Starts the process. Fails the test if the peers are not installed.
    pub fn spawn(self) -> Peer {
        let mut cmd = self.command();
        cmd.args(&self.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            cmd.spawn().unwrap_or_else(|e| panic!("starting peer {} ({:?}): {e}; {INSTALL_HINT}", self.id, self.role));
        let shared = Arc::new(Shared::default());
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("peer-{}-out", self.id))
            .spawn(move || read_stdout(stdout, &out_shared))
            .expect("spawn a peer reader thread");
        let err_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("peer-{}-err", self.id))
            .spawn(move || read_stderr(stderr, &err_shared))
            .expect("spawn a peer reader thread");
        Peer {
            id: self.id,
            role: self.role,
            stdin: child.stdin.take(),
            child,
            shared,
            cursor: 0,
            status: None,
            started: Instant::now(),
        }
    }
}

/// `-` is empty; otherwise lowercase or uppercase hex digits.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex == "-" {
        return Some(Vec::new());
    }
    let pair =
        |p: &[u8]| std::str::from_utf8(p).ok().filter(|p| p.len() == 2).and_then(|p| u8::from_str_radix(p, 16).ok());
    hex.as_bytes().chunks(2).map(pair).collect()
}

// ---------------------------------------------------------------------------------------------
// A running contender

/// One line a peer printed, with when the test process read it.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Instant,
    pub text: String,
}

#[derive(Default)]
struct Output {
    lines: Vec<Line>,
    stdout_closed: bool,
    stderr: String,
}

struct Shared {
    output: Mutex<Output>,
    changed: Condvar,
    /// The number of stdout events so far, for async waiters.
    version: tokio::sync::watch::Sender<u64>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared { output: Mutex::default(), changed: Condvar::new(), version: tokio::sync::watch::channel(0).0 }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.changed.notify_all();
        self.version.send_modify(|v| *v += 1);
    }
}

fn read_stdout(stdout: impl Read, shared: &Shared) {
    let mut reader = BufReader::new(stdout);
    let mut buf = String::new();
    loop {
        buf.clear();
        match reader.read_line(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = buf.trim_end_matches(['\n', '\r']).to_owned();
                shared.lock().lines.push(Line { at: Instant::now(), text });
                shared.notify();
            }
        }
    }
    shared.lock().stdout_closed = true;
    shared.notify();
}

/// Keeps the last 64 KiB of stderr for failure messages.
fn read_stderr(mut stderr: impl Read, shared: &Shared) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut out = shared.lock();
        out.stderr.push_str(&String::from_utf8_lossy(&buf[..n]));
        if out.stderr.len() > 64 * 1024 {
            let mut cut = out.stderr.len() - 48 * 1024;
            while !out.stderr.is_char_boundary(cut) {
                cut += 1;
            }
            out.stderr.drain(..cut);
        }
    }
}

enum Scan {
    Found(String),
    Failed(String),
    /// Not yet; the peer had printed this many lines.
    Pending(usize),
}

/// A running contender process. Dropping it kills the process (SIGKILL).
pub struct Peer {
    id: String,
    role: Role,
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    /// Lines before this index were consumed by `expect_line`.
    cursor: usize,
    status: Option<ExitStatus>,
    started: Instant,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("id", &self.id).field("role", &self.role).field("pid", &self.child.id()).finish()
    }
}

impl Peer {
    /// The participant id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The program.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn regex(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap_or_else(|e| panic!("bad expect_line pattern {pattern:?}: {e}"))
    }

    fn scan(&mut self, re: &Regex) -> Scan {
        let out = self.shared.lock();
        for (i, line) in out.lines.iter().enumerate().skip(self.cursor) {
            if re.is_match(&line.text) {
                self.cursor = i + 1;
                return Scan::Found(line.text.clone());
            }
            if line.text.starts_with("ERROR ") {
                drop(out);
                return Scan::Failed(self.report(&format!("peer {} reported an error waiting for /{re}/", self.id)));
            }
        }
        if out.stdout_closed {
            drop(out);
            return Scan::Failed(
                self.report(&format!("peer {} exited before printing a line matching /{re}/", self.id)),
            );
        }
        Scan::Pending(out.lines.len())
    }

    /// Waits for the next line (after those earlier calls consumed) matching the regex `pattern`
    /// and returns it; lines in between are skipped (they stay in [`Peer::lines`]). Fails the test
    /// on timeout, on an `ERROR` line, or when the peer exits first, showing its output.
    pub fn expect_line(&mut self, pattern: &str, timeout: Duration) -> String {
        let re = Self::regex(pattern);
        let deadline = Instant::now() + timeout;
        loop {
            let seen = match self.scan(&re) {
                Scan::Found(line) => return line,
                Scan::Failed(report) => panic!("{report}"),
                Scan::Pending(seen) => seen,
            };
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "{}",
                    self.report(&format!("timed out after {timeout:?} waiting for /{pattern}/ from {}", self.id))
                );
            }
            let out = self.shared.lock();
            let _unused = self
                .shared
                .changed
                .wait_timeout_while(out, deadline - now, |o| o.lines.len() == seen && !o.stdout_closed)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// [`Peer::expect_line`] for async tests: waits without blocking the runtime's thread.
    pub async fn expect_line_async(&mut self, pattern: &str, timeout: Duration) -> String {
        let re = Self::regex(pattern);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut version = self.shared.version.subscribe();
        loop {
            version.borrow_and_update();
            match self.scan(&re) {
                Scan::Found(line) => return line,
                Scan::Failed(report) => panic!("{report}"),
                Scan::Pending(_) => {}
            }
            if tokio::time::timeout_at(deadline, version.changed()).await.is_err() {
                panic!(
                    "{}",
                    self.report(&format!("timed out after {timeout:?} waiting for /{pattern}/ from {}", self.id))
                );
            }
        }
    }

    /// Writes one command line to the peer's stdin.
    pub fn send(&mut self, line: &str) {
        let ok = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()).is_ok(),
            None => false,
        };
        if !ok {
            panic!("{}", self.report(&format!("cannot send {line:?} to peer {}: its stdin is closed", self.id)));
        }
    }

    /// For the cache mirrors ([`curator_cache_mirror`], [`kazoo_tree_cache`]): sends `dump
    /// <marker>`, so the peer waits until its cache holds `marker`, and returns every node it then
    /// held, path → (version, data).
    pub async fn dump_cache(&mut self, marker: &str, timeout: Duration) -> BTreeMap<String, (i32, Vec<u8>)> {
        let from = self.shared.lock().lines.len();
        self.send(&format!("dump {marker}"));
        let end = self.expect_line_async(&format!("^END {} ", regex::escape(&self.id)), timeout).await;
        let out = self.shared.lock();
        let mut nodes = BTreeMap::new();
        for line in out.lines[from..].iter().map(|l| l.text.as_str()).take_while(|l| *l != end) {
            let Some(rest) = line.strip_prefix("NODE ") else { continue };
            let fields: Vec<&str> = rest.split(' ').collect();
            let [path, version, hex] = fields[..] else { panic!("malformed dump line {line:?}") };
            let version = version.parse().unwrap_or_else(|_| panic!("malformed dump line {line:?}"));
            nodes.insert(path.to_owned(), (version, decode_hex(hex).unwrap_or_else(|| panic!("bad hex in {line:?}"))));
        }
        let count: usize = end.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
        assert_eq!(nodes.len(), count, "{} dumped {count} nodes, {} parsed", self.id, nodes.len());
        nodes
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<Line> {
        self.shared.lock().lines.clone()
    }

    /// The text of every line printed so far.
    pub fn texts(&self) -> Vec<String> {
        self.shared.lock().lines.iter().map(|l| l.text.clone()).collect()
    }

    /// The last 48-64 KiB of what the peer wrote to stderr.
    pub fn stderr(&self) -> String {
        self.shared.lock().stderr.clone()
    }

    /// A failure message: `what`, then the peer's last lines and stderr.
    pub fn report(&self, what: &str) -> String {
        let out = self.shared.lock();
        let mut s =
            format!("{what} ({:?}, pid {}, {:.1?} after start)\n", self.role, self.child.id(), self.started.elapsed());
        let skip = out.lines.len().saturating_sub(30);
        let _ = writeln!(s, "--- stdout (last {} of {} lines)", out.lines.len() - skip, out.lines.len());
        for line in &out.lines[skip..] {
            let _ = writeln!(s, "{}", line.text);
        }
        let tail: Vec<&str> = out.stderr.lines().rev().take(30).collect();
        let _ = writeln!(s, "--- stderr (last {} lines)", tail.len());
        for line in tail.into_iter().rev() {
            let _ = writeln!(s, "{line}");
        }
        s
    }

    /// Kills the process (SIGKILL: its session is not closed and lives until it expires) and
    /// reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Waits up to `timeout` for the process to exit and returns its status; on timeout kills it
    /// and fails the test. Afterwards every line it printed is in [`Peer::lines`].
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let report = self.report(&format!("peer {} did not exit within {timeout:?}", self.id));
                    self.kill();
                    panic!("{report}");
                }
                Err(e) => panic!("waiting for peer {}: {e}", self.id),
            }
        };
        self.status = Some(status);
        // The reader thread sees end of file right after the exit; collect the last lines.
        let out = self.shared.lock();
        let wait = Duration::from_secs(5).min(timeout.max(Duration::from_millis(100)));
        let _unused =
            self.shared.changed.wait_timeout_while(out, wait, |o| !o.stdout_closed).unwrap_or_else(|p| p.into_inner());
        status
    }

    /// [`Peer::wait`], then fails the test unless the exit status is 0.
    pub fn wait_success(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        if !status.success() {
            panic!("{}", self.report(&format!("peer {} exited with {status}", self.id)));
        }
    }

    /// Sends `quit` (the peer closes its session, so its nodes go at once, prints `BYE` and exits
    /// 0) and waits for the exit.
    pub fn quit(&mut self, timeout: Duration) {
        if self.status.is_none() {
            if let Some(mut stdin) = self.stdin.take() {
                let _ = writeln!(stdin, "quit").and_then(|()| stdin.flush());
            }
        }
        self.wait_success(timeout);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// For contenders built with [`PeerBuilder::gate`]: waits until every one printed `READY` (JVM
/// started, session connected), then sends `go` to all, so they really contend instead of one
/// finishing while the other's JVM starts.
pub fn start_together(peers: &mut [&mut Peer]) {
    for p in peers.iter_mut() {
        p.expect_line(&format!("^READY {}$", regex::escape(p.id())), startup_patience());
    }
    for p in peers.iter_mut() {
        p.send("go");
    }
}

/// The wait for a contender to start: a JVM with Curator takes about a second alone, several on
/// a loaded 2-core machine.
pub fn startup_patience() -> Duration {
    patience() * 3
}

// ---------------------------------------------------------------------------------------------
// Who held what when

/// One holding of a lock (or of leadership) by one participant, in wall-clock epoch micros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub holder: String,
    pub acquired_micros: u64,
    /// `u64::MAX` while the hold never ended (see [`HolderLog::end_open_holds`]).
    pub released_micros: u64,
    /// A read lock: overlaps other shared holds legitimately.
    pub shared: bool,
}

impl Hold {
    fn overlaps(&self, other: &Hold) -> bool {
        !(self.shared && other.shared)
            && self.acquired_micros < other.released_micros
            && other.acquired_micros < self.released_micros
    }
}

/// The holds of one lock by every participant, peers and Rust alike, and the check that no two
/// overlapped. Clones share the log, so Rust contender tasks can each [`HolderLog::record`].
///
/// Peers print `ACQUIRED <id> <micros>` after acquiring and `RELEASING <id> <micros>` before
/// releasing, so each recorded interval lies inside the real holding: if the lock is correct the
/// recorded intervals cannot overlap. Rust contenders should take `now_micros()` the same way.
#[derive(Debug, Clone, Default)]
pub struct HolderLog {
    holds: Arc<Mutex<Vec<Hold>>>,
}

impl HolderLog {
    pub fn new() -> HolderLog {
        HolderLog::default()
    }

    fn push(&self, hold: Hold) {
        self.holds.lock().unwrap_or_else(|p| p.into_inner()).push(hold);
    }

    /// An exclusive hold (mutex, write lock, leadership) from `acquired_micros` to `released_micros`.
    pub fn record(&self, holder: &str, acquired_micros: u64, released_micros: u64) {
        self.push(Hold { holder: holder.to_owned(), acquired_micros, released_micros, shared: false });
    }

    /// A shared hold (read lock).
    pub fn record_shared(&self, holder: &str, acquired_micros: u64, released_micros: u64) {
        self.push(Hold { holder: holder.to_owned(), acquired_micros, released_micros, shared: true });
    }

    /// Adds the holds in `ACQUIRED <id> <micros> [read|write]` / `RELEASING <id> <micros> [mode]`
    /// lines (other lines are ignored); an `ACQUIRED` without its `RELEASING` stays open
    /// (`released_micros == u64::MAX`). Returns the number of holds added.
    pub fn add_lines<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> usize {
        self.add_intervals(lines, "ACQUIRED", "RELEASING")
    }

    /// Adds the leadership intervals in `LEADER <id> <micros>` / `NOT_LEADER <id> <micros>` lines.
    pub fn add_leadership_lines<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> usize {
        self.add_intervals(lines, "LEADER", "NOT_LEADER")
    }

    /// [`HolderLog::add_lines`] over everything `peer` printed.
    pub fn add_peer(&self, peer: &Peer) -> usize {
        let texts = peer.texts();
        self.add_lines(texts.iter().map(String::as_str))
    }

    /// [`HolderLog::add_leadership_lines`] over everything `peer` printed.
    pub fn add_peer_leadership(&self, peer: &Peer) -> usize {
        let texts = peer.texts();
        self.add_leadership_lines(texts.iter().map(String::as_str))
    }

    fn add_intervals<'a>(&self, lines: impl IntoIterator<Item = &'a str>, start: &str, end: &str) -> usize {
        let mut open: HashMap<String, (u64, bool)> = HashMap::new();
        let mut added = 0;
        for line in lines {
            let mut words = line.split_whitespace();
            let tag = words.next().unwrap_or("");
            if tag != start && tag != end {
                continue;
            }
            let (Some(id), Some(micros)) = (words.next(), words.next().and_then(|m| m.parse::<u64>().ok())) else {
                panic!("malformed holder line {line:?}");
            };
            let shared = words.next() == Some("read");
            if tag == start {
                if let Some((at, _)) = open.insert(id.to_owned(), (micros, shared)) {
                    panic!("{id}: {start} at {micros} while its {start} at {at} has no {end}");
                }
            } else {
                let Some((at, shared)) = open.remove(id) else { panic!("{id}: {end} at {micros} without {start}") };
                self.push(Hold { holder: id.to_owned(), acquired_micros: at, released_micros: micros, shared });
                added += 1;
            }
        }
        for (id, (at, shared)) in open {
            self.push(Hold { holder: id, acquired_micros: at, released_micros: u64::MAX, shared });
            added += 1;
        }
        added
    }

    /// Ends `holder`'s open holds at `released_micros` (e.g. when a test knows the holder's
    /// session ended). Returns how many were open.
    pub fn end_open_holds(&self, holder: &str, released_micros: u64) -> usize {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for h in holds.iter_mut().filter(|h| h.holder == holder && h.released_micros == u64::MAX) {
            h.released_micros = released_micros;
            n += 1;
        }
        n
    }

    /// Every hold, ordered by acquisition time.
    pub fn holds(&self) -> Vec<Hold> {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner()).clone();
        holds.sort_by_key(|h| (h.acquired_micros, h.released_micros));
        holds
    }

    /// The number of holds (acquisitions) recorded.
    pub fn acquisitions(&self) -> usize {
        self.holds.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The number of holds by `holder`.
    pub fn acquisitions_by(&self, holder: &str) -> usize {
        self.holds.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|h| h.holder == holder).count()
    }

    /// Every pair of holds that overlapped in time where at least one was exclusive.
    pub fn overlaps(&self) -> Vec<(Hold, Hold)> {
        let holds = self.holds();
        let mut found = Vec::new();
        for (i, a) in holds.iter().enumerate() {
            for b in &holds[i + 1..] {
                if b.acquired_micros >= a.released_micros {
                    break;
                }
                if a.overlaps(b) {
                    found.push((a.clone(), b.clone()));
                }
            }
        }
        found
    }

    /// Fails the test, listing the first overlaps, if any two holds overlapped.
    pub fn assert_no_overlap(&self) {
        let overlaps = self.overlaps();
        if !overlaps.is_empty() {
            let mut s = format!("{} overlapping holds among {}; first ones:\n", overlaps.len(), self.acquisitions());
            for (a, b) in overlaps.iter().take(10) {
                let _ = writeln!(s, "  {a:?}\n  {b:?}");
            }
            panic!("{s}");
        }
    }
}
