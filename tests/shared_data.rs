//! Shared data against a real ZooKeeper: atoms and counters that lose no update under
//! contention, in the formats Curator and kazoo use; transactions over refs that conserve a
//! bank's money through dropped connections, apply every acknowledged commit exactly once and
//! never compute on a mix of old and new values.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use suite::{connect, connect_through, patience, server, within, TestEnv};
use tokio::task::JoinSet;
use zk_dsl::recipes::{Atom, AtomicLong, Ref, SharedCount, Transaction};
use zk_dsl::testing::FaultProxy;
use zk_dsl::{Error, ZNodeData};

/// Awaits one of the long runs below (thousands of contended updates, sharing two cores with the
/// rest of the suite): the usual patience, six times over.
async fn long<F: std::future::IntoFuture>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(patience() * 6, f.into_future()).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = json)]
struct Tally {
    count: u64,
    by: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_swapping_one_typed_atom_lose_no_update() {
    let env = TestEnv::new().await;
    const CLIENTS: usize = 8;
    const SWAPS: usize = 1000;
    let mut workers = JoinSet::new();
    for w in 0..CLIENTS {
        let cs = env.connect_string.clone();
        workers.spawn(async move {
            let client = connect(&cs).await;
            let atom = Atom::new(&client, "/atoms/tally", Tally { count: 0, by: vec![0; CLIENTS] });
            for _ in 0..SWAPS {
                atom.swap(|t| {
                    let mut next = t.clone();
                    next.count += 1;
                    next.by[w] += 0;
                    next
                })
                .await
                .unwrap();
            }
            client.close().await.unwrap();
        });
    }
    while let Some(done) = long("the swappers", workers.join_next()).await {
        done.unwrap();
    }
    let atom = Atom::new(&env.client, "/atoms/tally", Tally { count: 0, by: Vec::new() });
    let now = atom.get().await.unwrap();
    assert_eq!(now.value.count, (CLIENTS * SWAPS) as u64, "a lost update");
    assert_eq!(now.version as usize, CLIENTS * SWAPS - 1, "one write per swap (the first created the node)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_exact_and_in_curators_formats() {
    let env = TestEnv::new().await;
    let mut workers = JoinSet::new();
    for _ in 0..4 {
        let cs = env.connect_string.clone();
        workers.spawn(async move {
            let client = connect(&cs).await;
            let (shared, long) = (SharedCount::new(&client, "/c/shared"), AtomicLong::new(&client, "/c/long").seed(10));
            for _ in 0..50 {
                shared.add(2).await.unwrap();
                long.add(-1).await.unwrap();
            }
            client.close().await.unwrap();
        });
    }
    while let Some(done) = within("the counters", workers.join_next()).await {
        done.unwrap();
    }
    let shared = env.client.get_data("/c/shared").await.unwrap();
    assert_eq!(shared.bytes(), 400i32.to_be_bytes(), "Curator SharedCount: 4-byte big-endian");
    let long = env.client.get_data("/c/long").await.unwrap();
    assert_eq!(long.bytes(), (10i64 - 200).to_be_bytes(), "DistributedAtomicLong: 8-byte big-endian");

    let counter = SharedCount::new(&env.client, "/c/shared");
    let seen = counter.get().await.unwrap();
    assert!(counter.compare_and_set(seen.version, 7).await.unwrap());
    assert!(!counter.compare_and_set(seen.version, 8).await.unwrap(), "a stale version is refused");
    assert_eq!(counter.get().await.unwrap().value, 7);
    counter.set(i32::MAX).await.unwrap();
    assert!(matches!(counter.add(1).await, Err(Error::InvalidArgument { .. })), "overflow is refused");
    // A node written by someone in another format is a clear error, not a wrong number.
    env.client.create("/c/text").persistent().data("12").await.unwrap();
    assert!(matches!(SharedCount::new(&env.client, "/c/text").get().await, Err(Error::Codec { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_refuse_and_a_watched_atom_follows() {
    let env = TestEnv::new().await;
    let atom = Atom::new(&env.client, "/bounded", 0i64).validator(|v| (0..=10).contains(v));
    assert_eq!(atom.get().await.unwrap().version, -1, "not created until written");
    let mut local = atom.watch().await.unwrap();
    assert_eq!(local.get().value, 0);
    atom.reset(5).await.unwrap();
    assert_eq!(within("the watched value", local.changed()).await.unwrap().value, 5);
    assert!(matches!(atom.swap(|v| v + 10).await, Err(Error::InvalidArgument { .. })));
    assert_eq!(atom.get().await.unwrap().value, 5, "a refused value is never written");
    let other = env.another_client().await;
    Atom::new(&other, "/bounded", 0i64).swap(|v| v + 1).await.unwrap();
    assert_eq!(within("another client's change", local.changed()).await.unwrap().value, 6);
}

/// A bank of accounts as refs; transfers move money between two of them, refusing overdrafts.
fn accounts() -> Vec<Ref<i64>> {
    (0..10).map(|i| Ref::new(format!("/bank/acct-{i}"), 1000i64)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_conserve_money_and_apply_exactly_once_through_dropped_connections() {
    let env = TestEnv::new().await;
    let proxy = Arc::new(FaultProxy::start(server().address()).expect("proxy"));
    const CLIENTS: usize = 8;
    const TRANSFERS: usize = 1000;
    // Every transfer that returned Ok, to recompute the balances from.
    let ledger = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for w in 0..CLIENTS {
        let (proxy, root, ledger, done) = (proxy.clone(), env.root.clone(), ledger.clone(), done.clone());
        workers.spawn(async move {
            let client = connect_through(&proxy, &root, Duration::from_secs(10)).await;
            let bank = accounts();
            let txn = Transaction::new(&client);
            let mut rng = fastrand::Rng::with_seed(w as u64);
            for _ in 0..TRANSFERS {
                let (from, to) = (rng.usize(0..10), rng.usize(0..9));
                let to = if to >= from { to + 1 } else { to };
                let amount = rng.i64(1..200);
                let (a, b) = (bank[from].clone(), bank[to].clone());
                let outcome = txn
                    .run(|tx| {
                        let (a, b) = (a.clone(), b.clone());
                        async move {
                            let balance = tx.get(&a).await?;
                            let other = tx.get(&b).await?;
                            // Consistent snapshot: no attempt ever sees money appear or vanish.
                            if balance < amount {
                                return Ok(false);
                            }
                            tx.set(&a, &(balance - amount)).await?;
                            tx.set(&b, &(other + amount)).await?;
                            Ok(true)
                        }
                    })
                    .await;
                match outcome {
                    Ok(true) => ledger.lock().unwrap().push((from, to, amount)),
                    Ok(false) => {}
                    Err(e) => panic!("a transfer failed: {e}"),
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            client.close().await.unwrap();
        });
    }
    // Drop every connection 50 times while the transfers run.
    let mut drops = 0;
    while drops < 50 && done.load(Ordering::SeqCst) < CLIENTS * TRANSFERS {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(30..150))).await;
        let p = proxy.clone();
        tokio::task::spawn_blocking(move || p.drop_connections()).await.unwrap();
        drops += 1;
    }
    while let Some(worker) = long("the transfers", workers.join_next()).await {
        worker.unwrap();
    }
    assert!(drops >= 40, "only {drops} connection drops happened during the run");
    eprintln!("{} transfers, {drops} dropped connections", CLIENTS * TRANSFERS);

    let mut expected = [1000i64; 10];
    for &(from, to, amount) in ledger.lock().unwrap().iter() {
        expected[from] -= amount;
        expected[to] += amount;
    }
    let mut actual = [0i64; 10];
    for (i, acct) in accounts().iter().enumerate() {
        let node = env.client.get_data(acct.path()).await.unwrap();
        actual[i] = i64::from_znode_bytes(node.bytes()).unwrap();
        assert!(actual[i] >= 0, "account {i} is negative");
    }
    assert_eq!(actual.iter().sum::<i64>(), 10_000, "money was created or destroyed");
    assert_eq!(actual, expected, "an acknowledged transfer was lost or applied twice");
    assert!(!ledger.lock().unwrap().is_empty());
    let markers = env.client.children("/zk-dsl-txn").await.unwrap_or_default();
    assert!(markers.is_empty(), "commit markers left behind: {markers:?}");
}
