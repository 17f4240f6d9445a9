//! zk-dsl's locks against the real thing: `zk_dsl::recipes::Mutex` and `ReadWriteLock` tasks
//! contending on one lock path with real Apache Curator 5.4 and kazoo 2.11.0 processes (the
//! contenders of `tests/peers/`, driven by `suite::peers`), on the shared server and on a
//! 3-member ensemble that loses a member mid-run.
//!
//! Every holder, Rust or peer, does the non-atomic read-sleep-write increment of a counter node,
//! so any two holders at once lose an increment: the final count is compared with the
//! acquisitions, and the holder log (each hold's interval, stamped inside the real holding) with
//! itself. The last test shows the configuration that does NOT interoperate (a default kazoo
//! `Lock`), which the README warns about.
//!
//! One more test drops a Rust waiter's connection while it queues behind a Curator holder: the
//! acquisition must retry its reads rather than fail (it failed with ConnectionLoss before the fix
//! to the recipe's acquire loop that came with this test).
//!
//! JVM and Python starts dominate the runtime; the ensemble test runs alone (it starts three
//! more JVMs), the others two at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use suite::ensemble;
use suite::peers::{self, now_micros, startup_patience, HolderLog, LockMode, Peer};
use suite::{eventually, patience, TestEnv};
use tokio::sync::{watch, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::task::JoinSet;
use zk_dsl::recipes::{HoldState, LockGuard, Mutex, ReadWriteLock};
use zk_dsl::testing::FaultProxy;
use zk_dsl::{Client, Error, SessionEvent};

// ----- helpers ----------------------------------------------------------------------------------

/// The ensemble test takes this exclusively, the others shared: three member JVMs and two
/// Curator JVMs are enough for two cores without a second test's peers beside them.
static MACHINE: RwLock<()> = RwLock::const_new(());

async fn shared_machine() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

async fn whole_machine() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

fn parse_counter(bytes: &[u8]) -> u64 {
    let text = std::str::from_utf8(bytes).expect("an ASCII counter");
    text.trim().parse().unwrap_or_else(|e| panic!("a decimal counter, not {text:?}: {e}"))
}

async fn counter_value(client: &Client, path: &str) -> u64 {
    parse_counter(client.get_data(path).await.expect("read the counter").bytes())
}

/// The peers' work, done the same way: read, sleep 1-3 ms, write unconditionally.
async fn increment(client: &Client, counter: &str) {
    let value = counter_value(client, counter).await;
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=3))).await;
    client.set_data(counter, (value + 1).to_string().as_str()).await.expect("write the counter");
}

/// The contender nodes left under `dir` (none if the container itself is gone).
async fn lock_nodes(client: &Client, dir: &str) -> Vec<String> {
    match client.children(dir).await {
        Ok(children) => children,
        Err(Error::NoNode { .. }) => Vec::new(),
        Err(e) => panic!("list {dir}: {e}"),
    }
}

/// Waits for `READY` from every peer (JVMs start in parallel), then lets them and the Rust
/// contenders (waiting on `go`) loose together.
async fn start_all(peers: &mut [&mut Peer], go: &watch::Sender<bool>) {
    for p in peers.iter_mut() {
        let ready = format!("^READY {}$", p.id());
        p.expect_line_async(&ready, startup_patience()).await;
    }
    for p in peers.iter_mut() {
        p.send("go");
    }
    go.send_replace(true);
}

/// Waits for `DONE` and a clean exit from each peer and adds their holds to `log`.
async fn finish_peers(peers: &mut [&mut Peer], log: &HolderLog) {
    for p in peers.iter_mut() {
        let done = format!("^DONE {}$", p.id());
        p.expect_line_async(&done, patience() * 3).await;
        p.wait_success(patience());
        log.add_peer(p);
    }
}

/// Awaits every Rust contender task, failing the test with the first panic.
async fn join_all<T: 'static>(tasks: &mut JoinSet<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(done) = tokio::time::timeout(patience() * 6, tasks.join_next()).await.expect("Rust contenders") {
        out.push(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    out
}

/// How often the lock passed between a holder of the `a` family and one of the other.
fn handoffs(log: &HolderLog, a: &str) -> usize {
    let holds = log.holds();
    holds.windows(2).filter(|w| w[0].holder.starts_with(a) != w[1].holder.starts_with(a)).count()
}

