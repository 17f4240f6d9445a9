//! Ensembles that change under connected clients: `update_servers` rebalancing (ZooKeeper's
//! probabilistic rule, checked on 30 clients against a real 3-member ensemble) and host names
//! resolved again on every connection attempt (through a resolver hook standing in for DNS).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suite::ensemble::{blocking, kill, one_at_a_time, session_timeout, settled, start};
use suite::{eventually, patience};
use zk_dsl::{Client, SessionState};

async fn connect(connect_string: &str) -> Client {
    Client::connect(connect_string)
        .session_timeout(session_timeout())
        .attempt_timeout(Duration::from_secs(2))
        .connect_timeout(patience())
        .await
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_list_moves_the_right_share_of_clients_and_no_more() {
    let _one = one_at_a_time().await;
    let ensemble = start().await;
    let members: Vec<SocketAddr> = ensemble.addresses();
    let two = format!("{},{}", members[0], members[1]);
    let mut clients = Vec::new();
    for _ in 0..30 {
        clients.push(connect(&two).await);
    }
    let sessions: Vec<i64> = clients.iter().map(Client::session_id).collect();
    let before = settled(&clients).await;
    assert!(before.iter().all(|a| *a != members[2]));

    // Growing from 2 to 3 servers: each client moves with probability 1/3, only to the new one.
    for c in &clients {
        c.update_servers(&ensemble.connect_string()).unwrap();
    }
    let after = settled(&clients).await;
    let moved: Vec<usize> = (0..30).filter(|&i| after[i] != before[i]).collect();
    assert!(moved.iter().all(|&i| after[i] == members[2]), "moves only to the new server: {before:?} -> {after:?}");
    // Binomial(30, 1/3): mean 10, sd 2.58; 3.5 sd either side.
    assert!((1..=19).contains(&moved.len()), "{} of 30 moved", moved.len());
    assert_eq!(clients.iter().map(Client::session_id).collect::<Vec<_>>(), sessions, "the same sessions");

    // Member 0 leaves the list: exactly its clients move, spread over the other two.
    let on_zero: Vec<usize> = (0..30).filter(|&i| after[i] == members[0]).collect();
    let without_zero = format!("{},{}", members[1], members[2]);
    for c in &clients {
        c.update_servers(&without_zero).unwrap();
    }
    let last = settled(&clients).await;
    for i in 0..30 {
        if on_zero.contains(&i) {
            assert_ne!(last[i], members[0], "client {i} had to leave member 0");
        } else {
            assert_eq!(last[i], after[i], "client {i} had no reason to move");
        }
    }
    // Whatever the coins said, the list is enforced from now on: member 0 is never used again.
    blocking({
        let e = ensemble.clone();
        move || e.stop(1)
    })
    .await
    .unwrap();
    let survivors = settled(&clients).await;
    assert!(survivors.iter().all(|a| *a == members[2]), "{survivors:?}");
    for c in &clients {
        c.exists("/").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_whose_address_changes_is_followed() {
    let _one = one_at_a_time().await;
    let ensemble = start().await;
    let members = ensemble.addresses();
    // "zk.test" resolves to member 0 alone, until the test says otherwise.
    let dns = Arc::new(Mutex::new(vec![members[0]]));
    let lookups = Arc::new(Mutex::new(0usize));
    let client = Client::connect(format!("zk.test:{}", members[0].port()))
        .resolver({
            let (dns, lookups) = (dns.clone(), lookups.clone());
            move |host, _port| {
                assert_eq!(host, "zk.test");
                *lookups.lock().unwrap() += 1;
                Ok(dns.lock().unwrap().clone())
            }
        })
        .session_timeout(session_timeout())
        .attempt_timeout(Duration::from_secs(1))
        .connect_timeout(patience())
        .await
        .unwrap();
    assert_eq!(client.status().server, Some(members[0]));
    client.create("/followed").persistent().await.unwrap();
    let session = client.session_id();

    // The name now points at member 2, and member 0 dies: the client follows the name.
    *dns.lock().unwrap() = vec![members[2]];
    kill(&ensemble, 0).await;
    let now = eventually("the client at the name's new address", || async {
        // Until the client notices member 0 is gone it may still look connected there.
        let server = client.status().server.filter(|s| *s != members[0]);
        (client.state() == SessionState::Connected).then_some(server).flatten()
    })
    .await;
    assert_eq!(now, members[2]);
    assert_eq!(client.session_id(), session, "the same session");
    assert!(client.exists("/followed").await.unwrap().is_some());
    assert!(*lookups.lock().unwrap() >= 2, "resolved again for the reconnection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_mode_serves_reads_refuses_writes_and_moves_back_to_read_write() {
    use zk_dsl::testing::{Ensemble, ZkServer};
    use zk_dsl::{Error, EventType};
    let _one = one_at_a_time().await;
    // Read-only servers create sessions only as local sessions.
    let members = ZkServer::builder()
        .max_session_timeout(Duration::from_secs(60))
        .system_property("readonlymode.enabled", "true")
        .cfg("localSessionsEnabled", "true");
    let ensemble = blocking(move || Ensemble::builder().member_options(members).start()).await;
    let ensemble = Arc::new(ensemble.unwrap_or_else(|e| panic!("cannot start the ensemble: {e}")));
    let all = ensemble.connect_string();
    let member0 = ensemble.addresses()[0].to_string();
    let admin = connect(&all).await;
    admin.create("/ro").persistent().data("before").await.unwrap();
    // A server that lost its quorum starts serving read-only after a few election rounds.
    let read_only_client = |connect_string: String| async move {
        Client::connect(connect_string)
            .can_be_read_only()
            .session_timeout(session_timeout())
            .attempt_timeout(Duration::from_secs(1))
            .connect_timeout(patience() * 3)
            .await
            .unwrap()
    };
    // Two of three members go: member 0 is cut off from its quorum and serves reads only.
    for index in [1, 2] {
        let e = ensemble.clone();
        blocking(move || e.stop(index)).await.unwrap();
    }

    // A new client that accepts read-only servers gets a read-only session and sets a watch;
    // one that does not is refused.
    let newcomer = read_only_client(all.clone()).await;
    assert_eq!(newcomer.state(), SessionState::ConnectedReadOnly);
    assert_eq!(newcomer.get_data("/ro").await.unwrap().bytes(), b"before", "reads work");
    let refused = newcomer.set_data("/ro", "during").await;
    assert!(matches!(refused, Err(Error::NotReadOnly { .. })), "{refused:?}");
    assert!(refused.unwrap_err().is_retryable());
    let mut events = newcomer.session_events();
    let mut changes = newcomer.watch("/ro").await.unwrap();
    let strict = Client::connect(member0).connect_timeout(Duration::from_secs(2)).await;
    assert!(matches!(strict, Err(Error::NoServer { .. } | Error::Timeout { .. })), "{strict:?}");
    // The quorum comes back: the client moves to a read-write server on its own.
    for index in [1, 2] {
        let e = ensemble.clone();
        blocking(move || e.restart(index)).await.unwrap();
    }
    eventually("read-write again", || async { (newcomer.state() == SessionState::Connected).then_some(()) }).await;
    suite::within("the newcomer told it is read-write", async {
        while let Some(event) = events.next().await {
            if event == zk_dsl::SessionEvent::Connected {
                break;
            }
        }
    })
    .await;
    let writer = connect(&all).await;
    suite::eventually("a write after the quorum is back", || async {
        match writer.set_data("/ro", "after").await {
            Ok(_) => Some(()),
            Err(e) => {
                assert!(e.is_retryable(), "{e}");
                None
            }
        }
    })
    .await;
    newcomer.set_data("/ro", "newcomer").await.unwrap();
    // The watch set in read-only mode was carried over to the read-write session.
    let event = suite::within("the carried-over watch", async {
        loop {
            match changes.next().await {
                Some(e) if e.event_type == EventType::NodeDataChanged => return e,
                Some(_) => {}
                None => panic!("the watch ended"),
            }
        }
    })
    .await;
    assert_eq!(event.path.as_deref(), Some("/ro"));
}
