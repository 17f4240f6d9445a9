//! The seed's three examples and the tour, run as real processes against one test server, the
//! way a user runs them in several terminals.
//!
//! Where the binaries come from: a plain `cargo test` builds every example of the package as an
//! ordinary program into `<target-dir>/<profile>/examples/` before it runs any test ("examples
//! are built by cargo test to make sure they compile"; they are not run as tests). A filtered
//! run such as `cargo test --test examples` builds only the selected targets, though, and would
//! find the examples missing or stale. So the first test to need them runs
//! `$CARGO build --example ...` itself, with the target dir and profile this test binary was
//! built for (both read off its own path, `<target-dir>/<profile>/deps/examples-<hash>`).
//! Cargo does not hold its build lock while tests run, so this nested build works, and after a
//! plain `cargo test` it finds everything fresh and takes a fraction of a second. Run without
//! cargo (no `CARGO` variable), the test uses whatever binaries are there.
//!
//! Every wait is scaled by `ZK_TEST_TIMEOUT_SCALE`. The examples ask for 5 s sessions, so a
//! killed process drops out after about 5 s: the leader and group tests wait for that.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use suite::{patience, server, unique};
use zk_dsl::testing::scaled;

/// How long a killed example's node may take to go: its 5 s session timeout and some slack.
fn expiry() -> Duration {
    scaled(Duration::from_secs(20))
}

/// How long to watch for something that must *not* happen.
const QUIET: Duration = Duration::from_secs(1);

// ----- the examples -------------------------------------------------------------------------------

#[test]
fn group_members_see_each_other_join_and_leave() {
    group_membership("group_membership");
}

/// The seed's own style: a blocking client whose watcher reads synchronously and re-registers
/// itself inside the callback.
#[test]
fn group_members_see_each_other_join_and_leave_with_blocking_reads_in_the_watcher() {
    group_membership("seed_group_membership");
}

fn group_membership(example: &'static str) {
    let cs = server().connect_string();
    let group = format!("/{}", unique("group"));
    let mut procs = Procs::new(example);

    let alice = procs.spawn("alice", &[&cs, &group, "alice"]);
    procs.expect(alice, "JOINED alice", patience());
    procs.expect(alice, "MEMBERS alice", patience());
    let bob = procs.spawn("bob", &[&cs, &group, "bob"]);
    procs.expect(bob, "MEMBERS alice,bob", patience());
    procs.expect(alice, "MEMBERS alice,bob", patience());
    let carol = procs.spawn("carol", &[&cs, &group, "carol"]);
    for p in [alice, bob, carol] {
        procs.expect(p, "MEMBERS alice,bob,carol", patience());
    }

    // Killed: bob cannot say goodbye; his node goes when his session expires.
    procs.kill(bob);
    procs.expect(alice, "MEMBERS alice,carol", expiry());
    procs.expect(carol, "MEMBERS alice,carol", expiry());

    // Leaving cleanly (end of stdin): at once.
    procs.close_stdin(carol);
    procs.expect(carol, "LEFT carol", patience());
    procs.expect(alice, "MEMBERS alice", patience());
    procs.expect_success(carol);
    procs.close_stdin(alice);
    procs.expect(alice, "LEFT alice", patience());
    procs.expect_success(alice);
}

#[test]
fn one_leader_at_a_time_and_the_next_takes_over() {
    leader_election("leader_election");
}

/// The seed's own style: the predecessor watcher checks again and re-elects with blocking calls
/// inside the callback.
#[test]
fn one_leader_at_a_time_with_blocking_calls_in_the_watcher() {
    leader_election("seed_leader_election");
}

