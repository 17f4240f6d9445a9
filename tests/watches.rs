//! Watch semantics against a real ZooKeeper: every watch type fires for exactly the events the
//! Programmer's Guide lists, once; persistent watches keep firing; removed watches never fire;
//! callbacks run in wire order (tests/callbacks.rs holds the callback rules).

use std::sync::{Arc, Mutex};

use suite::{within, TestEnv};
use zk_dsl::{Client, EventType, KeeperState, WatchedEvent, WatcherType};

/// Nothing more arrives within a short grace period (used after the expected events, so a
/// duplicate or stray event is caught).
async fn assert_quiet(stream: &mut zk_dsl::WatchStream) {
    // A sync round trip guarantees every notification the server produced so far was
    // delivered before the reply; then there must be nothing left.
    assert_eq!(stream.try_next(), None);
}

fn node(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent::node(t, path)
}

#[tokio::test]
async fn data_watch_fires_once_on_change_and_on_delete() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/d").persistent().await.unwrap();

    let (_, watch) = c.get_data("/d").with_watch().await.unwrap();
    c.create("/d/child").await.unwrap(); // child changes do not fire a data watch
    c.set_data("/d", "1").await.unwrap();
    assert_eq!(within("data watch", watch).await, node(EventType::NodeDataChanged, "/d"));

    let (_, watch) = c.get_data("/d").with_watch().await.unwrap();
    c.delete("/d/child").await.unwrap();
    c.delete("/d").await.unwrap();
    assert_eq!(within("data watch on delete", watch).await, node(EventType::NodeDeleted, "/d"));
}

#[tokio::test]
async fn exists_watch_on_a_missing_node_fires_on_create() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let (stat, watch) = c.exists("/later").with_watch().await.unwrap();
    assert_eq!(stat, None);
    c.create("/later").await.unwrap();
    assert_eq!(within("exist watch", watch).await, node(EventType::NodeCreated, "/later"));

    // On an existing node, exists leaves a data watch.
    let (stat, watch) = c.exists("/later").with_watch().await.unwrap();
    assert!(stat.is_some());
    c.set_data("/later", "x").await.unwrap();
    assert_eq!(within("exists data watch", watch).await, node(EventType::NodeDataChanged, "/later"));
}

#[tokio::test]
async fn child_watch_fires_on_child_changes_and_delete_not_on_data() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/p").persistent().await.unwrap();
    let (_, watch) = c.children("/p").with_watch().await.unwrap();
    c.set_data("/p", "data").await.unwrap(); // no child event
    c.create("/p/a").await.unwrap();
    assert_eq!(within("child watch", watch).await, node(EventType::NodeChildrenChanged, "/p"));

    let (_, watch) = c.children("/p").with_watch().await.unwrap();
    c.delete("/p/a").await.unwrap();
    assert_eq!(within("child watch on removal", watch).await, node(EventType::NodeChildrenChanged, "/p"));

    let (_, watch) = c.children("/p").with_watch().await.unwrap();
    c.delete("/p").await.unwrap();
    assert_eq!(within("child watch on delete", watch).await, node(EventType::NodeDeleted, "/p"));
}

#[tokio::test]
async fn a_failed_read_leaves_no_watch() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    assert!(c.get_data("/ghost").watcher(move |e| s.lock().unwrap().push(e)).await.is_err());
    c.create("/ghost").await.unwrap();
    c.set_data("/ghost", "x").await.unwrap();
    c.sync("/").await.unwrap();
    // The dispatcher runs callbacks before replies that follow them; a final callback proves
    // it has drained.
    c.exists("/ghost").callback(|_| {}).await.unwrap();
    assert!(seen.lock().unwrap().is_empty(), "getData on a missing node sets no watch");
}

#[tokio::test]
async fn default_watcher_sees_events_in_the_order_operations_caused_them() {
    let env = TestEnv::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let c = Client::connect(env.connect_string.clone()).watcher(move |e| s.lock().unwrap().push(e)).await.unwrap();
    c.create("/n").persistent().await.unwrap();
    c.children("/n").watch().await.unwrap();
    c.get_data("/n").watch().await.unwrap();
    c.create("/n/kid").await.unwrap();
    c.set_data("/n", "x").await.unwrap();
    c.delete("/n/kid").await.unwrap();
    c.exists("/n").watch().await.unwrap();
    c.delete("/n").await.unwrap();
    c.sync("/").callback(|_| {}).await.unwrap();
    let events = seen.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            WatchedEvent::session(KeeperState::SyncConnected),
            node(EventType::NodeChildrenChanged, "/n"),
            node(EventType::NodeDataChanged, "/n"),
            node(EventType::NodeDeleted, "/n"),
        ]
    );
    c.close().await.unwrap();
    suite::eventually("the Closed event", || async {
        (seen.lock().unwrap().last() == Some(&WatchedEvent::session(KeeperState::Closed))).then_some(())
    })
    .await;
}

