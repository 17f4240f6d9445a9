//! Sessions that survive (issue 3), against real servers: a 3-member ensemble for failover,
//! rolling restarts and quorum loss; the shared standalone server behind a fault proxy for
//! dropped, blackholed and closing connections.
//!
//! Ensemble tests each start their own ensemble (they kill members) and run one at a time, so
//! at most three member JVMs run besides the shared server. Proxy tests run alongside them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use suite::{connect, patience, server, unique, within};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use zk_dsl::acl::digest_acl;
use zk_dsl::client::reconnect::{run_sessions, session_end};
use zk_dsl::client::SessionEvents;
use zk_dsl::testing::{scaled, Ensemble, FaultProxy, ZkServer};
use zk_dsl::{Client, Error, EventType, KeeperState, Perms, SessionEvent, SessionState, WatchedEvent, WatcherType};

// ----- helpers ----------------------------------------------------------------------------------

/// The session timeout of the ensemble tests: room for an election and a member's JVM start on a
/// loaded two-core machine. The members are configured to grant it.
fn ensemble_session_timeout() -> Duration {
    scaled(Duration::from_secs(15))
}

/// Runs blocking harness calls (JVM starts and stops) off the runtime's workers, so the clients'
/// session tasks keep running meanwhile.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("a blocking harness call panicked")
}

/// One ensemble at a time: three JVMs per ensemble are plenty for two cores.
async fn one_ensemble_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

async fn start_ensemble() -> Arc<Ensemble> {
    let members = ZkServer::builder().max_session_timeout(scaled(Duration::from_secs(60)));
    let ensemble = blocking(move || Ensemble::builder().member_options(members).start()).await;
    Arc::new(ensemble.unwrap_or_else(|e| panic!("cannot start a ZooKeeper ensemble: {e}")))
}

async fn connect_with(connect_string: &str, session_timeout: Duration) -> Client {
    let client = Client::connect(connect_string).session_timeout(session_timeout).connect_timeout(patience()).await;
    client.unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// The member serving `session` now (from each member's `cons`).
async fn member_of(ensemble: &Arc<Ensemble>, session: i64) -> usize {
    let e = ensemble.clone();
    blocking(move || e.find_member_by_session(session))
        .await
        .unwrap_or_else(|| panic!("no member lists session {session:#x}"))
}

async fn kill(ensemble: &Arc<Ensemble>, index: usize) {
    let e = ensemble.clone();
    blocking(move || e.kill(index)).await.expect("kill a member");
}

/// The paths `wchc` on `member` lists for `session`: the watches the server holds for it.
async fn server_watches(ensemble: &Arc<Ensemble>, member: usize, session: i64) -> BTreeSet<String> {
    let e = ensemble.clone();
    let report = blocking(move || e.members()[member].four_letter("wchc")).await.expect("wchc");
    suite::watched_paths(&report, session)
}

/// The events already emitted, without waiting for more.
async fn ready_events(events: &mut SessionEvents) -> Vec<SessionEvent> {
    let mut ready = Vec::new();
    // A zero timeout still polls the stream first.
    while let Ok(Some(event)) = tokio::time::timeout(Duration::ZERO, events.next()).await {
        ready.push(event);
    }
    ready
}

async fn next_event(events: &mut SessionEvents, what: &str) -> SessionEvent {
    within(what, events.next()).await.unwrap_or_else(|| panic!("the state stream ended while waiting for {what}"))
}

/// Closes the client and returns every state change seen before the final `Closed`.
async fn close_and_collect(client: &Client, events: &mut SessionEvents) -> Vec<SessionEvent> {
    client.close().await.expect("close");
    let mut seen = Vec::new();
    loop {
        match next_event(events, "Closed").await {
            SessionEvent::Closed => return seen,
            other => seen.push(other),
        }
    }
}

fn node(event_type: EventType, path: &str) -> WatchedEvent {
    WatchedEvent::node(event_type, path)
}

fn is_connection_loss<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::ConnectionLoss { .. }))
}

// ----- ensemble: failover, rolling restart, quorum loss -----------------------------------------

