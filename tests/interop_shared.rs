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

use suite::peers::{self, startup_patience, Peer};
use suite::{connect, patience, TestEnv};
use tokio::sync::{watch, Mutex as AsyncMutex, MutexGuard};
use tokio::task::JoinSet;
use zk_dsl::recipes::{AtomicLong, SharedCount, SimpleQueue};

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
    let (go, _) = watch::channel(false);
    let mut rust = JoinSet::new();
    for _ in 0..RUST {
        let (cs, mut go) = (cs.clone(), go.subscribe());
        rust.spawn(async move {
            let client = connect(&cs).await;
            let count = SharedCount::new(&client, "/count");
            go.wait_for(|go| *go).await.expect("the go signal");
            let mut values = Vec::with_capacity(N);
            for _ in 0..N {
                values.push(i64::from(count.add(1).await.expect("add")));
            }
            client.close().await.expect("close");
            values
        });
    }
    let started = std::time::Instant::now();
    start_all(&mut peers.iter_mut().collect::<Vec<_>>(), &go).await;
    let mut values: Vec<i64> = join_all(&mut rust, patience() * 6).await.into_iter().flatten().collect();
    for p in &mut peers {
        finish(p, patience() * 6).await;
        let reported = tagged(p, "VALUE");
        assert_eq!(reported.len(), N, "{}'s increments", p.id());
        values.extend(reported.iter().map(|w| w[0].parse::<i64>().expect("a VALUE")));
    }
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
    let (go, _) = watch::channel(false);
    let mut rust = JoinSet::new();
    for _ in 0..RUST {
        let (cs, mut go) = (cs.clone(), go.subscribe());
        rust.spawn(async move {
            let client = connect(&cs).await;
            let long = AtomicLong::new(&client, "/long");
            go.wait_for(|go| *go).await.expect("the go signal");
            let mut values = Vec::with_capacity(N);
            for _ in 0..N {
                values.push(long.add(1).await.expect("add"));
            }
            client.close().await.expect("close");
            values
        });
    }
    start_all(&mut peers.iter_mut().collect::<Vec<_>>(), &go).await;
    let mut values: Vec<i64> = join_all(&mut rust, patience() * 6).await.into_iter().flatten().collect();
    for p in &mut peers {
        finish(p, patience() * 6).await;
        let reported = tagged(p, "VALUE");
        assert_eq!(reported.len(), N, "{}'s increments", p.id());
        values.extend(reported.iter().map(|w| w[0].parse::<i64>().expect("a VALUE")));
    }
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
            while queue.len().await.unwrap() > BACKLOG {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
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
