//! Shared data, barriers and queues against the real thing: zk-dsl's `SharedCount`,
//! `AtomicLong`, `DoubleBarrier` and `SimpleQueue` working on the same nodes as real Apache
//! Curator 5.4 and kazoo 2.11.0 processes (the contenders of `tests/peers/`, driven by
//! `suite::peers`), with outcome checks: exact counts and every intermediate value reported once,
//! the barrier's entry and exit conditions on one clock, every queue item delivered once.
//!
//! The tests take the machine one at a time (`MACHINE`): each starts several JVMs or Python
//! interpreters, and the box has two cores.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suite::peers::{self, now_micros, startup_patience, Peer};
use suite::{connect, patience, TestEnv};
use tokio::sync::{mpsc, watch, Mutex as AsyncMutex, MutexGuard};
use tokio::task::JoinSet;
use zk_dsl::recipes::{AtomicLong, Counter, CounterValue, DoubleBarrier, SharedCount, SimpleQueue};

// ----- helpers ----------------------------------------------------------------------------------

static MACHINE: AsyncMutex<()> = AsyncMutex::const_new(());

async fn whole_machine() -> MutexGuard<'static, ()> {
    MACHINE.lock().await
}

/// Waits for `READY` from every peer (JVMs and interpreters start in parallel), then lets them
/// and the Rust side (waiting on `go`) loose together.
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

/// Waits for `DONE` and a clean exit.
async fn finish(p: &mut Peer, within: Duration) {
    let done = format!("^DONE {}$", p.id());
    p.expect_line_async(&done, within).await;
    p.wait_success(patience());
}

/// Awaits every Rust task, failing the test with the first panic.
async fn join_all<T: 'static>(tasks: &mut JoinSet<T>, within: Duration) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(done) = tokio::time::timeout(within, tasks.join_next()).await.expect("the Rust tasks") {
        out.push(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    out
}

/// The words after the tag of every `TAG <id> ...` line a peer printed.
fn tagged(p: &Peer, tag: &str) -> Vec<Vec<String>> {
    p.texts()
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(tag)).then(|| words.skip(1).map(str::to_owned).collect())
        })
        .collect()
}

/// Every counter value that a successful increment reported must appear exactly once, and
/// together they must be exactly `1..=total` (each increment saw the one before it).
fn assert_values_are_a_chain(values: &mut [i64], total: usize) {
    values.sort_unstable();
    let mut seen = BTreeMap::new();
    for v in values.iter() {
        *seen.entry(*v).or_insert(0) += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(dups.is_empty(), "values reported by more than one increment (a lost update): {dups:?}");
    assert_eq!(values.len(), total, "increments reported");
    assert_eq!(values.first().copied(), Some(1));
    assert_eq!(values.last().copied(), Some(total as i64));
}

// ----- 1: counters ------------------------------------------------------------------------------

/// `rust` zk-dsl clients, each with a `Counter<V>` on `path`, and the gated `peers` add 1 `n`
/// times each, all starting together; returns every value an increment returned (the peers'
/// from their `VALUE` lines).
async fn increment_together<V>(cs: &str, path: &str, rust: usize, n: usize, peers: &mut [Peer]) -> Vec<i64>
where
    V: CounterValue + From<i8> + Into<i64>,
{
    let (go, _) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for _ in 0..rust {
        let (cs, path, mut go) = (cs.to_owned(), path.to_owned(), go.subscribe());
        tasks.spawn(async move {
            let client = connect(&cs).await;
            let counter = Counter::<V>::new(&client, path);
            go.wait_for(|go| *go).await.expect("the go signal");
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                values.push(counter.add(V::from(1)).await.expect("add").into());
            }
            client.close().await.expect("close");
            values
        });
    }
    start_all(&mut peers.iter_mut().collect::<Vec<_>>(), &go).await;
    let mut values: Vec<i64> = join_all(&mut tasks, patience() * 6).await.into_iter().flatten().collect();
    for p in peers.iter_mut() {
        finish(p, patience() * 6).await;
        let reported = tagged(p, "VALUE");
        assert_eq!(reported.len(), n, "{}'s increments", p.id());
        values.extend(reported.iter().map(|w| w[0].parse::<i64>().expect("a VALUE")));
    }
    values
}