/// A Rust mutex contender: its own client and `Mutex`, `iterations` holds each doing the
/// increment, recorded in `log`.
fn spawn_rust_mutex(
    tasks: &mut JoinSet<()>,
    client: Client,
    lock: &str,
    id: &str,
    iterations: usize,
    log: &HolderLog,
    go: &watch::Sender<bool>,
) {
    let (lock, id, log, mut go) = (lock.to_owned(), id.to_owned(), log.clone(), go.subscribe());
    tasks.spawn(async move {
        let mutex = Mutex::new(&client, lock).id(id.clone());
        go.wait_for(|go| *go).await.expect("the go signal");
        for i in 0..iterations {
            let guard = mutex
                .acquire()
                .timeout(patience())
                .await
                .unwrap_or_else(|e| panic!("{id}: acquisition {i} failed: {e}"));
            let from = now_micros();
            increment(&client, "/counter").await;
            log.record(&id, from, now_micros());
            guard.release().await.unwrap_or_else(|e| panic!("{id}: release {i} failed: {e}"));
        }
        client.close().await.expect("close");
    });
}

/// The mutex checks shared by the Curator and kazoo runs: every acquisition made, each holder's
/// increment kept, no two holds overlapping, the sides really taking turns, nothing left behind.
async fn check_mutex_run(env: &TestEnv, log: &HolderLog, per_contender: &[(&str, usize)]) {
    for (id, n) in per_contender {
        assert_eq!(log.acquisitions_by(id), *n, "{id}'s acquisitions");
    }
    let total: usize = per_contender.iter().map(|(_, n)| n).sum();
    log.assert_no_overlap();
    assert_eq!(counter_value(&env.client, "/counter").await, total as u64, "an increment was lost: two holders");
    let turns = handoffs(log, "rust");
    eprintln!("{total} holds, {turns} handoffs between Rust and the peers");
    assert!(turns >= 10, "Rust and the peers really contended (only {turns} handoffs)");
    let left = lock_nodes(&env.client, "/lock").await;
    assert!(left.is_empty(), "lock nodes left behind: {left:?}");
}

// ----- 1, 2: Mutex with Curator and with kazoo --------------------------------------------------

/// Two Rust `Mutex` contenders and two Curator `InterProcessMutex` processes, 150 acquisitions
/// each, on one path with no configuration on either side: 600 increments, no overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_curator_mutexes_exclude_each_other() {
    let _machine = shared_machine().await;
    const N: usize = 150;
    let env = TestEnv::new().await;
    env.client.create("/counter").persistent().data("0").await.unwrap();
    let spawn = |id: &str| {
        peers::curator_mutex(&env.connect_string, "/lock", id).iterations(N).counter("/counter").gate().spawn()
    };
    let (mut c1, mut c2) = (spawn("curator-1"), spawn("curator-2"));
    let (log, (go, _)) = (HolderLog::new(), watch::channel(false));
    let mut rust = JoinSet::new();
    for id in ["rust-1", "rust-2"] {
        spawn_rust_mutex(&mut rust, env.another_client().await, "/lock", id, N, &log, &go);
    }
    start_all(&mut [&mut c1, &mut c2], &go).await;
    join_all(&mut rust).await;
    finish_peers(&mut [&mut c1, &mut c2], &log).await;
    check_mutex_run(&env, &log, &[("rust-1", N), ("rust-2", N), ("curator-1", N), ("curator-2", N)]).await;
}

/// The same with two kazoo `Lock` processes configured with `extra_lock_patterns=["-lock-"]`
/// and kazoo's own `__lock__` node names: kazoo sees zk-dsl's `-lock-` nodes through the pattern,
/// zk-dsl reads kazoo's nodes natively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_kazoo_with_lock_pattern_exclude_each_other() {
    let _machine = shared_machine().await;
    const N: usize = 150;
    let env = TestEnv::new().await;
    env.client.create("/counter").persistent().data("0").await.unwrap();
    let spawn = |id: &str| {
        peers::kazoo_lock(&env.connect_string, "/lock", id)
            .extra_lock_patterns(&["-lock-"])
            .iterations(N)
            .counter("/counter")
            .gate()
            .spawn()
    };
    let (mut k1, mut k2) = (spawn("kazoo-1"), spawn("kazoo-2"));
    let (log, (go, _)) = (HolderLog::new(), watch::channel(false));
    let mut rust = JoinSet::new();
    for id in ["rust-1", "rust-2"] {
        spawn_rust_mutex(&mut rust, env.another_client().await, "/lock", id, N, &log, &go);
    }
    start_all(&mut [&mut k1, &mut k2], &go).await;
    join_all(&mut rust).await;
    finish_peers(&mut [&mut k1, &mut k2], &log).await;
    check_mutex_run(&env, &log, &[("rust-1", N), ("rust-2", N), ("kazoo-1", N), ("kazoo-2", N)]).await;
}