/// Killing the member a client is connected to: the same session goes on elsewhere, its ephemeral
/// node stays, one-shot watches (data, child, exist) fire for changes made while it was
/// disconnected (SetWatches with the last zxid) and after, the recursive watch keeps firing, and the new member lists the
/// remaining watches for the session (`wchc`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connected_member_keeps_the_session_its_ephemeral_nodes_and_its_watches() {
    let _one = one_ensemble_at_a_time().await;
    let ensemble = start_ensemble().await;
    // One proxy per member, so the way back to the survivors can be held closed for a while.
    let proxies: Vec<FaultProxy> =
        ensemble.members().iter().map(|m| FaultProxy::start(m.address()).expect("start a proxy")).collect();
    let through_proxies = proxies.iter().map(FaultProxy::connect_string).collect::<Vec<_>>().join(",");
    let client = connect_with(&through_proxies, ensemble_session_timeout()).await;
    let id = client.session_id();
    let mut events = client.session_events();

    for path in ["/f", "/f/a", "/f/b", "/f/kids-a", "/f/kids-b", "/f/tree"] {
        client.create(path).persistent().await.unwrap();
    }
    client.create("/f/eph").await.unwrap(); // ephemeral
    let (_, data_after) = client.get_data("/f/a").with_watch().await.unwrap();
    let (_, data_during) = client.get_data("/f/b").with_watch().await.unwrap();
    let (_, kids_after) = client.children("/f/kids-a").with_watch().await.unwrap();
    let (_, kids_during) = client.children("/f/kids-b").with_watch().await.unwrap();
    let (missing, created_during) = client.exists("/f/later").with_watch().await.unwrap();
    assert_eq!(missing, None);
    let mut tree = client.watch("/f/tree").recursive().await.unwrap();

    let victim = member_of(&ensemble, id).await;
    // Every proxy now leads to the member about to die: new connections fail at once (nothing is
    // held back to arrive late), so the client stays disconnected until the targets are restored.
    let dead = ensemble.members()[victim].address();
    for proxy in &proxies {
        proxy.set_target(dead);
    }
    kill(&ensemble, victim).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    assert_eq!(client.state(), SessionState::Connecting);

    let e = ensemble.clone();
    blocking(move || e.wait_for_quorum()).await.expect("the survivors form a quorum");
    let survivors: Vec<String> =
        ensemble.members().iter().filter(|m| m.index() != victim).map(|m| m.connect_string()).collect();
    let admin = connect_with(&survivors.join(","), ensemble_session_timeout()).await;
    admin.set_data("/f/b", "changed while disconnected").await.unwrap();
    admin.create("/f/kids-b/x").persistent().await.unwrap();
    admin.create("/f/later").persistent().await.unwrap();
    assert_eq!(client.state(), SessionState::Connecting, "the changes were made while the client was away");

    for (proxy, member) in proxies.iter().zip(ensemble.members()) {
        proxy.set_target(member.address());
    }
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(client.session_id(), id, "same session");
    assert_eq!(client.state(), SessionState::Connected);

    // Missed while disconnected: the server compares the nodes with the zxid the client last saw.
    assert_eq!(within("the missed data watch", data_during).await, node(EventType::NodeDataChanged, "/f/b"));
    assert_eq!(within("the missed child watch", kids_during).await, node(EventType::NodeChildrenChanged, "/f/kids-b"));
    assert_eq!(within("the missed exist watch", created_during).await, node(EventType::NodeCreated, "/f/later"));

    // SetWatches went before this request, so the server has processed it by the reply.
    client.sync("/").await.unwrap();
    let now_on = member_of(&ensemble, id).await;
    assert_ne!(now_on, victim);
    // `wchc` lists the data-side watches (data and persistent ones; ZooKeeper 3.8 leaves child
    // watches out of it), so the child watch is checked with checkWatches, which the server
    // answers from its own table (NoWatcher if it holds none for this session).
    let held = server_watches(&ensemble, now_on, id).await;
    for path in ["/f/a", "/f/tree"] {
        assert!(held.contains(path), "member {now_on} holds no watch on {path} for the session: {held:?}");
    }
    assert!(!held.contains("/f/b"), "the fired watch on /f/b is still registered: {held:?}");
    client.check_watches("/f/kids-a", WatcherType::Children).await.expect("the server holds the child watch");

    // Changes after the reconnect.
    admin.set_data("/f/a", "after").await.unwrap();
    admin.create("/f/kids-a/y").persistent().await.unwrap();
    admin.create("/f/tree/z").persistent().await.unwrap();
    admin.set_data("/f/tree/z", "again").await.unwrap();
    assert_eq!(within("the data watch", data_after).await, node(EventType::NodeDataChanged, "/f/a"));
    assert_eq!(within("the child watch", kids_after).await, node(EventType::NodeChildrenChanged, "/f/kids-a"));
    // Every watcher heard the connection go and come back, in order with its events.
    let (gone, back) =
        (WatchedEvent::session(KeeperState::Disconnected), WatchedEvent::session(KeeperState::SyncConnected));
    assert_eq!(within("the recursive watch", tree.next()).await, Some(gone));
    assert_eq!(within("the recursive watch", tree.next()).await, Some(back));
    assert_eq!(within("the recursive watch", tree.next()).await, Some(node(EventType::NodeCreated, "/f/tree/z")));
    assert_eq!(within("the recursive watch", tree.next()).await, Some(node(EventType::NodeDataChanged, "/f/tree/z")));

    let stat = admin.exists("/f/eph").await.unwrap().expect("the ephemeral node survived the failover");
    assert_eq!(stat.ephemeral_owner, id);
    assert_eq!(close_and_collect(&client, &mut events).await, vec![], "nothing but the close after the reconnect");
}