fn leader_election(example: &'static str) {
    let cs = server().connect_string();
    let election = format!("/{}", unique("election"));
    let mut procs = Procs::new(example);

    // Started one after the other, so the sequence numbers (and the line of succession) are known.
    let a = procs.spawn("a", &[&cs, &election, "a"]);
    procs.expect(a, "CANDIDATE a-0000000000", patience());
    procs.expect(a, "LEADER a-0000000000", patience());
    let b = procs.spawn("b", &[&cs, &election, "b"]);
    procs.expect(b, "CANDIDATE b-0000000001", patience());
    procs.expect(b, "FOLLOWER b-0000000001 watching a-0000000000", patience());
    let c = procs.spawn("c", &[&cs, &election, "c"]);
    procs.expect(c, "CANDIDATE c-0000000002", patience());
    // Each watches only its predecessor: c waits for b, not for the leader.
    procs.expect(c, "FOLLOWER c-0000000002 watching b-0000000001", patience());
    procs.expect_quiet(&[b, c], |line| line.starts_with("LEADER"), QUIET);

    // The leader dies: the next in line takes over once its session is gone, and only it.
    procs.kill(a);
    procs.expect(b, "LEADER b-0000000001", expiry());
    procs.expect_quiet(&[c], |line| line.starts_with("LEADER") || line.starts_with("FOLLOWER"), QUIET);

    // The leader resigns: its successor takes over at once.
    procs.close_stdin(b);
    procs.expect(b, "RESIGNED b-0000000001", patience());
    procs.expect(c, "LEADER c-0000000002", patience());
    procs.expect_success(b);
    procs.close_stdin(c);
    procs.expect(c, "RESIGNED c-0000000002", patience());
    procs.expect_success(c);

    procs.check_one_leader_at_a_time();
}

#[test]
fn lock_holders_never_overlap_and_every_increment_lands() {
    let cs = server().connect_string();
    let lock = format!("/{}", unique("lock"));
    let mut procs = Procs::new("lock");
    let workers: Vec<usize> =
        ["ann", "ben", "cat"].iter().map(|name| procs.spawn(name, &[&cs, &lock, name, "15", "2"])).collect();
    for (&w, name) in workers.iter().zip(["ann", "ben", "cat"]) {
        procs.expect(w, &format!("DONE {name}"), patience() * 3);
        procs.expect_success(w);
    }
    let holds = suite::peers::HolderLog::new();
    for &w in &workers {
        holds.add_lines(procs.stdout_of(w).lines());
    }
    holds.assert_no_overlap();
    assert_eq!(holds.acquisitions(), 45);
    assert_eq!(read_node(&format!("{lock}-counter")), b"45", "every holder's fenced increment landed");
}

#[test]
fn one_latch_leads_at_a_time_and_the_next_takes_over() {
    let cs = server().connect_string();
    let election = format!("/{}", unique("latch"));
    let mut procs = Procs::new("leader_latch");
    let a = procs.spawn("a", &[&cs, &election, "a"]);
    procs.expect(a, "LEADER a", patience());
    let b = procs.spawn("b", &[&cs, &election, "b"]);
    procs.expect(b, "FOLLOWER b", patience());
    let c = procs.spawn("c", &[&cs, &election, "c"]);
    procs.expect(c, "FOLLOWER c", patience());
    procs.send(c, "who");
    procs.expect(c, "PARTICIPANTS a,b,c", patience());
    procs.expect_quiet(&[b, c], |line| line.starts_with("LEADER"), QUIET);

    // Killed: the next in line leads once the old session is gone.
    procs.kill(a);
    procs.expect(b, "LEADER b", expiry());
    procs.expect_quiet(&[c], |line| line.starts_with("LEADER"), QUIET);
    // Withdrawn: at once.
    procs.close_stdin(b);
    procs.expect(b, "RESIGNED b", patience());
    procs.expect(c, "LEADER c", patience());
    procs.expect_success(b);
    procs.close_stdin(c);
    procs.expect(c, "RESIGNED c", patience());
    procs.expect_success(c);
    procs.check_one_leader_at_a_time();
}

#[test]
fn the_barrier_releases_everyone_together_when_the_last_arrives() {
    let cs = server().connect_string();
    let barrier = format!("/{}", unique("barrier"));
    let mut procs = Procs::new("barrier");

    let a = procs.spawn("a", &[&cs, &barrier, "a", "3"]);
    procs.expect(a, "WAITING a 1/3", patience());
    let b = procs.spawn("b", &[&cs, &barrier, "b", "3"]);
    procs.expect(b, "WAITING b 2/3", patience());
    procs.expect_quiet(&[a, b], |line| line.starts_with("RELEASED"), QUIET);

    let c = procs.spawn("c", &[&cs, &barrier, "c", "3"]);
    for (p, name) in [(a, "a"), (b, "b"), (c, "c")] {
        procs.expect(p, &format!("RELEASED {name}"), patience());
    }
    procs.check_nothing_before("RELEASED", c);
    // Together: one event (the ready node's creation) releases them all.
    let spread = procs.spread("RELEASED");
    assert!(spread < scaled(Duration::from_secs(2)), "the releases were {spread:?} apart\n{}", procs.transcript());
    // The exit barrier: nobody leaves before everyone is done.
    for (p, name) in [(a, "a"), (b, "b"), (c, "c")] {
        procs.expect(p, &format!("LEFT {name}"), patience());
        procs.expect_success(p);
    }
    procs.check_all_before("DONE", "LEFT");
    // The last one out removed the barrier.
    assert!(!node_exists(&barrier), "{barrier} is still there");
}