/// 8 zk-dsl clients, 2 Curator `SharedCount` processes (a `trySetCount` loop: compare-and-set on
/// the node version) and 2 kazoo `Counter(support_curator=True)` processes increment one 4-byte
/// counter 500 times each: the final value is exact, and the values the increments returned are
/// exactly 1..=6000, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_count_with_curator_and_kazoo_is_exact() {
    let _machine = whole_machine().await;
    const N: usize = 500;
    const RUST: usize = 8;
    let env = TestEnv::new().await;
    let cs = env.connect_string.clone();
    let mut peers: Vec<Peer> = vec![
        peers::curator_shared_count(&cs, "/count", "curator-1").iterations(N).gate().spawn(),
        peers::curator_shared_count(&cs, "/count", "curator-2").iterations(N).gate().spawn(),
        peers::kazoo_counter(&cs, "/count", "kazoo-1").iterations(N).gate().spawn(),
        peers::kazoo_counter(&cs, "/count", "kazoo-2").iterations(N).gate().spawn(),
    ];
    let started = std::time::Instant::now();
    let mut values = increment_together::<i32>(&cs, "/count", RUST, N, &mut peers).await;
    eprintln!("{} increments by 12 contenders in {:.1?}", values.len(), started.elapsed());
    let total = (RUST + peers.len()) * N;
    assert_values_are_a_chain(&mut values, total);
    let node = env.client.get_data("/count").await.unwrap();
    assert_eq!(node.bytes(), (total as i32).to_be_bytes(), "4-byte big-endian, exact");
    assert_eq!(SharedCount::new(&env.client, "/count").get().await.unwrap().value, total as i32);
}

/// 4 zk-dsl `AtomicLong`s and 2 Curator `DistributedAtomicLong` processes (optimistic, retried)
/// increment one 8-byte counter 200 times each: exact, each value reported once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_long_with_curator_is_exact() {
    let _machine = whole_machine().await;
    const N: usize = 200;
    const RUST: usize = 4;
    let env = TestEnv::new().await;
    let cs = env.connect_string.clone();
    let mut peers: Vec<Peer> = vec![
        peers::curator_atomic_long(&cs, "/long", "curator-1").iterations(N).gate().spawn(),
        peers::curator_atomic_long(&cs, "/long", "curator-2").iterations(N).gate().spawn(),
    ];
    let mut values = increment_together::<i64>(&cs, "/long", RUST, N, &mut peers).await;
    let total = (RUST + peers.len()) * N;
    assert_values_are_a_chain(&mut values, total);
    let node = env.client.get_data("/long").await.unwrap();
    assert_eq!(node.bytes(), (total as i64).to_be_bytes(), "8-byte big-endian, exact");
}

/// kazoo's `Counter` makes its node with `ensure_path`, i.e. empty: zk-dsl's counters read an
/// empty node as their seed (as kazoo and Curator's DistributedAtomicLong do) instead of failing
/// to decode it. (They failed with a codec error before the fix that came with this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_counter_node_as_kazoo_makes_it_counts_as_the_seed() {
    let env = TestEnv::new().await;
    env.client.create("/kazoo-made").persistent().await.unwrap();
    let count = SharedCount::new(&env.client, "/kazoo-made");
    assert_eq!(count.get().await.unwrap().value, 0);
    assert_eq!(count.add(5).await.unwrap(), 5);
    assert_eq!(env.client.get_data("/kazoo-made").await.unwrap().bytes(), 5i32.to_be_bytes());
    env.client.create("/kazoo-long").persistent().await.unwrap();
    assert_eq!(AtomicLong::new(&env.client, "/kazoo-long").seed(7).add(1).await.unwrap(), 8);
}

// ----- 3: queues --------------------------------------------------------------------------------