/// A node only `digest:alice` may read stays readable after the connected member dies: the
/// session's identity is replayed on the new connection before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_survives_failover() {
    let _one = one_ensemble_at_a_time().await;
    let ensemble = start_ensemble().await;
    let client = connect_with(&ensemble.connect_string(), ensemble_session_timeout()).await;
    let id = client.session_id();
    client.add_auth("digest", "alice:secret").await.unwrap();
    let alice_only = digest_acl("alice", "secret", Perms::ALL).unwrap();
    client.create("/secret").persistent().data("for alice").acl(vec![alice_only]).await.unwrap();
    let stranger = connect_with(&ensemble.connect_string(), ensemble_session_timeout()).await;
    let refused = stranger.get_data("/secret").await;
    assert!(matches!(refused, Err(Error::NoAuth { .. })), "the ACL is enforced: {refused:?}");
    stranger.close().await.unwrap();

    let mut events = client.session_events();
    let victim = member_of(&ensemble, id).await;
    kill(&ensemble, victim).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(client.session_id(), id);
    assert_ne!(member_of(&ensemble, id).await, victim, "the session moved to another member");

    assert_eq!(client.get_data("/secret").await.unwrap().bytes(), b"for alice");
    client.set_data("/secret", "still alice").await.unwrap();
    let identities = client.who_am_i().await.unwrap();
    assert!(
        identities.iter().any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "the new member knows the session as alice: {identities:?}"
    );
    assert_eq!(close_and_collect(&client, &mut events).await, vec![]);
}

/// All three members are restarted one after the other while a writer keeps going: the session
/// (and its ephemeral node) survives; writes fail only with ConnectionLoss and resume after each
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_keeps_the_session() {
    let _one = one_ensemble_at_a_time().await;
    let ensemble = start_ensemble().await;
    let client = connect_with(&ensemble.connect_string(), ensemble_session_timeout()).await;
    let id = client.session_id();
    let mut events = client.session_events();
    client.create("/roll").persistent().await.unwrap();
    client.create("/roll/eph").await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (progress_tx, mut progress) = watch::channel(0u64);
    let load = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut lost) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let window: Vec<_> =
                    (0..20).map(|_| client.create("/roll/w-").persistent().sequential().send()).collect();
                for write in window {
                    match write.await {
                        Ok(_) => {
                            ok += 1;
                            progress_tx.send_replace(ok);
                        }
                        Err(Error::ConnectionLoss { .. }) => lost += 1,
                        Err(e) => panic!("a write failed with {e}, not ConnectionLoss"),
                    }
                }
            }
            (ok, lost)
        })
    };

    for member in 0..ensemble.size() {
        let e = ensemble.clone();
        blocking(move || e.stop(member)).await.expect("stop a member");
        let e = ensemble.clone();
        blocking(move || e.restart(member)).await.expect("restart a member");
        let before = *progress.borrow_and_update();
        within("writes to succeed again after the restart", progress.wait_for(|&ok| ok >= before + 50))
            .await
            .expect("the writer is running");
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, lost) = within("the writer to stop", load).await.expect("the writer panicked");

    assert_eq!(client.session_id(), id);
    assert_eq!(client.state(), SessionState::Connected);
    let observer = connect_with(&ensemble.connect_string(), ensemble_session_timeout()).await;
    let stat = observer.exists("/roll/eph").await.unwrap().expect("the ephemeral node survived");
    assert_eq!(stat.ephemeral_owner, id);
    let written = observer.children("/roll").await.unwrap().len() as u64 - 1;
    assert!(written >= ok && written <= ok + lost, "{written} nodes for {ok} successes and {lost} losses");

    let seen = close_and_collect(&client, &mut events).await;
    let disconnects = seen.iter().filter(|e| **e == SessionEvent::Disconnected).count();
    assert!(disconnects >= 1, "the client's member was restarted at some point");
    let alternating = seen.chunks(2).all(|pair| pair == [SessionEvent::Disconnected, SessionEvent::Reconnected]);
    assert!(alternating && seen.len() == 2 * disconnects, "only disconnects and reconnects: {seen:?}");
    eprintln!("rolling restart: {ok} writes succeeded, {lost} failed with ConnectionLoss, {disconnects} reconnects");
}

