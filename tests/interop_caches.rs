//! Caches at scale beside the real thing: a zk-dsl `Cache`, an Apache Curator 5.4 `CuratorCache`
//! and a kazoo 2.11.0 `TreeCache` (the mirrors of `tests/peers/`, driven by `suite::peers`) on one
//! subtree, under a pipelined writer doing 10,000 mixed creates, sets and deletes at three
//! depths. Once the writer stops, each cache must equal a full read of the server's tree: paths,
//! data and versions. Then the same with the zk-dsl cache's connection dropped 100 times by the
//! fault proxy during the writes, where its event stream must also never go silent.
//!
//! kazoo's `TreeCache` is marked alpha by kazoo itself; where it diverges that is reported (and
//! documented in the README), not asserted, as `tests/interop_shared.rs` treats Curator 5.4's own
//! double-barrier bug.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use suite::peers::{self, startup_patience, Peer};
use suite::{connect, connect_through, full_read, patience, server, within, TestEnv};
use tokio::sync::{watch, Mutex as AsyncMutex, MutexGuard};
use zk_dsl::recipes::{Cache, CacheEvent, CacheHandle, CachedNode};
use zk_dsl::testing::FaultProxy;
use zk_dsl::{Client, Error};

/// The tests take the machine one at a time: each starts a JVM (and one a Python interpreter)
/// beside the writer, and the box has two cores.
static MACHINE: AsyncMutex<()> = AsyncMutex::const_new(());

async fn whole_machine() -> MutexGuard<'static, ()> {
    MACHINE.lock().await
}

/// The number of mixed writes.
const WRITES: usize = 10_000;
/// Writes in flight at once: the writer pipelines.
const WINDOW: usize = 32;

/// Path → (version, data): what every cache and the server are compared on (the fields Curator's
/// and kazoo's dumps carry).
type Tree = BTreeMap<String, (i32, Vec<u8>)>;

fn tree_of(nodes: &BTreeMap<String, CachedNode>) -> Tree {
    nodes.iter().map(|(p, n)| (p.clone(), (n.stat.version, n.bytes().to_vec()))).collect()
}

/// The entries where `cache` and `server` differ (`None`: missing on that side), at most `limit`,
/// and how many there are in all.
type Divergence = (String, Option<(i32, Vec<u8>)>, Option<(i32, Vec<u8>)>);

fn diverging(cache: &Tree, server: &Tree, limit: usize) -> (usize, Vec<Divergence>) {
    let mut all = Vec::new();
    for (path, want) in server {
        if cache.get(path) != Some(want) {
            all.push((path.clone(), cache.get(path).cloned(), Some(want.clone())));
        }
    }
    for (path, got) in cache {
        if !server.contains_key(path) {
            all.push((path.clone(), Some(got.clone()), None));
        }
    }
    let n = all.len();
    all.truncate(limit);
    (n, all)
}

fn assert_equal(what: &str, cache: &Tree, server: &Tree) {
    let (n, first) = diverging(cache, server, 5);
    assert_eq!(
        n,
        0,
        "{what}: {n} of {} nodes diverge from the server, e.g. (path, cache, server) {first:?}",
        server.len()
    );
}

