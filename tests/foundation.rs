//! The foundation against a real ZooKeeper: every basic operation, pipelining and ordering,
//! special node kinds, transactions and path rules.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use suite::{within, TestEnv};
use zk_dsl::proto::{ErrorCode, OpCode, PathError};
use zk_dsl::{Acl, Client, CreateMode, Error, OpResult, ReadResult, Stat};

#[tokio::test]
async fn basic_operations_round_trip_with_correct_stats() {
    let env = TestEnv::new().await;
    let c = &env.client;

    let (path, created) = c.create("/node").persistent().data("hello").with_stat().await.unwrap();
    assert_eq!(path, "/node");
    assert_eq!(created.version, 0);
    assert_eq!(created.data_length, 5);
    assert_eq!(created.num_children, 0);
    assert_eq!(created.ephemeral_owner, 0);
    assert_eq!(created.czxid, created.mzxid);
    assert!(created.ctime > 0 && created.ctime == created.mtime);

    let got = c.get_data("/node").await.unwrap();
    assert_eq!(got.bytes(), b"hello");
    assert_eq!(got.stat, created);

    let set = c.set_data("/node", "bye!!!").version(0).await.unwrap();
    assert_eq!(set.version, 1);
    assert_eq!(set.data_length, 6);
    assert!(set.mzxid > created.mzxid);
    assert_eq!(set.czxid, created.czxid);
    assert!(matches!(
        c.set_data("/node", "x").version(0).await,
        Err(Error::BadVersion { op: OpCode::SetData, ref path }) if path == "/node"
    ));

    assert_eq!(c.exists("/node").await.unwrap(), Some(set));
    assert_eq!(c.exists("/missing").await.unwrap(), None);

    c.create("/node/b").persistent().await.unwrap();
    c.create("/node/a").await.unwrap(); // ephemeral by default, as in the seed
    let (mut names, parent) = c.children("/node").with_stat().await.unwrap();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(parent.num_children, 2);
    assert_eq!(parent.cversion, 2);
    let eph = c.exists("/node/a").await.unwrap().unwrap();
    assert_eq!(eph.ephemeral_owner, c.session_id());

    assert!(matches!(c.delete("/node").await, Err(Error::NotEmpty { .. })));
    c.delete("/node/a").await.unwrap();
    c.delete("/node/b").version(0).await.unwrap();
    assert!(matches!(c.delete("/node/b").await, Err(Error::NoNode { op: OpCode::Delete, .. })));
    assert!(matches!(c.get_data("/node/b").await, Err(Error::NoNode { op: OpCode::GetData, .. })));
    assert!(matches!(c.create("/node").await, Err(Error::NodeExists { op: OpCode::Create2, .. })));
    assert!(matches!(c.create("/nope/child").await, Err(Error::NoNode { .. })));

    // Null data reads back as None; empty data as Some(empty).
    c.create("/null").await.unwrap();
    assert_eq!(c.get_data("/null").await.unwrap().data, None);
    c.create("/empty").bytes(Vec::new()).await.unwrap();
    assert_eq!(c.get_data("/empty").await.unwrap().data.as_deref(), Some(&b""[..]));
}

#[tokio::test]
async fn sequential_names_and_sync() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/q").persistent().await.unwrap();
    let first = c.create("/q/job-").sequential().await.unwrap();
    let second = c.create("/q/job-").persistent().sequential().await.unwrap();
    assert_eq!(first, "/q/job-0000000000");
    assert_eq!(second, "/q/job-0000000001");
    // A trailing slash is a valid sequential prefix.
    assert_eq!(c.create("/q/").sequential().await.unwrap(), "/q/0000000002");
    c.sync("/q").await.unwrap();
    assert_eq!(c.get_all_children_number("/q").await.unwrap(), 3);
    let mut eph = c.get_ephemerals("/q").await.unwrap();
    eph.sort();
    assert_eq!(eph, ["/q/0000000002", "/q/job-0000000000"]);
}

