//! The interop harness itself (tests/support/peers.rs, tests/peers/): real Curator 5.4 and kazoo
//! 2.11.0 contender processes against a real server, checked with the counter node and the
//! holder log. The recipes' own interop tests build on these contenders.
//!
//! Each JVM start costs about a second of a 2-core CI box, so each test starts at most two.

use suite::peers::{self, HolderLog, Peer};
use suite::{patience, TestEnv};

async fn counter(env: &TestEnv, path: &str) -> u64 {
    let data = env.client.get_data(path).await.expect("read the counter");
    std::str::from_utf8(data.bytes()).expect("ASCII counter").trim().parse().expect("decimal counter")
}

/// Waits for `DONE` and a clean exit from each peer and returns the holder log of all of them.
async fn finish(peers: &mut [&mut Peer]) -> HolderLog {
    let log = HolderLog::new();
    for p in peers.iter_mut() {
        let done = format!("^DONE {}$", p.id());
        p.expect_line_async(&done, patience() * 2).await;
        p.wait_success(patience());
        log.add_peer(p);
    }
    log
}

/// Two Curator InterProcessMutex processes, 50 acquisitions each, every holder doing a
/// read-sleep-write increment: no increment lost and no two holds overlapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_mutex_contenders_exclude_each_other() {
    let env = TestEnv::new().await;
    let spawn = |id: &str| {
        peers::curator_mutex(&env.connect_string, "/lock", id).iterations(50).counter("/counter").gate().spawn()
    };
    let (mut a, mut b) = (spawn("curator-a"), spawn("curator-b"));
    peers::start_together(&mut [&mut a, &mut b]);
    let log = finish(&mut [&mut a, &mut b]).await;
    log.assert_no_overlap();
    assert_eq!((log.acquisitions_by("curator-a"), log.acquisitions_by("curator-b")), (50, 50));
    assert_eq!(counter(&env, "/counter").await, 100, "an increment was lost: two holders at once");
    assert!(env.client.children("/lock").await.unwrap().is_empty(), "every lock node released");
}

/// The same with two kazoo Lock processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_lock_contenders_exclude_each_other() {
    let env = TestEnv::new().await;
    let spawn = |id: &str| {
        peers::kazoo_lock(&env.connect_string, "/lock", id).iterations(50).counter("/counter").gate().spawn()
    };
    let (mut a, mut b) = (spawn("kazoo-a"), spawn("kazoo-b"));
    peers::start_together(&mut [&mut a, &mut b]);
    let log = finish(&mut [&mut a, &mut b]).await;
    log.assert_no_overlap();
    assert_eq!((log.acquisitions_by("kazoo-a"), log.acquisitions_by("kazoo-b")), (50, 50));
    assert_eq!(counter(&env, "/counter").await, 100, "an increment was lost: two holders at once");
}

/// kazoo shares a lock with Curator only when configured both ways: it must see Curator's nodes
/// (`extra_lock_patterns=["-lock-"]`) and Curator must order kazoo's (a `-lock-` node name, which
/// kazoo has no option for: the contender subclasses `Lock`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_kazoo_configured_for_interop_exclude_each_other() {
    let env = TestEnv::new().await;
    let c = peers::curator_mutex(&env.connect_string, "/lock", "curator").iterations(50).counter("/counter").gate();
    let k = peers::kazoo_lock(&env.connect_string, "/lock", "kazoo")
        .extra_lock_patterns(&["-lock-"])
        .node_name("-lock-")
        .iterations(50)
        .counter("/counter")
        .gate();
    let (mut c, mut k) = (c.spawn(), k.spawn());
    peers::start_together(&mut [&mut c, &mut k]);
    let log = finish(&mut [&mut c, &mut k]).await;
    log.assert_no_overlap();
    assert_eq!((log.acquisitions_by("curator"), log.acquisitions_by("kazoo")), (50, 50));
    assert_eq!(counter(&env, "/counter").await, 100);
}

