//! The transport seam (`Connect::connector`): the session runs over any `AsyncRead +
//! AsyncWrite` stream. These tests run it over a simulated network: in-memory pipes whose
//! buffers hold a few bytes (every read and write moves at most that many, so every frame, reply
//! header and TLS record is split at every possible point), bridged to the real server, which
//! the test can cut or partition.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use suite::{patience, reconnect_after, unique, within};
use tokio::io::DuplexStream;
use tokio::net::TcpStream;
use tokio::sync::watch;
use zk_dsl::testing::{TestCa, ZkServer};
use zk_dsl::tls::TlsConfig;
use zk_dsl::{Client, Connect, CreateMode, Error, EventType, OpResult};

/// In-memory connections to the real server, `chunk` bytes at a time.
struct SimulatedNetwork {
    chunk: usize,
    /// New connections are refused (a partition).
    partitioned: AtomicBool,
    /// Connections opened so far.
    opened: AtomicUsize,
    /// Bumped to cut every open connection.
    cuts: watch::Sender<u64>,
}

impl SimulatedNetwork {
    fn new(chunk: usize) -> Arc<SimulatedNetwork> {
        Arc::new(SimulatedNetwork {
            chunk,
            partitioned: AtomicBool::new(false),
            opened: AtomicUsize::new(0),
            cuts: watch::channel(0).0,
        })
    }

    /// A client on this network: `connect_string`'s addresses are reached through it.
    fn client(self: &Arc<Self>, connect_string: &str) -> Connect {
        let net = self.clone();
        Client::connect(connect_string)
            .session_timeout(Duration::from_secs(10))
            .attempt_timeout(Duration::from_secs(2))
            .connect_timeout(patience())
            .connector(move |addr| {
                let net = net.clone();
                async move { net.open(addr).await }
            })
    }