// ----- 3: ReadWriteLock with Curator ------------------------------------------------------------

/// A Rust reader: reads the counter twice, 2 ms apart, under the read lock (as the Curator
/// reader does); returns the number of torn reads.
fn spawn_rust_reader(
    tasks: &mut JoinSet<usize>,
    client: Client,
    id: &str,
    iterations: usize,
    log: &HolderLog,
    go: &watch::Sender<bool>,
) {
    let (id, log, mut go) = (id.to_owned(), log.clone(), go.subscribe());
    tasks.spawn(async move {
        let lock = ReadWriteLock::new(&client, "/rw").id(id.clone());
        go.wait_for(|go| *go).await.expect("the go signal");
        let mut torn = 0;
        for i in 0..iterations {
            let guard = lock.read().timeout(patience()).await.unwrap_or_else(|e| panic!("{id}: read {i}: {e}"));
            let from = now_micros();
            let first = counter_value(&client, "/counter").await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            let second = counter_value(&client, "/counter").await;
            torn += usize::from(first != second);
            log.record_shared(&id, from, now_micros());
            guard.release().await.unwrap_or_else(|e| panic!("{id}: release {i}: {e}"));
        }
        client.close().await.expect("close");
        torn
    });
}

/// A Rust writer: the increment under the write lock.
fn spawn_rust_writer(
    tasks: &mut JoinSet<usize>,
    client: Client,
    id: &str,
    iterations: usize,
    log: &HolderLog,
    go: &watch::Sender<bool>,
) {
    let (id, log, mut go) = (id.to_owned(), log.clone(), go.subscribe());
    tasks.spawn(async move {
        let lock = ReadWriteLock::new(&client, "/rw").id(id.clone());
        go.wait_for(|go| *go).await.expect("the go signal");
        for i in 0..iterations {
            let guard = lock.write().timeout(patience()).await.unwrap_or_else(|e| panic!("{id}: write {i}: {e}"));
            let from = now_micros();
            increment(&client, "/counter").await;
            log.record(&id, from, now_micros());
            guard.release().await.unwrap_or_else(|e| panic!("{id}: release {i}: {e}"));
        }
        client.close().await.expect("close");
        0
    });
}