const QUEUE_ITEMS: usize = 10_000;

/// Asserts `taken` is exactly `expected`: nothing lost, nothing twice.
fn assert_exactly_once(taken: &[String], expected: &BTreeSet<String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in taken {
        *counts.entry(item.as_str()).or_insert(0) += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(twice.is_empty(), "items delivered more than once: {twice:?}");
    let unknown: Vec<_> = counts.keys().filter(|i| !expected.contains(**i)).take(10).collect();
    assert!(unknown.is_empty(), "items nobody offered: {unknown:?}");
    let lost: Vec<_> = expected.iter().filter(|i| !counts.contains_key(i.as_str())).take(10).collect();
    assert!(lost.is_empty(), "items lost ({} in all): {lost:?}", expected.len() - counts.len());
}

/// A Curator `SimpleDistributedQueue` producer offers 10,000 items; three zk-dsl
/// `SimpleQueue<Vec<u8>>` consumers (raw bytes, as Curator writes them) take them all: each
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_producer_to_zk_dsl_consumers_moves_every_item_once() {
    let _machine = whole_machine().await;
    const CONSUMERS: usize = 3;
    let env = TestEnv::new().await;
    let cs = env.connect_string.clone();
    let mut producer = peers::curator_queue_producer(&cs, "/q", "cp").iterations(QUEUE_ITEMS).gate().spawn();
    let (go, _) = watch::channel(false);
    let taken = Arc::new(Mutex::new(Vec::with_capacity(QUEUE_ITEMS)));
    let mut consumers = JoinSet::new();
    for c in 0..CONSUMERS {
        let (cs, taken, mut go) = (cs.clone(), taken.clone(), go.subscribe());
        consumers.spawn(async move {
            let client = connect(&cs).await;
            let queue: SimpleQueue<Vec<u8>> = SimpleQueue::new(&client, "/q");
            go.wait_for(|go| *go).await.expect("the go signal");
            let mut mine = 0;
            loop {
                let item = queue.take_timeout(patience()).await.unwrap_or_else(|e| panic!("consumer {c}: {e}"));
                let item = String::from_utf8(item).expect("UTF-8 items");
                if item == "stop" {
                    break;
                }
                taken.lock().unwrap().push(item);
                mine += 1;
            }
            client.close().await.expect("close");
            mine
        });
    }
    let started = std::time::Instant::now();
    start_all(&mut [&mut producer], &go).await;
    finish(&mut producer, patience() * 12).await;
    let produced = tagged(&producer, "PRODUCED");
    assert_eq!(produced.len(), QUEUE_ITEMS);
    let stops: SimpleQueue<Vec<u8>> = SimpleQueue::new(&env.client, "/q");
    for _ in 0..CONSUMERS {
        stops.offer(&b"stop".to_vec()).await.unwrap();
    }
    let per_consumer = join_all(&mut consumers, patience() * 12).await;
    eprintln!("Curator -> zk-dsl: {QUEUE_ITEMS} items in {:.1?}, per consumer {per_consumer:?}", started.elapsed());
    let expected: BTreeSet<String> = (0..QUEUE_ITEMS).map(|i| format!("cp-{i}")).collect();
    assert_exactly_once(&taken.lock().unwrap(), &expected);
    assert!(stops.is_empty().await.unwrap(), "items left in the queue");
}

/// The reverse: a zk-dsl producer offers 10,000 raw-byte items (pipelined: up to 64 offers in
/// flight) and two Curator `SimpleDistributedQueue` consumers take 5,000 each: every item once.
///
/// The producer keeps the backlog under `BACKLOG` items: Curator's consumer lists the whole
/// queue for every item it takes, so with all 10,000 offered at once (2 s) draining took 41 s
/// on the 2-core box; kept short, the run takes a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_dsl_producer_to_curator_consumers_moves_every_item_once() {
    let _machine = whole_machine().await;
    const IN_FLIGHT: usize = 64;
    const BACKLOG: usize = 256;
    let env = TestEnv::new().await;
    let cs = env.connect_string.clone();
    let spawn = |id: &str| peers::curator_queue_consumer(&cs, "/q", id).iterations(QUEUE_ITEMS / 2).gate().spawn();
    let (mut c1, mut c2) = (spawn("cc-1"), spawn("cc-2"));
    let (go, _) = watch::channel(false);
    let started = std::time::Instant::now();
    start_all(&mut [&mut c1, &mut c2], &go).await;
    let queue: SimpleQueue<Vec<u8>> = SimpleQueue::new(&env.client, "/q");
    let mut offers = JoinSet::new();
    for i in 0..QUEUE_ITEMS {
        if i % BACKLOG == 0 {
            let items = |c: &[String]| c.iter().filter(|c| c.starts_with("qn-")).count();
            // At the consumers' pace; the whole run may take up to patience() * 12 (below).
            let what = "the consumers to take the backlog";
            suite::children_until_within(&env.client, "/q", what, patience() * 6, |c| items(c) <= BACKLOG).await;
        }
        if offers.len() >= IN_FLIGHT {
            offers.join_next().await.unwrap().unwrap();
        }
        let queue = queue.clone();
        offers.spawn(async move { queue.offer(&format!("z-{i}").into_bytes()).await.expect("offer") });
    }
    join_all(&mut offers, patience()).await;
    let offered = started.elapsed();
    let mut taken = Vec::with_capacity(QUEUE_ITEMS);
    for c in [&mut c1, &mut c2] {
        finish(c, patience() * 12).await;
        let consumed = tagged(c, "CONSUMED");
        assert_eq!(consumed.len(), QUEUE_ITEMS / 2, "{}'s items", c.id());
        taken.extend(consumed.into_iter().map(|w| w[0].clone()));
    }
    eprintln!(
        "zk-dsl -> Curator: {QUEUE_ITEMS} items offered in {offered:.1?}, all taken in {:.1?}",
        started.elapsed()
    );
    let expected: BTreeSet<String> = (0..QUEUE_ITEMS).map(|i| format!("z-{i}")).collect();
    assert_exactly_once(&taken, &expected);
    assert!(queue.is_empty().await.unwrap(), "items left in the queue");
}