/// Two processes share a configuration and a group: each sees the other join, the other's
/// settings as they change, and the other leave.
#[test]
fn cache_processes_see_each_others_settings_and_membership() {
    let cs = server().connect_string();
    let path = format!("/{}", unique("cache"));
    let mut procs = Procs::new("cache");
    let a = procs.spawn("a", &[&cs, &path, "a"]);
    procs.expect(a, "READY a", patience());
    procs.send(a, "set color blue");
    procs.expect(a, "CONFIG color=blue", patience());

    let b = procs.spawn("b", &[&cs, &path, "b"]);
    procs.expect(b, "READY b", patience());
    procs.expect(a, "JOINED b", patience());
    procs.send(b, "show");
    procs.expect(b, "MEMBERS a,b", patience());
    procs.expect(b, "CONFIG color=blue", patience());

    procs.send(b, "set color green");
    procs.expect(a, "CONFIG color=green", patience());
    procs.send(a, "del color");
    procs.expect(b, "UNSET color", patience());

    procs.close_stdin(b);
    procs.expect_success(b);
    procs.expect(a, "LEFT b", patience());
    procs.close_stdin(a);
    procs.expect_success(a);
}

/// Three tellers transfer money between the bank's 5 accounts at once: every snapshot any of them
/// printed, and the final balances, add up to the 500 the bank opened with; no account is
/// negative; every transfer was answered.
#[test]
fn the_bank_conserves_money_with_three_tellers() {
    const TRANSFERS: usize = 40;
    let cs = server().connect_string();
    let root = format!("/{}", unique("bank"));
    let mut procs = Procs::new("bank");
    let tellers: Vec<usize> = ["ann", "ben", "cat"]
        .iter()
        .map(|name| procs.spawn(name, &[&cs, &root, name, &TRANSFERS.to_string()]))
        .collect();
    for (&t, name) in tellers.iter().zip(["ann", "ben", "cat"]) {
        procs.expect(t, &format!("DONE {name}"), patience() * 3);
        procs.expect_success(t);
    }
    let mut committed = 0;
    for &t in &tellers {
        let out = procs.stdout_of(t);
        let answered = out.lines().filter(|l| l.starts_with("TRANSFER ") || l.starts_with("REFUSED ")).count();
        assert_eq!(answered, TRANSFERS, "every transfer answered\n{out}");
        committed += out.lines().filter(|l| l.starts_with("TRANSFER ")).count();
        let totals: Vec<&str> = out.lines().filter(|l| l.starts_with("TOTAL ")).collect();
        assert_eq!(totals.len(), TRANSFERS / 10 + 1, "{out}");
        for total in totals {
            let words: Vec<&str> = total.split(' ').collect();
            assert_eq!(words[2], "500", "a snapshot that does not add up: {total}");
            assert!(words[3].split(',').all(|b| b.parse::<i64>().unwrap() >= 0), "a negative balance: {total}");
        }
    }
    assert!(committed > 0, "no transfer committed");
    let balances: Vec<i64> = (0..5)
        .map(|i| {
            let path = format!("{root}/acct-{i}");
            if node_exists(&path) {
                i64::from_be_bytes(read_node(&path).try_into().expect("an 8-byte balance"))
            } else {
                100
            }
        })
        .collect();
    assert_eq!(balances.iter().sum::<i64>(), 500, "{balances:?}");
    assert!(balances.iter().all(|b| *b >= 0), "{balances:?}");
}