/// Without a quorum, calls fail with ConnectionLoss promptly (they do not wait for the session
/// timeout); when the quorum is back within the timeout, the same session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_loss_fails_calls_fast_and_the_session_resumes_when_it_returns() {
    let _one = one_ensemble_at_a_time().await;
    let ensemble = start_ensemble().await;
    let session_timeout = ensemble_session_timeout();
    let client = connect_with(&ensemble.connect_string(), session_timeout).await;
    let id = client.session_id();
    let mut events = client.session_events();
    client.create("/q").persistent().await.unwrap();
    client.create("/q/eph").await.unwrap();

    let e = ensemble.clone();
    let stopped = blocking(move || e.stop_majority()).await.expect("stop a majority");
    assert_eq!(stopped.len(), 2);
    // Between the two stops the client may have found a short-lived leader: there may be
    // several disconnects, and only the last one lasts (no member serves now).
    let mut last = next_event(&mut events, "Disconnected").await;
    loop {
        let more = ready_events(&mut events).await;
        last = more.last().copied().unwrap_or(last);
        assert!(more.iter().all(|e| matches!(e, SessionEvent::Disconnected | SessionEvent::Reconnected)), "{more:?}");
        if last == SessionEvent::Disconnected && client.state() == SessionState::Connecting {
            break;
        }
        last = next_event(&mut events, "Disconnected").await;
    }

    let issued = Instant::now();
    let mut calls = JoinSet::new();
    for i in 0..5 {
        let write = client.create(format!("/q/n{i}")).persistent().send();
        let read = client.get_data("/q").send();
        calls.spawn(async move { write.await.map(drop) });
        calls.spawn(async move { read.await.map(drop) });
    }
    while let Some(result) = within("a call during the quorum loss", calls.join_next()).await {
        let result = result.expect("a call task panicked");
        assert!(is_connection_loss(&result), "{result:?}");
    }
    let waited = issued.elapsed();
    assert!(waited < session_timeout / 2, "calls took {waited:?} to fail; they must not wait for the session timeout");
    assert_eq!(client.state(), SessionState::Connecting);
    let meanwhile = ready_events(&mut events).await;
    assert!(meanwhile.is_empty(), "no server took the session without a quorum: {meanwhile:?}");

    let e = ensemble.clone();
    blocking(move || e.start_stopped()).await.expect("the quorum returns");
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(client.session_id(), id, "same session");
    client.create("/q/after").persistent().await.unwrap();
    let stat = client.exists("/q/eph").await.unwrap().expect("the ephemeral node survived");
    assert_eq!(stat.ephemeral_owner, id);
    assert_eq!(close_and_collect(&client, &mut events).await, vec![]);
}

/// A loopback address nothing listens on: connecting to it is refused at once.
fn refusing_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}

/// After losing the member it was connected to (host 1 of 3), the client goes on through the
/// hosts after it and then those before it; a round fails only when every member has failed in it.
/// Requests queued meanwhile wait for host 0, which accepts, instead of failing with ConnectionLoss
/// when the host cursor wraps to 0 (as they did after host 2 alone had failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queued_after_losing_a_member_wait_until_every_member_has_failed() {
    let _one = one_ensemble_at_a_time().await;
    let ensemble = start_ensemble().await;
    let e = ensemble.clone();
    let leader = blocking(move || e.wait_for_quorum()).await.expect("a quorum");
    let followers: Vec<usize> = (0..ensemble.size()).filter(|&i| i != leader).collect();
    // Hosts in order: 0 → a follower that stays, 1 → the follower to be killed (the survivors keep
    // a quorum without an election), 2 → the leader, which the client will not reach.
    let order = [followers[0], followers[1], leader];
    let proxies: Vec<FaultProxy> =
        order.iter().map(|&m| FaultProxy::start(ensemble.members()[m].address()).expect("start a proxy")).collect();
    proxies[0].set_target(refusing_address()); // so the session starts on host 1
    let hosts = proxies.iter().map(FaultProxy::connect_string).collect::<Vec<_>>().join(",");
    let client = Client::connect(hosts)
        .ordered_hosts()
        .session_timeout(ensemble_session_timeout())
        .attempt_timeout(scaled(Duration::from_secs(1)))
        .connect_timeout(patience())
        .await
        .expect("connect");
    assert_eq!(client.status().server, Some(proxies[1].address()), "the session is on host 1");
    let id = client.session_id();
    let mut events = client.session_events();
    client.exists("/").await.unwrap();

    proxies[0].set_target(ensemble.members()[order[0]].address());
    // Host 2 accepts TCP but never answers: the attempt on it lasts the attempt timeout, while the
    // requests below queue.
    proxies[2].blackhole(true);
    kill(&ensemble, order[1]).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    let queued: Vec<_> = (0..5).map(|i| client.create(format!("/queued-{i}")).persistent().send()).collect();
    for (i, write) in queued.into_iter().enumerate() {
        let result = within("a queued request", write).await;
        assert!(result.is_ok(), "queued request {i} failed while host 0 accepts: {result:?}");
    }
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(client.session_id(), id);
    assert_eq!(client.status().server, Some(proxies[0].address()));
    assert_eq!(close_and_collect(&client, &mut events).await, vec![]);
}

// ----- proxy: dropped, blackholed and closing connections ---------------------------------------

