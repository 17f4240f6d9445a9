//! Sessions that renew after an expiry, and the recipes that carry on in them: a persistent
//! node back within one session timeout after each of 5 expiries, a cache that reloads in the
//! new session and reports exactly what changed meanwhile, and a TTL node kept alive by touching.

use std::sync::Arc;
use std::time::{Duration, Instant};

use suite::tree::{assert_mirrors, full_read};
use suite::{children_until, connect, patience, server, within, TestEnv};
use zk_dsl::client::Sessions;
use zk_dsl::recipes::{Cache, CacheEvent, PersistentNode, PersistentTtlNode};
use zk_dsl::testing::{scaled, FaultProxy, ZkServer};
use zk_dsl::{Client, Error};

/// A session timeout short enough for five expiries in a test, long enough for a loaded machine.
fn short_session() -> Duration {
    scaled(Duration::from_secs(2)).min(Duration::from_secs(10))
}

/// Sessions on `root` through `proxy`, each with `timeout`.
async fn sessions_through(proxy: &FaultProxy, root: &str, timeout: Duration) -> Sessions {
    let connect_string = format!("{}{root}", proxy.connect_string());
    Sessions::connect(move || {
        Client::connect(connect_string.clone())
            .session_timeout(timeout)
            .attempt_timeout(Duration::from_millis(300))
            .connect_timeout(patience())
    })
    .await
    .expect("first session")
}