/// Curator `InterProcessReadWriteLock` readers and writers (one process each) with Rust
/// `ReadWriteLock` readers (two) and a writer, 100 holds each: writers' increments all kept, no
/// reader ever sees a write in progress, no writer overlaps anyone — and readers really share:
/// a Curator reader acquires while a Rust reader holds, and readers overlap during the race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_curator_read_write_locks_share_reads_and_exclude_writes() {
    let _machine = shared_machine().await;
    const N: usize = 100;
    let env = TestEnv::new().await;
    env.client.create("/counter").persistent().data("0").await.unwrap();
    let cs = &env.connect_string;
    let mut cw = peers::curator_rw_lock(cs, "/rw", "curator-writer", LockMode::Write)
        .iterations(N)
        .counter("/counter")
        .gate()
        .spawn();
    let mut cr = peers::curator_rw_lock(cs, "/rw", "curator-reader", LockMode::Read)
        .iterations(N)
        .counter("/counter")
        .gate()
        .spawn();
    let (log, (go, _)) = (HolderLog::new(), watch::channel(false));
    let mut rust = JoinSet::new();
    spawn_rust_writer(&mut rust, env.another_client().await, "rust-writer", N, &log, &go);
    for id in ["rust-reader-1", "rust-reader-2"] {
        spawn_rust_reader(&mut rust, env.another_client().await, id, N, &log, &go);
    }
    for p in [&mut cw, &mut cr] {
        let ready = format!("^READY {}$", p.id());
        p.expect_line_async(&ready, startup_patience()).await;
    }

    // Shared holding across the implementations, shown deterministically: a Rust reader holds,
    // and the Curator reader's first acquisition completes meanwhile.
    let first_reader = ReadWriteLock::new(&env.client, "/rw").id("rust-reader-0");
    let reading = first_reader.read().timeout(patience()).await.unwrap();
    let from = now_micros();
    cr.send("go");
    cr.expect_line_async("^ACQUIRED curator-reader ", patience()).await;
    assert!(reading.is_held());
    log.record_shared("rust-reader-0", from, now_micros());
    reading.release().await.unwrap();

    cw.send("go");
    go.send_replace(true);
    let torn: usize = join_all(&mut rust).await.into_iter().sum();
    finish_peers(&mut [&mut cw, &mut cr], &log).await;

    assert_eq!(torn, 0, "a Rust reader saw a write in progress");
    let curator_torn: Vec<String> = cr.texts().into_iter().filter(|l| l.starts_with("READ_TORN")).collect();
    assert!(curator_torn.is_empty(), "the Curator reader saw writes in progress: {curator_torn:?}");
    assert_eq!(cr.texts().iter().filter(|l| l.starts_with("READ_CONSISTENT")).count(), N);
    for (id, n) in
        [("curator-writer", N), ("curator-reader", N), ("rust-writer", N), ("rust-reader-1", N), ("rust-reader-2", N)]
    {
        assert_eq!(log.acquisitions_by(id), n, "{id}'s holds");
    }
    log.assert_no_overlap();
    assert_eq!(counter_value(&env.client, "/counter").await, 2 * N as u64, "a write was lost");

    let holds = log.holds();
    let shared_pairs: Vec<(&str, &str)> = holds
        .iter()
        .enumerate()
        .flat_map(|(i, a)| holds[i + 1..].iter().map(move |b| (a, b)))
        .filter(|(a, b)| {
            a.shared && b.shared && a.acquired_micros < b.released_micros && b.acquired_micros < a.released_micros
        })
        .map(|(a, b)| (a.holder.as_str(), b.holder.as_str()))
        .collect();
    assert!(
        shared_pairs.contains(&("rust-reader-0", "curator-reader")),
        "the Curator reader held beside the Rust reader: {:?}",
        &shared_pairs[..shared_pairs.len().min(10)]
    );
    eprintln!("{} pairs of overlapping reader holds", shared_pairs.len());
    assert!(shared_pairs.len() >= 2, "readers shared during the race too: {shared_pairs:?}");
    let left = lock_nodes(&env.client, "/rw").await;
    assert!(left.is_empty(), "lock nodes left behind: {left:?}");
}

// ----- 4: failover on a 3-member ensemble -------------------------------------------------------

/// What one fenced hold came to.
enum Fenced {
    /// The increment landed, exactly once.
    Applied,
    /// The holder stopped without writing (or its write was refused): why.
    Abandoned(&'static str),
}

/// The increment as a holder that respects its guard does it: read, sleep, then stop if the
/// guard no longer counts as held (Standard policy: a disconnection counts as loss), else write
/// with a guarded, versioned setData (a multi that checks our lock node), so a write lands only
/// while our node exists and only on the value read. A write whose reply was lost with the
/// connection is resolved once the guard is Held again (same session, node still ours, so
/// nobody else wrote): it landed iff the counter's version moved by one.
async fn fenced_increment(client: &Client, guard: &mut LockGuard, counter: &str) -> Fenced {
    let node = match client.get_data(counter).await {
        Ok(node) => node,
        Err(e) if e.is_retryable() => return Fenced::Abandoned("the read failed with the connection"),
        Err(e) => panic!("read the counter: {e}"),
    };
    let (value, version) = (parse_counter(node.bytes()), node.stat.version);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=3))).await;
    if !guard.is_held() {
        return Fenced::Abandoned("the guard stopped counting as held before the write");
    }
    match guard.set_data(counter, (value + 1).to_string().as_str(), version).await {
        Ok(_) => Fenced::Applied,
        Err(Error::LockLost { .. }) => Fenced::Abandoned("the guarded write was refused"),
        Err(e) if e.is_retryable() => {
            let settled = tokio::time::timeout(ensemble::session_timeout() * 2, async {
                let mut state = guard.state();
                while state == HoldState::Uncertain {
                    state = guard.changed().await;
                }
                state
            });
            match settled.await {
                Ok(HoldState::Held) => {}
                Ok(_) => panic!("the session or lock was lost in a failover, which this test does not expect, after an unanswered write: {e}"),
                Err(_) => panic!("the guard stayed uncertain after the failover"),
            }
            let now = client.get_data(counter).await.expect("read the counter after reconnecting");
            match now.stat.version - version {
                0 => Fenced::Abandoned("the write was lost with the connection"),
                1 if parse_counter(now.bytes()) == value + 1 => Fenced::Applied,
                _ => panic!("the counter moved while we held the lock: {value} v{version} -> {:?}", now),
            }
        }
        Err(e) => panic!("the guarded write failed otherwise (did someone write while we held?): {e}"),
    }
}