/// A watch on a path too long to restore (its SetWatches entry cannot fit in any frame the server
/// accepts, though the `exists` that set it did) is dropped on reconnect, and its watcher is told
/// with `DataWatchRemoved`; the other watches are restored, and the client reconnects once. It
/// used to fail every new connection while priming: thousands of reconnects a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_too_long_to_restore_is_dropped_with_a_notice_and_the_rest_restored() {
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("start a proxy"));
    let (client, admin, root) = behind_proxy(&proxy, "long-watch", Duration::from_secs(10)).await;
    let mut events = client.session_events();
    // exists: header 8, path 4 + length, watch flag 1; SetWatches needs about 40 bytes of framing.
    let server_len = zk_dsl::proto::DEFAULT_MAX_PACKET - 20;
    let long = format!("/{}", "x".repeat(server_len - root.len() - 1));
    let (missing, long_watch) = client.exists(long.as_str()).with_watch().await.unwrap();
    assert_eq!(missing, None);
    client.create("/short").persistent().await.unwrap();
    let (_, short_watch) = client.get_data("/short").with_watch().await.unwrap();

    let p = proxy.clone();
    blocking(move || p.drop_connections()).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(within("the dropped watch's notice", long_watch).await, node(EventType::DataWatchRemoved, &long));
    admin.set_data(format!("{root}/short"), "changed").await.unwrap();
    assert_eq!(within("the restored watch", short_watch).await, node(EventType::NodeDataChanged, "/short"));
    client.exists("/").await.unwrap();
    assert_eq!(ready_events(&mut events).await, vec![], "one reconnect, and it held");
    assert_eq!(proxy.connections_accepted(), 2, "the first connection and one reconnect");
    assert_eq!(close_and_collect(&client, &mut events).await, vec![]);
}

/// A fresh persistent root on the shared server, and a client on it through `proxy`.
async fn behind_proxy(proxy: &FaultProxy, prefix: &str, session_timeout: Duration) -> (Client, Client, String) {
    let root = format!("/{}", unique(prefix));
    let admin = connect(&server().connect_string()).await;
    admin.create(root.as_str()).persistent().await.unwrap();
    let client = connect_with(&format!("{}{root}", proxy.connect_string()), session_timeout).await;
    (client, admin, root)
}

/// The state stream and `state()` through a connection's life: Connected, Disconnected,
/// Reconnected (same session), Closed, then the end of the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_stream_follows_connect_drop_reconnect_and_close() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    // Held until the stream is subscribed, so it sees the first connection.
    proxy.blackhole(true);
    let client = Client::connect(proxy.connect_string()).start().unwrap();
    let mut events = client.session_events();
    assert_eq!(client.state(), SessionState::Connecting);
    assert_eq!(client.session_id(), 0);
    proxy.blackhole(false);
    assert_eq!(next_event(&mut events, "Connected").await, SessionEvent::Connected);
    assert_eq!(client.state(), SessionState::Connected);
    let id = client.session_id();
    assert_ne!(id, 0);
    assert_eq!(client.status().server, Some(proxy.address()));

    // Dropped, with the way back held closed: the state says so until it opens.
    proxy.blackhole(true);
    let p = Arc::new(proxy);
    let dropper = p.clone();
    blocking(move || dropper.drop_connections()).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    assert_eq!(client.state(), SessionState::Connecting);
    assert_eq!(client.status().server, None);
    p.blackhole(false);
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    assert_eq!(client.state(), SessionState::Connected);
    assert_eq!(client.session_id(), id);
    client.exists("/").await.unwrap();

    client.close().await.unwrap();
    assert_eq!(next_event(&mut events, "Closed").await, SessionEvent::Closed);
    assert_eq!(client.state(), SessionState::Closed);
    assert_eq!(within("the end of the stream", events.next()).await, None);
}