/// A producer puts 12 jobs; worker `a` takes one and is killed mid-job; worker `b` does the
/// rest and, once `a`'s session has expired, `a`'s job too: every job finished exactly once (a
/// worker dying between finishing and consuming would make it at least once).
#[test]
fn a_job_whose_worker_died_is_done_by_another() {
    const JOBS: usize = 12;
    let cs = server().connect_string();
    let queue = format!("/{}", unique("work"));
    let mut procs = Procs::new("work_queue");
    let producer = procs.spawn("producer", &["produce", &cs, &queue, &JOBS.to_string()]);
    procs.expect(producer, "DONE", patience());
    procs.expect_success(producer);

    let a = procs.spawn("a", &["consume", &cs, &queue, "a", "5000"]);
    let taken = procs.expect_prefix(a, "TAKEN a ", patience());
    let orphan = taken.rsplit(' ').next().unwrap().to_owned();
    procs.kill(a);
    let b = procs.spawn("b", &["consume", &cs, &queue, "b", "20"]);
    procs.expect(b, &format!("FINISHED b {orphan}"), expiry());
    let mut finished: Vec<String> = Vec::new();
    let deadline = Instant::now() + patience();
    while finished.len() < JOBS {
        assert!(Instant::now() < deadline, "jobs left unfinished\n{}", procs.transcript());
        procs.pump(Duration::from_millis(50));
        finished = [a, b]
            .iter()
            .flat_map(|&p| {
                procs
                    .stdout_of(p)
                    .lines()
                    .filter_map(|l| l.strip_prefix("FINISHED ").map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .map(|l| l.split(' ').nth(1).unwrap().to_owned())
            .collect();
    }
    procs.close_stdin(b);
    procs.expect(b, "STOPPED b", patience());
    procs.expect_success(b);
    finished.sort();
    let mut expected: Vec<String> = (0..JOBS).map(|i| format!("job-{i}")).collect();
    expected.sort();
    assert_eq!(finished, expected, "every job finished exactly once\n{}", procs.transcript());
    assert!(!procs.stdout_of(a).contains("FINISHED"), "a was killed before finishing anything");
}

/// A finder sees instances register and leave: at once when one unregisters (end of its
/// input), after its session times out when one is killed.
#[test]
fn a_finder_sees_services_register_and_leave() {
    // A chroot of its own, so the example's fixed base path is this test's.
    let root = format!("/{}", unique("discovery"));
    let path = root.clone();
    with_client(|client| async move { client.create(path).persistent().await.expect("create the root") });
    let cs = format!("{}{root}", server().connect_string());
    let mut procs = Procs::new("service_discovery");
    let finder = procs.spawn("finder", &["find", &cs, "api"]);
    procs.expect(finder, "INSTANCES api -", patience());

    let a = procs.spawn("a", &["register", &cs, "api", "8081"]);
    procs.expect_prefix(a, "REGISTERED api ", patience());
    procs.expect(finder, "INSTANCES api http://127.0.0.1:8081", patience());
    procs.expect(finder, "PICKED api http://127.0.0.1:8081", patience());
    let b = procs.spawn("b", &["register", &cs, "api", "8082"]);
    procs.expect_prefix(b, "REGISTERED api ", patience());
    procs.expect(finder, "INSTANCES api http://127.0.0.1:8081,http://127.0.0.1:8082", patience());

    // Leaving cleanly: at once.
    procs.close_stdin(a);
    procs.expect_prefix(a, "UNREGISTERED api ", patience());
    procs.expect_success(a);
    procs.expect(finder, "INSTANCES api http://127.0.0.1:8082", patience());
    // Killed: when its session times out.
    procs.kill(b);
    procs.expect(finder, "INSTANCES api -", expiry());
    procs.close_stdin(finder);
    procs.expect(finder, "STOPPED api", patience());
    procs.expect_success(finder);
}

// ----- the tour -----------------------------------------------------------------------------------

/// The section titles the tour prints, in the seed README's order.
const TOUR_SECTIONS: [&str; 14] = [
    "connect function",
    "watchers",
    "create function",
    "asynchronous calls",
    "exists function",
    "children function",
    "sequential nodes",
    "data functions",
    "data serialization",
    "delete functions",
    "ACL functions",
    "Group Membership, Leader Election and Barrier examples",
    "Running ZooKeeper and testing",
    "cleaning up",
];

#[test]
fn the_tour_runs_against_a_given_server_and_cleans_up() {
    let output = run_tour(Some(&server().connect_string()));
    check_tour_sections(&output);
    let root = output
        .lines()
        .find_map(|l| l.strip_prefix("The tour works under ").and_then(|rest| rest.split(':').next()))
        .unwrap_or_else(|| panic!("the tour did not say where it works:\n{output}"));
    assert!(!node_exists(root), "the tour left {root} behind");
}

#[test]
fn the_tour_starts_its_own_server_without_a_connection_string() {
    let output = run_tour(None);
    check_tour_sections(&output);
    assert!(output.contains("zk_dsl::testing::ZkServer"), "{output}");
}

/// Runs the tour to completion; fails the test unless it exits 0. Returns its stdout.
fn run_tour(connect_string: Option<&str>) -> String {
    let mut command = Command::new(example_binary("tour"));
    command.args(connect_string).env_remove("ZK_CONNECT").stdin(Stdio::null());
    let mut procs = Procs::new("tour");
    let tour = procs.spawn_command("tour", command);
    let status = procs.wait_exit(tour, scaled(Duration::from_secs(120)));
    let output = procs.stdout_of(tour);
    assert!(status.success(), "the tour failed ({status}):\n{}", procs.transcript());
    output
}

fn check_tour_sections(output: &str) {
    let mut rest = output;
    for title in TOUR_SECTIONS {
        let header = format!("== {title} ==");
        match rest.find(&header) {
            Some(at) => rest = &rest[at + header.len()..],
            None => panic!("section {header:?} missing or out of order in the tour's output:\n{output}"),
        }
    }
}

// ----- helpers ------------------------------------------------------------------------------------

/// Whether `path` exists on the test server.
fn node_exists(path: &str) -> bool {
    with_client(|client| async move { client.exists(path).await.expect("exists").is_some() })
}

fn read_node(path: &str) -> Vec<u8> {
    with_client(|client| async move { client.get_data(path).await.expect("get_data").bytes().to_vec() })
}

/// Runs `f` with a fresh client of the shared server, on a runtime of its own.
fn with_client<T, F: std::future::Future<Output = T>>(f: impl FnOnce(zk_dsl::Client) -> F) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let client = suite::connect(&server().connect_string()).await;
        let out = f(client.clone()).await;
        client.close().await.expect("close");
        out
    })
}

