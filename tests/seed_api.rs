//! Every row of the README's "Coming from zookeeper-clj" table against a real server: each seed
//! function's outcomes, as the Rust API expresses them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use suite::{within, TestEnv};
use zk_dsl::acl::{self, DEFAULT_PERMS};
use zk_dsl::proto::OpCode;
use zk_dsl::testing::{scaled, FaultProxy};
use zk_dsl::{Client, EventType, KeeperState, Perms, ResultExt, SessionState, WatchedEvent};
use zk_dsl::{Error, ZNodeData};

#[tokio::test]
async fn connect_watcher_sees_sync_connected_first_and_state_names() {
    let env = TestEnv::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let c = Client::connect(env.connect_string.clone())
        .timeout(Duration::from_secs(5))
        .watcher(move |e| s.lock().unwrap().push(e))
        .await
        .unwrap();
    assert_eq!(c.state(), SessionState::Connected);
    assert_eq!(c.state().java_name(), "CONNECTED");
    c.sync("/").callback(|_| {}).await.unwrap();
    assert_eq!(seen.lock().unwrap().first(), Some(&WatchedEvent::session(KeeperState::SyncConnected)));

    // register-watcher replaces the default watcher.
    let replaced = Arc::new(Mutex::new(Vec::new()));
    let r = replaced.clone();
    c.register_watcher(move |e| r.lock().unwrap().push(e));
    c.create("/w").await.unwrap();
    c.exists("/w").watch().await.unwrap();
    c.delete("/w").await.unwrap();
    c.sync("/").callback(|_| {}).await.unwrap();
    assert_eq!(*replaced.lock().unwrap(), vec![WatchedEvent::node(EventType::NodeDeleted, "/w")]);
    c.close().await.unwrap();
    assert_eq!(c.state().java_name(), "CLOSED");
}

#[tokio::test]
async fn create_outcomes() {
    let env = TestEnv::new().await;
    let c = &env.client;
    // Seed: returns the path; false when it exists. Rust: Ok(path) / Err(NodeExists) or None.
    assert_eq!(c.create("/a").persistent().await.exists_ok().unwrap(), Some("/a".to_string()));
    assert_eq!(c.create("/a").persistent().await.exists_ok().unwrap(), None);
    // Ephemeral by default.
    let stat = c.create("/e").with_stat().await.unwrap().1;
    assert_eq!(stat.ephemeral_owner, c.session_id());
    assert!(matches!(c.create("/e/kid").await, Err(Error::NoChildrenForEphemerals { .. })));
    assert!(matches!(c.create("/missing/kid").await, Err(Error::NoNode { op: OpCode::Create2, .. })));
    // An auth ACL from a session without identities: InvalidAcl.
    let err = c.create("/authless").acl(vec![acl::auth_acl(Perms::ALL).unwrap()]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidAcl { .. }), "{err:?}");
    // Data in the seed's encodings.
    c.create("/n").data(&42i64).await.unwrap();
    assert_eq!(c.get_data("/n").await.unwrap().bytes(), &42i64.to_be_bytes());
}