/// Counts of what the Rust side of the ensemble test saw.
#[derive(Default)]
struct FencedStats {
    applied: AtomicUsize,
    /// Holds that stopped on their own (an unanswered read, a guard not held before the write).
    abandoned: AtomicUsize,
    /// The hold the member was killed under.
    interrupted: AtomicUsize,
}

/// Rust (two contenders on one client) and Curator (two processes, 60 acquisitions each) on one
/// mutex through a 3-member ensemble; the member the Rust client is connected to is killed once,
/// while a Rust contender holds the lock.
///
/// What this proves: the lock stays exclusive through the failover — the Rust session moves to
/// another member with its lock node, so the Curator contenders keep waiting behind it (no hold
/// overlaps the interrupted one); the holder's guard turns `Uncertain` (not held under the default
/// policy, so the holder stops acting) and `Held` again after the failover; holders that stop on
/// `!is_held()` and write only with guarded, versioned writes lose no increment and apply none
/// twice: the counter equals the Curator acquisitions plus the Rust increments that landed. It
/// does not cover expiry (the session survives here): that a lost holder's guarded write is
/// refused is `tests/locks.rs`'s fencing test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutex_with_curator_stays_exclusive_when_the_rust_clients_member_dies() {
    let _machine = whole_machine().await;
    let _one = ensemble::one_at_a_time().await;
    const RUST_TARGET: usize = 60;
    const CURATOR_N: usize = 60;
    let ensemble = ensemble::start().await;
    let cs = ensemble.connect_string();
    let client = ensemble::connect(&cs, ensemble::session_timeout()).await;
    let session = client.session_id();
    let mut events = client.session_events();
    client.create("/counter").persistent().data("0").await.unwrap();

    let curator_timeout = ensemble::session_timeout();
    let spawn = |id: &str| {
        peers::curator_mutex(&cs, "/lock", id)
            .iterations(CURATOR_N)
            .counter("/counter")
            .session_timeout(curator_timeout)
            .gate()
            .spawn()
    };
    let (mut c1, mut c2) = (spawn("curator-1"), spawn("curator-2"));
    let (log, (go, _)) = (HolderLog::new(), watch::channel(false));
    let stats = Arc::new(FencedStats::default());
    // rust-1 asks for the kill while it holds the lock, at its third of the way.
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let mut kill_tx = Some(kill_tx);
    let mut rust = JoinSet::new();
    for id in ["rust-1", "rust-2"] {
        let (client, log, stats, mut go) = (client.clone(), log.clone(), stats.clone(), go.subscribe());
        let mut kill_tx = if id == "rust-1" { kill_tx.take() } else { None };
        rust.spawn(async move {
            let mutex = Mutex::new(&client, "/lock").id(id);
            go.wait_for(|go| *go).await.expect("the go signal");
            let mut applied = 0;
            while applied < RUST_TARGET {
                // Acquisitions retry their reads through the failover (the session survives).
                let mut guard = mutex
                    .acquire()
                    .timeout(patience() * 3)
                    .await
                    .unwrap_or_else(|e| panic!("{id}: an acquisition failed: {e}"));
                let from = now_micros();
                if applied == RUST_TARGET / 3 {
                    if let Some(kill) = kill_tx.take() {
                        // The member dies under a holder: the guard turns Uncertain, which the
                        // default (Standard) policy does not count as held, so the holder stops
                        // acting; the session and its node survive on another member, so the
                        // guard is Held again, and nobody else held meanwhile (the holder log).
                        kill.send(()).expect("the test waits for the kill request");
                        let state = tokio::time::timeout(patience(), guard.changed()).await;
                        assert_eq!(state, Ok(HoldState::Uncertain), "{id}: the guard while its member dies");
                        assert!(!guard.is_held(), "Standard policy: Uncertain is not held");
                        let state = tokio::time::timeout(patience() * 3, guard.changed()).await;
                        assert_eq!(state, Ok(HoldState::Held), "{id}: the guard after the failover");
                        log.record(id, from, now_micros());
                        stats.interrupted.fetch_add(1, Ordering::Relaxed);
                        guard.release().await.unwrap_or_else(|e| panic!("{id}: release after the failover: {e}"));
                        continue;
                    }
                }
                match fenced_increment(&client, &mut guard, "/counter").await {
                    Fenced::Applied => {
                        log.record(id, from, now_micros());
                        applied += 1;
                        stats.applied.fetch_add(1, Ordering::Relaxed);
                    }
                    Fenced::Abandoned(why) => {
                        eprintln!("{id}: hold abandoned: {why}");
                        stats.abandoned.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // The release retries through the failover; the session survives it.
                guard.release().await.unwrap_or_else(|e| panic!("{id}: release: {e}"));
            }
        });
    }
    start_all(&mut [&mut c1, &mut c2], &go).await;

    // Mid-run, while rust-1 holds the lock: kill the member serving the Rust session.
    tokio::time::timeout(patience() * 3, kill_rx).await.expect("rust-1 reached its kill point").unwrap();
    let victim = ensemble::member_of(&ensemble, session).await;
    let e = ensemble.clone();
    let was_leader = ensemble::blocking(move || e.leader()).await == Some(victim);
    ensemble::kill(&ensemble, victim).await;

    join_all(&mut rust).await;
    finish_peers(&mut [&mut c1, &mut c2], &log).await;

    // The failover happened to this session, and it survived.
    let mut seen = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::ZERO, events.next()).await {
        seen.push(event);
    }
    assert!(seen.contains(&SessionEvent::Disconnected) && seen.contains(&SessionEvent::Reconnected), "{seen:?}");
    assert!(!seen.contains(&SessionEvent::Expired), "{seen:?}");
    assert_eq!(client.session_id(), session);
    assert_ne!(ensemble::member_of(&ensemble, session).await, victim, "the session moved to another member");

    let applied = stats.applied.load(Ordering::Relaxed);
    assert_eq!(applied, 2 * RUST_TARGET);
    assert_eq!(stats.interrupted.load(Ordering::Relaxed), 1, "the kill came while rust-1 held the lock");
    for id in ["curator-1", "curator-2"] {
        assert_eq!(log.acquisitions_by(id), CURATOR_N, "{id}'s acquisitions");
    }
    log.assert_no_overlap();
    let expected = (applied + 2 * CURATOR_N) as u64;
    assert_eq!(counter_value(&client, "/counter").await, expected, "an increment was lost or applied twice");
    let left = lock_nodes(&client, "/lock").await;
    assert!(left.is_empty(), "lock nodes left behind: {left:?}");
    eprintln!(
        "failover run (killed member {victim}, the leader: {was_leader}): {applied} Rust increments, {} holds abandoned",
        stats.abandoned.load(Ordering::Relaxed),
    );
    client.close().await.unwrap();
}

