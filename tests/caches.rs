//! `Cache` and `PersistentNode` against a real server: a busy writer mirrored exactly, with and
//! without dropped connections; depth and filter; nodes created and deleted before their read;
//! a persistent node coming back after deletion and after a dropped connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use suite::tree::{assert_mirrors, full_read};
use suite::{connect_through, server, within, TestEnv};
use zk_dsl::recipes::{Cache, CacheEvent, CacheHandle, PersistentNode};
use zk_dsl::testing::FaultProxy;
use zk_dsl::{Client, Error};

/// Events until `path` is added (or updated); counts of each kind seen on the way.
#[derive(Debug, Default)]
struct Seen {
    added: usize,
    updated: usize,
    removed: usize,
    disconnected: usize,
    reconnected: usize,
    /// Node events after the last `Reconnected`.
    after_last_reconnect: usize,
}

async fn until_added(cache: &mut CacheHandle, marker: &str, seen: &mut Seen) {
    loop {
        let event = within("a cache event", cache.next()).await.expect("the cache's event stream ended");
        match event {
            CacheEvent::Added { path, .. } | CacheEvent::Updated { path, .. } if path == marker => {
                seen.after_last_reconnect += 1;
                return;
            }
            CacheEvent::Added { .. } => seen.added += 1,
            CacheEvent::Updated { .. } => seen.updated += 1,
            CacheEvent::Removed { .. } => seen.removed += 1,
            CacheEvent::Disconnected => seen.disconnected += 1,
            CacheEvent::Reconnected => {
                seen.reconnected += 1;
                seen.after_last_reconnect = 0;
                continue;
            }
            CacheEvent::Initialized => continue,
        }
        seen.after_last_reconnect += 1;
    }
}