/// 10,000 pipelined writes (up to 100 in flight) while the proxy drops the connection 100 times:
/// every write resolves, either once successfully or with ConnectionLoss, and the server holds
/// exactly what the results allow.
///
/// Each write creates a sequential node whose data is the write's number. The rule checked
/// afterwards: every write reported successful exists exactly at the path it returned; a write
/// that failed with ConnectionLoss may or may not exist (it may have reached the server before
/// the connection dropped); no write exists twice (nothing is replayed); nothing else exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_writes_through_a_hundred_dropped_connections_are_each_applied_at_most_once() {
    const WRITES: usize = 10_000;
    const WINDOW: usize = 100;
    const DROPS: usize = 100;
    const BLOCK: usize = WRITES / DROPS;
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("start a proxy"));
    let (client, admin, root) = behind_proxy(&proxy, "drops", Duration::from_secs(10)).await;
    let id = client.session_id();
    let mut events = client.session_events();

    // Each connection carries a quarter block of successful writes before it is dropped, with a
    // window of writes in flight. The writer runs at most a window past half of the block whose
    // drop has not happened yet, and holds its last quarter block until the last drop: the drops
    // are spread over the stream and all happen during it. (After drop k-1 at least a quarter
    // block can still be issued before the writer waits for drop k, so neither side starves.)
    let (succeeded_tx, mut succeeded_so_far) = watch::channel(0usize);
    let succeeded_tx = Arc::new(succeeded_tx);
    let (drops_tx, mut drops) = watch::channel(0usize);
    let dropper = {
        let (client, proxy) = (client.clone(), proxy.clone());
        tokio::spawn(async move {
            let mut floor = 0;
            for k in 1..=DROPS {
                succeeded_so_far.wait_for(|&n| n >= floor + BLOCK / 4).await.expect("the writer is running");
                // Each drop must hit a connection of its own, the client's k-th. Writes can
                // still succeed after drop k-1 (their replies reached the client before it),
                // and until the client reads to the end of that connection it looks
                // connected: dropping then would hit no connection at all.
                suite::eventually("the client's next connection", || {
                    let accepted = proxy.connections_accepted();
                    async move { (accepted >= k as u64).then_some(()) }
                })
                .await;
                client.wait_connected().await.expect("the session lives");
                let p = proxy.clone();
                blocking(move || p.drop_connections()).await;
                floor = *succeeded_so_far.borrow();
                drops_tx.send_replace(k);
            }
        })
    };

    let run = async {
        let window = Arc::new(Semaphore::new(WINDOW));
        let mut writes = JoinSet::new();
        for i in 0..WRITES {
            let due = if i >= WRITES - BLOCK / 4 { DROPS } else { (i + BLOCK / 2).saturating_sub(WINDOW) / BLOCK };
            drops.wait_for(|&d| d >= due).await.expect("the dropper is running");
            let permit = window.clone().acquire_owned().await.expect("semaphore open");
            let write = client.create("/w-").persistent().sequential().data(i.to_string().as_str()).send();
            let succeeded = succeeded_tx.clone();
            writes.spawn(async move {
                let result = write.await;
                if result.is_ok() {
                    succeeded.send_modify(|n| *n += 1);
                }
                drop(permit);
                (i, result)
            });
        }
        let mut succeeded: HashMap<usize, String> = HashMap::new();
        let mut lost: HashSet<usize> = HashSet::new();
        while let Some(done) = writes.join_next().await {
            match done.expect("a write task panicked") {
                (i, Ok(path)) => assert!(succeeded.insert(i, path).is_none()),
                (i, Err(Error::ConnectionLoss { .. })) => assert!(lost.insert(i)),
                (i, Err(e)) => panic!("write {i} failed with {e}, not ConnectionLoss"),
            }
        }
        (succeeded, lost)
    };
    let (succeeded, lost) =
        tokio::time::timeout(scaled(Duration::from_secs(180)), run).await.expect("every write resolves (none hangs)");
    within("the dropper", dropper).await.expect("the dropper panicked");
    assert_eq!(succeeded.len() + lost.len(), WRITES);
    assert!(!lost.is_empty(), "the drops hit writes in flight");

    // One Disconnected and one Reconnected per drop, same session, nothing else.
    client.wait_connected().await.unwrap();
    for _ in 0..DROPS {
        assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
        assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    }
    assert_eq!(client.session_id(), id);

    let names = admin.children(root.as_str()).await.unwrap();
    let reads: Vec<_> = names.iter().map(|name| admin.get_data(format!("{root}/{name}")).send()).collect();
    let mut found: HashMap<usize, String> = HashMap::new();
    for (name, read) in names.iter().zip(reads) {
        let node = read.await.unwrap();
        let i: usize = std::str::from_utf8(node.bytes()).unwrap().parse().unwrap();
        if let Some(other) = found.insert(i, format!("/{name}")) {
            panic!("write {i} was applied twice: {other} and /{name}");
        }
    }
    for (i, path) in &succeeded {
        assert_eq!(found.get(i), Some(path), "successful write {i} is missing or elsewhere");
    }
    for i in found.keys() {
        assert!(succeeded.contains_key(i) || lost.contains(i), "write {i} exists but was never made");
    }
    let applied_losses = found.len() - succeeded.len();
    eprintln!(
        "{} succeeded, {} ConnectionLoss ({applied_losses} of them applied nonetheless), {} connections",
        succeeded.len(),
        lost.len(),
        proxy.connections_accepted()
    );
    assert_eq!(close_and_collect(&client, &mut events).await, vec![]);
}