    async fn open(&self, addr: SocketAddr) -> std::io::Result<DuplexStream> {
        if self.partitioned.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "simulated partition"));
        }
        let server = TcpStream::connect(addr).await?;
        let (client_end, mut bridge_end) = tokio::io::duplex(self.chunk);
        let mut cut = self.cuts.subscribe();
        self.opened.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut server = server;
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut bridge_end, &mut server) => {}
                _ = cut.changed() => {}
            }
            // Both ends dropped here: the client sees its stream end.
        });
        Ok(client_end)
    }

    /// Cuts every connection open now.
    fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_watches_and_transactions_work_one_byte_at_a_time() {
    let server = suite::server();
    let net = SimulatedNetwork::new(1);
    let client = net.client(&server.connect_string()).await.unwrap();
    let plain = suite::connect(&server.connect_string()).await;
    let root = format!("/{}", unique("sim"));
    client.create(root.as_str()).persistent().await.unwrap();

    // Values of many sizes, written and read back through the one-byte pipe, many in flight.
    let sizes: Vec<usize> = (0..40).map(|i| (i * i * 37) % 5000).collect();
    let creates: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| client.create(format!("{root}/n{i:02}")).persistent().data(&payload(len, i)[..]).send())
        .collect();
    for created in creates {
        created.await.unwrap();
    }
    for (i, &len) in sizes.iter().enumerate() {
        let path = format!("{root}/n{i:02}");
        assert_eq!(plain.get_data(path.as_str()).await.unwrap().bytes(), &payload(len, i)[..], "{path} as written");
        assert_eq!(client.get_data(path.as_str()).await.unwrap().bytes(), &payload(len, i)[..], "{path} as read");
    }
    let mut children = client.children(root.as_str()).await.unwrap();
    children.sort();
    assert_eq!(children, (0..40).map(|i| format!("n{i:02}")).collect::<Vec<_>>());

    // A notification split byte by byte between replies.
    let (_, changed) = client.get_data(format!("{root}/n00").as_str()).with_watch().await.unwrap();
    plain.set_data(format!("{root}/n00").as_str(), "changed").await.unwrap();
    assert_eq!(within("the watch through the simulated network", changed).await.event_type, EventType::NodeDataChanged);

    let results = client
        .transaction()
        .create(format!("{root}/t").as_str(), "t", CreateMode::Persistent)
        .set_data(format!("{root}/n01").as_str(), "one", 0)
        .delete(format!("{root}/n02").as_str(), 0)
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2], OpResult::Deleted);
    assert_eq!(plain.get_data(format!("{root}/n01").as_str()).await.unwrap().bytes(), b"one");

    // Larger than the stream's staging buffers on both sides.
    let big = payload(300_000, 7);
    client.set_data(format!("{root}/n03").as_str(), &big[..]).await.unwrap();
    assert_eq!(client.get_data(format!("{root}/n03").as_str()).await.unwrap().bytes(), &big[..]);

    client.delete_all(root.as_str()).await.unwrap();
    assert_eq!(net.opened.load(Ordering::SeqCst), 1, "one connection carried it all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_resumes_the_session_with_its_watches() {
    let server = suite::server();
    let net = SimulatedNetwork::new(7);
    let client = net.client(&server.connect_string()).await.unwrap();
    let plain = suite::connect(&server.connect_string()).await;
    let path = format!("/{}", unique("sim-cut"));
    client.create(path.as_str()).ephemeral().data("mine").await.unwrap();
    let session = client.session_id();
    let (_, changed) = client.get_data(path.as_str()).with_watch().await.unwrap();

    for _ in 0..3 {
        reconnect_after(&client, || net.cut()).await;
    }
    assert_eq!(client.session_id(), session, "the same session, resumed");
    assert_eq!(net.opened.load(Ordering::SeqCst), 4, "a new connection after each cut");
    assert_eq!(plain.exists(path.as_str()).await.unwrap().map(|s| s.ephemeral_owner), Some(session));

    // The watch was restored over the new connection.
    plain.set_data(path.as_str(), "changed").await.unwrap();
    assert_eq!(within("the restored watch", changed).await.event_type, EventType::NodeDataChanged);
    assert_eq!(client.get_data(path.as_str()).await.unwrap().bytes(), b"changed");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_network_fails_with_the_connectors_own_error() {
    let server = suite::server();
    let net = SimulatedNetwork::new(64);
    net.partitioned.store(true, Ordering::SeqCst);
    let err = net.client(&server.connect_string()).connect_timeout(Duration::from_millis(800)).await.unwrap_err();
    match &err {
        Error::NoServer { last_failure: reason, .. } => {
            assert!(reason.contains("simulated partition"), "the connector's reason is kept: {reason}")
        }
        other => panic!("expected NoServer with the connector's reason, got {other:?}"),
    }
    assert_eq!(net.opened.load(Ordering::SeqCst), 0);

    // The partition heals: a session that started during it connects and works.
    let client = net.client(&server.connect_string()).start().unwrap();
    let created = client.create(format!("/{}", unique("sim-heal")).as_str()).ephemeral().send();
    net.partitioned.store(false, Ordering::SeqCst);
    let path = within("the first request after the partition", created).await.unwrap();
    assert!(client.exists(path.as_str()).await.unwrap().is_some());
    client.close().await.unwrap();
}

fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::new("zk-dsl transport test CA").expect("a test CA"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_runs_over_a_callers_stream() {
    let server = ZkServer::builder().tls(ca()).start().unwrap_or_else(|e| panic!("cannot start a TLS ZooKeeper: {e}"));
    let secure = server.secure_connect_string().expect("the server serves TLS");
    // Three bytes at a time: TLS records and the handshake split at every point.
    let net = SimulatedNetwork::new(3);
    let client = net.client(&secure).tls(TlsConfig::new().ca_pem(ca().cert_pem())).await.unwrap();
    let path = format!("/{}", unique("sim-tls"));
    let value = payload(40_000, 3);
    client.create(path.as_str()).persistent().data(&value[..]).await.unwrap();
    assert_eq!(client.get_data(path.as_str()).await.unwrap().bytes(), &value[..]);

    // A server that does not speak TLS is refused over the caller's stream too.
    let plain_port = SimulatedNetwork::new(64);
    let err = plain_port
        .client(&server.connect_string())
        .tls(TlsConfig::new().ca_pem(ca().cert_pem()))
        .connect_timeout(Duration::from_millis(1500))
        .await
        .unwrap_err();
    match &err {
        Error::NoServer { last_failure: reason, .. } => {
            assert!(reason.contains("TLS") || reason.contains("handshake"), "says TLS failed: {reason}")
        }
        other => panic!("expected NoServer, got {other:?}"),
    }
    client.delete(path.as_str()).await.unwrap();
    client.close().await.unwrap();
}
