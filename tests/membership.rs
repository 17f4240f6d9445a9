//! Group membership: Curator's `GroupMember` layout (members as a map and a stream of joins,
//! updates and leaves) and kazoo's `Party` / `ShallowParty` layouts, between zk-dsl clients.

use std::collections::BTreeMap;

use bytes::Bytes;
use suite::{within, TestEnv};
use zk_dsl::recipes::{GroupMember, MemberEvent, Membership, Party};
use zk_dsl::Error;

/// The next event that is not a connection marker.
async fn next_change(member: &mut Membership) -> MemberEvent {
    loop {
        match within("a membership change", member.next()).await {
            Some(MemberEvent::Initialized | MemberEvent::Disconnected | MemberEvent::Reconnected) => {}
            Some(event) => return event,
            None => panic!("the membership stream ended"),
        }
    }
}

fn joined(id: &str, payload: &str) -> MemberEvent {
    MemberEvent::Joined { id: id.into(), payload: Bytes::copy_from_slice(payload.as_bytes()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_see_each_other_join_update_and_leave() {
    let env = TestEnv::new().await;
    let mut a = GroupMember::new(&env.client, "/groups/g", "a").payload("pa").start().await.unwrap();
    assert_eq!(next_change(&mut a).await, joined("a", "pa"), "a member hears itself join");

    let other = env.another_client().await;
    let mut b = GroupMember::new(&other, "/groups/g", "b").payload("pb").start().await.unwrap();
    assert_eq!(next_change(&mut a).await, joined("b", "pb"));
    let expected: BTreeMap<String, Bytes> =
        [("a".to_owned(), Bytes::from_static(b"pa")), ("b".to_owned(), Bytes::from_static(b"pb"))].into();
    assert_eq!(a.members(), expected);
    let mut seen_by_b = Vec::new();
    while seen_by_b.len() < 2 {
        seen_by_b.push(next_change(&mut b).await);
    }
    seen_by_b.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(seen_by_b, [joined("a", "pa"), joined("b", "pb")], "b's stream starts with everyone present");
    assert_eq!(b.members(), expected);

    b.set_payload("pb2").await.unwrap();
    assert_eq!(next_change(&mut a).await, MemberEvent::Updated { id: "b".into(), payload: Bytes::from_static(b"pb2") });
    b.close().await.unwrap();
    assert_eq!(next_change(&mut a).await, MemberEvent::Left { id: "b".into() });
    assert_eq!(a.members().keys().collect::<Vec<_>>(), ["a"]);

    // A member whose session ends leaves too.
    let third = env.another_client().await;
    let c = GroupMember::new(&third, "/groups/g", "c").start().await.unwrap();
    assert_eq!(next_change(&mut a).await, joined("c", ""));
    third.close().await.unwrap();
    assert_eq!(next_change(&mut a).await, MemberEvent::Left { id: "c".into() });
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_member_ids_must_be_node_names() {
    let env = TestEnv::new().await;
    for bad in ["", "a/b", ".."] {
        let refused = GroupMember::new(&env.client, "/g", bad).start().await;
        assert!(matches!(refused, Err(Error::InvalidArgument { .. })), "{bad:?}: {refused:?}");
    }
    let refused = Party::new(&env.client, "/p", "a/b").shallow().join().await;
    assert!(matches!(refused, Err(Error::InvalidArgument { .. })), "{refused:?}");
    assert!(env.client.children("/").await.unwrap().is_empty(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_list_their_members_in_both_kazoo_layouts() {
    let env = TestEnv::new().await;
    let other = env.another_client().await;
    for shallow in [false, true] {
        let path = if shallow { "/shallow-party" } else { "/party" };
        let party = |client, id: &str| {
            let party = Party::new(client, path, id);
            if shallow {
                party.shallow()
            } else {
                party
            }
        };
        assert_eq!(party(&env.client, "x").members().await.unwrap(), Vec::<String>::new(), "no party node yet");
        let web = party(&env.client, "web-1").join().await.unwrap();
        let worker = party(&other, "worker-2").join().await.unwrap();
        let names = env.client.children(path).await.unwrap();
        for name in &names {
            let (uuid, rest) = name.split_at(32);
            assert!(uuid.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
            if shallow {
                assert!(rest == "-web-1" || rest == "-worker-2", "{name}");
            } else {
                assert_eq!(rest, "__party__", "{name}");
            }
        }
        let mut members = party(&env.client, "x").members().await.unwrap();
        members.sort();
        assert_eq!(members, ["web-1", "worker-2"], "shallow: {shallow}");
        assert_eq!(party(&other, "x").count().await.unwrap(), 2);
        worker.leave().await.unwrap();
        assert_eq!(party(&env.client, "x").members().await.unwrap(), ["web-1"], "shallow: {shallow}");
        drop(web);
    }
}