/// A Rust waiter queued behind a Curator holder whose connection drops while its acquisition
/// lists the lock directory, and again while it sets the watch on its predecessor (requests and
/// replies each delayed 300 ms through a fault proxy, the connection cut in the middle of each):
/// the acquisition goes on, as Curator's does, instead of failing with `ConnectionLoss`, keeps
/// exactly one node in line, and takes the lock when Curator releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_waiter_behind_curator_rides_through_dropped_connections() {
    let _machine = shared_machine().await;
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(suite::server().address()).expect("start a proxy");
    let client = Client::connect(format!("{}{}", proxy.connect_string(), env.root))
        .session_timeout(Duration::from_secs(10))
        .attempt_timeout(Duration::from_millis(300))
        .connect_timeout(patience())
        .await
        .expect("connect through the proxy");
    let mut curator = peers::curator_mutex(&env.connect_string, "/lock", "curator").iterations(2).hold().spawn();
    let log = HolderLog::new();
    // Create (reply at ~600 ms), list (~600-1200 ms), getData with a watch (~1200-1800 ms).
    for (round, cut) in [(0, Duration::from_millis(900)), (1, Duration::from_millis(1500))] {
        curator.expect_line_async("^ACQUIRED curator ", startup_patience()).await;
        proxy.delay(Duration::from_millis(300));
        let waiting = tokio::spawn({
            let client = client.clone();
            async move { Mutex::new(&client, "/lock").id("rust").acquire().timeout(patience() * 2).await }
        });
        tokio::time::sleep(cut).await;
        tokio::task::block_in_place(|| proxy.drop_connections());
        proxy.delay(Duration::ZERO);
        // Queued behind Curator, once: the second node, seen on a child watch, is the waiter's.
        let what = format!("round {round}: the waiter's node behind Curator's");
        suite::children_until(&env.client, "/lock", &what, |c| c.len() >= 2).await;
        let ids: Vec<String> = Mutex::new(&env.client, "/lock")
            .participants()
            .await
            .unwrap()
            .iter()
            .map(|p| p.id_str().into_owned())
            .collect();
        assert_eq!(ids, ["curator", "rust"], "round {round}: queued behind Curator, once");
        assert!(!waiting.is_finished(), "round {round}: still waiting while Curator holds");
        curator.send("release");
        let guard = tokio::time::timeout(patience(), waiting)
            .await
            .expect("the lock after Curator's release")
            .unwrap()
            .unwrap_or_else(|e| panic!("round {round}: the acquisition failed: {e}"));
        let from = now_micros();
        assert!(guard.is_held());
        guard.release().await.unwrap();
        log.record("rust", from, now_micros());
    }
    curator.expect_line_async("^DONE curator$", patience()).await;
    curator.wait_success(patience());
    log.add_peer(&curator);
    assert_eq!((log.acquisitions_by("rust"), log.acquisitions_by("curator")), (2, 2));
    log.assert_no_overlap();
    let left = lock_nodes(&env.client, "/lock").await;
    assert!(left.is_empty(), "lock nodes left behind: {left:?}");
    client.close().await.unwrap();
}

