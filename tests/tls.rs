//! TLS against real servers (Netty on `secureClientPort`, certificates from a fresh test CA):
//! requests, watches and large values over TLS; an untrusted CA and a wrong host name refused
//! with errors that say so; mutual TLS with `x509` ACLs; client certificate files reloaded at
//! reconnection; failover in a 3-member TLS ensemble.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use suite::ensemble::{blocking, one_at_a_time, session_timeout};
use suite::{patience, within};
use zk_dsl::acl::acl;
use zk_dsl::testing::{ClientAuth, Ensemble, FaultProxy, TestCa, ZkServer};
use zk_dsl::tls::TlsConfig;
use zk_dsl::{Client, Error, EventType, Perms};

fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::new("zk-dsl test CA").expect("a test CA"))
}

/// One TLS server for the tests of this file (client certificates wanted, not needed).
fn tls_server() -> &'static ZkServer {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        ZkServer::builder().tls(ca()).start().unwrap_or_else(|e| panic!("cannot start a TLS ZooKeeper: {e}"))
    })
}

fn secure(server: &ZkServer) -> String {
    server.secure_connect_string().expect("the server serves TLS")
}

fn trusting_the_ca() -> TlsConfig {
    TlsConfig::new().ca_pem(ca().cert_pem())
}

async fn connect(connect_string: &str, tls: TlsConfig) -> Result<Client, Error> {
    Client::connect(connect_string)
        .tls(tls)
        .session_timeout(Duration::from_secs(10))
        .attempt_timeout(Duration::from_secs(2))
        .connect_timeout(patience())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_watches_and_large_values_work_over_tls() {
    let client = connect(&secure(tls_server()), trusting_the_ca()).await.unwrap();
    let root = format!("/{}", suite::unique("tls"));
    client.create(root.as_str()).persistent().data("hello").await.unwrap();
    assert_eq!(client.get_data(root.as_str()).await.unwrap().bytes(), b"hello");

    let (_, watch) = client.get_data(root.as_str()).with_watch().await.unwrap();
    let other = connect(&secure(tls_server()), trusting_the_ca()).await.unwrap();
    other.set_data(root.as_str(), "changed").await.unwrap();
    let event = within("the watch over TLS", watch).await;
    assert_eq!(event.event_type, EventType::NodeDataChanged);

    // Larger than a TLS record (16 KiB) and than one socket write: split and joined correctly.
    let big: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    client.set_data(root.as_str(), &big[..]).await.unwrap();
    assert_eq!(other.get_data(root.as_str()).await.unwrap().bytes(), &big[..]);

    // Many requests in flight at once, answered in order.
    let pending: Vec<_> = (0..2000)
        .map(|i| client.create(format!("{root}/n-")).persistent().sequential().data(&i.to_string()).send())
        .collect();
    let mut last = String::new();
    for p in pending {
        let path = p.await.unwrap();
        assert!(path > last, "{path} after {last}");
        last = path;
    }
    assert_eq!(client.children(root.as_str()).await.unwrap().len(), 2000);
    client.delete_all(root.as_str()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_authority_is_refused_with_the_reason() {
    let stranger = TestCa::new("someone else").unwrap();
    let refused = Client::connect(secure(tls_server()))
        .tls(TlsConfig::new().ca_pem(stranger.cert_pem()))
        .connect_timeout(Duration::from_secs(2))
        .await;
    match refused {
        Err(Error::NoServer { last_failure, .. }) => {
            assert!(last_failure.contains("TLS handshake") && last_failure.contains("UnknownIssuer"), "{last_failure}")
        }
        other => panic!("{other:?}"),
    }
    // And a TLS client on the plain port gets nowhere either.
    let plain = Client::connect(tls_server().connect_string())
        .tls(trusting_the_ca())
        .connect_timeout(Duration::from_secs(2))
        .await;
    assert!(matches!(plain, Err(Error::NoServer { .. } | Error::Timeout { .. })), "{plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_are_verified_unless_told_otherwise() {
    let server = blocking(|| ZkServer::builder().tls(ca()).tls_server_names(&["zk.example"]).start()).await.unwrap();
    let refused = Client::connect(secure(&server)).tls(trusting_the_ca()).connect_timeout(Duration::from_secs(2)).await;
    match refused {
        Err(Error::NoServer { last_failure, .. }) => {
            assert!(last_failure.contains("not valid for name"), "{last_failure}")
        }
        other => panic!("{other:?}"),
    }
    // The certified name, given explicitly: accepted.
    let named = connect(&secure(&server), trusting_the_ca().server_name("zk.example")).await.unwrap();
    named.exists("/").await.unwrap();
    // The loud opt-out: any name, but still only this CA's certificates.
    let any = connect(&secure(&server), trusting_the_ca().danger_accept_any_server_name()).await.unwrap();
    any.exists("/").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_an_x509_identity_that_acls_name() {
    let alice = ca().issue_client("alice").unwrap();
    let as_alice = trusting_the_ca().client_cert_pem(&alice.cert_pem, &alice.key_pem);
    let client = connect(&secure(tls_server()), as_alice).await.unwrap();
    assert!(suite::identities(&client).await.contains(&"x509:CN=alice".to_owned()));

    let path = format!("/{}", suite::unique("alices"));
    client.create(path.as_str()).persistent().acl(vec![acl("x509", "CN=alice", Perms::ALL).unwrap()]).await.unwrap();
    assert!(client.get_data(path.as_str()).await.is_ok());

    let anonymous = connect(&secure(tls_server()), trusting_the_ca()).await.unwrap();
    assert!(matches!(anonymous.get_data(path.as_str()).await, Err(Error::NoAuth { .. })));
    let bob = ca().issue_client("bob").unwrap();
    let as_bob = connect(&secure(tls_server()), trusting_the_ca().client_cert_pem(&bob.cert_pem, &bob.key_pem)).await;
    assert!(matches!(as_bob.unwrap().get_data(path.as_str()).await, Err(Error::NoAuth { .. })));
    client.delete(path.as_str()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_files_are_reloaded_at_reconnection() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client-key.pem"));
    let write = |name: &str| {
        let issued = ca().issue_client(name).unwrap();
        std::fs::write(&cert, issued.cert_pem).unwrap();
        std::fs::write(&key, issued.key_pem).unwrap();
    };
    write("carol");
    let proxy = FaultProxy::start(tls_server().secure_address().unwrap()).unwrap();
    let client = connect(&proxy.connect_string(), trusting_the_ca().client_cert_pem_files(&cert, &key)).await.unwrap();
    assert!(suite::identities(&client).await.contains(&"x509:CN=carol".to_owned()));

    // Rotated on disk (a longer name: a new size, so the change shows even on a coarse clock),
    // then a reconnection.
    write("carol-rotated");
    suite::reconnect_after(&client, || proxy.drop_connections()).await;
    assert!(suite::identities(&client).await.contains(&"x509:CN=carol-rotated".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tls_setting_fails_connect_at_once() {
    let missing = Client::connect(secure(tls_server())).tls(TlsConfig::new().ca_pem_file("/nonexistent/ca.pem")).await;
    assert!(
        matches!(&missing, Err(Error::InvalidArgument { reason, .. }) if reason.contains("/nonexistent/ca.pem")),
        "{missing:?}"
    );
    let no_roots = Client::connect(secure(tls_server())).tls(TlsConfig::new()).await;
    assert!(
        matches!(&no_roots, Err(Error::InvalidArgument { reason, .. }) if reason.contains("no trust roots")),
        "{no_roots:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_ensemble_fails_over_when_the_member_dies() {
    let _one = one_at_a_time().await;
    let members =
        ZkServer::builder().max_session_timeout(Duration::from_secs(60)).tls(ca()).tls_client_auth(ClientAuth::None);
    let ensemble = blocking(move || Ensemble::builder().member_options(members).start()).await;
    let ensemble = Arc::new(ensemble.unwrap_or_else(|e| panic!("cannot start a TLS ensemble: {e}")));
    let client = Client::connect(ensemble.secure_connect_string().unwrap())
        .tls(trusting_the_ca())
        .session_timeout(session_timeout())
        .connect_timeout(patience())
        .await
        .unwrap();
    client.create("/failover").persistent().data("before").await.unwrap();
    let (_, watch) = client.get_data("/failover").with_watch().await.unwrap();
    let session = client.session_id();

    let serving = client.status().server.expect("connected");
    let index =
        ensemble.members().iter().position(|m| m.secure_address() == Some(serving)).expect("a member's TLS port");
    let e = ensemble.clone();
    blocking(move || e.kill(index)).await.unwrap();

    // The same session carries on over TLS at another member, its watch with it.
    suite::eventually("a write after the failover", || async {
        match client.set_data("/failover", "after").await {
            Ok(_) => Some(()),
            Err(e) if e.is_retryable() => None,
            Err(e) => panic!("{e}"),
        }
    })
    .await;
    assert_eq!(client.session_id(), session);
    assert_ne!(client.status().server, Some(serving));
    assert_eq!(within("the watch", watch).await.event_type, EventType::NodeDataChanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_java_clients_tls_properties_configure_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let dana = ca().issue_client("dana").unwrap();
    let (trust, keys) = (dir.path().join("ca.pem"), dir.path().join("dana.pem"));
    std::fs::write(&trust, ca().cert_pem()).unwrap();
    // A PEM key store: the private key and the certificate in one file, as ZooKeeper reads it.
    std::fs::write(&keys, format!("{}{}", dana.key_pem, dana.cert_pem)).unwrap();
    let properties = [
        ("zookeeper.client.secure", "true".to_owned()),
        ("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty".into()),
        ("zookeeper.ssl.trustStore.location", trust.display().to_string()),
        ("zookeeper.ssl.trustStore.type", "PEM".into()),
        ("zookeeper.ssl.keyStore.location", keys.display().to_string()),
        ("zookeeper.ssl.keyStore.type", "PEM".into()),
    ];
    let client = Client::connect(secure(tls_server()))
        .java_properties(properties)
        .unwrap()
        .connect_timeout(patience())
        .await
        .unwrap();
    assert!(suite::identities(&client).await.contains(&"x509:CN=dana".to_owned()));
}