/// `ops` random creates, sets and deletes on a two-level tree under `root`, then the marker.
async fn write_randomly(client: Client, root: String, ops: usize, keep_going: Arc<AtomicBool>, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut done = 0;
    while done < ops || keep_going.load(Ordering::SeqCst) {
        let a = format!("{root}/a{}", rng.usize(0..8));
        let path = if rng.bool() { a.clone() } else { format!("{a}/b{}", rng.usize(0..8)) };
        let data = format!("v{done}");
        let result = match rng.usize(0..3) {
            0 => client.create(path.as_str()).persistent().data(data.as_str()).await.map(drop),
            1 => client.set_data(path.as_str(), data.as_str()).await.map(drop),
            _ => client.delete(path.as_str()).await,
        };
        match result {
            Ok(()) | Err(Error::NoNode { .. } | Error::NodeExists { .. } | Error::NotEmpty { .. }) => {}
            Err(e) => panic!("writer: {path}: {e}"),
        }
        done += 1;
    }
    client.create(format!("{root}/done")).persistent().data("end").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_mirrors_a_busy_tree_exactly() {
    let env = TestEnv::new().await;
    env.client.create("/tree").persistent().data("root").await.unwrap();
    env.client.create("/tree/a0").persistent().data("initial").await.unwrap();
    let mut cache = Cache::new(&env.client, "/tree").start().await.unwrap();
    assert_eq!(cache.next().await, Some(CacheEvent::Added { path: "/tree".into(), node: cache.get("/tree").unwrap() }));
    assert_eq!(cache.get_as::<String>("/tree/a0").unwrap().as_deref(), Some("initial"));

    let writer = env.another_client().await;
    let task = tokio::spawn(write_randomly(writer, "/tree".into(), 2000, Arc::new(AtomicBool::new(false)), 1));
    let mut seen = Seen::default();
    until_added(&mut cache, "/tree/done", &mut seen).await;
    task.await.unwrap();
    assert_mirrors(&cache, &full_read(&env.client, "/tree").await);
    assert!(seen.added > 50 && seen.updated > 50 && seen.removed > 50, "{seen:?}");
    assert_eq!(seen.reconnected, 0);
    let names = cache.children("/tree");
    assert!(names.contains(&"done".to_owned()), "{names:?}");
    assert_eq!(
        names,
        env.client
            .children("/tree")
            .await
            .unwrap()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_resynchronises_after_each_of_20_dropped_connections() {
    let env = TestEnv::new().await;
    env.client.create("/tree").persistent().await.unwrap();
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    let cached_client = connect_through(&proxy, &env.root, Duration::from_secs(10)).await;
    let mut cache = Cache::new(&cached_client, "/tree").start().await.unwrap();

    let keep_going = Arc::new(AtomicBool::new(true));
    let writer = env.another_client().await;
    let task = tokio::spawn(write_randomly(writer, "/tree".into(), 2000, keep_going.clone(), 2));
    let dropper = {
        let (proxy, client) = (proxy.clone(), cached_client.clone());
        tokio::spawn(async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(fastrand::u64(20..60))).await;
                // Let it reconnect (and the cache resync) before the next drop.
                suite::reconnect_after(&client, || proxy.drop_connections()).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            keep_going.store(false, Ordering::SeqCst);
        })
    };
    let mut seen = Seen::default();
    until_added(&mut cache, "/tree/done", &mut seen).await;
    dropper.await.unwrap();
    task.await.unwrap();
    assert_mirrors(&cache, &full_read(&env.client, "/tree").await);
    eprintln!("{seen:?}");
    assert!(seen.disconnected >= 10, "{seen:?}");
    assert!(seen.reconnected >= 10, "{seen:?}");
    assert!(seen.after_last_reconnect > 0, "no events after the last reconnect: {seen:?}");
    // And it keeps flowing.
    env.client.set_data("/tree/done", "again").await.unwrap();
    let event = within("an event after the run", cache.next()).await.unwrap();
    assert!(matches!(&event, CacheEvent::Updated { path, .. } if path == "/tree/done"), "{event:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_and_filter_limit_what_is_cached() {
    let env = TestEnv::new().await;
    let c = &env.client;
    for p in ["/d", "/d/a", "/d/a/b", "/d/a/b/c", "/d/skip", "/d/skip/x", "/d/a/skip"] {
        c.create(p).persistent().await.unwrap();
    }
    let node_only = Cache::new(c, "/d").depth(0).start().await.unwrap();
    let mut one_level = Cache::new(c, "/d").depth(1).start().await.unwrap();
    let mut filtered = Cache::new(c, "/d").filter(|p: &str| !p.ends_with("/skip")).start().await.unwrap();
    let keys = |cache: &CacheHandle| cache.snapshot().into_keys().collect::<Vec<_>>();
    assert_eq!(keys(&node_only), ["/d"]);
    assert_eq!(keys(&one_level), ["/d", "/d/a", "/d/skip"]);
    assert_eq!(keys(&filtered), ["/d", "/d/a", "/d/a/b", "/d/a/b/c"]);
    assert_eq!(one_level.children("/d"), ["a", "skip"]);
    assert_eq!(filtered.children("/d/a"), ["b"]);

    for p in ["/d/n", "/d/n/m", "/d/skip/y", "/d/marker"] {
        c.create(p).persistent().await.unwrap();
    }
    for cache in [&mut one_level, &mut filtered] {
        until_added(cache, "/d/marker", &mut Seen::default()).await;
    }
    assert_eq!(keys(&node_only), ["/d"]);
    assert_eq!(keys(&one_level), ["/d", "/d/a", "/d/marker", "/d/n", "/d/skip"]);
    assert_eq!(keys(&filtered), ["/d", "/d/a", "/d/a/b", "/d/a/b/c", "/d/marker", "/d/n", "/d/n/m"]);
    assert_eq!(one_level.children("/"), ["d"]);
    assert!(one_level.children("/d/n").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_created_then_deleted_before_their_read_are_not_kept() {
    let env = TestEnv::new().await;
    env.client.create("/cd").persistent().await.unwrap();
    let mut cache = Cache::new(&env.client, "/cd").start().await.unwrap();
    assert!(matches!(cache.next().await, Some(CacheEvent::Added { .. })));
    assert_eq!(cache.next().await, Some(CacheEvent::Initialized));
    let writer = env.another_client().await;
    // Creates and deletes pipelined: most are gone before the cache's read arrives.
    let (mut creates, mut deletes) = (Vec::new(), Vec::new());
    for i in 0..200 {
        let path = format!("/cd/n{i}");
        creates.push(writer.create(path.as_str()).persistent().data("x").send());
        deletes.push(writer.delete(path.as_str()).send());
    }
    for (create, delete) in creates.into_iter().zip(deletes) {
        create.await.unwrap();
        delete.await.unwrap();
    }
    writer.create("/cd/marker").persistent().await.unwrap();
    let mut added = std::collections::BTreeSet::new();
    loop {
        match within("cache events", cache.next()).await.unwrap() {
            CacheEvent::Added { path, .. } if path == "/cd/marker" => break,
            CacheEvent::Added { path, .. } => assert!(added.insert(path)),
            CacheEvent::Removed { path, .. } => assert!(added.remove(&path), "{path} removed without being added"),
            _ => {}
        }
    }
    assert!(added.is_empty(), "left in the cache: {added:?}");
    assert_eq!(cache.snapshot().into_keys().collect::<Vec<_>>(), ["/cd", "/cd/marker"]);
}

/// Waits until `path` exists with `data`.
async fn until_present(client: &Client, path: &str, data: &str) {
    suite::eventually(&format!("{path} to be back"), || async {
        match client.get_data(path).await {
            Ok(node) => (node.bytes() == data.as_bytes()).then_some(()),
            Err(Error::NoNode { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_node_comes_back_after_deletion_and_after_a_dropped_connection() {
    let env = TestEnv::new().await;
    let other = env.another_client().await;
    let node = PersistentNode::new(&env.client, "/members/me").data("payload").start().await.unwrap();
    assert_eq!(node.path(), "/members/me");
    for _ in 0..3 {
        other.delete("/members/me").await.unwrap();
        until_present(&other, "/members/me", "payload").await;
    }
    let owner = other.exists("/members/me").await.unwrap().unwrap().ephemeral_owner;
    assert_eq!(owner, env.client.session_id());
    node.set_data("new").await.unwrap();
    other.delete("/members/me").await.unwrap();
    until_present(&other, "/members/me", "new").await;
    node.close().await.unwrap();
    other.sync("/members").await.unwrap();
    assert!(other.exists("/members/me").await.unwrap().is_none(), "close deletes the node");

    // Protected, through a proxy: deleted while the connection is down, back after it.
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    let client = connect_through(&proxy, &env.root, Duration::from_secs(10)).await;
    let node = PersistentNode::new(&client, "/members/p").data("p").protected().start().await.unwrap();
    let path = node.path().to_owned();
    assert!(path.starts_with("/members/_c_") && path.ends_with("-p"), "{path}");
    proxy.blackhole(true);
    tokio::task::spawn_blocking({
        let proxy = proxy.clone();
        move || proxy.drop_connections()
    })
    .await
    .unwrap();
    other.delete(path.as_str()).await.unwrap();
    suite::eventually("the client to notice the cut", || async { (!client.state().is_connected()).then_some(()) })
        .await;
    proxy.blackhole(false);
    until_present(&other, &path, "p").await;
    // And a plain dropped connection changes nothing.
    tokio::task::spawn_blocking({
        let proxy = proxy.clone();
        move || proxy.drop_connections()
    })
    .await
    .unwrap();
    other.delete(path.as_str()).await.unwrap();
    until_present(&other, &path, "p").await;
    assert!(node.is_running());
}

/// The initial load is reported from the cache as the events are taken, not queued up front: a
/// node changed before its turn comes as an `Added` of its new state (no `Updated`), one deleted
/// before its turn never comes, one created meanwhile comes in path order, and nothing is queued
/// for any of them; changes after `Initialized` are events as usual. With events off nothing is
/// reported at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_load_is_reported_from_the_cache_as_it_is_taken() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/r").persistent().data("root").await.unwrap();
    for name in ["a", "b", "c"] {
        c.create(format!("/r/{name}")).persistent().data("1").await.unwrap();
    }
    let mut cache = Cache::new(c, "/r").start().await.unwrap();
    let quiet = Cache::new(c, "/r").events(false).start().await.unwrap();
    let other = env.another_client().await;
    other.delete("/r/c").await.unwrap();
    other.set_data("/r/b", "2").await.unwrap();
    other.create("/r/d").persistent().data("new").await.unwrap();
    let caught_up = |h: &CacheHandle| {
        h.get("/r/d").is_some()
            && h.get("/r/c").is_none()
            && h.get_as::<String>("/r/b").unwrap().as_deref() == Some("2")
    };
    suite::eventually("the caches to see the changes", || {
        std::future::ready((caught_up(&cache) && caught_up(&quiet)).then_some(()))
    })
    .await;
    let mut added = Vec::new();
    loop {
        match cache.try_next().expect("the replay needs no waiting") {
            CacheEvent::Added { path, node } => added.push((path, String::from_utf8(node.bytes().to_vec()).unwrap())),
            CacheEvent::Initialized => break,
            other => panic!("{other:?} during the replay"),
        }
    }
    let expect = [("/r", "root"), ("/r/a", "1"), ("/r/b", "2"), ("/r/d", "new")];
    assert_eq!(added, expect.map(|(p, d)| (p.to_owned(), d.to_owned())));
    assert_eq!(cache.try_next(), None, "nothing was queued for the changes the replay showed");
    other.set_data("/r/a", "3").await.unwrap();
    let event = within("an event after the replay", cache.next()).await.unwrap();
    assert!(
        matches!(&event, CacheEvent::Updated { path, old, new } if path == "/r/a" && old.bytes() == b"1" && new.bytes() == b"3"),
        "{event:?}"
    );
    assert_eq!(quiet.len(), 4);
    let mut quiet = quiet;
    assert_eq!(quiet.try_next(), None, "events off: nothing is reported");
}

/// A connection lost during the initial load does not fail `start`: the session and its watch
/// survive, and the load is read again once the connection is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_during_the_initial_load_does_not_fail_start() {
    let env = TestEnv::new().await;
    env.client.create("/slow").persistent().await.unwrap();
    for a in 0..4 {
        env.client.create(format!("/slow/a{a}")).persistent().await.unwrap();
        for b in 0..4 {
            env.client.create(format!("/slow/a{a}/b{b}")).persistent().data("x").await.unwrap();
        }
    }
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    let client = connect_through(&proxy, &env.root, Duration::from_secs(10)).await;
    // About 400 ms a round trip: the watch takes one (0–400 ms), the load one per level
    // (400–1600 ms); the drop comes in the middle of the second level.
    proxy.delay(Duration::from_millis(200));
    let starting = tokio::spawn({
        let client = client.clone();
        async move { Cache::new(&client, "/slow").start().await }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let p = proxy.clone();
    tokio::task::spawn_blocking(move || p.drop_connections()).await.unwrap();
    proxy.reset();
    let cache = within("the cache to start", starting).await.unwrap().expect("start survives a lost connection");
    assert_eq!(cache.len(), 1 + 4 + 16);
    assert_mirrors(&cache, &full_read(&env.client, "/slow").await);
}
