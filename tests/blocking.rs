//! The blocking facade: the same builders finished with `.wait()`, from plain threads and from
//! threads inside a tokio program, with no runtime of the caller's.

use std::time::Duration;

use zk_dsl::blocking;
use zk_dsl::{Error, EventType, WatchedEvent};

fn connect_string() -> String {
    // The shared server; each test works under its own root.
    suite::server().connect_string()
}

fn fresh_root(client: &blocking::Client) -> String {
    let root = format!("/{}", suite::unique("blocking"));
    client.create(root.as_str()).persistent().wait().unwrap();
    root
}

#[test]
fn blocking_client_without_any_runtime() {
    let client = blocking::Client::connect(connect_string()).unwrap();
    let root = fresh_root(&client);
    let p = format!("{root}/config");
    client.create(p.as_str()).persistent().data("v1").wait().unwrap();
    let node = client.get_data(p.as_str()).wait().unwrap();
    assert_eq!(node.bytes(), b"v1");
    let stat = client.set_data(p.as_str(), "v2").version(node.stat.version).wait().unwrap();
    assert_eq!(stat.version, 1);
    assert!(matches!(client.set_data(p.as_str(), "x").version(0).wait(), Err(Error::BadVersion { .. })));

    // Pipelining works the same: send now, wait later.
    let handles: Vec<_> = (0..50).map(|i| client.create(format!("{root}/n{i:02}")).send()).collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.wait().unwrap(), format!("{root}/n{i:02}"));
    }
    assert_eq!(client.children(root.as_str()).wait().unwrap().len(), 51);

    // Watches can be waited for too.
    let (_, watch) = client.get_data(p.as_str()).with_watch().wait().unwrap();
    client.set_data(p.as_str(), "v3").wait().unwrap();
    assert_eq!(watch.wait(), WatchedEvent::node(EventType::NodeDataChanged, p.clone()));

    // One rule for every verb, compound or not: the async verb, finished with `.wait()`
    // (issue 9: delete_all, compare-and-set, add_auth, close and the filters used to return a
    // Result directly).
    assert_eq!(client.create_all(format!("{root}/a/b/c")).wait().unwrap(), format!("{root}/a/b/c"));
    // Typed values, like every other write.
    assert_eq!(client.compare_and_set_data(p.as_str(), "v3", "v4", 3).wait().unwrap().map(|s| s.version), Some(3));
    assert_eq!(client.compare_and_set_data(p.as_str(), "v3", "v5", 3).wait().unwrap(), None);
    assert_eq!(client.filter_children_by_prefix(root.as_str(), "n0").wait().unwrap().len(), 10);
    assert_eq!(client.filter_children_by_suffix(root.as_str(), "9").wait().unwrap().len(), 5);
    assert_eq!(client.filter_children(root.as_str(), |n| n == "a").wait().unwrap(), ["a"]);
    client.add_auth("digest", "david:secret").wait().unwrap();
    // The ensemble's configuration (a standalone server's is empty), and a reconfig refused.
    assert_eq!(client.get_config().wait().unwrap().config, zk_dsl::reconfig::EnsembleConfig::default());
    let refused = client.reconfig().remove(2).wait();
    assert!(matches!(refused, Err(Error::Server { code: zk_dsl::ErrorCode::ReconfigDisabled, .. })), "{refused:?}");
    client.wait_connected().wait().unwrap();
    client.delete_children(root.as_str(), false).wait().unwrap();
    assert!(client.children(root.as_str()).wait().unwrap().is_empty());
    client.delete_all(root.as_str()).wait().unwrap();
    client.close().wait().unwrap();
    assert!(matches!(client.exists("/").wait(), Err(Error::Closed { .. })));
}

#[test]
fn blocking_connect_timeout_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = zk_dsl::Client::connect(format!("127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(300))
        .blocking()
        .unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_client_from_threads_inside_a_tokio_program() {
    let cs = connect_string();
    // From spawn_blocking...
    let root = tokio::task::spawn_blocking(move || {
        let client = blocking::Client::connect(cs).unwrap();
        let root = fresh_root(&client);
        client.create(format!("{root}/from-blocking-pool")).persistent().wait().unwrap();
        // Dropped inside the runtime's blocking pool: must not panic.
        root
    })
    .await
    .unwrap();
    // ...and from a plain thread started by async code, while async clients run alongside.
    let cs = connect_string();
    let r = root.clone();
    let thread = std::thread::spawn(move || {
        let client = blocking::Client::connect(cs).unwrap();
        client.create(format!("{r}/from-thread")).persistent().wait().unwrap();
        client.children(r.as_str()).wait().unwrap().len()
    });
    let async_client = suite::connect(&connect_string()).await;
    suite::within("the async client", async_client.exists(root.as_str())).await.unwrap().unwrap();
    assert_eq!(tokio::task::spawn_blocking(move || thread.join().unwrap()).await.unwrap(), 2);
    async_client.delete_all(root.as_str()).await.unwrap();
    async_client.close().await.unwrap();
}
