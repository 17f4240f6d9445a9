//! `ServiceDiscovery` and `ServiceProvider` against a real server: registration, queries and
//! unregistration; an instance re-created after someone deletes it (also while its client is
//! cut off); instances going with their
//! session (static ones staying); the provider's strategies, disabled and down instances; and
//! nodes that are not instances, which never break a query.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use suite::{children_until, connect_through, eventually, server, within, TestEnv};
use zk_dsl::recipes::discovery::{
    DownInstancePolicy, ServiceDiscovery, ServiceInstance, ServiceProvider, ServiceType, Strategy, UriSpec,
};
use zk_dsl::testing::FaultProxy;
use zk_dsl::Error;

const BASE: &str = "/services";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Details {
    zone: String,
    weight: u32,
}

fn instance(name: &str, id: &str, port: u16) -> ServiceInstance {
    ServiceInstance::builder(name).id(id).address("10.0.0.1").port(port).build()
}

/// Waits until the provider hands out exactly the instances `ids`.
async fn provider_sees<P: serde::de::DeserializeOwned + Serialize + Clone>(
    provider: &ServiceProvider<P>,
    ids: &[&str],
) {
    let what = format!("the provider to see {ids:?}");
    eventually(&what, || async {
        let seen: Vec<String> = provider.all_instances().into_iter().map(|i| i.id).collect();
        (seen == ids).then_some(())
    })
    .await;
}

#[tokio::test]
async fn registered_instances_are_queried_updated_and_unregistered() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    assert!(discovery.query_names().await.unwrap().is_empty(), "no base yet: no services");
    assert!(discovery.query("api").await.unwrap().is_empty());

    let uri = UriSpec::new("{scheme}://{address}:{port}/v1").unwrap();
    let a = ServiceInstance::builder("api")
        .id("a")
        .address("10.0.0.1")
        .port(8080)
        .ssl_port(8443)
        .payload(json!({"zone": "eu-1"}))
        .uri_spec(uri)
        .build();
    let b = instance("api", "b", 8081);
    let w = instance("worker", "w", 9000);
    for i in [&a, &b, &w] {
        discovery.register(i).await.unwrap();
    }
    assert_eq!(discovery.query_names().await.unwrap(), ["api", "worker"]);
    let found = discovery.query("api").await.unwrap();
    assert!(found.unreadable.is_empty());
    assert_eq!(found.instances, vec![a.clone(), b.clone()], "every field round-trips, in id order");
    assert_eq!(found[0].uri(), "https://10.0.0.1:8080/v1", "an SSL port makes the scheme https");
    assert_eq!(discovery.query_one("api", "b").await.unwrap(), Some(b.clone()));
    assert_eq!(discovery.query_one("api", "nobody").await.unwrap(), None);
    // Ephemeral, this session's: it goes with the session.
    let node = env.client.get_data(format!("{BASE}/api/a")).await.unwrap();
    assert_eq!(node.stat.ephemeral_owner, env.client.session_id());

    let moved = ServiceInstance { port: Some(9090), ..b.clone() };
    discovery.update(&moved).await.unwrap();
    assert_eq!(discovery.query_one("api", "b").await.unwrap().and_then(|i| i.port), Some(9090));
    let stranger = instance("api", "stranger", 1);
    assert!(matches!(discovery.update(&stranger).await, Err(Error::InvalidArgument { .. })), "not ours to update");

    discovery.unregister("a").await.unwrap();
    discovery.unregister("a").await.unwrap();
    let ids: Vec<String> = discovery.query("api").await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["b"]);
    assert_eq!(discovery.registered_ids().await, ["b", "w"]);
    discovery.close().await.unwrap();
    assert!(discovery.query("api").await.unwrap().is_empty());
    assert!(discovery.query("worker").await.unwrap().is_empty());
}

#[tokio::test]
async fn names_that_are_not_one_segment_are_refused() {
    let env = TestEnv::new().await;
    let discovery: ServiceDiscovery = ServiceDiscovery::new(&env.client, BASE);
    for bad in [instance("a/b", "x", 1), instance("api", "", 1), instance("api", "..", 1)] {
        assert!(matches!(discovery.register(&bad).await, Err(Error::InvalidArgument { .. })), "{bad:?}");
    }
    assert!(discovery.query("a/b").await.is_err());
    assert!(env.client.exists(BASE).await.unwrap().is_none(), "nothing was written");
}