/// A blackhole past the session timeout: the client declares the session expired (not before
/// twice the timeout since it last heard from the server, and not much after), the state stream
/// says Expired and ends, every call still waiting fails (ConnectionLoss if it was on the wire
/// when the connection was given up; one waiting for a new connection gets ConnectionLoss when a
/// round of attempts fails, SessionExpired when the session ends first), later calls
/// fail at once, every watcher hears Expired, and the server deleted the ephemeral node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholing_past_the_session_timeout_expires_the_session() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    // The test server grants 1 to 10 s.
    let short = scaled(Duration::from_secs(2)).min(Duration::from_secs(10));
    let (client, observer, root) = behind_proxy(&proxy, "expiry", short).await;
    let negotiated = client.status().negotiated_timeout;
    client.create("/eph").await.unwrap();
    let eph = format!("{root}/eph");
    let (stat, deleted) = observer.exists(eph.as_str()).with_watch().await.unwrap();
    assert!(stat.is_some());
    let (_, data_watch) = client.get_data("/eph").with_watch().await.unwrap();
    let mut recursive = client.watch("/").recursive().await.unwrap();
    let mut events = client.session_events();

    // The last reply before the cut: the client heard from the server after `heard`.
    let heard = Instant::now();
    client.exists("/").await.unwrap();
    proxy.blackhole(true);
    let cut = Instant::now();
    let on_the_wire = client.get_data("/eph").send();
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    let waiting = client.create("/after").persistent().send();
    assert_eq!(next_event(&mut events, "Expired").await, SessionEvent::Expired);
    let (since_heard, since_cut) = (heard.elapsed(), cut.elapsed());
    assert!(since_heard >= negotiated * 2, "declared expired {since_heard:?} after the server last answered");
    assert!(
        // Twice the timeout after the last write, which can be a ping up to 2/3 of it after the cut.
        since_cut <= negotiated * 3 + scaled(Duration::from_millis(500)),
        "declared expired only {since_cut:?} after the cut (session timeout {negotiated:?})"
    );
    assert_eq!(client.state(), SessionState::Expired);
    assert_eq!(within("the end of the stream", events.next()).await, None);

    let r = within("the call on the wire", on_the_wire).await;
    assert!(is_connection_loss(&r), "{r:?}");
    // ConnectionLoss if a whole round of attempts failed before the expiry, else SessionExpired.
    let r = within("the call waiting for a connection", waiting).await;
    assert!(matches!(r, Err(Error::SessionExpired { .. } | Error::ConnectionLoss { .. })), "{r:?}");
    let r = within("a call after expiry", client.get_data("/eph")).await;
    assert!(matches!(r, Err(Error::SessionExpired { .. })), "{r:?}");
    let expired = WatchedEvent::session(KeeperState::Expired);
    assert_eq!(within("the data watch", data_watch).await, expired);
    let disconnected = WatchedEvent::session(KeeperState::Disconnected);
    assert_eq!(within("the recursive watch", recursive.next()).await, Some(disconnected));
    assert_eq!(within("the recursive watch", recursive.next()).await, Some(expired));
    assert_eq!(within("the end of the recursive watch", recursive.next()).await, None);

    // The server expired the session too: the ephemeral node is gone for everyone.
    assert_eq!(within("the ephemeral node's deletion", deleted).await, node(EventType::NodeDeleted, &eph));
    assert_eq!(observer.exists(eph.as_str()).await.unwrap(), None);
}

/// Once the client has surfaced `Expired` by itself (a partition: no server to tell it), the server
/// has expired the session too, so a new session re-creating the same ephemeral node (the member
/// pattern of `run_sessions`) never gets NodeExists. The server expires at the next tick boundary
/// after the timeout; the client used to declare expiry at 4/3 of the timeout, which with the
/// smallest timeout (2 ticks) lost that race in about a third of the trials. 100 trials run at
/// once, their sessions started over a tick so their last packets fall at every phase of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_client_declared_expiry_the_ephemeral_node_can_be_recreated_in_100_of_100_trials() {
    const TRIALS: usize = 100;
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("start a proxy"));
    let root = format!("/{}", unique("expiry-trials"));
    let admin = connect(&server().connect_string()).await;
    admin.create(root.as_str()).persistent().await.unwrap();
    let successor = connect(&format!("{}{root}", server().connect_string())).await;
    // The test server's tick is 500 ms and its smallest timeout 2 ticks: the tightest case.
    let shortest = scaled(Duration::from_secs(1)).min(Duration::from_secs(10));
    let through_proxy = format!("{}{root}", proxy.connect_string());
    let mut starting = JoinSet::new();
    for i in 0..TRIALS {
        let cs = through_proxy.clone();
        starting.spawn(async move {
            tokio::time::sleep(Duration::from_millis((i * 500 / TRIALS) as u64)).await;
            let client = connect_with(&cs, shortest).await;
            let events = client.session_events();
            client.create(format!("/member-{i}")).await.expect("the member's ephemeral node");
            (i, client, events)
        });
    }
    let mut members = Vec::new();
    while let Some(started) = starting.join_next().await {
        members.push(started.expect("a member task panicked"));
    }
    proxy.blackhole(true);
    let mut trials = JoinSet::new();
    for (i, client, mut events) in members {
        let successor = successor.clone();
        trials.spawn(async move {
            loop {
                match next_event(&mut events, "Expired").await {
                    SessionEvent::Expired => break,
                    SessionEvent::Disconnected => {}
                    other => panic!("member {i}: unexpected {other:?} during the partition"),
                }
            }
            drop(client);
            // At once, as run_sessions would: a new session takes the member's place.
            successor.create(format!("/member-{i}")).await
        });
    }
    let mut refused = Vec::new();
    while let Some(done) = trials.join_next().await {
        if let Err(e) = done.expect("a trial panicked") {
            refused.push(e);
        }
    }
    proxy.blackhole(false);
    assert!(refused.is_empty(), "{} of {TRIALS} re-creations failed: {refused:?}", refused.len());
}