#[tokio::test]
async fn create_all_makes_parents_and_is_race_safe() {
    let env = TestEnv::new().await;
    let c = &env.client;
    assert_eq!(c.create_all("/x/y/z").persistent().data("leaf").await.unwrap(), "/x/y/z");
    assert_eq!(c.get_data("/x/y/z").await.unwrap().bytes(), b"leaf");
    assert_eq!(c.exists("/x/y").await.unwrap().unwrap().ephemeral_owner, 0, "ancestors are persistent");
    // Options apply to the leaf; sequential returns the real name.
    let seq = c.create_all("/q/r/job-").sequential().await.unwrap();
    assert_eq!(seq, "/q/r/job-0000000000");
    assert_eq!(c.exists(seq.as_str()).await.unwrap().unwrap().ephemeral_owner, c.session_id());

    // Many clients creating overlapping paths at once all succeed.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = env.another_client().await;
        tasks.push(tokio::spawn(async move {
            let r = client.create_all(format!("/race/deep/er/n{i}")).persistent().await;
            client.close().await.unwrap();
            r
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(c.children("/race/deep/er").await.unwrap().len(), 8);
}

/// Issue 9 #8: `create_all("/")` panicked (slicing an empty string while listing ancestors).
/// The seed answers `""` (nothing to create); here the root exists, so it is the typed
/// `NodeExists` a plain create of `/` gives, and a sequential `/` makes a child of the root.
#[tokio::test]
async fn create_all_of_the_root_is_an_answer_not_a_panic() {
    let env = TestEnv::new().await;
    let c = &env.client;
    let err = c.create_all("/").persistent().await.unwrap_err();
    assert!(matches!(&err, Error::NodeExists { path, .. } if path == "/"), "{err:?}");
    let err = c.create_all("/").await.unwrap_err();
    assert!(matches!(err, Error::NodeExists { .. }), "{err:?}");
    let seq = c.create_all("/").persistent().sequential().await.unwrap();
    assert_eq!(seq, "/0000000000");
    // Bad paths are refused before anything is sent, never sliced.
    for bad in ["", "//", "/a//", "a/b"] {
        let err = c.create_all(bad).persistent().await.unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{bad:?}: {err:?}");
    }
}

/// Issue 9 #12: `delete_children` ran one `delete_all` after another (four round trips per
/// child here). Now every child's subtree is listed and deleted together, a level per round
/// trip, so over a slow link it takes a handful of round trips, not one per child; and with
/// `in_sequence_order` the children still go in sequence order.
#[tokio::test]
async fn delete_children_pipelines_and_keeps_sequence_order() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/q").persistent().await.unwrap();
    let n = 40;
    let jobs: Vec<_> = (0..n).map(|_| c.create("/q/job-").persistent().sequential().send()).collect();
    let mut paths = Vec::new();
    for job in jobs {
        paths.push(job.await.unwrap());
    }
    let parts: Vec<_> = paths.iter().map(|p| c.create(format!("{p}/part")).persistent().send()).collect();
    for part in parts {
        part.await.unwrap();
    }

    let proxy = FaultProxy::start(suite::server().address()).unwrap();
    let slow = suite::connect(&format!("{}{}", proxy.connect_string(), env.root)).await;
    let mut events = c.watch("/q").recursive().await.unwrap();
    let delay = Duration::from_millis(20); // each way: a round trip is 40 ms
    proxy.delay(delay);
    let started = Instant::now();
    slow.delete_children("/q", true).await.unwrap();
    let took = started.elapsed();
    proxy.reset();
    // One by one this is 4 x 40 = 160 round trips (6.4 s); pipelined about 5.
    assert!(took < scaled(delay * 2 * 30), "delete_children took {took:?}");
    assert!(c.children("/q").await.unwrap().is_empty());

    let mut deleted_children = Vec::new();
    while deleted_children.len() < n {
        let event = within("delete events", events.next()).await.unwrap();
        let path = event.path.unwrap();
        if !path.ends_with("/part") {
            deleted_children.push(path);
        }
    }
    assert_eq!(deleted_children, paths, "children deleted in sequence order");
    slow.close().await.unwrap();
}

#[tokio::test]
async fn children_and_filters() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/dir").persistent().await.unwrap();
    assert_eq!(c.children("/dir").await.unwrap(), Vec::<String>::new(), "no children: empty (seed: nil)");
    assert!(c.children("/nope").await.absent_ok().unwrap().is_none(), "missing: None (seed: false)");
    for name in ["ab", "a.", "xa.", "b"] {
        c.create(format!("/dir/{name}")).await.unwrap();
    }
    let mut by_prefix = c.filter_children_by_prefix("/dir", "a.").await.unwrap();
    by_prefix.sort();
    assert_eq!(by_prefix, ["a."], "prefixes are literal, not regexes");
    let mut by_suffix = c.filter_children_by_suffix("/dir", "a.").await.unwrap();
    by_suffix.sort();
    assert_eq!(by_suffix, ["a.", "xa."]);
    let re = zk_dsl::regex::Regex::new("^a").unwrap();
    let mut by_pattern = c.filter_children_by_pattern("/dir", &re).await.unwrap();
    by_pattern.sort();
    assert_eq!(by_pattern, ["a.", "ab"]);

    // Async children works (it is broken in the seed): send and callback.
    let handle = c.children("/dir").send();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cb = c.children("/dir").callback(move |r| {
        let _ = tx.send(r.as_ref().map(Vec::len).unwrap_or(0));
    });
    assert_eq!(handle.await.unwrap().len(), 4);
    assert_eq!(cb.await.unwrap().len(), 4);
    assert_eq!(rx.await.unwrap(), 4);
}

#[tokio::test]
async fn delete_outcomes() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/d").persistent().await.unwrap();
    assert!(matches!(c.delete("/d").version(3).await, Err(Error::BadVersion { .. })));
    assert_eq!(c.delete("/d").await.absent_ok().unwrap(), Some(()), "seed: true");
    assert_eq!(c.delete("/d").await.absent_ok().unwrap(), None, "seed: false");

    c.create_all("/tree/a/b/c").persistent().await.unwrap();
    c.create_all("/tree/a/d").persistent().await.unwrap();
    c.create("/tree/e").await.unwrap();
    assert!(matches!(c.delete("/tree").await, Err(Error::NotEmpty { .. })));
    c.delete_all("/tree").await.unwrap();
    assert_eq!(c.exists("/tree").await.unwrap(), None);
    assert!(matches!(c.delete_all("/tree").await, Err(Error::NoNode { .. })));

    // delete-children keeps the parent; in sequence order when asked.
    c.create("/queue").persistent().await.unwrap();
    for _ in 0..5 {
        c.create("/queue/item-").persistent().sequential().await.unwrap();
    }
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let mut stream = c.watch("/queue").recursive().await.unwrap();
    c.delete_children("/queue", true).await.unwrap();
    assert_eq!(c.children("/queue").await.unwrap(), Vec::<String>::new());
    for _ in 0..5 {
        let e = within("delete events", stream.next()).await.unwrap();
        o.lock().unwrap().push(e.path.unwrap());
    }
    let expected: Vec<String> = (0..5).map(|i| format!("/queue/item-{i:010}")).collect();
    assert_eq!(*order.lock().unwrap(), expected, "deleted in sequence order");
}

