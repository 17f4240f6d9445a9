//! Group membership shared with real peers: a zk-dsl `GroupMember` and Curator 5.4's
//! `GroupMember` in one group, and zk-dsl `Party` members in kazoo 2.11.0's `Party` and
//! `ShallowParty`. Each side sees the other join, and leave when it closes its session.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use suite::peers::{self, startup_patience, Peer};
use suite::{patience, within, TestEnv};
use zk_dsl::recipes::{GroupMember, MemberEvent, Membership, Party};

/// Asks `peer` for its members (`who`) until the answer is `expected`.
async fn peer_sees(peer: &mut Peer, expected: &str) {
    let deadline = tokio::time::Instant::now() + patience();
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        peer.send("who");
        last = peer.expect_line_async(&format!("^MEMBERS {} ", peer.id()), patience()).await;
        if last == format!("MEMBERS {} {expected}", peer.id()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} never saw {expected:?}; last said {last:?}", peer.id());
}

/// Waits until `member`'s view is `expected` (id → payload).
async fn member_sees(member: &mut Membership, expected: &[(&str, &str)]) {
    let expected: BTreeMap<String, Bytes> =
        expected.iter().map(|(id, payload)| (id.to_string(), Bytes::copy_from_slice(payload.as_bytes()))).collect();
    while member.members() != expected {
        match within("a membership change", member.next()).await {
            Some(_) => {}
            None => panic!("the membership stream ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_curator_group_members_see_each_other_come_and_go() {
    peers::ensure_available();
    let env = TestEnv::new().await;
    let connect = env.connect_string.clone();
    let mut java = peers::curator_group_member(&connect, "/group", "java", "from-java").spawn();
    java.expect_line_async("^READY java", startup_patience()).await;

    let mut rust = GroupMember::new(&env.client, "/group", "rust").payload("from-rust").start().await.unwrap();
    member_sees(&mut rust, &[("java", "from-java"), ("rust", "from-rust")]).await;
    peer_sees(&mut java, "java=from-java,rust=from-rust").await;

    // Rust's payload changes reach Curator's cache.
    rust.set_payload("updated").await.unwrap();
    peer_sees(&mut java, "java=from-java,rust=updated").await;

    // Curator's member quits (closing its session): it leaves Rust's view of the group. (The
    // stream reports it as `Left` only if it reported it as `Joined`: `member_sees` may have
    // stopped reading before the load's events reached it.) Should the close not reach the
    // server before the JVM exits, the session's timeout (10 s) removes the node.
    java.send("quit");
    java.wait_success(patience());
    let leaving = async {
        while rust.members().contains_key("java") {
            match rust.next().await {
                Some(MemberEvent::Left { id }) => assert_eq!(id, "java"),
                Some(_) => {}
                None => panic!("the membership stream ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10) + patience(), leaving).await.expect("the Curator member leaving");
    assert_eq!(rust.members().keys().collect::<Vec<_>>(), ["rust"]);

    // A new Curator member sees the Rust member, then sees it leave.
    let mut java2 = peers::curator_group_member(&connect, "/group", "java2", "").spawn();
    java2.expect_line_async("^READY java2", startup_patience()).await;
    peer_sees(&mut java2, "java2=,rust=updated").await;
    rust.close().await.unwrap();
    peer_sees(&mut java2, "java2=").await;
    java2.send("quit");
    java2.wait_success(patience());
}

async fn party_with_kazoo(shallow: bool) {
    peers::ensure_available();
    let env = TestEnv::new().await;
    let connect = env.connect_string.clone();
    let mut py = peers::kazoo_party(&connect, "/party", "py-1", shallow).spawn();
    py.expect_line_async("^READY py-1", startup_patience()).await;

    let rust_party = |id: &str| {
        let party = Party::new(&env.client, "/party", id);
        if shallow {
            party.shallow()
        } else {
            party
        }
    };
    let me = rust_party("rs-1").join().await.unwrap();
    let mut members = rust_party("rs-1").members().await.unwrap();
    members.sort();
    assert_eq!(members, ["py-1", "rs-1"], "zk-dsl lists the kazoo member (shallow: {shallow})");
    peer_sees(&mut py, "py-1,rs-1").await;

    me.leave().await.unwrap();
    peer_sees(&mut py, "py-1").await;
    py.send("leave");
    py.expect_line_async("^LEFT py-1", patience()).await;
    assert_eq!(rust_party("rs-1").members().await.unwrap(), Vec::<String>::new());
    py.send("quit");
    py.wait_success(patience());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_kazoo_share_a_party() {
    party_with_kazoo(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_kazoo_share_a_shallow_party() {
    party_with_kazoo(true).await;
}
