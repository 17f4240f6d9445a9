//! Barriers and queues against a real ZooKeeper: nobody passes a double barrier early (also
//! when a member dies), a barrier holds until lowered, queue items are delivered once each to
//! competing consumers, and an item whose consumer died is taken again.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suite::peers::now_micros;
use suite::{connect, eventually, server_watches, within, TestEnv};
use tokio::task::JoinSet;
use zk_dsl::recipes::{Barrier, DoubleBarrier, LockingQueue, SimpleQueue};
use zk_dsl::Error;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_rounds_let_nobody_through_early_even_when_a_member_dies() {
    let env = TestEnv::new().await;
    const MEMBERS: usize = 4;
    for round in 0..10 {
        let path = format!("/barrier/round-{round}");
        // (joined, entered, left-started, left) per member, on one clock.
        let times = Arc::new(Mutex::new(Vec::new()));
        let mut members = JoinSet::new();
        let victim = round % 3 == 1;
        for m in 0..MEMBERS {
            let (cs, path, times) = (env.connect_string.clone(), path.clone(), times.clone());
            members.spawn(async move {
                // Staggered arrivals, so early entry would show.
                tokio::time::sleep(Duration::from_millis(15 * m as u64)).await;
                let client = connect(&cs).await;
                let joined = now_micros();
                let member = DoubleBarrier::new(&client, path.as_str(), MEMBERS).enter().await.unwrap();
                let entered = now_micros();
                if victim && m == 0 {
                    // This member dies inside the barrier: its node goes with its session.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    times.lock().unwrap().push((m, joined, entered, now_micros(), now_micros()));
                    drop(member);
                    client.close().await.unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5 * (MEMBERS - m) as u64)).await;
                let leaving = now_micros();
                member.leave().await.unwrap();
                times.lock().unwrap().push((m, joined, entered, leaving, now_micros()));
                client.close().await.unwrap();
            });
        }
        while let Some(done) = within("a barrier round", members.join_next()).await {
            done.unwrap();
        }
        let times = times.lock().unwrap().clone();
        assert_eq!(times.len(), MEMBERS);
        let last_join = times.iter().map(|t| t.1).max().unwrap();
        let first_entry = times.iter().map(|t| t.2).min().unwrap();
        assert!(first_entry >= last_join, "round {round}: someone entered before all {MEMBERS} had joined");
        let last_leave_start = times.iter().map(|t| t.3).max().unwrap();
        let first_out = times.iter().filter(|t| !(victim && t.0 == 0)).map(|t| t.4).min().unwrap();
        assert!(first_out >= last_leave_start, "round {round}: someone left before everyone had started leaving");
        let left = env.client.children(path.as_str()).await.unwrap_or_default();
        assert!(left.is_empty(), "round {round}: {left:?} left behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_ready_node_lets_nobody_through() {
    let env = TestEnv::new().await;
    // A `ready` left by an earlier round whose members died.
    env.client.create_all("/stale/ready").persistent().await.unwrap();
    let barrier = DoubleBarrier::new(&env.client, "/stale", 2);
    assert!(matches!(barrier.enter_timeout(Duration::from_millis(300)).await, Err(Error::Timeout { .. })));
    let other = env.another_client().await;
    let second = DoubleBarrier::new(&other, "/stale", 2);
    let (a, b) = tokio::join!(barrier.enter(), second.enter());
    let (a, b) = (a.unwrap(), b.unwrap());
    let (x, y) = tokio::join!(a.leave(), b.leave());
    x.unwrap();
    y.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_holds_until_lowered() {
    let env = TestEnv::new().await;
    let barrier = Barrier::new(&env.client, "/gate/open");
    barrier.wait().await.unwrap(); // not up: no wait
    barrier.set().await.unwrap();
    assert!(matches!(barrier.wait_timeout(Duration::from_millis(100)).await, Err(Error::Timeout { .. })));
    let other = env.another_client().await;
    let session = other.session_id();
    let waiting = tokio::spawn(async move { Barrier::new(&other, "/gate/open").wait().await });
    // The waiter is waiting once the server holds its watch on the barrier.
    let gate = format!("{}/gate/open", env.root);
    eventually("the waiter to watch the barrier", || async {
        tokio::task::block_in_place(|| server_watches(session)).contains(&gate).then_some(())
    })
    .await;
    assert!(!waiting.is_finished());
    barrier.remove().await.unwrap();
    within("the waiter", waiting).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_items_reach_exactly_one_consumer_each() {
    let env = TestEnv::new().await;
    const PRODUCERS: usize = 2;
    const ITEMS: usize = 300;
    let taken = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    for c in 0..3 {
        let (cs, taken) = (env.connect_string.clone(), taken.clone());
        tasks.spawn(async move {
            let client = connect(&cs).await;
            let queue: SimpleQueue<String> = SimpleQueue::new(&client, "/q");
            loop {
                match queue.take_timeout(Duration::from_secs(2)).await {
                    Ok(item) if item == "stop" => break,
                    Ok(item) => taken.lock().unwrap().push((c, item)),
                    Err(e) => panic!("consumer {c}: {e}"),
                }
            }
            client.close().await.unwrap();
        });
    }
    let mut producers = JoinSet::new();
    for p in 0..PRODUCERS {
        let cs = env.connect_string.clone();
        producers.spawn(async move {
            let client = connect(&cs).await;
            let queue: SimpleQueue<String> = SimpleQueue::new(&client, "/q");
            for i in 0..ITEMS {
                queue.offer(&format!("p{p}-{i}")).await.unwrap();
            }
            client.close().await.unwrap();
        });
    }
    while let Some(done) = within("the producers", producers.join_next()).await {
        done.unwrap();
    }
    let queue: SimpleQueue<String> = SimpleQueue::new(&env.client, "/q");
    for _ in 0..3 {
        queue.offer(&"stop".to_string()).await.unwrap();
    }
    while let Some(done) = within("the consumers", tasks.join_next()).await {
        done.unwrap();
    }
    let taken = taken.lock().unwrap().clone();
    let unique: BTreeSet<&String> = taken.iter().map(|(_, item)| item).collect();
    assert_eq!(taken.len(), PRODUCERS * ITEMS, "items duplicated or lost");
    assert_eq!(unique.len(), PRODUCERS * ITEMS);
    assert!(queue.is_empty().await.unwrap());
    // Curator's layout: qn-<seq> nodes with the raw bytes.
    queue.offer(&"raw".to_string()).await.unwrap();
    let names = env.client.children("/q").await.unwrap();
    assert!(names.len() == 1 && names[0].starts_with("qn-") && names[0].len() == 13, "{names:?}");
    assert_eq!(env.client.get_data(format!("/q/{}", names[0])).await.unwrap().bytes(), b"raw");
    assert_eq!(queue.peek().await.unwrap().as_deref(), Some("raw"));
    assert_eq!(queue.poll().await.unwrap().as_deref(), Some("raw"));
    assert_eq!(queue.poll().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_whose_consumer_died_is_taken_by_another() {
    let env = TestEnv::new().await;
    let producer: LockingQueue<String> = LockingQueue::new(&env.client, "/work");
    producer.put(&"later".to_string(), 500).await.unwrap();
    producer.put_all(&["first".to_string(), "second".to_string()], 10).await.unwrap();

    let doomed = env.another_client().await;
    let crashing: LockingQueue<String> = LockingQueue::new(&doomed, "/work");
    let held = crashing.get().await.unwrap();
    assert_eq!(held.item(), "first", "lower priority numbers first, then arrival order");
    let survivor_client = env.another_client().await;
    let survivor: LockingQueue<String> = LockingQueue::new(&survivor_client, "/work");
    let second = survivor.get().await.unwrap();
    assert_eq!(second.item(), "second", "a held item is skipped");
    assert_eq!(second.consume().await.unwrap(), "second");

    // The first consumer dies mid-item: its marker goes with its session.
    drop(held);
    doomed.close().await.unwrap();
    let again = within("the orphaned item", survivor.get()).await.unwrap();
    assert_eq!(again.item(), "first", "taken again after its consumer died");
    again.consume().await.unwrap();
    let last = survivor.get().await.unwrap();
    assert_eq!(last.item(), "later");
    last.release().await.unwrap();
    assert_eq!(survivor.len().await.unwrap(), 1, "a released item stays");
    survivor.get().await.unwrap().consume().await.unwrap();
    assert!(survivor.is_empty().await.unwrap());
    assert!(matches!(survivor.get_timeout(Duration::from_millis(100)).await, Err(Error::Timeout { .. })));
}
