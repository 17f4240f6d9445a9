//! Callbacks against a real ZooKeeper: a callback may block on the client (the seed reads
//! synchronously inside its watchers), a slow callback delays only later callbacks, a panicking
//! one costs nobody their result, a wait that could never end is refused at once, and every
//! watcher — callback, watch future, stream — hears the connection come and go in order with
//! its events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use suite::{patience, server, server_watches, unique, within, TestEnv};
use zk_dsl::testing::FaultProxy;
use zk_dsl::{Error, EventType, KeeperState, WatchedEvent};

fn node(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent::node(t, path)
}

fn session(state: KeeperState) -> WatchedEvent {
    WatchedEvent::session(state)
}

/// Something a callback hands back to the test.
fn channel<T>() -> (tokio::sync::mpsc::UnboundedSender<T>, tokio::sync::mpsc::UnboundedReceiver<T>) {
    tokio::sync::mpsc::unbounded_channel()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_callback_can_read_synchronously_and_the_client_carries_on() {
    let env = TestEnv::new().await;
    let c = env.client.clone();
    c.create("/w").persistent().data("v1").await.unwrap();
    let (tx, mut rx) = channel();
    let reader = c.clone();
    c.get_data("/w")
        .watcher(move |_| {
            // The seed's style: read the new value right inside the watcher.
            let _ = tx.send(reader.get_data("/w").wait().map(|n| n.bytes().to_vec()));
        })
        .await
        .unwrap();
    c.set_data("/w", "v2").await.unwrap();
    let read = within("the callback's blocking read", rx.recv()).await.expect("the callback ran");
    assert_eq!(read.unwrap(), b"v2");
    // Nothing is stuck behind the callback: futures, callbacks and new watches all work.
    assert!(within("a later await", c.exists("/w")).await.unwrap().is_some());
    let (tx, mut rx) = channel();
    let _handle = c.exists("/w").callback(move |r| {
        let _ = tx.send(r.is_ok());
    });
    assert_eq!(within("a later reply callback", rx.recv()).await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_client_reads_in_its_own_watcher_and_can_close_from_a_callback() {
    let env = TestEnv::new().await;
    let connect_string = env.connect_string.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let client = zk_dsl::blocking::Client::connect(connect_string).expect("connect");
        client.create("/b").persistent().data("1").wait().unwrap();
        client.create("/b/kid").persistent().wait().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let reader = client.clone();
        client
            .get_data("/b")
            .watcher(move |event| {
                let data = reader.get_data("/b").wait().map(|n| n.bytes().to_vec());
                let kids = reader.children("/b").wait();
                let _ = tx.lock().unwrap().send((event, data, kids));
            })
            .wait()
            .unwrap();
        client.set_data("/b", "2").wait().unwrap();
        let (event, data, kids) = rx.recv_timeout(patience()).expect("the watcher ran and returned");
        assert_eq!(event, node(EventType::NodeDataChanged, "/b"));
        assert_eq!(data.unwrap(), b"2");
        assert_eq!(kids.unwrap(), vec!["kid".to_string()]);

        // Closing from inside a reply callback finishes, and so does the handle.
        let (tx, rx) = std::sync::mpsc::channel();
        let closer = client.clone();
        let stat = client.exists("/b").callback(move |_| drop(tx.send(closer.close().wait()))).wait();
        assert!(stat.unwrap().is_some(), "the handle still gets the reply");
        rx.recv_timeout(patience()).expect("close returned").expect("close succeeded");
        assert_eq!(client.state(), zk_dsl::SessionState::Closed);
        assert!(matches!(client.exists("/b").wait(), Err(Error::Closed { .. })));
    });
    within("the blocking client's run", outcome).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_callback_delays_later_callbacks_but_no_future_and_no_other_client() {
    let env = TestEnv::new().await;
    let c = env.client.clone();
    let other = env.another_client().await;
    c.create("/slow").persistent().await.unwrap();
    let (started_tx, mut started) = channel();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    c.get_data("/slow")
        .watcher(move |_| {
            let _ = started_tx.send(());
            let _ = held.lock().unwrap().recv_timeout(patience());
        })
        .await
        .unwrap();
    other.set_data("/slow", "x").await.unwrap();
    within("the slow callback to start", started.recv()).await;

    // The callback is blocked now. A later reply callback waits behind it ...
    let later_ran = Arc::new(Mutex::new(false));
    let flag = later_ran.clone();
    let queued = c.exists("/slow").callback(move |_| *flag.lock().unwrap() = true);
    // ... but futures, streams and other clients do not.
    assert!(within("a future while a callback blocks", c.exists("/slow")).await.unwrap().is_some());
    let mut stream = within("a watch stream while a callback blocks", c.watch("/slow")).await.unwrap();
    other.set_data("/slow", "y").await.unwrap();
    assert_eq!(within("a stream event", stream.next()).await, Some(node(EventType::NodeDataChanged, "/slow")));
    assert!(within("another client", other.get_data("/slow")).await.is_ok());
    assert!(!*later_ran.lock().unwrap(), "callbacks keep their order: the later one waits");

    release.send(()).unwrap();
    assert!(within("the queued callback's handle", queued).await.unwrap().is_some());
    assert!(*later_ran.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_run_in_wire_order_with_the_events_before_them() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let other = env.another_client().await;
    c.create("/o").persistent().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    c.get_data("/o")
        .watcher(move |_| {
            // A slow callback: the reply callback after it must still wait for it.
            std::thread::sleep(Duration::from_millis(100));
            seen.lock().unwrap().push("watch");
        })
        .await
        .unwrap();
    other.set_data("/o", "changed").await.unwrap();
    // This read's reply follows the notification on the wire.
    let seen = order.clone();
    let read = c.get_data("/o").callback(move |_| seen.lock().unwrap().push("reply"));
    assert_eq!(within("the read", read).await.unwrap().bytes(), b"changed");
    assert_eq!(*order.lock().unwrap(), vec!["watch", "reply"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_callbacks_own_result_inside_a_callback_is_refused_at_once() {
    let env = TestEnv::new().await;
    let c = env.client.clone();
    c.create("/d").persistent().await.unwrap();
    let (tx, mut rx) = channel();
    let inner = c.clone();
    let _handle = c.exists("/d").callback(move |_| {
        let nested = inner.exists("/d").callback(|_| {}).wait();
        let plain = inner.exists("/d").wait();
        let _ = tx.send((nested, plain));
    });
    let (nested, plain) = within("the callback", rx.recv()).await.unwrap();
    match nested {
        Err(Error::WouldDeadlock { path, reason, .. }) => {
            assert_eq!(path, "/d");
            assert!(reason.contains("callback"), "{reason}");
        }
        other => panic!("expected WouldDeadlock, got {other:?}"),
    }
    assert!(plain.unwrap().is_some(), "a future-backed wait inside a callback works");
}

/// `#[tokio::test]` runs on a current-thread runtime: the session task only runs while this
/// thread is free, so a blocking wait here can never end. It is refused, not hung.
#[tokio::test]
async fn wait_on_the_current_thread_runtime_that_runs_the_session_is_refused() {
    let env = TestEnv::new().await;
    match env.client.exists("/").wait() {
        Err(e @ Error::WouldDeadlock { .. }) => assert!(e.to_string().contains(".await"), "{e}"),
        other => panic!("expected WouldDeadlock, got {other:?}"),
    }
    // The client is untouched.
    assert!(within("an await afterwards", env.client.exists("/")).await.unwrap().is_some());
}

/// On a multi-thread runtime a wait on a worker hands the worker's tasks over first, so even
/// with a single worker (which also runs the session task) it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn wait_on_a_multi_thread_worker_completes() {
    let env = TestEnv::new().await;
    let c = env.client.clone();
    let on_worker = tokio::spawn(async move { c.exists("/").wait() });
    assert!(within("a wait on the only worker", on_worker).await.unwrap().unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reply_callback_leaves_the_handle_its_result() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/p").persistent().data("kept").await.unwrap();
    let handle = c.get_data("/p").callback(|_| panic!("a bug in user code"));
    assert_eq!(within("the handle", handle).await.unwrap().bytes(), b"kept");
    // And later callbacks still run.
    let (tx, mut rx) = channel();
    let _handle = c.exists("/p").callback(move |r| {
        let _ = tx.send(r.is_ok());
    });
    assert_eq!(within("a later callback", rx.recv()).await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watcher_hears_the_connection_drop_and_return_in_order_with_its_events() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let c = suite::connect_through(&proxy, &env.root, Duration::from_secs(8)).await;
    c.create("/n").persistent().await.unwrap();
    let mut stream = c.watch("/n").await.unwrap();
    let (_, mut once) = c.get_data("/n").with_watch().await.unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    c.exists("/n").watcher(move |e| log.lock().unwrap().push(e)).await.unwrap();

    // Cut the connection and keep the way back closed while the node changes.
    proxy.blackhole(true);
    tokio::task::block_in_place(|| proxy.drop_connections());
    assert_eq!(within("Disconnected on the stream", stream.next()).await, Some(session(KeeperState::Disconnected)));
    env.client.set_data("/n", "while away").await.unwrap();
    proxy.blackhole(false);

    assert_eq!(within("SyncConnected on the stream", stream.next()).await, Some(session(KeeperState::SyncConnected)));
    // The one-shot watches were restored with the last zxid seen, so the server fires the change
    // they missed — after the connection events, in order.
    assert_eq!(within("the future's Disconnected", once.next_event()).await, Some(session(KeeperState::Disconnected)));
    assert_eq!(
        within("the future's SyncConnected", once.next_event()).await,
        Some(session(KeeperState::SyncConnected))
    );
    assert_eq!(within("the missed change", once.next_event()).await, Some(node(EventType::NodeDataChanged, "/n")));
    assert_eq!(within("the spent future", once.next_event()).await, None);
    c.sync("/").await.unwrap();
    // The server replays missed changes for one-shot watches only; this stream hears that replay
    // because a one-shot watch on the same path triggered it (alone, it would have to re-read on
    // SyncConnected). Later changes flow again.
    assert_eq!(stream.try_next(), Some(node(EventType::NodeDataChanged, "/n")));
    assert_eq!(stream.try_next(), None);
    env.client.set_data("/n", "back").await.unwrap();
    assert_eq!(
        within("a change after the reconnect", stream.next()).await,
        Some(node(EventType::NodeDataChanged, "/n"))
    );

    let expected = vec![
        session(KeeperState::Disconnected),
        session(KeeperState::SyncConnected),
        node(EventType::NodeDataChanged, "/n"),
    ];
    // The callback runs on the dispatcher thread: looked at until it has heard all three.
    suite::eventually("the callback's events", || async {
        (heard.lock().unwrap().len() >= expected.len()).then_some(())
    })
    .await;
    assert_eq!(*heard.lock().unwrap(), expected, "the callback watcher heard the same, in order");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_watch_stream_removes_the_servers_watch() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let (gone, kept) = (format!("/{}", unique("gone")), format!("/{}", unique("kept")));
    for p in [&gone, &kept] {
        c.create(p.as_str()).persistent().await.unwrap();
    }
    let stream = c.watch(gone.as_str()).recursive().await.unwrap();
    let _kept_stream = c.watch(kept.as_str()).await.unwrap();
    // A second watcher on `kept` outlives the first: the server's watch must stay for it.
    let (_, _kept_future) = c.get_data(kept.as_str()).with_watch().await.unwrap();
    let kept_twice = c.watch(kept.as_str()).await.unwrap();
    let (gone_abs, kept_abs) = (format!("{}{gone}", env.root), format!("{}{kept}", env.root));
    let id = c.session_id();
    let held = tokio::task::block_in_place(|| server_watches(id));
    assert!(held.contains(&gone_abs) && held.contains(&kept_abs), "{held:?}");

    drop(stream);
    drop(kept_twice);
    c.sync("/").await.unwrap();
    let held = tokio::task::block_in_place(|| server_watches(id));
    assert!(!held.contains(&gone_abs), "the dropped stream's watch is still on the server: {held:?}");
    assert!(held.contains(&kept_abs), "a watch another watcher needs was removed: {held:?}");
    // And nothing the client still holds was disturbed.
    c.set_data(kept.as_str(), "x").await.unwrap();
    assert_eq!(within("the kept future", _kept_future).await, node(EventType::NodeDataChanged, &kept));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_watcher_may_consume_what_it_captures() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/once").persistent().await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    c.get_data("/once").watcher_once(move |event| drop(tx.send(event))).await.unwrap();
    c.set_data("/once", "x").await.unwrap();
    assert_eq!(within("the oneshot", rx).await.unwrap(), node(EventType::NodeDataChanged, "/once"));
}