#[tokio::test]
async fn a_thousand_pipelined_requests_complete_in_dispatch_order() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/p").persistent().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::with_capacity(1000)));
    let mut handles = Vec::with_capacity(1000);
    for i in 0..1000usize {
        let order = order.clone();
        let call = c.create(format!("/p/n-{i:04}")).data(&(i as i32));
        // Mix futures and callbacks: completion order must follow dispatch order for both.
        let handle = if i % 2 == 0 {
            call.callback(move |r| {
                assert!(r.is_ok(), "{r:?}");
                order.lock().unwrap().push(i);
            })
        } else {
            call.send()
        };
        handles.push(handle);
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(within("pipelined create", h).await.unwrap(), format!("/p/n-{i:04}"));
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(order, (0..1000).step_by(2).collect::<Vec<_>>(), "callbacks ran in dispatch order");
    let (children, stat) = c.children("/p").with_stat().await.unwrap();
    assert_eq!(children.len(), 1000);
    // The server applied them in dispatch order too: data i was written i-th.
    assert_eq!(stat.cversion, 1000);
    let last = c.get_data("/p/n-0999").await.unwrap();
    let first = c.get_data("/p/n-0000").await.unwrap();
    assert!(last.stat.czxid > first.stat.czxid);
    assert_eq!(last.decode::<i32>().unwrap(), 999);
}

#[tokio::test]
async fn containers_and_ttl_nodes_are_collected_by_the_server() {
    // ZooKeeper 3.8 reports ephemeralOwner 0 for containers (DataNode.getClientEphemeralOwner
    // hides non-session owners), so the proof that opcode 19 made a container is the server's
    // container manager deleting it once its last child is gone. A plain persistent node (what
    // create with flag 4 through opcode 1 makes) stays.
    let server = zk_dsl::testing::ZkServer::builder()
        .system_property("znode.container.checkIntervalMs", "100")
        .extended_types(true)
        .start()
        .expect("server");
    let c = suite::connect(&server.connect_string()).await;
    let root = format!("/{}", suite::unique("containers"));
    c.create(root.as_str()).persistent().await.unwrap();
    let container = format!("{root}/box");
    let plain = format!("{root}/plain");
    let ttl = format!("{root}/ttl");
    c.create(container.as_str()).container().await.unwrap();
    c.create(plain.as_str()).persistent().await.unwrap();
    c.create(ttl.as_str()).ttl(Duration::from_millis(200)).await.unwrap();
    for parent in [&container, &plain] {
        c.create(format!("{parent}/kid")).await.unwrap();
        c.delete(format!("{parent}/kid")).await.unwrap();
    }
    suite::eventually("the container manager to delete the empty container and the expired TTL node", || async {
        let container_gone = c.exists(container.as_str()).await.unwrap().is_none();
        (container_gone && c.exists(ttl.as_str()).await.unwrap().is_none()).then_some(())
    })
    .await;
    assert!(c.exists(plain.as_str()).await.unwrap().is_some(), "a persistent node is not collected");
    c.close().await.unwrap();
}

#[tokio::test]
async fn ttl_nodes_are_validated_and_created() {
    let env = TestEnv::new().await;
    let c = &env.client;
    // The shared test server runs with extended types on: TTL nodes work. (3.8 reports their
    // ephemeralOwner as 0, like a persistent node's.)
    let (path, stat) = c.create("/ttl").ttl(Duration::from_secs(60)).with_stat().await.unwrap();
    assert_eq!(path, "/ttl");
    assert!(!stat.is_ephemeral());
    let seq = c.create("/ttl-").persistent().sequential().ttl(Duration::from_secs(60)).await.unwrap();
    assert_eq!(seq, "/ttl-0000000001");
    assert!(matches!(
        c.create("/bad-ttl").ttl(Duration::ZERO).await,
        Err(Error::InvalidArgument { op: Some(OpCode::CreateTtl), .. })
    ));
    assert!(matches!(
        c.create("/eph-ttl").ttl(Duration::from_secs(1)).ephemeral().await,
        Err(Error::InvalidArgument { .. })
    ));
}

