//! Frame limits and option checks against a real ZooKeeper: the write limit is the server's
//! `jute.maxbuffer`, the read limit is separate and larger, so every node the client can write it
//! can read back and a 200,000-child listing works; a reply over the read limit fails only its
//! own request; nonsense options are refused when the client is built.

use std::time::Duration;

use suite::{patience, server, within, TestEnv};
use zk_dsl::proto::{OpCode, DEFAULT_MAX_PACKET};
use zk_dsl::{Client, CreateMode, Error, SessionState};

fn assert_invalid_argument(result: Result<Client, Error>, what: &str) {
    match result {
        Err(Error::InvalidArgument { op: Some(OpCode::CreateSession), reason, .. }) => {
            assert!(!reason.is_empty(), "{what}: the reason is given");
        }
        Err(other) => panic!("{what}: expected InvalidArgument, got {other:?}"),
        Ok(_) => panic!("{what}: accepted"),
    }
}

/// Nonsense options fail at once with `InvalidArgument` (a zero packet limit used to wait out
/// the whole connect timeout and report `Timeout`): `start()` refuses them before any task
/// starts, and so does awaiting the builder.
#[tokio::test]
async fn nonsense_connect_options_are_refused_at_once() {
    let cs = server().connect_string();
    let base = || Client::connect(cs.as_str()).connect_timeout(patience());
    let cases: Vec<(&str, zk_dsl::Connect)> = vec![
        ("max_packet(0)", base().max_packet(0)),
        ("max_packet(100)", base().max_packet(100)),
        ("max_packet(usize::MAX)", base().max_packet(usize::MAX)),
        ("max_read_packet below the write limit", base().max_read_packet(DEFAULT_MAX_PACKET)),
        ("max_read_packet(0)", base().max_read_packet(0)),
        ("max_read_packet over i32::MAX", base().max_packet(4096).max_read_packet(1 << 40)),
        ("session_timeout(0)", base().session_timeout(Duration::ZERO)),
        ("session_timeout(MAX)", base().session_timeout(Duration::MAX)),
        ("connect_timeout(0)", Client::connect(cs.as_str()).connect_timeout(Duration::ZERO)),
        ("attempt_timeout(0)", base().attempt_timeout(Duration::ZERO)),
        ("timeout(0)", base().timeout(Duration::ZERO)),
    ];
    for (what, options) in cases {
        assert_invalid_argument(options.start(), what);
    }
    assert_invalid_argument(base().max_packet(0).await, "max_packet(0), awaited");
    assert_invalid_argument(Client::connect(" , ").start(), "no hosts");
    // The edges that make sense are accepted.
    let fine = base().max_packet(1024).max_read_packet(1024 + 128).await.expect("the smallest limits connect");
    fine.exists("/").await.unwrap();
    fine.close().await.unwrap();
}

/// The largest `set_data` the client sends (its frame exactly `jute.maxbuffer`) is read back by
/// `get_data`, whose reply is 67 bytes larger (reply header and Stat). One byte more is refused
/// before sending.
#[tokio::test]
async fn every_node_the_client_can_write_it_can_read_back() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/big").persistent().await.unwrap();
    // setData frame: header 8, path (4 + length, chrooted), data (4 + length), version 4.
    let server_path = format!("{}/big", env.root);
    let largest = DEFAULT_MAX_PACKET - 20 - server_path.len();
    let refused = c.set_data("/big", &vec![1u8; largest + 1][..]).await;
    assert!(matches!(refused, Err(Error::InvalidArgument { .. })), "one byte over the write limit: {refused:?}");
    let data: Vec<u8> = (0..largest).map(|i| (i % 251) as u8).collect();
    c.set_data("/big", &data[..]).await.expect("the server takes a frame of exactly jute.maxbuffer");
    let read = c.get_data("/big").await.expect("what was written can be read back");
    assert_eq!(read.stat.data_length as usize, largest);
    assert!(read.bytes() == data.as_slice(), "the data came back intact");
}