#[tokio::test]
async fn same_callback_on_one_path_fires_once() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/dup").persistent().await.unwrap();
    let count = Arc::new(Mutex::new(0));
    let n = count.clone();
    let cb: zk_dsl::watch::WatchFn = Arc::new(move |_| *n.lock().unwrap() += 1);
    c.get_data("/dup").watcher_shared(cb.clone()).await.unwrap();
    c.exists("/dup").watcher_shared(cb.clone()).await.unwrap();
    c.delete("/dup").await.unwrap();
    c.sync("/").callback(|_| {}).await.unwrap();
    assert_eq!(*count.lock().unwrap(), 1);
}

#[tokio::test]
async fn persistent_watch_fires_every_time_and_sees_child_changes() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/pw").persistent().await.unwrap();
    let mut stream = c.watch("/pw").await.unwrap();
    c.set_data("/pw", "1").await.unwrap();
    c.set_data("/pw", "2").await.unwrap();
    c.create("/pw/kid").await.unwrap();
    c.set_data("/pw/kid", "k").await.unwrap(); // not recursive: not seen
    c.delete("/pw/kid").await.unwrap();
    c.sync("/").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(within("persistent events", stream.next()).await.unwrap());
    }
    assert_eq!(
        got,
        vec![
            node(EventType::NodeDataChanged, "/pw"),
            node(EventType::NodeDataChanged, "/pw"),
            node(EventType::NodeChildrenChanged, "/pw"),
            node(EventType::NodeChildrenChanged, "/pw"),
        ]
    );
    assert_quiet(&mut stream).await;
}

#[tokio::test]
async fn recursive_watch_sees_grandchildren_but_not_child_list_changes() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/rw").persistent().await.unwrap();
    let mut stream = c.watch("/rw").recursive().await.unwrap();
    c.create("/rw/a").persistent().await.unwrap();
    c.create("/rw/a/b").await.unwrap();
    c.set_data("/rw/a/b", "x").await.unwrap();
    c.delete("/rw/a/b").await.unwrap();
    c.sync("/").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(within("recursive events", stream.next()).await.unwrap());
    }
    assert_eq!(
        got,
        vec![
            node(EventType::NodeCreated, "/rw/a"),
            node(EventType::NodeCreated, "/rw/a/b"),
            node(EventType::NodeDataChanged, "/rw/a/b"),
            node(EventType::NodeDeleted, "/rw/a/b"),
        ]
    );
    assert_quiet(&mut stream).await;
}

#[tokio::test]
async fn removed_watches_never_fire() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/rm").persistent().await.unwrap();

    // A one-shot data watch, removed: its owner hears DataWatchRemoved, never NodeDataChanged.
    let (_, watch) = c.get_data("/rm").with_watch().await.unwrap();
    c.check_watches("/rm", WatcherType::Data).await.unwrap();
    c.remove_watches("/rm", WatcherType::Data).await.unwrap();
    assert_eq!(within("removal notice", watch).await, node(EventType::DataWatchRemoved, "/rm"));
    assert!(matches!(
        c.remove_watches("/rm", WatcherType::Data).await,
        Err(zk_dsl::Error::Server { code: zk_dsl::proto::ErrorCode::NoWatcher, .. })
    ));

    // A persistent watch, removed (3.8 needs WatcherType::Any): the stream ends.
    let mut stream = c.watch("/rm").await.unwrap();
    c.remove_watches("/rm", WatcherType::Any).await.unwrap();
    assert_eq!(within("removal notice", stream.next()).await, Some(node(EventType::PersistentWatchRemoved, "/rm")));
    c.set_data("/rm", "after").await.unwrap();
    c.sync("/").await.unwrap();
    assert_eq!(stream.try_next(), None);
    // The server agrees: it holds no watch for the path any more.
    assert!(c.check_watches("/rm", WatcherType::Any).await.is_err());
}

#[tokio::test]
async fn watches_hear_the_session_end() {
    let env = TestEnv::new().await;
    let c = env.another_client().await;
    c.create("/end").persistent().await.unwrap();
    let (_, watch) = c.get_data("/end").with_watch().await.unwrap();
    let mut stream = c.watch("/end").recursive().await.unwrap();
    c.close().await.unwrap();
    assert_eq!(within("watch after close", watch).await, WatchedEvent::session(KeeperState::Closed));
    assert_eq!(within("stream after close", stream.next()).await, Some(WatchedEvent::session(KeeperState::Closed)));
    assert_eq!(within("stream end", stream.next()).await, None);
}