#[tokio::test]
async fn ttl_without_extended_types_is_unimplemented() {
    let server = zk_dsl::testing::ZkServer::start().expect("server");
    let c = suite::connect(&server.connect_string()).await;
    let err = c.create(format!("/{}", suite::unique("ttl"))).ttl(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, Error::Server { code: ErrorCode::Unimplemented, op: OpCode::CreateTtl, .. }), "{err:?}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn transactions_apply_atomically_and_name_the_failing_op() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/t").persistent().data("v0").await.unwrap();

    let results = c
        .transaction()
        .create("/t/a", "A", CreateMode::Persistent)
        .create_with("/t/s-", |o| o.persistent().sequential().data("S"))
        .set_data("/t", "v1", 0)
        .check("/t", 1)
        .delete("/t/a", 0)
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    // ZooKeeper 3.8 sends no Stat for a create inside a transaction; none is invented (an
    // all-zero Stat would claim czxid 0). A server that does send one gets the real one.
    match &results[0] {
        OpResult::Created { path, stat } => {
            assert_eq!(path, "/t/a");
            if let Some(stat) = stat {
                assert!(stat.czxid > 0, "an invented Stat: {stat:?}");
            }
        }
        other => panic!("not a create result: {other:?}"),
    }
    assert!(matches!(&results[1], OpResult::Created { path, .. } if path == "/t/s-0000000001"));
    assert!(matches!(&results[2], OpResult::DataSet { stat } if stat.version == 1));
    assert_eq!(results[3], OpResult::Checked);
    assert_eq!(results[4], OpResult::Deleted);

    // Op 1 fails (node exists): nothing is applied, and the error says which op and why.
    let err = c
        .transaction()
        .create("/t/new", "x", CreateMode::Persistent)
        .create("/t", "dup", CreateMode::Persistent)
        .set_data("/t", "v2", -1)
        .await
        .unwrap_err();
    match &err {
        Error::TransactionFailed { index: 1, source } => {
            assert!(matches!(&**source, Error::NodeExists { op: OpCode::Create2, path } if path == "/t"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), Some(ErrorCode::NodeExists));
    assert_eq!(c.exists("/t/new").await.unwrap(), None, "rolled back");
    assert_eq!(c.get_data("/t").await.unwrap().bytes(), b"v1");

    // A failed version check.
    let err = c.transaction().check("/t", 7).delete("/t", -1).await.unwrap_err();
    assert!(
        matches!(err, Error::TransactionFailed { index: 0, ref source } if matches!(**source, Error::BadVersion { .. }))
    );
}

#[tokio::test]
async fn multi_read_reports_each_read_on_its_own() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/r").persistent().data("data").await.unwrap();
    c.create("/r/kid").await.unwrap();
    let results = c.multi_read().get_data("/r").get_children("/r").get_data("/missing").await.unwrap();
    assert!(matches!(&results[0], ReadResult::Data(d) if d.bytes() == b"data"));
    assert!(matches!(&results[1], ReadResult::Children(k) if k == &["kid".to_string()]));
    assert!(matches!(&results[2], ReadResult::Error(Error::NoNode { path, .. }) if path == "/missing"));
}

#[tokio::test]
async fn acls_and_auth() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/open").persistent().await.unwrap();
    let (acl, stat) = c.get_acl("/open").await.unwrap();
    assert_eq!(acl, Acl::open_unsafe());
    assert_eq!(stat.aversion, 0);
    let stat = c.set_acl("/open", Acl::read_unsafe()).version(0).await.unwrap();
    assert_eq!(stat.aversion, 1);
    assert!(matches!(c.set_data("/open", "x").await, Err(Error::NoAuth { .. })));

    c.add_auth("digest", "alice:secret").await.unwrap();
    let who = c.who_am_i().await.unwrap();
    assert!(who.iter().any(|i| i.auth_scheme == "digest" && i.user == "alice"), "{who:?}");
    c.create("/mine").persistent().acl(Acl::creator_all()).await.unwrap();
    c.set_data("/mine", "ok").await.unwrap();
    let other = env.another_client().await;
    assert!(matches!(other.get_data("/mine").await, Err(Error::NoAuth { op: OpCode::GetData, .. })));
    other.close().await.unwrap();
}