/// A listing of 200,000 children (about 2.2 MB, twice `jute.maxbuffer`) succeeds with the default
/// read limit, and `delete_all` removes them. Everything is pipelined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_of_200000_children_is_read_and_deleted() {
    const CHILDREN: usize = 200_000;
    const PER_TXN: usize = 1000;
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/wide").persistent().await.unwrap();
    // Transactions of 1,000 creates (about 20 KB each), all in flight at once.
    let txns: Vec<_> = (0..CHILDREN)
        .step_by(PER_TXN)
        .map(|start| {
            (start..start + PER_TXN)
                .fold(c.transaction(), |txn, i| txn.create(format!("/wide/n{i:06}"), "", CreateMode::Persistent))
                .send()
        })
        .collect();
    for txn in txns {
        within("a transaction of creates", txn).await.expect("create children");
    }
    let names = within("the listing", c.children("/wide")).await.expect("a 2.2 MB listing is within the read limit");
    assert_eq!(names.len(), CHILDREN);
    assert!(names.iter().all(|n| n.len() == 7 && n.starts_with('n')));
    let stat = c.exists("/wide").await.unwrap().expect("still there");
    assert_eq!(stat.num_children as usize, CHILDREN);
    tokio::time::timeout(patience() * 6, c.delete_all("/wide"))
        .await
        .expect("delete_all finishes")
        .expect("delete_all of 200,000 children");
    assert_eq!(c.exists("/wide").await.unwrap(), None);
}

/// Replies over a small read limit fail only their own requests, with the op, path and exact
/// size; requests before, between and after them succeed on the same connection and session.
#[tokio::test]
async fn a_reply_over_the_read_limit_fails_only_its_request() {
    const LIMIT: usize = 8192;
    let env = TestEnv::new().await;
    let c = &env.client;
    let fat = vec![b'x'; 20_000];
    c.create("/fat").persistent().data(&fat[..]).await.unwrap();
    c.create("/kids").persistent().await.unwrap();
    let kids: Vec<_> = (0..1000).map(|i| c.create(format!("/kids/kid-{i:06}")).persistent().send()).collect();
    for kid in kids {
        kid.await.unwrap();
    }
    c.create("/small").persistent().data("tiny").await.unwrap();

    let small = Client::connect(env.connect_string.as_str())
        .max_packet(4096)
        .max_read_packet(LIMIT)
        .connect_timeout(patience())
        .await
        .expect("connect with a small read limit");
    let id = small.session_id();
    let mut events = small.session_events();
    let before = small.exists("/fat").send();
    let too_much_data = small.get_data("/fat").send();
    let between = small.get_data("/small").send();
    let too_many_kids = small.children("/kids").send();
    let after = small.exists("/kids").send();

    assert_eq!(within("exists", before).await.unwrap().unwrap().data_length, 20_000);
    // Reply header 16, data 4 + 20,000, Stat 68.
    match within("the fat read", too_much_data).await {
        Err(Error::ReplyTooLarge { op: OpCode::GetData, path, size: 20_088, limit: LIMIT }) => assert_eq!(path, "/fat"),
        other => panic!("expected ReplyTooLarge for GetData /fat of 20,088 bytes: {other:?}"),
    }
    assert_eq!(within("the small read", between).await.unwrap().bytes(), b"tiny");
    // Reply header 16, a vector of 1000 names (4 + 10 bytes each), Stat 68.
    let listing = 16 + 4 + 1000 * 14 + 68;
    match within("the big listing", too_many_kids).await {
        Err(e @ Error::ReplyTooLarge { .. }) => {
            assert_eq!(e.path(), Some("/kids"));
            assert!(e.to_string().contains(&format!("reply of {listing} bytes")), "{e}");
            assert!(!e.is_retryable() && !e.is_session_terminal());
        }
        other => panic!("expected ReplyTooLarge for the listing: {other:?}"),
    }
    assert_eq!(within("exists", after).await.unwrap().unwrap().num_children, 1000);
    small.set_data("/small", "still fine").await.unwrap();
    assert_eq!(small.state(), SessionState::Connected);
    assert_eq!(small.session_id(), id);
    small.close().await.unwrap();
    assert_eq!(within("Closed", events.next()).await, Some(zk_dsl::SessionEvent::Closed), "no disconnect before");
}
