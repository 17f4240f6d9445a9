//! Metrics (issue 10, zk-dsl's `metrics` feature): a recorder sees every request's latency by
//! op, the requests in flight, reconnects, session states, watches and bytes. The recorder is
//! process-wide, so this binary holds one test.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use suite::{connect_through, eventually, server, unique, within};
use zk_dsl::testing::FaultProxy;

/// One metric: name, labels, value.
type Metric = (String, Vec<(String, String)>, DebugValue);

/// Every metric of the snapshot.
fn snapshot(snapshotter: &Snapshotter) -> Vec<Metric> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

fn find<'a>(metrics: &'a [Metric], name: &str, label: Option<(&str, &str)>) -> Option<&'a DebugValue> {
    metrics.iter().find_map(|(n, labels, value)| {
        let labelled = label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v));
        (n == name && labelled).then_some(value)
    })
}

fn gauge(metrics: &[Metric], name: &str, label: Option<(&str, &str)>) -> f64 {
    match find(metrics, name, label) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("{name} {label:?}: {other:?}"),
    }
}

fn counter(metrics: &[Metric], name: &str) -> u64 {
    match find(metrics, name, None) {
        Some(DebugValue::Counter(v)) => *v,
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_sees_every_request_and_the_session() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this process");

    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let root = format!("/{}", unique("metrics"));
    let admin = suite::connect(&server().connect_string()).await;
    admin.create(root.as_str()).persistent().await.unwrap();
    admin.close().await.unwrap();
    let client = connect_through(&proxy, &root, Duration::from_secs(10)).await;
    // Sessions are counted process-wide: wait until only ours is connected.
    let connected = || async { gauge(&snapshot(&snapshotter), "zk_dsl_sessions", Some(("state", "connected"))) };
    eventually("only our session connected", || async { (connected().await == 1.0).then_some(()) }).await;

    const READS: usize = 25;
    client.create("/n").persistent().data("v").await.unwrap();
    for _ in 0..READS {
        client.get_data("/n").await.unwrap();
    }
    let (_, watch) = client.exists("/n").with_watch().await.unwrap();

    let metrics = snapshot(&snapshotter);
    // Every request, by op (the snapshot's histograms hold the samples since the last one).
    match find(&metrics, "zk_dsl_request_duration_seconds", Some(("op", "GetData"))) {
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), READS, "one sample per getData");
            assert!(samples.iter().all(|s| s.into_inner() > 0.0 && s.into_inner() < 10.0));
        }
        other => panic!("getData latencies: {other:?}"),
    }
    assert!(find(&metrics, "zk_dsl_request_duration_seconds", Some(("op", "Create2"))).is_some());
    assert!(find(&metrics, "zk_dsl_request_duration_seconds", Some(("op", "Exists"))).is_some());
    assert_eq!(gauge(&metrics, "zk_dsl_requests_in_flight", None), 0.0, "everything was answered");
    assert_eq!(gauge(&metrics, "zk_dsl_watches", None), 1.0, "the exists watch");
    let (sent, received) =
        (counter(&metrics, "zk_dsl_bytes_sent_total"), counter(&metrics, "zk_dsl_bytes_received_total"));
    assert!(sent > (READS * 10) as u64 && received > (READS * 10) as u64, "{sent} bytes out, {received} in");

    // A dropped connection: one reconnect, the watch restored, the session connected again.
    let mut events = client.session_events();
    proxy.drop_connections();
    within("the reconnect", async {
        while let Some(event) = events.next().await {
            if event == zk_dsl::SessionEvent::Reconnected {
                break;
            }
        }
    })
    .await;
    client.set_data("/n", "w").await.unwrap();
    let changed = within("the restored watch", watch).await;
    assert_eq!(changed.event_type, zk_dsl::EventType::NodeDataChanged);
    let metrics = snapshot(&snapshotter);
    assert_eq!(counter(&metrics, "zk_dsl_reconnects_total"), 1);
    assert_eq!(gauge(&metrics, "zk_dsl_sessions", Some(("state", "connected"))), 1.0);
    assert_eq!(gauge(&metrics, "zk_dsl_watches", None), 0.0, "the one-shot watch fired");
    assert_eq!(gauge(&metrics, "zk_dsl_requests_in_flight", None), 0.0);

    client.close().await.unwrap();
    eventually("closed sessions are not counted", || async { (connected().await == 0.0).then_some(()) }).await;
}
