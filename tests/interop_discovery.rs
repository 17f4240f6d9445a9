//! Service discovery against the real thing: zk-dsl's `ServiceDiscovery` and `ServiceProvider`
//! sharing a base path with a real curator-x-discovery 5.4 process (`tests/peers/java/
//! CuratorDiscovery.java`: `ServiceDiscovery<Details>` with Curator's default
//! `JsonInstanceSerializer`, a `ServiceCache` and a round-robin `ServiceProvider`), both ways:
//!
//! * Rust registers; Curator's query, cache and provider find the instance with its address,
//!   port, typed payload and URI, see an update, leave a disabled one out of the provider, and
//!   stop seeing them once the Rust session closes.
//! * Curator registers; zk-dsl's query and provider find it with the same fields (the payload
//!   typed, its Java class kept), the JSON zk-dsl would write for it is the JSON Curator wrote,
//!   and the provider drops it once the Java process quits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use suite::peers::{self, startup_patience, Peer};
use suite::{connect, eventually, patience, TestEnv};
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};
use zk_dsl::recipes::discovery::{ServiceDiscovery, ServiceInstance, ServiceProvider, ServiceType, UriSpec};

const BASE: &str = "/services";
/// The Java payload class, as Jackson names it in `"@class"`.
const JAVA_DETAILS: &str = "CuratorDiscovery$Details";

/// The Java peer's payload, `CuratorDiscovery.Details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Details {
    zone: String,
    weight: i32,
}

/// One JVM at a time: the box has two cores.
static MACHINE: AsyncMutex<()> = AsyncMutex::const_new(());

async fn whole_machine() -> MutexGuard<'static, ()> {
    MACHINE.lock().await
}

async fn start_peer(cs: &str, id: &str) -> Peer {
    let mut peer = peers::curator_discovery(cs, BASE, id, "api").spawn();
    peer.expect_line_async(&format!("^READY {id}$"), startup_patience()).await;
    peer
}

/// Sends `command` (`query`, `cache`, `provider`) and returns the instances the peer listed.
async fn ask(peer: &mut Peer, command: &str) -> Vec<String> {
    peer.send(command);
    let id = peer.id().to_owned();
    let line =
        peer.expect_line_async(&format!("^(INSTANCES {id} {command}|FAILED {id} {command})( |$)"), patience()).await;
    assert!(line.starts_with("INSTANCES"), "Curator failed: {line}");
    line.split(' ').skip(3).map(str::to_owned).collect()
}