#[tokio::test]
async fn data_set_data_and_compare_and_set() {
    let env = TestEnv::new().await;
    let c = &env.client;
    assert!(matches!(c.get_data("/none").await, Err(Error::NoNode { .. })));
    c.create("/v").persistent().data("one").await.unwrap();
    let node = c.get_data("/v").await.unwrap();
    assert_eq!(node.decode::<String>().unwrap(), "one");
    let stat = c.set_data("/v", "two").version(node.stat.version).await.unwrap();
    assert_eq!(stat.version, 1);
    // Null data: the seed's (set-data c p nil v).
    c.clear_data("/v").await.unwrap();
    assert_eq!(c.get_data("/v").await.unwrap().data, None);
    c.set_data("/v", "two").await.unwrap();

    assert_eq!(c.compare_and_set_data("/v", b"nope", b"three", 3).await.unwrap(), None);
    let set = c.compare_and_set_data("/v", b"two", b"three", 3).await.unwrap().unwrap();
    assert_eq!(c.get_data("/v").await.unwrap().stat, set);

    // Concurrent increments through compare-and-set never lose an update.
    c.set_data("/v", &0i64).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = env.another_client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                loop {
                    let cur = client.get_data("/v").await.unwrap();
                    let n = i64::from_znode_bytes(cur.bytes()).unwrap();
                    let next = (n + 1).to_znode_bytes().unwrap();
                    if client.compare_and_set_data("/v", cur.bytes(), &next, 100).await.unwrap().is_some() {
                        break;
                    }
                }
            }
            client.close().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(c.get_data("/v").await.unwrap().decode::<i64>().unwrap(), 40);
}