// ----- 2: double barrier ------------------------------------------------------------------------

enum Cmd {
    Join(usize),
    Leave,
    Die,
}

/// One barrier member: a zk-dsl `DoubleBarrier` on its own client, driven like the Curator
/// contender (`join <r>`, `leave`, `die`), or a Curator process.
enum BarrierMember {
    Rust {
        id: String,
        tx: mpsc::UnboundedSender<Cmd>,
        events: watch::Receiver<Vec<(String, usize, u64)>>,
        cursor: usize,
    },
    Curator(Peer),
}

impl BarrierMember {
    fn rust(cs: &str, dir: &str, id: &str, members: usize) -> BarrierMember {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (events_tx, events) = watch::channel(Vec::new());
        let (cs, dir) = (cs.to_owned(), dir.to_owned());
        tokio::spawn(async move {
            let say = |tag: &str, r: usize| events_tx.send_modify(|v| v.push((tag.to_owned(), r, now_micros())));
            let client = connect(&cs).await;
            let die = |r: usize, client: zk_dsl::Client| {
                say("DYING", r);
                async move {
                    // Closing the session takes the member node at once, as a noticed crash.
                    let _ = client.close().await;
                    say("DIED", r);
                }
            };
            while let Some(cmd) = rx.recv().await {
                let r = match cmd {
                    Cmd::Join(r) => r,
                    Cmd::Die => return die(0, client).await,
                    Cmd::Leave => return say("ERROR", 0),
                };
                let barrier = DoubleBarrier::new(&client, format!("{dir}/round-{r}"), members);
                say("JOINED", r);
                let member = tokio::select! {
                    m = barrier.enter() => match m {
                        Ok(m) => m,
                        Err(e) => { eprintln!("enter: {e}"); return say("ERROR", r) }
                    },
                    Some(Cmd::Die) = rx.recv() => return die(r, client).await,
                };
                say("ENTERED", r);
                match rx.recv().await {
                    Some(Cmd::Leave) => {}
                    Some(Cmd::Die) | None => return die(r, client).await,
                    Some(Cmd::Join(_)) => return say("ERROR", r),
                }
                say("LEAVING", r);
                tokio::select! {
                    left = member.leave() => if let Err(e) = left { eprintln!("leave: {e}"); return say("ERROR", r) },
                    Some(Cmd::Die) = rx.recv() => return die(r, client).await,
                }
                say("LEFT", r);
            }
            let _ = client.close().await;
        });
        BarrierMember::Rust { id: id.to_owned(), tx, events, cursor: 0 }
    }