// ----- 5: the hazard: a default kazoo Lock ------------------------------------------------------

/// A DEFAULT kazoo `Lock` (no `extra_lock_patterns`) beside zk-dsl: kazoo ignores zk-dsl's
/// `_c_<uuid>-lock-<seq>` node, so it acquires while a Rust holder holds — two holders. The other
/// way round is safe: zk-dsl reads kazoo's `__lock__` node and waits for it. So a kazoo service
/// must be configured with `extra_lock_patterns=["-lock-"]` (the README says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_kazoo_lock_ignores_rust_holders() {
    let _machine = shared_machine().await;
    let env = TestEnv::new().await;
    let mut k = peers::kazoo_lock(&env.connect_string, "/lock", "kazoo").extra_lock_patterns(&[]).gate().hold().spawn();
    k.expect_line_async("^READY kazoo$", startup_patience()).await;
    let log = HolderLog::new();
    let mutex = Mutex::new(&env.client, "/lock").id("rust");

    // Rust holds; the default kazoo acquires anyway.
    let first = mutex.acquire().timeout(patience()).await.unwrap();
    let from = now_micros();
    k.send("go");
    k.expect_line_async("^ACQUIRED kazoo ", patience()).await;
    assert!(first.is_held(), "the Rust holder still holds");
    // zk-dsl's view: it holds and kazoo waits behind it; kazoo's view: kazoo holds.
    let view: Vec<(String, bool)> =
        mutex.participants().await.unwrap().into_iter().map(|p| (p.id_str().into_owned(), p.holds)).collect();
    assert_eq!(view, vec![("rust".to_owned(), true), ("kazoo".to_owned(), false)]);
    first.release().await.unwrap();
    log.record("rust", from, now_micros());

    // kazoo holds alone now: zk-dsl sees its `__lock__` node and waits for it.
    assert!(mutex.try_acquire().await.unwrap().is_none(), "zk-dsl respects kazoo's node");
    let waiting = tokio::spawn({
        let mutex = mutex.clone();
        async move { mutex.acquire().timeout(patience()).await }
    });
    eventually("the Rust waiter to queue", || async { (mutex.participants().await.unwrap().len() >= 2).then_some(()) })
        .await;
    k.send("release");
    let second = tokio::time::timeout(patience(), waiting).await.expect("the lock after kazoo").unwrap().unwrap();
    let from = now_micros();
    second.release().await.unwrap();
    log.record("rust", from, now_micros());
    finish_peers(&mut [&mut k], &log).await;

    let overlaps = log.overlaps();
    assert_eq!(overlaps.len(), 1, "exactly the first Rust hold and kazoo's overlap: {:?}", log.holds());
    let (a, b) = &overlaps[0];
    assert_eq!((a.holder.as_str(), b.holder.as_str()), ("rust", "kazoo"));
}