#[tokio::test]
async fn acl_outcomes_digest_and_auth() {
    let env = TestEnv::new().await;
    let c = &env.client;
    // A digest ACL built by the helper is usable by its user (the seed stores the raw password
    // and locks its own user out).
    let mine = acl::digest_acl("david", "secret", Perms::ALL).unwrap();
    c.create("/secret").persistent().data("s").acl(vec![mine.clone()]).await.unwrap();
    assert!(matches!(c.get_data("/secret").await, Err(Error::NoAuth { op: OpCode::GetData, .. })));
    c.add_auth("digest", "david:secret").await.unwrap();
    assert_eq!(c.get_data("/secret").await.unwrap().bytes(), b"s");
    let (acls, _) = c.get_acl("/secret").await.unwrap();
    assert_eq!(acls, vec![mine]);

    // An auth ACL node: NoAuth for an unauthenticated client.
    c.create("/owned").persistent().acl(vec![acl::auth_acl(DEFAULT_PERMS).unwrap()]).await.unwrap();
    let stranger = env.another_client().await;
    assert!(matches!(stranger.get_data("/owned").await, Err(Error::NoAuth { .. })));
    assert!(matches!(stranger.set_data("/owned", "x").await, Err(Error::NoAuth { .. })));
    stranger.close().await.unwrap();

    // A single permission works (the seed throws for one perm); world read-only.
    c.create("/ro").persistent().acl(vec![acl::world_acl(Perms::READ).unwrap()]).await.unwrap();
    assert!(c.get_data("/ro").await.is_ok());
    assert!(matches!(c.set_data("/ro", "x").await, Err(Error::NoAuth { .. })));
    // A stock server has no host scheme.
    let err = c.create("/h").acl(vec![acl::host_acl("example.com", DEFAULT_PERMS).unwrap()]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidAcl { .. }), "{err:?}");
}

#[tokio::test]
async fn async_forms_deliver_in_dispatch_order() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/s").persistent().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut creates = Vec::new();
    let mut checks = Vec::new();
    for i in 0..20 {
        let s = seen.clone();
        creates.push(c.create(format!("/s/{i}")).callback(move |r| s.lock().unwrap().push((i, r.is_ok()))));
        // Dispatched after the create of the same node: must see it.
        checks.push(c.exists(format!("/s/{i}")).send());
    }
    for (create, check) in creates.into_iter().zip(checks) {
        create.await.unwrap();
        assert!(check.await.unwrap().is_some());
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, (0..20).map(|i| (i, true)).collect::<Vec<_>>(), "callbacks in dispatch order");
}

/// Issue 9, "friction a newcomer hit": each papercut, as a newcomer would write the code.
#[tokio::test]
async fn newcomer_friction_is_gone() {
    let env = TestEnv::new().await;
    let c = &env.client;
    // `data::to_bytes("hello")` compiles, as the seed's `(to-bytes "hello")`.
    assert_eq!(zk_dsl::data::to_bytes("hello").unwrap(), b"hello");
    c.create("/n").persistent().data(&41i64).await.unwrap();
    // A CodecError converts into zk_dsl::Error with `?`.
    async fn bump(c: &Client, path: &str) -> zk_dsl::Result<i64> {
        let node = c.get_data(path).await?;
        let n = zk_dsl::data::to_long(node.bytes())? + 1;
        c.set_data(path, &n).await?;
        Ok(n)
    }
    assert_eq!(bump(c, "/n").await.unwrap(), 42);
    // NodeData knows its path; a typed read needs no path twice.
    let node = c.get_data("/n").await.unwrap();
    assert_eq!(node.path, "/n");
    assert_eq!(node.decode::<i64>().unwrap(), 42);
    let err = node.decode::<i32>().unwrap_err();
    assert!(
        matches!(&err, Error::Codec { path: Some(path), source } if path == "/n" && source.type_name == "i32"),
        "{err:?}"
    );
    assert_eq!(c.get_data("/n").decode::<i64>().await.unwrap(), 42);
    let (value, watch) = c.get_data("/n").decode::<i64>().with_watch().await.unwrap();
    assert_eq!(value, 42);
    let err = c.get_data("/n").decode::<f32>().await.unwrap_err();
    assert!(matches!(&err, Error::Codec { path: Some(path), .. } if path == "/n"), "{err:?}");
    // compare_and_set_data takes typed data, like every other write.
    assert_eq!(c.compare_and_set_data("/n", &42i64, &43i64, 3).await.unwrap().map(|s| s.version), Some(2));
    assert_eq!(within("the data watch", watch).await.event_type, EventType::NodeDataChanged);
    assert_eq!(c.compare_and_set_data("/n", &42i64, &44i64, 3).await.unwrap(), None);
    assert_eq!(c.get_data("/n").decode::<i64>().await.unwrap(), 43);
    // The seed's numeric return codes and the default port, at the crate root.
    let err = c.delete("/missing").await.unwrap_err();
    assert_eq!(err.code(), Some(zk_dsl::ErrorCode::NoNode));
    assert_eq!(zk_dsl::ErrorCode::NoNode.code(), -101);
    assert_eq!(zk_dsl::DEFAULT_PORT, 2181);
}