#[tokio::test]
async fn invalid_paths_are_refused_before_sending() {
    // No server listens here: a request that were sent would hang in the queue, so an
    // immediate InvalidPath proves nothing was sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::connect(format!("127.0.0.1:{port}")).start().unwrap();
    type Expect = fn(&PathError) -> bool;
    let cases: [(&str, Expect); 9] = [
        ("", |e| *e == PathError::Empty),
        ("a/b", |e| *e == PathError::NotAbsolute),
        ("/a/", |e| *e == PathError::TrailingSlash),
        ("/a\0b", |e| matches!(e, PathError::NullCharacter { at: 2 })),
        ("/a//b", |e| matches!(e, PathError::EmptySegment { at: 3 })),
        ("/a/./b", |e| matches!(e, PathError::RelativeSegment { .. })),
        ("/a/..", |e| matches!(e, PathError::RelativeSegment { .. })),
        ("/a\u{1}", |e| matches!(e, PathError::InvalidCharacter { ch: '\u{1}', .. })),
        ("/smile\u{1F600}", |e| matches!(e, PathError::InvalidCharacter { ch: '\u{1F600}', .. })),
    ];
    for (path, expected) in cases {
        let err =
            tokio::time::timeout(Duration::from_secs(1), client.get_data(path)).await.expect("no wait").unwrap_err();
        match &err {
            Error::InvalidPath { path: p, reason } => {
                assert_eq!(p, path);
                assert!(expected(reason), "{path:?}: {reason:?}");
                // The rule is the error's source (printed once along the chain, not in Display).
                let source = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
                assert!(source.contains(reason.rule()), "the source names the rule: {source}");
            }
            other => panic!("{path:?}: {other:?}"),
        }
    }
    // The same rules for every verb, and the sequential exception.
    assert!(matches!(client.create("/a/").await, Err(Error::InvalidPath { .. })));
    assert!(matches!(client.delete("x").await, Err(Error::InvalidPath { .. })));
    assert!(matches!(client.transaction().check("/ok", 0).delete("/bad/", 0).await, Err(Error::InvalidPath { .. })));
    // Oversized data is refused before sending, too.
    let big = vec![0u8; zk_dsl::proto::DEFAULT_MAX_PACKET];
    let err = client.create("/big").bytes(big).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: Some(OpCode::Create2), .. }), "{err:?}");
    drop(client);
}

#[tokio::test]
async fn data_near_the_packet_limit() {
    let env = TestEnv::new().await;
    let c = &env.client;
    // ZooKeeper stores up to its jute.maxbuffer; a frame just under the limit goes through.
    let payload = vec![7u8; 1_000_000];
    c.create("/large").persistent().bytes(payload.clone()).await.unwrap();
    assert_eq!(c.get_data("/large").await.unwrap().bytes(), &payload[..]);
    let too_big = vec![7u8; 1_048_576];
    assert!(matches!(c.set_data("/large", &too_big).await, Err(Error::InvalidArgument { .. })));
    assert_eq!(c.get_data("/large").await.unwrap().stat.version, 0, "nothing was written");
}

#[tokio::test]
async fn closing_answers_everything_and_refuses_later_calls() {
    let env = TestEnv::new().await;
    let c = env.another_client().await;
    c.create("/eph").await.unwrap();
    let pending: Vec<_> = (0..50).map(|_| c.exists("/eph").send()).collect();
    c.close().await.unwrap();
    for p in pending {
        assert!(p.await.unwrap().is_some(), "requests sent before close are answered");
    }
    assert_eq!(c.state(), zk_dsl::SessionState::Closed);
    assert!(matches!(c.exists("/eph").await, Err(Error::Closed { op: Some(OpCode::Exists), .. })));
    assert_eq!(env.client.exists("/eph").await.unwrap(), None, "ephemeral nodes go with the session");
}