#[tokio::test]
async fn a_deleted_instance_is_registered_again_and_a_stale_one_is_taken_over() {
    let env = TestEnv::new().await;
    let other = env.another_client().await;
    // A stale node of the same id, from another session: replaced by ours.
    other.create_all(format!("{BASE}/api/a")).data("stale").await.unwrap();
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    let a = instance("api", "a", 8080);
    discovery.register(&a).await.unwrap();
    assert_eq!(discovery.query_one("api", "a").await.unwrap(), Some(a.clone()));
    let path = format!("{BASE}/api/a");
    assert_eq!(env.client.get_data(path.as_str()).await.unwrap().stat.ephemeral_owner, env.client.session_id());

    // Someone deletes it: it comes back, ours, with its data.
    other.delete(path.as_str()).await.unwrap();
    children_until(&other, &format!("{BASE}/api"), "the instance to come back", |c| c.iter().any(|n| n == "a")).await;
    assert_eq!(discovery.query_one("api", "a").await.unwrap(), Some(a));
    other.close().await.unwrap();
}

/// Deleted while the registering client is cut off (the server cannot tell it): back once it
/// reconnects, still its session's.
#[tokio::test]
async fn an_instance_deleted_while_disconnected_is_back_after_reconnection() {
    let env = TestEnv::new().await;
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    let client = connect_through(&proxy, &env.root, Duration::from_secs(10)).await;
    let discovery = ServiceDiscovery::new(&client, BASE);
    let a = instance("api", "a", 1);
    discovery.register(&a).await.unwrap();
    proxy.blackhole(true);
    let cut = proxy.clone();
    tokio::task::spawn_blocking(move || cut.drop_connections()).await.unwrap();
    env.client.delete(format!("{BASE}/api/a")).await.unwrap();
    suite::eventually("the client to notice the cut", || async { (!client.state().is_connected()).then_some(()) })
        .await;
    proxy.blackhole(false);
    children_until(&env.client, &format!("{BASE}/api"), "the instance to come back", |c| c.iter().any(|n| n == "a"))
        .await;
    let node = env.client.get_data(format!("{BASE}/api/a")).await.unwrap();
    assert_eq!(node.stat.ephemeral_owner, client.session_id());
    assert_eq!(discovery.query_one("api", "a").await.unwrap(), Some(a));
    client.close().await.unwrap();
}

#[tokio::test]
async fn dynamic_instances_go_with_their_session_static_ones_stay() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    let provider = discovery.provider("api").start().await.unwrap();

    let other = env.another_client().await;
    let theirs = ServiceDiscovery::new(&other, BASE);
    theirs.register(&instance("api", "dynamic", 1)).await.unwrap();
    let fixed = ServiceInstance { service_type: ServiceType::Static, ..instance("api", "static", 2) };
    theirs.register(&fixed).await.unwrap();
    provider_sees(&provider, &["dynamic", "static"]).await;

    other.close().await.unwrap();
    provider_sees(&provider, &["static"]).await;
    assert_eq!(discovery.query_one("api", "static").await.unwrap(), Some(fixed));
}

#[tokio::test]
async fn a_sequential_instance_is_registered_updated_and_unregistered() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    let seq = ServiceInstance { service_type: ServiceType::DynamicSequential, ..instance("api", "s-", 1) };
    discovery.register(&seq).await.unwrap();
    let names = env.client.children(format!("{BASE}/api")).await.unwrap();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with("s-") && names[0]["s-".len()..].bytes().all(|b| b.is_ascii_digit()), "{names:?}");
    discovery.update(&ServiceInstance { port: Some(2), ..seq.clone() }).await.unwrap();
    let found = discovery.query("api").await.unwrap();
    assert_eq!((found.len(), found[0].port), (1, Some(2)));
    discovery.unregister("s-").await.unwrap();
    assert!(discovery.query("api").await.unwrap().is_empty());
}

#[tokio::test]
async fn round_robin_cycles_sticky_stays_random_covers() {
    let env = TestEnv::new().await;
    let discovery: ServiceDiscovery<Details> = ServiceDiscovery::new(&env.client, BASE);
    let details = |zone: &str| Details { zone: zone.into(), weight: 1 };
    for id in ["a", "b", "c"] {
        let i = ServiceInstance::builder("api").id(id).port(8000).payload(details(id)).build();
        discovery.register(&i).await.unwrap();
    }
    let round_robin = discovery.provider("api").start().await.unwrap();
    provider_sees(&round_robin, &["a", "b", "c"]).await;
    let picks: Vec<String> = (0..6).filter_map(|_| round_robin.get_instance()).map(|i| i.id).collect();
    assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
    assert_eq!(round_robin.get_instance().and_then(|i| i.payload), Some(details("a")), "typed payloads");

    let sticky = discovery.provider("api").strategy(Strategy::Sticky).start().await.unwrap();
    provider_sees(&sticky, &["a", "b", "c"]).await;
    let first = sticky.get_instance().unwrap().id;
    assert!((0..20).all(|_| sticky.get_instance().unwrap().id == first), "sticky stays");
    discovery.unregister(&first).await.unwrap();
    let remaining: Vec<&str> = ["a", "b", "c"].into_iter().filter(|id| *id != first).collect();
    provider_sees(&sticky, &remaining).await;
    let second = sticky.get_instance().unwrap().id;
    assert_ne!(second, first);
    assert!((0..20).all(|_| sticky.get_instance().unwrap().id == second), "and stays on the next one");

    let random = discovery.provider("api").strategy(Strategy::Random).start().await.unwrap();
    provider_sees(&random, &remaining).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..400 {
        *counts.entry(random.get_instance().unwrap().id).or_default() += 1;
    }
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|n| *n > 100), "roughly uniform: {counts:?}");
}