/// Asks until Curator's `command` lists exactly `expected`.
async fn until_curator_lists(peer: &mut Peer, command: &str, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + patience();
    loop {
        let listed = ask(peer, command).await;
        if listed == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "Curator's {command} lists {listed:?}, not {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn provider_sees(provider: &ServiceProvider<Details>, ids: &[&str]) {
    eventually(&format!("the provider to see {ids:?}"), || async {
        let seen: Vec<String> = provider.all_instances().into_iter().map(|i| i.id).collect();
        (seen == ids).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_finds_what_zk_dsl_registers_until_its_session_closes() {
    let _machine = whole_machine().await;
    let env = TestEnv::new().await;
    let mut java = start_peer(&env.connect_string, "j").await;

    let rust = connect(&env.connect_string).await;
    let discovery: ServiceDiscovery<Details> = ServiceDiscovery::new(&rust, BASE);
    let mine = ServiceInstance::builder("api")
        .id("rust-1")
        .address("10.1.2.3")
        .port(8080)
        .payload(Details { zone: "eu-1".into(), weight: 7 })
        .payload_class(JAVA_DETAILS)
        .uri_spec(UriSpec::new("{scheme}://{address}:{port}").unwrap())
        .build();
    discovery.register(&mine).await.unwrap();

    // Field by field, the payload as Curator's own class (the peer casts it).
    let entry = ["rust-1@10.1.2.3:8080/eu-1/7/http://10.1.2.3:8080"];
    until_curator_lists(&mut java, "query", &entry).await;
    until_curator_lists(&mut java, "cache", &entry).await;
    until_curator_lists(&mut java, "provider", &entry).await;
    java.send("get");
    java.expect_line_async(&format!("^GOT j {}$", regex::escape(entry[0])), patience()).await;
    java.send("names");
    java.expect_line_async("^NAMES j api$", patience()).await;

    let moved = ServiceInstance { port: Some(8081), ..mine.clone() };
    discovery.update(&moved).await.unwrap();
    until_curator_lists(&mut java, "cache", &["rust-1@10.1.2.3:8081/eu-1/7/http://10.1.2.3:8081"]).await;

    // A disabled instance (the one case zk-dsl writes `enabled`): listed, never provided.
    let off = ServiceInstance { id: "rust-2".into(), enabled: false, ..moved.clone() };
    discovery.register(&off).await.unwrap();
    let both = ["rust-1@10.1.2.3:8081/eu-1/7/http://10.1.2.3:8081", "rust-2@10.1.2.3:8081/eu-1/7/http://10.1.2.3:8081"];
    until_curator_lists(&mut java, "cache", &both).await;
    until_curator_lists(&mut java, "query", &both).await;
    until_curator_lists(&mut java, "provider", &both[..1]).await;

    // The session ends: the instance goes with it, for Curator's every view.
    rust.close().await.unwrap();
    until_curator_lists(&mut java, "cache", &[]).await;
    until_curator_lists(&mut java, "provider", &[]).await;
    until_curator_lists(&mut java, "query", &[]).await;
    java.quit(patience());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_dsl_finds_what_curator_registers_until_it_quits() {
    let _machine = whole_machine().await;
    let env = TestEnv::new().await;
    let discovery: ServiceDiscovery<Details> = ServiceDiscovery::new(&env.client, BASE);
    let provider = discovery.provider("api").start().await.unwrap();
    let mut java = start_peer(&env.connect_string, "j").await;
    java.send("register java-1 10.9.8.7 9090 us-2 3");
    java.expect_line_async("^REGISTERED j java-1$", patience()).await;

    provider_sees(&provider, &["java-1"]).await;
    let expected_payload = Details { zone: "us-2".into(), weight: 3 };
    for found in [provider.get_instance().unwrap(), discovery.query_one("api", "java-1").await.unwrap().unwrap()] {
        assert_eq!((found.name.as_str(), found.id.as_str()), ("api", "java-1"));
        assert_eq!((found.address.as_deref(), found.port, found.ssl_port), (Some("10.9.8.7"), Some(9090), None));
        assert_eq!(found.payload.as_ref(), Some(&expected_payload));
        assert_eq!(found.payload_class.as_deref(), Some(JAVA_DETAILS));
        assert_eq!((found.service_type, found.enabled), (ServiceType::Dynamic, true));
        assert_eq!(found.uri(), "http://10.9.8.7:9090");
    }
    let queried = discovery.query("api").await.unwrap();
    assert!(queried.unreadable.is_empty(), "{:?}", queried.unreadable);
    assert_eq!(queried.len(), 1);
    assert_eq!(discovery.query_names().await.unwrap(), ["api"]);

    // The format, exactly: what zk-dsl writes for the instance is what Curator wrote.
    let raw = env.client.get_data(format!("{BASE}/api/java-1")).await.unwrap();
    let written: serde_json::Value = serde_json::from_slice(raw.bytes()).unwrap();
    assert_eq!(written["payload"]["@class"], JAVA_DETAILS, "{written}");
    assert!(written.get("enabled").is_none(), "Curator's default serializer leaves `enabled` out: {written}");
    let ours: serde_json::Value = serde_json::from_slice(&queried[0].to_json().unwrap()).unwrap();
    assert_eq!(ours, written);
    // Untyped, the payload is the JSON object without Jackson's class.
    let untyped: ServiceDiscovery = ServiceDiscovery::new(&env.client, BASE);
    let raw_payload = untyped.query_one("api", "java-1").await.unwrap().and_then(|i| i.payload);
    assert_eq!(raw_payload, Some(serde_json::json!({"zone": "us-2", "weight": 3})));

    // Curator's process ends: its session and its instance go (at once when its close reaches
    // the server before the JVM exits, else at the session's 10 s timeout).
    java.quit(patience());
    suite::eventually_within(
        "the provider to drop Curator's instance",
        Duration::from_secs(10) + patience(),
        || async { provider.all_instances().is_empty().then_some(()) },
    )
    .await;
    assert!(discovery.query("api").await.unwrap().is_empty());
}