    fn id(&self) -> &str {
        match self {
            BarrierMember::Rust { id, .. } => id,
            BarrierMember::Curator(p) => p.id(),
        }
    }

    fn is_rust(&self) -> bool {
        matches!(self, BarrierMember::Rust { .. })
    }

    fn send(&mut self, cmd: Cmd) {
        match self {
            BarrierMember::Rust { tx, .. } => tx.send(cmd).unwrap_or_else(|_| panic!("the Rust member is gone")),
            BarrierMember::Curator(p) => p.send(&match cmd {
                Cmd::Join(r) => format!("join {r}"),
                Cmd::Leave => "leave".to_owned(),
                Cmd::Die => "die".to_owned(),
            }),
        }
    }

    /// Waits for this member's next `tag` event of round `r` (after those already consumed) and
    /// returns its time.
    async fn expect(&mut self, tag: &str, r: usize) -> u64 {
        match self {
            BarrierMember::Curator(p) => {
                let line = p.expect_line_async(&format!("^{tag} {} {r} ", p.id()), patience()).await;
                line.rsplit(' ').next().unwrap().parse().expect("micros")
            }
            BarrierMember::Rust { id, events, cursor, .. } => {
                let deadline = tokio::time::Instant::now() + patience();
                loop {
                    {
                        let seen = events.borrow_and_update();
                        assert!(!seen.iter().any(|e| e.0 == "ERROR"), "{id} failed: {seen:?}");
                        if let Some(i) = seen[*cursor..].iter().position(|e| e.0 == tag && e.1 == r) {
                            *cursor += i + 1;
                            return seen[*cursor - 1].2;
                        }
                    }
                    let changed = tokio::time::timeout_at(deadline, events.changed()).await;
                    assert!(matches!(changed, Ok(Ok(()))), "{id}: no {tag} in round {r}: {:?}", events.borrow());
                }
            }
        }
    }
}

/// How a round goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RoundKind {
    Plain,
    /// The victim dies inside, after the others started leaving: they must still get out, but
    /// not before it is gone.
    DieLeaving,
    /// The victim dies while waiting to enter, before the round is full: the round must not open
    /// until a replacement joins.
    DieEntering,
}