/// Cuts the sessions' connection until the server has expired the session owning the
/// ephemeral `dir/name` (it is deleted), then lets the connection through again.
async fn expire_owner_of(proxy: &FaultProxy, observer: &Client, dir: &str, name: &str) {
    proxy.blackhole(true);
    children_until(observer, dir, "the server to expire the session", |c| !c.iter().any(|n| n == name)).await;
    proxy.blackhole(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_node_is_back_within_a_session_timeout_after_each_of_5_expiries() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let timeout = short_session();
    let zk = sessions_through(&proxy, &env.root, timeout).await;
    let node = PersistentNode::new(&zk, "/members/me").data("alive").start().await.unwrap();
    let mut owner = env.client.get_data("/members/me").await.unwrap().stat.ephemeral_owner;
    for round in 1..=5u64 {
        expire_owner_of(&proxy, &env.client, "/members", "me").await;
        let reopened = Instant::now();
        children_until(&env.client, "/members", "the node to be back", |c| c.iter().any(|n| n == "me")).await;
        let back = reopened.elapsed();
        assert!(back <= timeout, "round {round}: back {back:?} after the connection reopened (timeout {timeout:?})");
        let now = env.client.get_data("/members/me").await.unwrap();
        assert_eq!(now.bytes(), b"alive", "round {round}: recreated with its data");
        assert_ne!(now.stat.ephemeral_owner, owner, "round {round}: owned by a new session");
        assert_eq!(now.stat.ephemeral_owner, zk.client().session_id(), "round {round}: the current session's");
        assert_eq!(zk.renewals(), round);
        owner = now.stat.ephemeral_owner;
    }
    assert!(node.is_running());
    node.close().await.unwrap();
    assert!(matches!(env.client.get_data("/members/me").await, Err(Error::NoNode { .. })));
    zk.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_reloads_in_the_next_session_and_reports_exactly_what_changed() {
    let env = TestEnv::new().await;
    for (path, data) in [("/tree", "root"), ("/tree/keep", "k"), ("/tree/change", "v1"), ("/tree/gone", "g")] {
        env.client.create(path).persistent().data(data).await.unwrap();
    }
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let zk = sessions_through(&proxy, &env.root, short_session()).await;
    let mut cache = Cache::new(&zk, "/tree").start().await.unwrap();
    while within("the initial load", cache.next()).await != Some(CacheEvent::Initialized) {}
    zk.client().create("/marker").ephemeral().await.unwrap();

    proxy.blackhole(true);
    env.client.set_data("/tree/change", "v2").await.unwrap();
    env.client.delete("/tree/gone").await.unwrap();
    env.client.create("/tree/new").persistent().data("n").await.unwrap();
    children_until(&env.client, "/", "the server to expire the session", |c| !c.iter().any(|n| n == "marker")).await;
    proxy.blackhole(false);

    let mut changes = Vec::new();
    loop {
        match within("the cache's resync in the new session", cache.next()).await {
            Some(CacheEvent::Reconnected) => break,
            Some(CacheEvent::Disconnected) => {}
            Some(CacheEvent::Added { path, .. }) => changes.push(format!("added {path}")),
            Some(CacheEvent::Updated { path, old, new }) => changes.push(format!(
                "updated {path} {:?}->{:?}",
                old.data.unwrap_or_default(),
                new.data.unwrap_or_default()
            )),
            Some(CacheEvent::Removed { path, .. }) => changes.push(format!("removed {path}")),
            other => panic!("unexpected {other:?}"),
        }
    }
    changes.sort();
    assert_eq!(changes, ["added /tree/new", "removed /tree/gone", "updated /tree/change b\"v1\"->b\"v2\""]);
    assert_eq!(zk.renewals(), 1);
    assert_mirrors(&cache, &full_read(&env.client, "/tree").await);

    // And it goes on following the tree in the new session.
    env.client.create("/tree/after").persistent().await.unwrap();
    match within("a change after the renewal", cache.next()).await {
        Some(CacheEvent::Added { path, .. }) => assert_eq!(path, "/tree/after"),
        other => panic!("unexpected {other:?}"),
    }
    zk.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_on_one_client_ends_with_its_session() {
    let env = TestEnv::new().await;
    env.client.create("/tree").persistent().await.unwrap();
    let client = env.another_client().await;
    let mut cache = Cache::new(&client, "/tree").start().await.unwrap();
    while within("the initial load", cache.next()).await != Some(CacheEvent::Initialized) {}
    client.close().await.unwrap();
    assert_eq!(within("the last event", cache.next()).await, Some(CacheEvent::Disconnected));
    assert_eq!(within("the end of the stream", cache.next()).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stop_renewing_when_closed() {
    let env = TestEnv::new().await;
    let zk = Sessions::connect({
        let cs = env.connect_string.clone();
        move || Client::connect(cs.clone()).connect_timeout(patience())
    })
    .await
    .unwrap();
    let first = zk.client();
    zk.close().await.unwrap();
    assert_eq!(within("no next session", zk.next_session(&first)).await.map(|c| c.session_id()), None);
    assert!(matches!(zk.client().exists("/").await, Err(Error::Closed { .. })));
    assert_eq!(zk.renewals(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_node_stays_while_touched_and_expires_after_close() {
    // TTL nodes are swept every `znode.container.checkIntervalMs` (a minute by default).
    let server = Arc::new(
        ZkServer::builder()
            .extended_types(true)
            .system_property("znode.container.checkIntervalMs", "100")
            .start()
            .expect("a server with a fast TTL sweep"),
    );
    let client = connect(&server.connect_string()).await;
    let ttl = Duration::from_millis(500);

    // The control: a TTL node nobody touches is swept.
    client.create("/bare").ttl(ttl).await.unwrap();
    children_until(&client, "/", "the untouched TTL node to expire", |c| !c.iter().any(|n| n == "bare")).await;

    let node = PersistentTtlNode::new(&client, "/kept", ttl).data("payload").start().await.unwrap();
    tokio::time::sleep(ttl * 6).await;
    assert_eq!(client.get_data("/kept").await.unwrap().bytes(), b"payload", "kept through 6 TTLs");
    assert!(client.exists("/kept/touch").await.unwrap().is_some(), "Curator's touch child");
    node.close();
    children_until(&client, "/", "the closed TTL node to expire", |c| !c.iter().any(|n| n == "kept")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_registered_on_sessions_is_registered_again_after_an_expiry() {
    use zk_dsl::recipes::discovery::{ServiceDiscovery, ServiceInstance};
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let zk = sessions_through(&proxy, &env.root, short_session()).await;
    let discovery: ServiceDiscovery = ServiceDiscovery::new(&zk, "/services");
    let me = ServiceInstance::builder("api").id("api-1").address("10.0.0.7").port(8080).build();
    discovery.register(&me).await.unwrap();
    let before = env.client.get_data("/services/api/api-1").await.unwrap();

    expire_owner_of(&proxy, &env.client, "/services/api", "api-1").await;
    children_until(&env.client, "/services/api", "the instance to be back", |c| c.iter().any(|n| n == "api-1")).await;
    let after = env.client.get_data("/services/api/api-1").await.unwrap();
    assert_eq!(after.bytes(), before.bytes(), "registered again with the same JSON");
    assert_eq!(after.stat.ephemeral_owner, zk.client().session_id(), "by the new session");
    let found = ServiceDiscovery::<serde_json::Value>::new(&env.client, "/services").query("api").await.unwrap();
    assert_eq!(found.instances.len(), 1);
    zk.close().await.unwrap();
}