#[tokio::test]
async fn connect_times_out_cleanly_when_no_server_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err =
        Client::connect(format!("127.0.0.1:{port}")).connect_timeout(Duration::from_millis(300)).await.unwrap_err();
    // Every attempt was refused: the error says so (a blackholed server gives `Timeout`).
    match &err {
        Error::NoServer { connect_string, last_failure } => {
            assert_eq!(connect_string, &format!("127.0.0.1:{port}"));
            assert!(last_failure.contains("refused"), "{last_failure}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn chroot_is_applied_and_stripped() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let created = c.create("/x").persistent().sequential().await.unwrap();
    assert!(created.starts_with("/x0"), "{created}");
    let admin = suite::connect(&suite::server().connect_string()).await;
    let abs = format!("{}{created}", env.root);
    assert!(admin.exists(abs.as_str()).await.unwrap().is_some());
    assert_eq!(c.exists("/").await.unwrap().map(|s: Stat| s.num_children), Some(1));
    admin.close().await.unwrap();
}

/// Issue 9 #4: `create("/").sequential()` under a chroot made `/<chroot>0000000001` at the
/// real root (a sibling of the chroot) and returned a path naming another node. Now `/` as a
/// sequential prefix is the chroot's own directory, as `/` is the root's without a chroot.
#[tokio::test]
async fn chroot_never_lets_a_created_node_out() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let admin = suite::connect(&suite::server().connect_string()).await;

    let created = c.create("/").sequential().await.unwrap();
    assert!(created.starts_with("/0") && created.len() == 11, "{created}");
    assert!(admin.exists(format!("{}{created}", env.root)).await.unwrap().is_some(), "{created} is inside");
    assert!(c.exists(created.as_str()).await.unwrap().is_some());
    // The same through a transaction and create_all.
    let results = c.transaction().create_with("/", |o| o.persistent().sequential()).await.unwrap();
    let OpResult::Created { path, .. } = &results[0] else { panic!("{results:?}") };
    assert!(path.starts_with("/0") && admin.exists(format!("{}{path}", env.root)).await.unwrap().is_some());
    let all = c.create_all("/").sequential().await.unwrap();
    assert!(all.starts_with("/0") && admin.exists(format!("{}{all}", env.root)).await.unwrap().is_some());
    // Nothing appeared next to the chroot at the real root.
    let name = env.root.trim_start_matches('/');
    let escaped: Vec<String> =
        admin.children("/").await.unwrap().into_iter().filter(|n| n.starts_with(name) && n != name).collect();
    assert!(escaped.is_empty(), "nodes outside the chroot: {escaped:?}");
    // `/` as a node is the chroot node itself, which exists.
    assert!(matches!(c.create("/").await, Err(Error::NodeExists { .. })));
    assert_eq!(c.exists("/").await.unwrap().map(|s| s.num_children), Some(3));
    admin.close().await.unwrap();
}

/// Issue 9 #13: `Debug` of the session status printed the password, and id + password are all
/// `resume` needs to take the session over. No printable type shows it (nor `add_auth`'s
/// credentials) in any form.
#[tokio::test]
async fn session_password_never_shows_in_debug_output() {
    let env = TestEnv::new().await;
    let status = env.client.status();
    let password = status.password.clone();
    assert_eq!(password.len(), 16, "a live session has its password");
    let hex: String = password.iter().map(|b| format!("{b:02x}")).collect();
    let forms = [format!("{password:?}"), format!("{password:#?}"), format!("{password:x?}"), hex];
    let resume = Client::connect(env.connect_string.clone()).resume(status.session_id, password.clone());
    let request = zk_dsl::proto::ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 10_000,
        session_id: status.session_id,
        password: password.clone(),
        read_only: false,
    };
    let response = zk_dsl::proto::ConnectResponse {
        protocol_version: 0,
        timeout_ms: 10_000,
        session_id: status.session_id,
        password: password.clone(),
        read_only: false,
    };
    let auth = zk_dsl::proto::AuthPacket { kind: 0, scheme: "digest".into(), auth: b"david:secret"[..].into() };
    let printed = [
        format!("{status:?}"),
        format!("{status:#?}"),
        format!("{:?}", env.client),
        format!("{resume:?}"),
        format!("{request:?}"),
        format!("{response:#?}"),
    ];
    for text in &printed {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{text} shows the password");
        }
    }
    assert!(printed[0].contains("<redacted 16 bytes>"), "{}", printed[0]);
    let auth = format!("{auth:?}");
    assert!(!auth.contains("secret") && !auth.contains("100, 97, 118"), "{auth}");
}