#[tokio::test]
async fn a_tracking_provider_says_when_instances_change() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    discovery.register(&instance("api", "a", 1)).await.unwrap();
    let mut provider = discovery.provider("api").track_changes(true).start().await.unwrap();
    assert_eq!(provider.all_instances().len(), 1, "loaded at start");
    let other = env.another_client().await;
    let theirs = ServiceDiscovery::new(&other, BASE);
    theirs.register(&instance("api", "b", 2)).await.unwrap();
    within("a change", provider.changed()).await.expect("a change, not the end");
    provider_sees(&provider, &["a", "b"]).await;
    other.close().await.unwrap();
    within("a change", provider.changed()).await.expect("a change, not the end");
    provider_sees(&provider, &["a"]).await;
    // Closing deletes our own instance (a last change, maybe heard), then the stream ends.
    env.client.close().await.unwrap();
    within("the end", async { while provider.changed().await.is_some() {} }).await;
}

#[tokio::test]
async fn disabled_and_down_instances_are_not_handed_out() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    for i in [
        instance("api", "a", 1),
        instance("api", "b", 2),
        ServiceInstance { enabled: false, ..instance("api", "off", 3) },
    ] {
        discovery.register(&i).await.unwrap();
    }
    assert_eq!(discovery.query("api").await.unwrap().len(), 3, "queries list disabled instances too");
    let policy = DownInstancePolicy::new(Duration::from_millis(300), 2);
    let provider = discovery.provider("api").down_instance_policy(policy).start().await.unwrap();
    provider_sees(&provider, &["a", "b"]).await;
    let a = discovery.query_one("api", "a").await.unwrap().unwrap();
    provider.note_error(&a);
    assert_eq!(provider.all_instances().len(), 2, "one error is under the threshold");
    provider.note_error(&a);
    let down_at = std::time::Instant::now();
    let served: Vec<String> = (0..4).filter_map(|_| provider.get_instance()).map(|i| i.id).collect();
    assert_eq!(served, ["b", "b", "b", "b"], "a is down");
    eventually("a to be forgiven", || async { (provider.all_instances().len() == 2).then_some(()) }).await;
    assert!(down_at.elapsed() >= Duration::from_millis(300), "forgiven only after the policy's timeout");
}

#[tokio::test]
async fn nodes_that_are_not_instances_never_break_a_query() {
    let env = TestEnv::new().await;
    let discovery = ServiceDiscovery::new(&env.client, BASE);
    let good = instance("api", "good", 8080);
    discovery.register(&good).await.unwrap();
    let provider = discovery.provider("api").start().await.unwrap();
    for (name, data) in [
        ("junk", &b"\xffnot json"[..]),
        ("half", br#"{"id":"half"}"#),
        ("port", br#"{"name":"api","id":"port","port":-1}"#),
    ] {
        env.client.create(format!("{BASE}/api/{name}")).ephemeral().data(data).await.unwrap();
    }
    let found = discovery.query("api").await.unwrap();
    assert_eq!(found.instances, vec![good.clone()]);
    let mut paths: Vec<String> = found
        .unreadable
        .iter()
        .map(|e| match e {
            Error::Codec { path: Some(path), .. } => path.clone(),
            other => panic!("not a codec error with a path: {other:?}"),
        })
        .collect();
    paths.sort();
    assert_eq!(paths, [format!("{BASE}/api/half"), format!("{BASE}/api/junk"), format!("{BASE}/api/port")]);
    assert!(found.clone().into_result().is_err());
    match discovery.query_one("api", "junk").await {
        Err(Error::Codec { path, .. }) => assert_eq!(path, Some(format!("{BASE}/api/junk"))),
        other => panic!("{other:?}"),
    }
    eventually("the provider to cache every node", || async { (provider.unreadable().len() == 3).then_some(()) }).await;
    assert_eq!(provider.all_instances(), vec![good.clone()]);
    assert_eq!(provider.get_instance(), Some(good));
}