/// The known hazard (curator-kazoo.md §2.4), shown deterministically: a default kazoo Lock holds
/// the lock, and a default Curator InterProcessMutex on the same path acquires it too. kazoo's
/// `<hex>__lock__<seq>` has no `lock-`, so Curator sorts it by its whole name, after its own
/// `<seq>`; kazoo (no extra patterns) does not see `_c_<uuid>-lock-<seq>` at all. Two holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_curator_and_default_kazoo_both_hold_one_lock() {
    let env = TestEnv::new().await;
    let mut k = peers::kazoo_lock(&env.connect_string, "/lock", "kazoo").extra_lock_patterns(&[]).gate().hold().spawn();
    let mut c = peers::curator_mutex(&env.connect_string, "/lock", "curator").gate().hold().spawn();
    k.expect_line_async("^READY kazoo$", peers::startup_patience()).await;
    c.expect_line_async("^READY curator$", peers::startup_patience()).await;

    k.send("go");
    k.expect_line_async("^ACQUIRED kazoo ", patience()).await;
    c.send("go");
    // kazoo still holds (it waits for `release`), yet Curator acquires.
    c.expect_line_async("^ACQUIRED curator ", patience()).await;

    let names = env.client.children("/lock").await.unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    let curator_node = regex::Regex::new(r"^_c_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}-lock-\d{10}$").unwrap();
    let kazoo_node = regex::Regex::new(r"^[0-9a-f]{32}__lock__\d{10}$").unwrap();
    let curator_name = names.iter().find(|n| curator_node.is_match(n)).expect("Curator's node");
    let kazoo_name = names.iter().find(|n| kazoo_node.is_match(n)).expect("kazoo's node");
    for (name, id) in [(curator_name, "curator"), (kazoo_name, "kazoo")] {
        let data = env.client.get_data(format!("/lock/{name}").as_str()).await.unwrap();
        assert_eq!(data.bytes(), id.as_bytes(), "lock node data is the participant id");
    }

    for p in [&mut k, &mut c] {
        p.send("release");
    }
    let log = finish(&mut [&mut k, &mut c]).await;
    assert_eq!(log.overlaps().len(), 1, "the two holds overlap: {:?}", log.holds());
}

/// Two Curator LeaderLatch participants; the leader is bounced (latch and client closed, fresh
/// ones started) four times: leadership alternates, never two leaders at once, and both agree
/// on who leads after every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_latch_participants_agree_across_bounces() {
    let env = TestEnv::new().await;
    let mut a = peers::curator_latch(&env.connect_string, "/latch", "latch-a").spawn();
    a.expect_line_async("^LEADER latch-a ", peers::startup_patience()).await;
    let mut b = peers::curator_latch(&env.connect_string, "/latch", "latch-b").spawn();
    b.expect_line_async("^READY latch-b$", peers::startup_patience()).await;

    const BOUNCES: usize = 4;
    let (mut leader, mut follower) = (&mut a, &mut b);
    for _ in 0..BOUNCES {
        leader.send("bounce");
        leader.expect_line_async(&format!("^NOT_LEADER {} ", leader.id()), patience()).await;
        leader.expect_line_async("^BOUNCED ", patience()).await;
        follower.expect_line_async(&format!("^LEADER {} ", follower.id()), patience()).await;
        std::mem::swap(&mut leader, &mut follower);
        let leader_id = leader.id().to_owned();
        for p in [&mut *leader, &mut *follower] {
            p.send("who");
            p.expect_line_async("^PARTICIPANTS ", patience()).await;
            let has = p.expect_line_async("^HAS_LEADERSHIP ", patience()).await;
            assert_eq!(has.ends_with(" true"), p.id() == leader_id, "{has}");
            let leader_is = p.expect_line_async("^LEADER_IS ", patience()).await;
            assert_eq!(leader_is, format!("LEADER_IS {leader_id}"), "as {} sees it", p.id());
        }
    }
    let participants = env.client.children("/latch").await.unwrap();
    assert_eq!(participants.len(), 2, "{participants:?}");
    assert!(participants.iter().all(|n| n.starts_with("_c_") && n.contains("-latch-")), "{participants:?}");

    leader.quit(patience());
    follower.expect_line_async(&format!("^LEADER {} ", follower.id()), patience()).await;
    follower.quit(patience());
    let log = HolderLog::new();
    log.add_peer_leadership(&a);
    log.add_peer_leadership(&b);
    // The first leadership, one per bounce, and the follower's when the last leader quit.
    assert_eq!(log.acquisitions(), BOUNCES + 2, "{:?}", log.holds());
    log.assert_no_overlap();
}

/// The holder log's own rules, without processes.
#[test]
fn holder_log_finds_overlaps_but_not_between_readers() {
    let log = HolderLog::new();
    let n = log.add_lines([
        "READY a",
        "ACQUIRED a 100 write",
        "RELEASING a 200 write",
        "ACQUIRED b 200",
        "RELEASING b 300",
        "ACQUIRED c 310 read",
        "ACQUIRED d 320 read",
        "RELEASING c 400 read",
        "RELEASING d 410 read",
    ]);
    assert_eq!(n, 4);
    log.assert_no_overlap();
    log.record("rust", 405, 500);
    assert_eq!(log.overlaps().len(), 1, "a writer inside a reader's hold");
    log.add_lines(["ACQUIRED e 1000"]);
    assert_eq!(log.holds().last().unwrap().released_micros, u64::MAX);
    log.record("rust", 2000, 2001);
    assert_eq!(log.overlaps().len(), 2, "an open hold overlaps everything after it");
    assert_eq!(log.end_open_holds("e", 1500), 1);
    assert_eq!(log.overlaps().len(), 1);
    assert!(peers::now_micros() > 1_600_000_000_000_000);
}
