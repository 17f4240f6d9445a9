//! Leadership shared with real Curator processes: zk-dsl `LeaderLatch` participants and Curator
//! `LeaderLatch` participants in one election. Over 50 leader losses exactly one leads at a time
//! (every term of both sides recorded on one clock), and both sides agree who leads: Curator's
//! `getLeader()` and zk-dsl's `leader()` name the same participant, and only that participant
//! says it leads.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use suite::latch::Participant;
use suite::peers::{curator_latch, now_micros, startup_patience, HolderLog, Peer};
use suite::{patience, server, unique};
use zk_dsl::recipes::LeaderLatch;

/// Asks a Curator participant who leads; returns (Curator's leader id, whether it leads itself).
async fn ask(peer: &mut Peer) -> (String, bool) {
    peer.send("who");
    let has = peer.expect_line_async(r"^HAS_LEADERSHIP \S+ (true|false)$", patience()).await;
    let is = peer.expect_line_async(r"^LEADER_IS \S+$", patience()).await;
    (is.rsplit(' ').next().unwrap_or("-").to_owned(), has.ends_with("true"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_curator_latches_agree_on_one_leader_over_fifty_leader_losses() {
    let cs = server().connect_string();
    let path = format!("/{}", unique("mixed-latch"));
    let log = HolderLog::new();
    let mut curators: Vec<Peer> = (0..2).map(|i| curator_latch(&cs, &path, &format!("curator-{i}")).spawn()).collect();
    for peer in &mut curators {
        peer.expect_line_async(r"^READY ", startup_patience()).await;
    }
    let mut rusts = Vec::new();
    for i in 0..2 {
        rusts.push(Participant::join(&cs, &path, &format!("rust-{i}"), &log).await);
    }
    let observer = suite::connect(&cs).await;
    let mut joined = 2;
    let mut led = std::collections::BTreeSet::new();

    for round in 0..50 {
        // The leader on the server, once it has settled: the first participant, recognised by
        // both sides (Curator asks getLeader(), zk-dsl reads the same node).
        let deadline = Instant::now() + patience();
        let leader = loop {
            let latch = LeaderLatch::new(&observer, path.as_str());
            let on_server = latch.clone().start().await.expect("observe");
            let first = on_server.leader().await.expect("leader").map(|p| p.id_str().into_owned());
            on_server.close().await.expect("close the observer's latch");
            let (curator_view, _) = ask(&mut curators[0]).await;
            let rust_claims: Vec<&str> =
                rusts.iter().filter(|r| r.leading.load(Ordering::SeqCst)).map(|r| r.id.as_str()).collect();
            assert!(rust_claims.len() <= 1, "round {round}: several zk-dsl leaders {rust_claims:?}");
            if let Some(first) = first.filter(|f| *f == curator_view) {
                let settled = if first.starts_with("rust-") {
                    rust_claims == [first.as_str()]
                } else {
                    rust_claims.is_empty()
                        && ask(curators.iter_mut().find(|c| c.id() == first).expect("a curator participant")).await.1
                };
                if settled {
                    break first;
                }
            }
            assert!(Instant::now() < deadline, "round {round}: the sides do not agree on a leader");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        led.insert(leader.clone());
        // The leader loses its session; it rejoins at the back of the line.
        if let Some(at) = rusts.iter().position(|r| r.id == leader) {
            rusts.remove(at).resign().await;
            joined += 1;
            rusts.push(Participant::join(&cs, &path, &format!("rust-{joined}"), &log).await);
        } else {
            let peer = curators.iter_mut().find(|c| c.id() == leader).expect("a curator participant");
            peer.send("bounce");
            peer.expect_line_async(r"^BOUNCED ", startup_patience()).await;
        }
    }
    for r in rusts {
        r.resign().await;
    }
    let end = now_micros();
    for mut peer in curators {
        peer.quit(patience());
        log.add_peer_leadership(&peer);
        log.end_open_holds(peer.id(), end);
    }
    log.assert_no_overlap();
    assert!(log.acquisitions() >= 50, "{} terms", log.acquisitions());
    assert!(led.iter().any(|l| l.starts_with("rust-")) && led.iter().any(|l| l.starts_with("curator-")), "{led:?}");
}
