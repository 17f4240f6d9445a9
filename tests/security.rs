//! Authentication against real servers: SASL DIGEST-MD5 (the server's JAAS `DigestLoginModule`)
//! done at every connection's start, the `sasl` ACL scheme, refused credentials, and the
//! identity coming back after a reconnection.

use std::sync::OnceLock;
use std::time::Duration;

use suite::{patience, within};
use zk_dsl::acl::acl;
use zk_dsl::testing::{FaultProxy, ZkServer};
use zk_dsl::{Client, Error, Perms};

/// One SASL-enabled server for the tests of this file (users bob, carol and dave).
fn sasl_server() -> &'static ZkServer {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        ZkServer::builder()
            .sasl_digest_user("bob", "bob-secret")
            .sasl_digest_user("carol", "carol-\u{e9}l\u{e8}ve")
            .sasl_digest_user("dave", "\u{6771}\u{4eac}-secret")
            .start()
            .unwrap_or_else(|e| panic!("cannot start a SASL ZooKeeper: {e}"))
    })
}

async fn sasl_client(connect_string: &str, user: &str, password: &str) -> Result<Client, Error> {
    Client::connect(connect_string)
        .sasl_digest(user, password)
        .session_timeout(Duration::from_secs(10))
        .attempt_timeout(Duration::from_millis(500))
        .connect_timeout(patience())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sasl_session_is_its_user_and_passes_sasl_acls() {
    let server = sasl_server();
    let bob = sasl_client(&server.connect_string(), "bob", "bob-secret").await.unwrap();
    assert!(suite::identities(&bob).await.contains(&"sasl:bob".to_owned()));

    let path = format!("/{}", suite::unique("bobs"));
    let only_bob = vec![acl("sasl", "bob", Perms::ALL).unwrap()];
    bob.create(path.as_str()).persistent().acl(only_bob).data("bob's").await.unwrap();
    assert_eq!(bob.get_data(path.as_str()).await.unwrap().bytes(), b"bob's");

    let anonymous = Client::connect(server.connect_string()).connect_timeout(patience()).await.unwrap();
    assert!(matches!(anonymous.get_data(path.as_str()).await, Err(Error::NoAuth { .. })), "no identity, no read");
    // Passwords outside ASCII: hashed as ISO 8859-1 where they fit, UTF-8 where not (RFC 2831).
    let carol = sasl_client(&server.connect_string(), "carol", "carol-\u{e9}l\u{e8}ve").await.unwrap();
    assert!(suite::identities(&carol).await.contains(&"sasl:carol".to_owned()));
    let dave = sasl_client(&server.connect_string(), "dave", "\u{6771}\u{4eac}-secret").await.unwrap();
    assert!(suite::identities(&dave).await.contains(&"sasl:dave".to_owned()));
    assert!(matches!(carol.get_data(path.as_str()).await, Err(Error::NoAuth { .. })), "another user, no read");
    bob.delete(path.as_str()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_end_the_session_with_auth_failed() {
    let server = sasl_server();
    for (user, password) in [("bob", "not-bobs"), ("mallory", "anything")] {
        let refused = within("the refusal", sasl_client(&server.connect_string(), user, password)).await;
        assert!(matches!(refused, Err(Error::AuthFailed { .. })), "{user}: {refused:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_is_there_again_after_every_reconnection() {
    let server = sasl_server();
    let proxy = FaultProxy::start(server.address()).expect("proxy");
    let bob = sasl_client(&proxy.connect_string(), "bob", "bob-secret").await.unwrap();
    let path = format!("/{}", suite::unique("bobs"));
    bob.create(path.as_str()).persistent().acl(vec![acl("sasl", "bob", Perms::ALL).unwrap()]).await.unwrap();
    let session = bob.session_id();
    for round in 0..3 {
        suite::reconnect_after(&bob, || proxy.drop_connections()).await;
        assert_eq!(bob.session_id(), session, "round {round}: the same session");
        assert!(suite::identities(&bob).await.contains(&"sasl:bob".to_owned()), "round {round}");
        bob.set_data(path.as_str(), format!("round {round}").as_str()).await.unwrap();
    }
    assert!(proxy.connections_accepted() >= 4);
    bob.delete(path.as_str()).await.unwrap();
}