/// The path of a built example, building the examples first if cargo runs this test (see the
/// module docs).
fn example_binary(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // <target-dir>/<profile>/deps/examples-<hash>
        let profile_dir = exe.parent().and_then(Path::parent).expect("the test binary lives in <profile>/deps");
        if let Some(cargo) = std::env::var_os("CARGO") {
            build_examples(&cargo, profile_dir);
        }
        profile_dir.join("examples")
    });
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "example binary {} is missing; build it with `cargo build --examples`", path.display());
    path
}

fn build_examples(cargo: &std::ffi::OsStr, profile_dir: &Path) {
    let target_dir = profile_dir.parent().expect("the profile dir lives in the target dir");
    let mut command = Command::new(cargo);
    command.arg("build").arg("--manifest-path").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    for example in [
        "tour",
        "group_membership",
        "leader_election",
        "barrier",
        "seed_group_membership",
        "seed_leader_election",
        "lock",
        "leader_latch",
        "bank",
        "work_queue",
        "cache",
        "service_discovery",
    ] {
        command.args(["--example", example]);
    }
    command.arg("--target-dir").arg(target_dir);
    // `debug` is the dev profile's directory; every other profile has its own name.
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    let output = command.output().expect("run cargo to build the examples");
    assert!(output.status.success(), "building the examples failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// Something that happened, in the order the test saw it.
#[derive(Debug, Clone)]
enum Seen {
    Spawned(usize),
    Stdout(usize, String),
    Stderr(usize, String),
    Killed(usize),
    StdinClosed(usize),
}

struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The processes of one test, with their output merged into one stream. Dropping it kills the
/// ones still running, so a failing test leaves nothing behind.
struct Procs {
    example: &'static str,
    procs: Vec<Proc>,
    tx: Sender<Seen>,
    rx: Receiver<Seen>,
    /// Everything seen so far and when, for checks over the whole run and for failure messages.
    history: Vec<(Instant, Seen)>,
    /// Stdout lines not consumed by an `expect` yet.
    unread: VecDeque<(usize, String)>,
}

impl Procs {
    fn new(example: &'static str) -> Procs {
        let (tx, rx) = channel();
        Procs { example, procs: Vec::new(), tx, rx, history: Vec::new(), unread: VecDeque::new() }
    }

    /// Starts the example with `args`; its stdin stays open until [`close_stdin`](Self::close_stdin).
    fn spawn(&mut self, name: &str, args: &[&str]) -> usize {
        let mut command = Command::new(example_binary(self.example));
        command.args(args).stdin(Stdio::piped());
        self.spawn_command(name, command)
    }

    fn spawn_command(&mut self, name: &str, mut command: Command) -> usize {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", command.get_program()));
        let id = self.procs.len();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        forward(stdout, self.tx.clone(), move |line| Seen::Stdout(id, line));
        forward(stderr, self.tx.clone(), move |line| Seen::Stderr(id, line));
        let stdin = child.stdin.take();
        self.procs.push(Proc { name: name.to_owned(), child, stdin });
        self.history.push((Instant::now(), Seen::Spawned(id)));
        id
    }

    /// Takes in everything that arrives within `wait` (nothing more once something came).
    fn pump(&mut self, wait: Duration) -> bool {
        match self.rx.recv_timeout(wait) {
            Ok(seen) => {
                self.record(seen);
                while let Ok(seen) = self.rx.try_recv() {
                    self.record(seen);
                }
                true
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    fn record(&mut self, seen: Seen) {
        if let Seen::Stdout(id, line) = &seen {
            self.unread.push_back((*id, line.clone()));
        }
        self.history.push((Instant::now(), seen));
    }

    /// Waits until `proc` prints `line`, consuming its lines up to it.
    fn expect(&mut self, proc: usize, line: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mine: Vec<usize> = (0..self.unread.len()).filter(|&i| self.unread[i].0 == proc).collect();
            if let Some(&at) = mine.iter().find(|&&i| self.unread[i].1 == line) {
                for &i in mine.iter().rev().filter(|&&i| i <= at) {
                    self.unread.remove(i);
                }
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("{} did not print {line:?} within {timeout:?}\n{}", self.procs[proc].name, self.transcript());
            }
            self.pump(deadline - now);
        }
    }

    /// Waits until `proc` prints a line starting with `prefix`, consuming its lines up to it, and
    /// returns that line.
    fn expect_prefix(&mut self, proc: usize, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let mine: Vec<usize> = (0..self.unread.len()).filter(|&i| self.unread[i].0 == proc).collect();
            if let Some(&at) = mine.iter().find(|&&i| self.unread[i].1.starts_with(prefix)) {
                let line = self.unread[at].1.clone();
                for &i in mine.iter().rev().filter(|&&i| i <= at) {
                    self.unread.remove(i);
                }
                return line;
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("{} did not print {prefix:?}… within {timeout:?}\n{}", self.procs[proc].name, self.transcript());
            }
            self.pump(deadline - now);
        }
    }

    /// Fails if any of `procs` prints a line matching `bad` within `wait` (or did, unread).
    fn expect_quiet(&mut self, procs: &[usize], bad: impl Fn(&str) -> bool, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !self.pump(left) {
                break;
            }
        }
        if let Some((id, line)) = self.unread.iter().find(|(id, line)| procs.contains(id) && bad(line)) {
            panic!("{} printed {line:?} too early\n{}", self.procs[*id].name, self.transcript());
        }
    }

    /// Kills the process (SIGKILL: no chance to clean up) and reaps it.
    fn kill(&mut self, proc: usize) {
        self.pump(Duration::ZERO);
        let p = &mut self.procs[proc];
        p.child.kill().unwrap_or_else(|e| panic!("kill {}: {e}", p.name));
        let _ = p.child.wait();
        self.history.push((Instant::now(), Seen::Killed(proc)));
    }

    /// Writes a line to the process's standard input.
    fn send(&mut self, proc: usize, line: &str) {
        use std::io::Write;
        let p = &mut self.procs[proc];
        let stdin = p.stdin.as_mut().unwrap_or_else(|| panic!("{}: stdin already closed", p.name));
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).unwrap_or_else(|e| panic!("write to {}: {e}", p.name));
    }

    /// Ends the process's standard input, which the examples take as "leave".
    fn close_stdin(&mut self, proc: usize) {
        self.pump(Duration::ZERO);
        self.procs[proc].stdin = None;
        self.history.push((Instant::now(), Seen::StdinClosed(proc)));
    }

    /// Waits for the process to exit.
    fn wait_exit(&mut self, proc: usize, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.procs[proc].child.try_wait() {
                Ok(Some(status)) => {
                    // Its last lines may still be on their way.
                    while self.pump(Duration::from_millis(100)) {}
                    return status;
                }
                Ok(None) if Instant::now() < deadline => {
                    self.pump(Duration::from_millis(50));
                }
                Ok(None) => panic!("{} did not exit within {timeout:?}\n{}", self.procs[proc].name, self.transcript()),
                Err(e) => panic!("wait for {}: {e}", self.procs[proc].name),
            }
        }
    }

    fn expect_success(&mut self, proc: usize) {
        let status = self.wait_exit(proc, patience());
        assert!(status.success(), "{} exited with {status}\n{}", self.procs[proc].name, self.transcript());
    }

    /// Everything `proc` printed on stdout.
    fn stdout_of(&self, proc: usize) -> String {
        let lines = self.history.iter().filter_map(|(_, s)| match s {
            Seen::Stdout(id, line) if *id == proc => Some(format!("{line}\n")),
            _ => None,
        });
        lines.collect()
    }

    /// From the whole run of the election: no `LEADER` line while another process leads. A
    /// leader stops leading when it is killed or told to leave.
    fn check_one_leader_at_a_time(&self) {
        let mut leader: Option<usize> = None;
        for (_, seen) in &self.history {
            match seen {
                Seen::Stdout(id, line) if line.starts_with("LEADER") => {
                    if let Some(other) = leader.filter(|other| other != id) {
                        panic!(
                            "{} became leader while {} was\n{}",
                            self.procs[*id].name,
                            self.procs[other].name,
                            self.transcript()
                        );
                    }
                    leader = Some(*id);
                }
                Seen::Killed(id) | Seen::StdinClosed(id) if leader == Some(*id) => leader = None,
                _ => {}
            }
        }
    }

    /// No line starting with `prefix` before `proc` was started.
    fn check_nothing_before(&self, prefix: &str, proc: usize) {
        for (_, seen) in &self.history {
            match seen {
                Seen::Spawned(id) if *id == proc => return,
                Seen::Stdout(_, line) if line.starts_with(prefix) => {
                    panic!("{line:?} before {} arrived\n{}", self.procs[proc].name, self.transcript())
                }
                _ => {}
            }
        }
    }

    /// Every process printed a `first` line before any process printed a `then` line.
    fn check_all_before(&self, first: &str, then: &str) {
        let lines: Vec<&str> = self
            .history
            .iter()
            .filter_map(|(_, s)| match s {
                Seen::Stdout(_, line) => Some(line.as_str()),
                _ => None,
            })
            .collect();
        let last_first = lines.iter().rposition(|l| l.starts_with(first));
        let first_then = lines.iter().position(|l| l.starts_with(then));
        assert!(
            matches!((last_first, first_then), (Some(f), Some(t)) if f < t),
            "a {then:?} line came before the last {first:?} line\n{}",
            self.transcript()
        );
    }

    /// How far apart the first and the last stdout line starting with `prefix` arrived.
    fn spread(&self, prefix: &str) -> Duration {
        let times: Vec<Instant> = self
            .history
            .iter()
            .filter_map(|(at, s)| matches!(s, Seen::Stdout(_, line) if line.starts_with(prefix)).then_some(*at))
            .collect();
        match (times.first(), times.last()) {
            (Some(first), Some(last)) => last.duration_since(*first),
            _ => Duration::ZERO,
        }
    }

    /// Everything seen, one line each, for failure messages.
    fn transcript(&self) -> String {
        let name = |id: &usize| self.procs[*id].name.as_str();
        let mut out = format!("--- {} transcript ---\n", self.example);
        let start = self.history.first().map(|(at, _)| *at);
        for (at, seen) in &self.history {
            let ms = start.map_or(0, |start| at.duration_since(start).as_millis());
            let line = match seen {
                Seen::Spawned(id) => format!("*** {} started", name(id)),
                Seen::Stdout(id, line) => format!("[{}] {line}", name(id)),
                Seen::Stderr(id, line) => format!("[{} stderr] {line}", name(id)),
                Seen::Killed(id) => format!("*** {} killed", name(id)),
                Seen::StdinClosed(id) => format!("*** {}: stdin closed", name(id)),
            };
            out.push_str(&format!("{ms:>6} ms {line}\n"));
        }
        out
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if let Ok(None) = p.child.try_wait() {
                let _ = p.child.kill();
            }
            let _ = p.child.wait();
        }
    }
}

/// Sends each line of `pipe` to `tx`, from a thread of its own.
fn forward<R: Read + Send + 'static>(pipe: R, tx: Sender<Seen>, wrap: impl Fn(String) -> Seen + Send + 'static) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(wrap(line)).is_err() {
                break;
            }
        }
    });
}