/// `run_sessions` gives the application a new session when its session expires: the body runs
/// again, with a new client, and redoes its setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sessions_starts_over_with_a_new_session_after_expiry() {
    let proxy = FaultProxy::start(server().address()).expect("start a proxy");
    let short = scaled(Duration::from_secs(2)).min(Duration::from_secs(10));
    let root = format!("/{}", unique("again"));
    let admin = connect(&server().connect_string()).await;
    admin.create(root.as_str()).persistent().await.unwrap();
    let connect_string = format!("{}{root}", proxy.connect_string());

    let (started_tx, mut started) = mpsc::unbounded_channel::<i64>();
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<()>();
    let mut runs = 0;
    let sessions = tokio::spawn(run_sessions(
        move || Client::connect(connect_string.as_str()).session_timeout(short).connect_timeout(patience()),
        move |client| {
            runs += 1;
            let (first, started, ended) = (runs == 1, started_tx.clone(), ended_tx.clone());
            async move {
                client.create("/member-").sequential().await?;
                let _ = started.send(client.session_id());
                if !first {
                    return Ok(client.session_id());
                }
                let end = session_end(&client).await;
                let _ = ended.send(());
                Err(end)
            }
        },
    ));

    let first = within("the first session", started.recv()).await.unwrap();
    proxy.blackhole(true);
    within("the first session to expire", ended.recv()).await.unwrap();
    proxy.blackhole(false);
    let second = within("the second session", started.recv()).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(within("run_sessions", sessions).await.unwrap().unwrap(), second);
}

/// An identity added while the connection is down goes out after the replayed ones and is
/// answered by its own reply: a refused one fails its `add_auth` and ends the session in
/// AuthFailed, instead of taking the success of a replayed identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_added_while_disconnected_gets_its_own_answer() {
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("start a proxy"));
    let (client, _admin, _root) = behind_proxy(&proxy, "auth", Duration::from_secs(10)).await;
    client.add_auth("digest", "alice:secret").await.unwrap();
    let mut events = client.session_events();
    proxy.blackhole(true);
    let p = proxy.clone();
    blocking(move || p.drop_connections()).await;
    assert_eq!(next_event(&mut events, "Disconnected").await, SessionEvent::Disconnected);
    // The server refuses an unknown scheme (and closes the connection).
    let refused = client.add_auth("no-such-scheme", "whoever");
    proxy.blackhole(false);
    assert_eq!(next_event(&mut events, "Reconnected").await, SessionEvent::Reconnected);
    let r = within("the refused identity", refused).await;
    assert!(matches!(r, Err(Error::AuthFailed { .. })), "{r:?}");
    assert_eq!(next_event(&mut events, "AuthFailed").await, SessionEvent::AuthFailed);
    assert_eq!(client.state(), SessionState::AuthFailed);
}

/// `close()` while the connection is dying: the close completes and the session ends, rather
/// than the client reconnecting to a session nobody can use or close any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_cut_off_by_a_dropped_connection_still_closes() {
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("start a proxy"));
    let (client, _admin, _root) = behind_proxy(&proxy, "close", Duration::from_secs(10)).await;
    let mut events = client.session_events();
    proxy.blackhole(true);
    let close = client.close();
    tokio::pin!(close);
    // The closeSession request leaves into the blackhole and cannot be answered. (Nothing
    // signals that it left; if it had not yet, the close below happens while disconnected, which
    // must end the same way.)
    assert!(tokio::time::timeout(scaled(Duration::from_millis(100)), &mut close).await.is_err());
    let p = proxy.clone();
    blocking(move || p.drop_connections()).await;
    proxy.blackhole(false);
    within("the close", close).await.expect("close succeeds");
    assert_eq!(next_event(&mut events, "Closed").await, SessionEvent::Closed);
    assert_eq!(client.state(), SessionState::Closed);
    let r = client.exists("/").await;
    assert!(matches!(r, Err(Error::Closed { .. })), "{r:?}");
}