/// zk-dsl and Curator `DistributedDoubleBarrier` members (2 + 2, barrier of 4) through 50
/// rounds on `<dir>/round-<r>`, joining and leaving in random order 5 ms apart; every fifth
/// round one member (alternately zk-dsl and Curator) is killed, alternately inside the barrier
/// while the others leave and while waiting to enter, and replaced (a spare Curator JVM waits
/// ready). On one clock (wall-clock micros, one machine) every member's
/// * `ENTERED` is after the last `JOINED` of the round's live members (for a death while
///   entering: after the replacement's `JOINED`), and
/// * `LEFT` is after the last `LEAVING` (and after the victim's `DYING` when it died inside).
///
/// Asserted for the zk-dsl members. The Curator members' violations are printed, not asserted:
/// Curator 5.4 (Debian's) predates its GH-1290 fix, and one of its members was seen leaving
/// early here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_with_curator_members_holds_over_50_rounds_with_deaths() {
    let _machine = whole_machine().await;
    const ROUNDS: usize = 50;
    const MEMBERS: usize = 4;
    let env = TestEnv::new().await;
    let cs = env.connect_string.clone();
    let mut next_id = 0;
    let spawn_curator = |next: &mut usize| {
        *next += 1;
        let id = format!("curator-{next}");
        peers::curator_double_barrier(&cs, "/barrier", &id, MEMBERS).gate().spawn()
    };
    let mut slots: Vec<BarrierMember> = vec![
        BarrierMember::rust(&cs, "/barrier", "rust-1", MEMBERS),
        BarrierMember::rust(&cs, "/barrier", "rust-2", MEMBERS),
        BarrierMember::Curator(spawn_curator(&mut next_id)),
        BarrierMember::Curator(spawn_curator(&mut next_id)),
    ];
    let mut rust_ids = 2;
    let mut spare = spawn_curator(&mut next_id);
    for s in &mut slots {
        if let BarrierMember::Curator(p) = s {
            p.expect_line_async(&format!("^READY {}$", p.id()), startup_patience()).await;
        }
    }
    let started = std::time::Instant::now();
    let (mut violations, mut curator_violations, mut deaths) = (Vec::new(), Vec::new(), Vec::new());
    let pause = || tokio::time::sleep(Duration::from_millis(5));
    for r in 0..ROUNDS {
        let kind = match (r % 5 == 4, (r / 5 / 2) % 2) {
            (false, _) => RoundKind::Plain,
            (true, 0) => RoundKind::DieLeaving,
            (true, _) => RoundKind::DieEntering,
        };
        // Alternately a zk-dsl member (slot 0) and a Curator member (slot 2).
        let victim = if (r / 5) % 2 == 0 { 0 } else { 2 };
        let mut order: Vec<usize> = (0..MEMBERS).collect();
        fastrand::shuffle(&mut order);
        let mut joined: BTreeMap<String, u64> = BTreeMap::new();
        let mut replacement: Option<BarrierMember> = None;
        let mut death: Option<(String, u64)> = None;
        if kind == RoundKind::DieEntering {
            // The victim and two others join; the victim dies before the round is full; the
            // fourth joins (three live: still not full); then the replacement.
            order.retain(|&s| s != victim);
            for &s in [victim].iter().chain(&order[..2]) {
                slots[s].send(Cmd::Join(r));
                let at = slots[s].expect("JOINED", r).await;
                joined.insert(slots[s].id().to_owned(), at);
                pause().await;
            }
            let dir = format!("/barrier/round-{r}");
            suite::children_until(&env.client, &dir, &format!("round {r}: three member nodes"), |c| c.len() >= 3).await;
            slots[victim].send(Cmd::Die);
            let dying = slots[victim].expect("DYING", r).await;
            slots[victim].expect("DIED", r).await;
            joined.remove(slots[victim].id());
            deaths.push(format!("round {r}: {} died entering", slots[victim].id()));
            let s = order[2];
            slots[s].send(Cmd::Join(r));
            joined.insert(slots[s].id().to_owned(), slots[s].expect("JOINED", r).await);
            tokio::time::sleep(Duration::from_millis(40)).await;
            let mut fresh = if slots[victim].is_rust() {
                rust_ids += 1;
                BarrierMember::rust(&cs, "/barrier", &format!("rust-{rust_ids}"), MEMBERS)
            } else {
                let next = spawn_curator(&mut next_id);
                let mut ready = std::mem::replace(&mut spare, next);
                ready.expect_line_async(&format!("^READY {}$", ready.id()), startup_patience()).await;
                BarrierMember::Curator(ready)
            };
            fresh.send(Cmd::Join(r));
            joined.insert(fresh.id().to_owned(), fresh.expect("JOINED", r).await);
            let _ = dying;
            replacement = Some(fresh);
            order.push(victim);
        } else {
            for &s in &order {
                slots[s].send(Cmd::Join(r));
                pause().await;
            }
            for &s in &order {
                joined.insert(slots[s].id().to_owned(), slots[s].expect("JOINED", r).await);
            }
        }
        if let Some(fresh) = replacement.take() {
            if let BarrierMember::Curator(old) = std::mem::replace(&mut slots[victim], fresh) {
                drop(old); // already halted
            }
        }
        let last_join = joined.values().copied().max().unwrap();
        let mut entered = BTreeMap::new();
        for &s in &order {
            entered.insert(slots[s].id().to_owned(), slots[s].expect("ENTERED", r).await);
        }
        for (id, at) in &entered {
            if *at < last_join {
                let v = format!("round {r}: {id} entered {} us before the last member joined", last_join - at);
                if id.starts_with("rust") {
                    violations.push(v)
                } else {
                    curator_violations.push(v)
                }
            }
        }
        // The leave phase.
        fastrand::shuffle(&mut order);
        let leavers: Vec<usize> = match kind {
            RoundKind::DieLeaving => order.iter().copied().filter(|&s| s != victim).collect(),
            _ => order.clone(),
        };
        for &s in &leavers {
            slots[s].send(Cmd::Leave);
            pause().await;
        }
        let mut leaving = BTreeMap::new();
        for &s in &leavers {
            leaving.insert(slots[s].id().to_owned(), slots[s].expect("LEAVING", r).await);
        }
        if kind == RoundKind::DieLeaving {
            // Everyone else is leaving and must wait for the victim, who dies instead.
            tokio::time::sleep(Duration::from_millis(40)).await;
            slots[victim].send(Cmd::Die);
            let dying = slots[victim].expect("DYING", r).await;
            slots[victim].expect("DIED", r).await;
            deaths.push(format!("round {r}: {} died inside", slots[victim].id()));
            death = Some((slots[victim].id().to_owned(), dying));
        }
        let last_leaving = leaving.values().copied().max().unwrap();
        for &s in &leavers {
            let left = slots[s].expect("LEFT", r).await;
            let id = slots[s].id().to_owned();
            let mut v = Vec::new();
            if left < last_leaving {
                v.push(format!(
                    "round {r}: {id} left {} us before the last member started leaving",
                    last_leaving - left
                ));
            }
            if let Some((victim_id, dying)) = &death {
                if left < *dying {
                    v.push(format!("round {r}: {id} left {} us before {victim_id} died inside", dying - left));
                }
            }
            if slots[s].is_rust() {
                violations.extend(v)
            } else {
                curator_violations.extend(v)
            }
        }
        let dir = format!("/barrier/round-{r}");
        let left_behind: Vec<String> =
            env.client.children(dir.as_str()).await.unwrap_or_default().into_iter().filter(|c| c != "ready").collect();
        assert!(left_behind.is_empty(), "round {r}: member nodes left behind: {left_behind:?}");
        if kind == RoundKind::DieLeaving {
            slots[victim] = if slots[victim].is_rust() {
                rust_ids += 1;
                BarrierMember::rust(&cs, "/barrier", &format!("rust-{rust_ids}"), MEMBERS)
            } else {
                let next = spawn_curator(&mut next_id);
                let mut ready = std::mem::replace(&mut spare, next);
                ready.expect_line_async(&format!("^READY {}$", ready.id()), startup_patience()).await;
                BarrierMember::Curator(ready)
            };
        }
    }
    eprintln!("{ROUNDS} rounds in {:.1?}; deaths: {deaths:?}", started.elapsed());
    eprintln!("Curator members' violations: {curator_violations:#?}");
    assert!(violations.is_empty(), "zk-dsl members passed the barrier early: {violations:#?}");
    // Curator 5.4 (Debian's) predates its GH-1290 fix: its own members can leave the leave phase
    // early (seen here once: a Curator member left 281 µs before the last member started
    // leaving). That is Curator's bug, not zk-dsl's: reported above, not asserted.
    if !curator_violations.is_empty() {
        eprintln!("note: Curator 5.4's own double barrier let {} member(s) through early", curator_violations.len());
    }
    assert_eq!(deaths.len(), ROUNDS / 5);
    for s in &mut slots {
        if let BarrierMember::Curator(p) = s {
            p.quit(patience());
        }
    }
}
