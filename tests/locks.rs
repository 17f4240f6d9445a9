//! Locks against a real ZooKeeper: exactly one holder (counted, not assumed), one waiter woken
//! per release, nothing left behind by timeouts, cancellation or connection loss, readers that
//! share and writers that do not, foreign contenders respected, fencing that stops a holder
//! whose session expired, and a guard that says when it stops holding.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use suite::peers::{now_micros, HolderLog};
use suite::{children_until, connect, connect_through, eventually, server, within, TestEnv};
use tokio::task::JoinSet;
use zk_dsl::recipes::{HoldState, LossPolicy, Mutex, ReadWriteLock, RetryPolicy};
use zk_dsl::testing::{scaled, FaultProxy};
use zk_dsl::{Client, Error};

/// The non-atomic increment the issue prescribes: any overlap of holders loses an update.
async fn increment(client: &Client, counter: &str) {
    let node = client.get_data(counter).await.unwrap();
    let value: u64 = std::str::from_utf8(node.bytes()).unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..2))).await;
    client.set_data(counter, (value + 1).to_string().as_bytes()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_holder_at_a_time_and_no_increment_lost() {
    let env = TestEnv::new().await;
    env.client.create("/counter").persistent().data("0").await.unwrap();
    let holds = HolderLog::new();
    let mut workers = JoinSet::new();
    const WORKERS: usize = 6;
    const ROUNDS: usize = 25;
    for w in 0..WORKERS {
        let (cs, holds) = (env.connect_string.clone(), holds.clone());
        workers.spawn(async move {
            let client = connect(&cs).await;
            let mutex = Mutex::new(&client, "/locks/counter").id(format!("worker-{w}"));
            for _ in 0..ROUNDS {
                let guard = mutex.acquire().await.unwrap();
                let from = now_micros();
                increment(&client, "/counter").await;
                holds.record(&format!("worker-{w}"), from, now_micros());
                guard.release().await.unwrap();
            }
            client.close().await.unwrap();
        });
    }
    while let Some(done) = within("the workers", workers.join_next()).await {
        done.unwrap();
    }
    let value = env.client.get_data("/counter").await.unwrap();
    assert_eq!(value.bytes(), (WORKERS * ROUNDS).to_string().as_bytes(), "an overlap lost an increment");
    holds.assert_no_overlap();
    assert_eq!(holds.acquisitions(), WORKERS * ROUNDS);
    // Every contender node is gone.
    let left = env.client.children("/locks/counter").await.unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// The paths with a data watch on the server below `dir` (`wchp`: path, then its sessions).
fn watched_below(dir: &str) -> Vec<String> {
    let report = server().four_letter("wchp").expect("wchp");
    report.lines().filter(|l| !l.starts_with('\t') && l.starts_with(dir)).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_wakes_exactly_one_of_a_hundred_waiters() {
    let env = TestEnv::new().await;
    let clients: Vec<Client> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(env.another_client().await);
        }
        v
    };
    let holder = Mutex::new(&env.client, "/herd").acquire().await.unwrap();
    let acquired = Arc::new(StdMutex::new(Vec::new()));
    let mut waiters = JoinSet::new();
    for i in 0..100 {
        let (client, acquired) = (clients[i % clients.len()].clone(), acquired.clone());
        waiters.spawn(async move {
            let guard = Mutex::new(&client, "/herd").acquire().await.unwrap();
            acquired.lock().unwrap().push(i);
            guard
        });
        // In arrival order, so the line of succession is known.
        let expected = i + 2;
        children_until(&env.client, "/herd", &format!("waiter {i} to queue"), |c| c.len() >= expected).await;
    }
    let dir = format!("{}/herd/", env.root);
    // `wchp` is a report, not a watchable node: looked at until every waiter's watch is there.
    eventually("every waiter to watch", || async { (watched_below(&dir).len() >= 100).then_some(()) }).await;
    // Each waiter watches only its predecessor: 100 nodes watched, and the directory not at all.
    assert_eq!(watched_below(&dir).len(), 100);
    assert!(!watched_below(&format!("{}/herd", env.root)).iter().any(|p| p == &format!("{}/herd", env.root)));

    holder.release().await.unwrap();
    let first = within("the next in line", waiters.join_next()).await.unwrap().unwrap();
    assert_eq!(*acquired.lock().unwrap(), vec![0], "exactly the first waiter took the lock");
    // One watch fired (the released node's); the other 99 waiters still watch theirs.
    assert_eq!(watched_below(&dir).len(), 99);
    first.release().await.unwrap();
    let second = within("the one after", waiters.join_next()).await.unwrap().unwrap();
    assert_eq!(*acquired.lock().unwrap(), vec![0, 1]);
    second.release().await.unwrap();
    waiters.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_or_a_dropped_acquire_leaves_no_node() {
    let env = TestEnv::new().await;
    let mutex = Mutex::new(&env.client, "/busy");
    let guard = mutex.acquire().await.unwrap();
    let other = env.another_client().await;
    let contender = Mutex::new(&other, "/busy");

    let started = Instant::now();
    let r = contender.acquire().timeout(Duration::from_millis(200)).await;
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(contender.try_acquire().await.unwrap().is_none(), "a try-lock does not wait");

    // Cancelled by dropping the future while it waits.
    let waiting = tokio::spawn({
        let other = other.clone();
        async move { Mutex::new(&other, "/busy").acquire().await.map(drop) }
    });
    children_until(&env.client, "/busy", "the waiter to queue", |c| c.len() >= 2).await;
    waiting.abort();
    // Dropped in the middle of its create, too.
    for _ in 0..5 {
        let racing = tokio::spawn({
            let other = other.clone();
            async move { Mutex::new(&other, "/busy").acquire().await.map(drop) }
        });
        tokio::task::yield_now().await;
        racing.abort();
    }
    let mine = guard.node().rsplit('/').next().unwrap().to_owned();
    children_until(&env.client, "/busy", "abandoned nodes to go", |c| c == [mine.clone()]).await;
    guard.release().await.unwrap();
    assert!(contender.try_acquire().await.unwrap().is_some(), "free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_contenders_are_respected_and_strangers_ignored() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/mixed").persistent().await.unwrap();
    c.create("/mixed/config").persistent().data("not a contender").await.unwrap();
    // A kazoo contender (`<uuid hex>__lock__<seq>`) arrives first and holds the lock.
    let other = env.another_client().await;
    let kazoo = other.create("/mixed/0123456789abcdef0123456789abcdef__lock__").sequential().await.unwrap();
    let mutex = Mutex::new(c, "/mixed").id("rust");
    assert!(mutex.try_acquire().await.unwrap().is_none(), "the kazoo holder blocks us");
    let waiting = tokio::spawn({
        let mutex = mutex.clone();
        async move { mutex.acquire().await }
    });
    // The stranger `config`, kazoo's node and ours.
    children_until(c, "/mixed", "our contender to queue", |c| c.len() >= 3).await;
    let participants = mutex.participants().await.unwrap();
    assert_eq!(participants[0].node, kazoo);
    assert!(participants[0].holds && !participants[1].holds);
    assert_eq!(participants[1].id_str(), "rust");
    assert!(participants[1].node.contains("-lock-") && participants[1].node.contains("/_c_"), "{participants:?}");
    other.delete(kazoo.as_str()).await.unwrap();
    let guard = within("the lock after kazoo's release", waiting).await.unwrap().unwrap();
    assert_eq!(guard.state(), HoldState::Held);
    guard.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_share_writers_wait_and_are_waited_for() {
    let env = TestEnv::new().await;
    let other = env.another_client().await;
    let (a, b) = (ReadWriteLock::new(&env.client, "/rw"), ReadWriteLock::new(&other, "/rw"));
    let r1 = a.read().await.unwrap();
    let r2 = within("a second reader while one reads", b.read()).await.unwrap();
    assert!(a.write().timeout(Duration::from_millis(100)).await.is_err(), "a writer waits for readers");
    let writer = tokio::spawn({
        let b = b.clone();
        async move { b.write().await }
    });
    children_until(&env.client, "/rw", "the writer to queue", |c| c.len() >= 3).await;
    // A reader arriving after a waiting writer waits for it (fair, no writer starvation).
    assert!(a.read().timeout(Duration::from_millis(100)).await.is_err());
    let holders: Vec<bool> = a.participants().await.unwrap().iter().map(|p| p.holds).collect();
    assert_eq!(holders, vec![true, true, false]);
    r1.release().await.unwrap();
    r2.release().await.unwrap();
    let w = within("the writer", writer).await.unwrap().unwrap();
    assert!(a.read().timeout(Duration::from_millis(100)).await.is_err(), "readers wait for the writer");
    w.release().await.unwrap();
    within("a reader after the writer", a.read()).await.unwrap().release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_session_expired_cannot_write_and_knows_it() {
    let env = TestEnv::new().await;
    env.client.create("/fenced").persistent().data("initial").await.unwrap();
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let short = scaled(Duration::from_secs(2)).min(Duration::from_secs(10));
    let stale = connect_through(&proxy, &env.root, short).await;
    let mut old = Mutex::new(&stale, "/fence-lock").loss_policy(LossPolicy::Session).acquire().await.unwrap();
    old.set_data("/fenced", "from the first holder", -1).await.unwrap();
    let old_token = old.fencing_token();

    // Partitioned: the server expires the session and the lock passes on.
    proxy.blackhole(true);
    assert_eq!(within("uncertain", old.changed()).await, HoldState::Uncertain);
    assert!(old.is_held(), "the session policy keeps acting through a disconnection");
    let new = within("the next holder", Mutex::new(&env.client, "/fence-lock").acquire()).await.unwrap();
    assert!(new.fencing_token() > old_token, "fencing tokens grow with every holder");
    new.set_data("/fenced", "from the second holder", -1).await.unwrap();

    // The old holder's writes are refused on the server, whatever it believes.
    proxy.blackhole(false);
    let stale_write = within("the stale write", old.set_data("/fenced", "stale", -1)).await;
    // Refused, or cut off with the dying connection; either way it must not land (checked below).
    assert!(
        matches!(
            stale_write,
            Err(Error::LockLost { .. } | Error::SessionExpired { .. } | Error::ConnectionLoss { .. })
        ),
        "{stale_write:?}"
    );
    within("the old guard hears the loss", old.lost()).await;
    assert_eq!(old.state(), HoldState::Lost);
    assert_eq!(env.client.get_data("/fenced").await.unwrap().bytes(), b"from the second holder", "0 stale writes");

    // A live holder that lost its node (deleted by someone) is refused the same way.
    let other = env.another_client().await;
    let mut third = {
        new.release().await.unwrap();
        Mutex::new(&other, "/fence-lock").acquire().await.unwrap()
    };
    env.client.delete(third.node()).await.unwrap();
    within("the guard hears its node go", third.lost()).await;
    let refused = third.set_data("/fenced", "after the loss", -1).await;
    assert!(matches!(refused, Err(Error::LockLost { ref lock, .. }) if lock == third.node()), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_is_uncertain_while_disconnected_and_held_again_after() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let client = connect_through(&proxy, &env.root, Duration::from_secs(8)).await;
    let mut guard = Mutex::new(&client, "/flaky").acquire().await.unwrap();
    assert!(guard.is_held());
    tokio::task::block_in_place(|| proxy.drop_connections());
    let mut seen = vec![within("a change", guard.changed()).await];
    if seen[0] == HoldState::Uncertain {
        seen.push(within("the next change", guard.changed()).await);
    }
    assert_eq!(seen, vec![HoldState::Uncertain, HoldState::Held]);
    assert!(guard.is_held());
    guard.release().await.unwrap();
    assert!(env.client.children("/flaky").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_create_whose_reply_is_lost_finds_its_node_instead_of_making_another() {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(server().address()).expect("proxy");
    let client = connect_through(&proxy, &env.root, Duration::from_secs(8)).await;
    client.create("/jobs").persistent().await.unwrap();
    // Requests and replies each take 300 ms through the proxy; the connection is cut after the
    // create reached the server and before its reply came back.
    proxy.delay(Duration::from_millis(300));
    let create = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .create("/jobs/job-")
                .sequential()
                .data("payload")
                .protected()
                .retry(RetryPolicy::exponential(Duration::from_millis(50)))
                .await
        }
    });
    // Cut once the node exists on the server: its reply is then still on its way back.
    children_until(&env.client, "/jobs", "the create to reach the server", |c| !c.is_empty()).await;
    tokio::task::block_in_place(|| proxy.drop_connections());
    proxy.delay(Duration::ZERO);
    let path = within("the protected create", create).await.unwrap().unwrap();
    let children = env.client.children("/jobs").await.unwrap();
    assert_eq!(children.len(), 1, "exactly one node: {children:?}");
    assert_eq!(format!("/jobs/{}", children[0]), path);
    assert!(children[0].starts_with("_c_") && children[0].contains("-job-"), "{children:?}");
    assert_eq!(env.client.get_data(path.as_str()).await.unwrap().bytes(), b"payload");
    // Ephemeral by default, owned by the creating session.
    let stat = env.client.exists(path.as_str()).await.unwrap().unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_never_has_more_holders_than_leases() {
    let env = TestEnv::new().await;
    let holds = HolderLog::new();
    let mut workers = JoinSet::new();
    for w in 0..5 {
        let (cs, holds) = (env.connect_string.clone(), holds.clone());
        workers.spawn(async move {
            let client = connect(&cs).await;
            let semaphore = zk_dsl::recipes::Semaphore::new(&client, "/sem", 2).id(format!("w{w}"));
            for _ in 0..6 {
                let lease = semaphore.acquire().await.unwrap();
                let from = now_micros();
                tokio::time::sleep(Duration::from_millis(3)).await;
                holds.record(&format!("w{w}"), from, now_micros());
                lease.release().await.unwrap();
            }
            client.close().await.unwrap();
        });
    }
    while let Some(done) = within("the workers", workers.join_next()).await {
        done.unwrap();
    }
    // Sweep the holds in time order: never more than two at once, and two did happen.
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for hold in holds.holds() {
        edges.push((hold.acquired_micros, 1));
        edges.push((hold.released_micros, -1));
    }
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    assert!(most <= 2, "{most} holders at once with 2 leases");
    assert_eq!(most, 2, "the two leases were never used at once");
    assert!(env.client.children("/sem/leases").await.unwrap_or_default().is_empty());

    // A one-lease semaphore is a mutex; a try-lock sees it taken.
    let m = zk_dsl::recipes::SemaphoreMutex::new(&env.client, "/semmutex");
    let held = m.acquire().await.unwrap();
    let other = env.another_client().await;
    assert!(zk_dsl::recipes::SemaphoreMutex::new(&other, "/semmutex").try_acquire().await.unwrap().is_none());
    held.release().await.unwrap();
    assert!(zk_dsl::recipes::SemaphoreMutex::new(&other, "/semmutex").try_acquire().await.unwrap().is_some());
}