/// A random path of the writer's tree under `root`: `a0`–`a19`, `a*/b0`–`b9`, `a*/b*/c0`–`c7`
/// (1,820 paths, each level equally likely, so the same nodes are created, changed and deleted
/// over and over).
fn random_path(rng: &mut fastrand::Rng, root: &str) -> String {
    let a = format!("{root}/a{}", rng.usize(0..20));
    match rng.usize(0..3) {
        0 => a,
        1 => format!("{a}/b{}", rng.usize(0..10)),
        _ => format!("{a}/b{}/c{}", rng.usize(0..10), rng.usize(0..8)),
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("/", |(p, _)| p)
}

/// The writer's next write, chosen on its model of the tree (`existing`, updated here) so that
/// the server accepts it: a random path's first missing ancestor (or itself) is created; an
/// existing node is set, or deleted when it has no children (each half the time).
enum Write {
    Create(String),
    Set(String),
    Delete(String),
}

fn next_write(rng: &mut fastrand::Rng, root: &str, existing: &mut BTreeSet<String>) -> Write {
    let mut path = random_path(rng, root);
    while parent(&path) != root && !existing.contains(parent(&path)) {
        path = parent(&path).to_owned();
    }
    if existing.insert(path.clone()) {
        return Write::Create(path);
    }
    let below = format!("{path}/");
    let has_children = existing.range(below.clone()..).next().is_some_and(|p| p.starts_with(&below));
    if has_children || rng.bool() {
        Write::Set(path)
    } else {
        existing.remove(&path);
        Write::Delete(path)
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// Creates, sets and deletes under `root` (as `next_write` picks them; the writer is the tree's
/// only writer, so every one must succeed), `WINDOW` in flight: at least `min_ops`, and on while
/// `keep_going`, then `tail` more. Returns the number of writes.
async fn write_mixed(
    client: Client,
    root: String,
    min_ops: usize,
    keep_going: Arc<AtomicBool>,
    tail: usize,
    seed: u64,
) -> usize {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut existing = BTreeSet::new();
    for a in 0..10 {
        let a = format!("{root}/a{a}");
        existing.insert(format!("{a}/b0"));
        existing.insert(a);
    }
    let mut done = 0;
    let mut stop_at = None;
    loop {
        if stop_at.is_none() && done >= min_ops && !keep_going.load(Ordering::SeqCst) {
            stop_at = Some(done + tail);
        }
        if stop_at.is_some_and(|end| done >= end) {
            return done;
        }
        let batch: Vec<(String, Pending)> = (0..WINDOW)
            .map(|i| {
                let data = format!("v{}", done + i);
                match next_write(&mut rng, &root, &mut existing) {
                    Write::Create(path) => {
                        let sent = client.create(path.as_str()).persistent().data(data.as_str()).send();
                        (path, Box::pin(async move { sent.await.map(drop) }) as Pending)
                    }
                    Write::Set(path) => {
                        let sent = client.set_data(path.as_str(), data.as_str()).send();
                        (path, Box::pin(async move { sent.await.map(drop) }) as Pending)
                    }
                    Write::Delete(path) => {
                        let sent = client.delete(path.as_str()).send();
                        (path, Box::pin(sent) as Pending)
                    }
                }
            })
            .collect();
        for (path, write) in batch {
            write.await.unwrap_or_else(|e| panic!("writer: {path}: {e}"));
        }
        done += WINDOW;
    }
}

/// What the zk-dsl cache's event stream said, applied to a map of its own: at the end it must
/// equal the server too (every final version was reported, not just stored).
#[derive(Debug, Default)]
struct Stream {
    nodes: BTreeMap<String, CachedNode>,
    node_events: usize,
    disconnected: usize,
    reconnected: usize,
    /// Node events since the last `Reconnected`.
    after_last_reconnect: usize,
    /// The longest wait between two events while the run was on.
    longest_gap: Duration,
    last_event: Option<Instant>,
}

impl Stream {
    /// Applies one event; true when it is `marker` being added or updated.
    fn apply(&mut self, event: CacheEvent, marker: &str) -> bool {
        let now = Instant::now();
        if let Some(last) = self.last_event {
            self.longest_gap = self.longest_gap.max(now - last);
        }
        self.last_event = Some(now);
        match event {
            CacheEvent::Added { path, node } | CacheEvent::Updated { path, new: node, .. } => {
                self.node_events += 1;
                self.after_last_reconnect += 1;
                let is_marker = path == marker;
                self.nodes.insert(path, node);
                return is_marker;
            }
            CacheEvent::Removed { path, .. } => {
                self.node_events += 1;
                self.after_last_reconnect += 1;
                self.nodes.remove(&path);
            }
            CacheEvent::Disconnected => self.disconnected += 1,
            CacheEvent::Reconnected => {
                self.reconnected += 1;
                self.after_last_reconnect = 0;
            }
            CacheEvent::Initialized => {}
        }
        false
    }
}

/// Waits for a mirror's `READY` (its cache initialized).
async fn ready(peer: &mut Peer) {
    let line = format!("^READY {}$", peer.id());
    peer.expect_line_async(&line, startup_patience()).await;
}

/// Creates `root` and a few nodes at each depth, so the initial loads have work (`write_mixed`
/// starts from these).
async fn seed_tree(client: &Client, root: &str) {
    client.create(root).persistent().data("root").await.unwrap();
    for a in 0..10 {
        let a = format!("{root}/a{a}");
        client.create(a.as_str()).persistent().data("seed").await.unwrap();
        client.create(format!("{a}/b0")).persistent().data("seed").await.unwrap();
    }
}

/// What both tests start from: a seeded tree under a fresh test root, the writer's client and a
/// Curator mirror of the tree (starting; see [`ready`]). No chroot: every client names the same
/// absolute paths.
struct Setup {
    _env: TestEnv,
    cs: String,
    root: String,
    writer: Client,
    curator: Peer,
}

impl Setup {
    async fn new() -> Setup {
        let env = TestEnv::new().await;
        let cs = server().connect_string();
        let root = format!("{}/tree", env.root);
        let writer = connect(&cs).await;
        seed_tree(&writer, &root).await;
        let curator = peers::curator_cache_mirror(&cs, &root, "curator").spawn();
        Setup { _env: env, cs, root, writer, curator }
    }
}

/// 10,000 pipelined mixed writes at three depths while a zk-dsl `Cache`, a Curator `CuratorCache`
/// and a kazoo `TreeCache` mirror the tree: afterwards zk-dsl's and Curator's caches (and the
/// zk-dsl event stream) equal the server's tree exactly; kazoo's is compared and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_dsl_curator_and_kazoo_caches_equal_the_server_after_10000_mixed_writes() {
    let _machine = whole_machine().await;
    let Setup { _env, cs, root, writer, mut curator } = Setup::new().await;
    let mut kazoo = peers::kazoo_tree_cache(&cs, &root, "kazoo").spawn();
    let cached = connect(&cs).await;
    let cache = Cache::new(&cached, root.as_str()).start().await.unwrap();
    ready(&mut curator).await;
    ready(&mut kazoo).await;

    let started = Instant::now();
    let marker = format!("{root}/marker");
    let consumer = tokio::spawn(follow(cache, marker.clone(), None));
    let writes = write_mixed(writer.clone(), root.clone(), WRITES, Arc::default(), 0, 13).await;
    writer.create(marker.as_str()).persistent().data("end").await.unwrap();
    let (cache, stream) = consumer.await.unwrap();
    let zk_dsl_done = started.elapsed();
    let curator_tree = curator.dump_cache(&marker, patience() * 6).await;
    let curator_done = started.elapsed();
    let kazoo_tree = kazoo.dump_cache(&marker, patience() * 6).await;
    let kazoo_done = started.elapsed();
    let server_tree = tree_of(&full_read(&writer, &root).await);
    eprintln!(
        "{writes} writes; {} nodes at the end; caught up after {zk_dsl_done:.1?} (zk-dsl), {curator_done:.1?} (Curator), \
         {kazoo_done:.1?} (kazoo); zk-dsl reported {} node events",
        server_tree.len(),
        stream.node_events
    );
    // The marker was written last: nothing changed after it, so every cache that holds it is done.
    assert_equal("zk-dsl Cache", &tree_of(&cache.snapshot()), &server_tree);
    assert_equal("zk-dsl Cache's event stream", &tree_of(&stream.nodes), &server_tree);
    assert_eq!(stream.reconnected, 0);
    assert_equal("Curator CuratorCache", &curator_tree, &server_tree);
    report_kazoo(&kazoo_tree, &server_tree);
    for p in [&mut curator, &mut kazoo] {
        p.quit(patience());
    }
    cache_done(cache, cached).await;
}

/// kazoo's `TreeCache` is alpha: a divergence from the server is a finding about kazoo, printed
/// (and documented in the README), not a failure.
fn report_kazoo(kazoo: &Tree, server: &Tree) {
    let (n, first) = diverging(kazoo, server, 5);
    if n == 0 {
        eprintln!("kazoo TreeCache: equal to the server ({} nodes)", kazoo.len());
    } else {
        eprintln!("note: kazoo 2.11.0's TreeCache diverges from the server in {n} nodes, e.g. (path, kazoo, server) {first:?}");
    }
}

/// Follows the cache's events until `marker` appears, on a task of its own (so the channel never
/// holds the whole run), telling `reconnects` each `Reconnected`. Returns the handle and what the
/// stream said.
async fn follow(
    mut cache: CacheHandle,
    marker: String,
    reconnects: Option<watch::Sender<usize>>,
) -> (CacheHandle, Stream) {
    let mut stream = Stream::default();
    loop {
        let event = within("a zk-dsl cache event", cache.next()).await.expect("the cache's event stream ended");
        let reconnected = event == CacheEvent::Reconnected;
        if stream.apply(event, &marker) {
            return (cache, stream);
        }
        if let (true, Some(tx)) = (reconnected, &reconnects) {
            tx.send_replace(stream.reconnected);
        }
    }
}

/// Ends the cache and its client.
async fn cache_done(cache: CacheHandle, client: Client) {
    drop(cache);
    client.close().await.unwrap();
}

/// The zk-dsl cache's connection is dropped 100 times by the fault proxy while the writer does at
/// least 10,000 mixed writes (and goes on until the last drop, then 500 more): the cache and its
/// event stream equal the server's tree, every drop was followed by exactly one `Disconnected`
/// and one `Reconnected` (as many as the proxy's reconnections), and events kept coming after
/// each reconnection, the last one included. A Curator `CuratorCache` beside it, on a connection
/// of its own, ends equal to the server too; kazoo's `TreeCache` is compared and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_dsl_cache_stays_exact_through_100_dropped_connections() {
    const DROPS: usize = 100;
    let _machine = whole_machine().await;
    let Setup { _env, cs, root, writer, mut curator } = Setup::new().await;
    let mut kazoo = peers::kazoo_tree_cache(&cs, &root, "kazoo").spawn();
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    let cached = connect_through(&proxy, "", Duration::from_secs(10)).await;
    let cache = Cache::new(&cached, root.as_str()).start().await.unwrap();
    ready(&mut curator).await;
    ready(&mut kazoo).await;

    let started = Instant::now();
    let marker = format!("{root}/marker");
    let (reconnects_tx, mut reconnects) = watch::channel(0);
    let consumer = tokio::spawn(follow(cache, marker.clone(), Some(reconnects_tx)));
    let keep_going = Arc::new(AtomicBool::new(true));
    let writes = tokio::spawn(write_mixed(writer.clone(), root.clone(), WRITES, keep_going.clone(), 500, 17));
    // Each drop waits for the cache's Reconnected after the one before, so every reconnection is
    // a drop of an up-to-date cache (and the counts must match exactly).
    for drop_no in 1..=DROPS {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(5..40))).await;
        let p = proxy.clone();
        tokio::task::spawn_blocking(move || p.drop_connections()).await.unwrap();
        let what = format!("the cache's Reconnected after drop {drop_no}");
        within(&what, reconnects.wait_for(|&n| n >= drop_no)).await.expect("the event follower ended");
    }
    keep_going.store(false, Ordering::SeqCst);
    let writes = writes.await.unwrap();
    writer.create(marker.as_str()).persistent().data("end").await.unwrap();
    let (cache, stream) = consumer.await.unwrap();
    let elapsed = started.elapsed();
    let curator_tree = curator.dump_cache(&marker, patience() * 6).await;
    let kazoo_tree = kazoo.dump_cache(&marker, patience() * 6).await;
    let server_tree = tree_of(&full_read(&writer, &root).await);
    let proxy_reconnects = proxy.connections_accepted() as usize - 1;
    eprintln!(
        "{writes} writes, {DROPS} drops in {elapsed:.1?}; {} nodes at the end; zk-dsl: {} node events, {} Disconnected, \
         {} Reconnected, {} node events after the last, longest silence {:.1?}",
        server_tree.len(),
        stream.node_events,
        stream.disconnected,
        stream.reconnected,
        stream.after_last_reconnect,
        stream.longest_gap
    );
    assert!(writes >= WRITES, "{writes} writes");
    assert_equal("zk-dsl Cache", &tree_of(&cache.snapshot()), &server_tree);
    assert_equal("zk-dsl Cache's event stream", &tree_of(&stream.nodes), &server_tree);
    assert_equal("Curator CuratorCache", &curator_tree, &server_tree);
    report_kazoo(&kazoo_tree, &server_tree);
    assert_eq!(proxy_reconnects, DROPS, "the proxy saw {proxy_reconnects} reconnections for {DROPS} drops");
    assert_eq!(stream.reconnected, proxy_reconnects, "one Reconnected per reconnection");
    assert_eq!(stream.disconnected, proxy_reconnects, "one Disconnected per dropped connection");
    // The writer's last 500 writes and the marker came after the last reconnection.
    assert!(
        stream.after_last_reconnect > 1,
        "events stopped after the last reconnection: {}",
        stream.after_last_reconnect
    );
    // And it keeps flowing.
    writer.set_data(marker.as_str(), "again").await.unwrap();
    let mut cache = cache;
    let event = within("an event after the run", cache.next()).await.unwrap();
    assert!(matches!(&event, CacheEvent::Updated { path, .. } if *path == marker), "{event:?}");
    for p in [&mut curator, &mut kazoo] {
        p.quit(patience());
    }
    cache_done(cache, cached).await;
}
