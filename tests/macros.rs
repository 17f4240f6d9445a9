//! The macros against a real server: every verb through `zk!`, blocks, transactions (commit
//! and rollback), `acl!`, every codec of `#[derive(ZNodeData)]`, and typed nodes, including
//! `update` under contention from several clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use suite::{within, TestEnv};
use zk_dsl::proto::OpCode;
use zk_dsl::{acl, zk, Client, CreateMode, Error, EventType, OpResult, Perms, ReadResult, ResultExt, ZNodeData};

#[tokio::test]
async fn create_in_every_mode() {
    let env = TestEnv::new().await;
    let client = &env.client;
    assert_eq!(zk!(client, create "/p" persistent).await.unwrap(), "/p");
    let stat = zk!(client, create "/p/e" data = "x" with_stat).await.unwrap().1;
    assert_eq!(stat.ephemeral_owner, client.session_id(), "ephemeral by default, as the builder");
    let bytes = b"job".to_vec();
    let job =
        zk!(client, create "/p/job-" persistent sequential data = &bytes acl = [world(read, write)]).await.unwrap();
    assert!(job.starts_with("/p/job-") && job.len() == "/p/job-".len() + 10, "{job}");
    let (entries, _) = client.get_acl(job.as_str()).await.unwrap();
    assert_eq!(entries, vec![acl::world_acl(Perms::READ | Perms::WRITE).unwrap()]);
    assert_eq!(client.get_data(job.as_str()).await.unwrap().bytes(), b"job");

    // A sequential prefix may end with `/` (checked at compile time as ZooKeeper does).
    let numbered = zk!(client, create "/p/" persistent sequential).await.unwrap();
    assert!(numbered.starts_with("/p/"), "{numbered}");
    zk!(client, create "/c" container).await.unwrap();
    assert_ne!(client.exists("/c").await.unwrap().unwrap().ephemeral_owner, client.session_id());
    let stat = zk!(client, create "/t" ttl = Duration::from_secs(60) with_stat).await.unwrap().1;
    assert_ne!(stat.ephemeral_owner, client.session_id(), "a TTL node is persistent");
    zk!(client, create "/m" mode = CreateMode::Persistent bytes = bytes::Bytes::from_static(b"raw")).await.unwrap();
    assert_eq!(client.get_data("/m").await.unwrap().bytes(), b"raw");
    assert!(matches!(zk!(client, create "/p" persistent).await, Err(Error::NodeExists { .. })));

    // Templates interpolate values in scope; other expressions pass through.
    let name = "web-1";
    let n = 7;
    zk!(client, create "/p/{name}-{n}" persistent data = &42i64).await.unwrap();
    assert_eq!(client.get_data("/p/web-1-7").await.unwrap().decode::<i64>().unwrap(), 42);
    let computed = format!("/p/{}", "computed");
    zk!(client, create computed.as_str() persistent).await.unwrap();
    zk!(client, create { format!("/p/{}", "braced") } persistent).await.unwrap();
    zk!(client, create-all "/deep/er/still" persistent).await.unwrap();
    assert!(client.exists("/deep/er").await.unwrap().is_some());
}

#[tokio::test]
async fn reads_and_watches() {
    let env = TestEnv::new().await;
    let client = &env.client;
    zk!(client, create "/r" persistent data = "v0").await.unwrap();
    assert!(zk!(client, exists "/r").await.unwrap().is_some());
    assert!(zk!(client, exists "/nope").await.unwrap().is_none());
    assert_eq!(zk!(client, get_data "/r").await.unwrap().bytes(), b"v0");
    assert_eq!(zk!(client, data "/r").await.unwrap().bytes(), b"v0", "the seed's name");

    let (_, changed) = zk!(client, get_data "/r" with_watch).await.unwrap();
    let (_, created) = zk!(client, exists "/r/kid" with_watch).await.unwrap();
    let ((names, stat), kids) = zk!(client, children "/r" with_watch with_stat).await.unwrap();
    assert!(names.is_empty());
    assert_eq!(stat.num_children, 0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    zk!(client, get_data "/r" watcher = move |e| s.lock().unwrap().push(e)).await.unwrap();
    zk!(client, create "/r/kid" persistent).await.unwrap();
    zk!(client, set-data "/r" "v1").await.unwrap();
    assert_eq!(within("data watch", changed).await.event_type, EventType::NodeDataChanged);
    assert_eq!(within("exists watch", created).await.event_type, EventType::NodeCreated);
    assert_eq!(within("child watch", kids).await.event_type, EventType::NodeChildrenChanged);
    client.sync("/").callback(|_| {}).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);

    let (names, stat) = zk!(client, children "/r" with_stat).await.unwrap();
    assert_eq!((names, stat.num_children), (vec!["kid".to_owned()], 1));
    assert_eq!(zk!(client, get_all_children_number "/r").await.unwrap(), 1);
    zk!(client, sync "/r").await.unwrap();
    let (entries, _) = zk!(client, get_acl "/r").await.unwrap();
    assert_eq!(entries, acl::open_acl_unsafe());
    zk!(client, create "/r/eph").await.unwrap();
    let mine = zk!(client, get_ephemerals "/r").await.unwrap();
    assert_eq!(mine, vec!["/r/eph".to_owned()]);
    let reads = zk!(client, multi_read { get_data "/r"; children "/r"; data "/missing" }).await.unwrap();
    assert!(matches!(&reads[0], ReadResult::Data(node) if node.bytes() == b"v1"));
    assert!(matches!(&reads[1], ReadResult::Children(names) if names.len() == 2));
    assert!(matches!(&reads[2], ReadResult::Error(Error::NoNode { .. })));
}

#[tokio::test]
async fn writes_and_deletes() {
    let env = TestEnv::new().await;
    let client = &env.client;
    zk!(client, create "/w" persistent data = "a").await.unwrap();
    let stat = zk!(client, set_data "/w" "b" version = 0).await.unwrap();
    assert_eq!(stat.version, 1);
    let err = zk!(client, set_data "/w" "c" version = 0).await.unwrap_err();
    assert!(matches!(err, Error::BadVersion { .. }), "{err:?}");
    let value = String::from("d");
    zk!(client, set_data "/w" &value version = stat.version).await.unwrap();
    zk!(client, clear_data "/w").await.unwrap();
    assert_eq!(client.get_data("/w").await.unwrap().data, None);

    assert_eq!(zk!(client, compare_and_set_data "/w" b"other" b"e" retries = 3).await.unwrap(), None);
    client.set_data("/w", "e").await.unwrap();
    assert!(zk!(client, compare-and-set-data "/w" b"e" b"f" retries = 3).await.unwrap().is_some());
    assert_eq!(client.get_data("/w").await.unwrap().bytes(), b"f");

    for name in ["job-1", "job-2", "log-1"] {
        zk!(client, create "/w/{name}" persistent).await.unwrap();
    }
    assert_eq!(zk!(client, filter_children_by_prefix "/w" "job-").await.unwrap().len(), 2);
    assert_eq!(zk!(client, filter_children_by_suffix "/w" "-1").await.unwrap().len(), 2);
    let pattern = zk_dsl::regex::Regex::new("^log").unwrap();
    assert_eq!(zk!(client, filter_children_by_pattern "/w" &pattern).await.unwrap(), vec!["log-1".to_owned()]);
    assert_eq!(zk!(client, filter_children "/w" |n| n.ends_with('2')).await.unwrap(), vec!["job-2".to_owned()]);

    zk!(client, delete "/w/log-1" version = 0).await.unwrap();
    assert!(matches!(zk!(client, delete "/w/log-1").await, Err(Error::NoNode { .. })));
    assert_eq!(zk!(client, delete "/w/log-1").await.absent_ok().unwrap(), None);
    zk!(client, create "/q" persistent).await.unwrap();
    for _ in 0..3 {
        zk!(client, create "/q/item-" persistent sequential).await.unwrap();
    }
    zk!(client, delete_children "/q" sort).await.unwrap();
    assert!(client.children("/q").await.unwrap().is_empty());
    zk!(client, delete-all "/w").await.unwrap();
    assert!(client.exists("/w").await.unwrap().is_none());
}

#[tokio::test]
async fn acls_auth_and_session_verbs() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let password = String::from("secret");
    zk!(client, create "/s" persistent acl = [digest("david", password, all), world(read)]).await.unwrap();
    assert!(matches!(client.set_data("/s", "x").await, Err(Error::NoAuth { .. })));
    zk!(client, add_auth "digest" "david:secret").await.unwrap();
    let me = zk!(client, who_am_i).await.unwrap();
    assert!(me.iter().any(|info| info.auth_scheme == "digest"), "{me:?}");
    client.set_data("/s", "x").await.unwrap();
    let stat = zk!(client, set_acl "/s" [auth(all)] version = 0).await.unwrap();
    assert_eq!(stat.aversion, 1);
    let entries = acl![world(read, write), ip("127.0.0.1")].unwrap();
    zk!(client, set_acl "/s" entries).await.unwrap();
    assert_eq!(client.get_acl("/s").await.unwrap().0[1].perms, acl::DEFAULT_PERMS);
    // An id only known at run time is checked at run time, by the helper.
    let user = String::from("da:vid");
    let err = zk!(client, create "/bad" acl = [digest(user, "pw", read)]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");

    let other = env.another_client().await;
    zk!(&other, close).await.unwrap();
    assert!(matches!(other.exists("/").await, Err(Error::Closed { .. })));
}

#[tokio::test]
async fn ensemble_configuration_verbs() {
    // The shared server is standalone: its configuration node holds no members, and it cannot
    // be reconfigured. Read through the test's chroot, the node is still the server's own.
    let env = TestEnv::new().await;
    let client = &env.client;
    let (read, _changed) = zk!(client, get_config with_watch).await.unwrap();
    assert_eq!(read, client.get_config().await.unwrap());
    assert_eq!(read.config, zk_dsl::reconfig::EnsembleConfig::default(), "{read:?}");
    let refused = zk!(client, reconfig remove = 2 from_config = -1).await;
    assert!(
        matches!(&refused, Err(Error::Server { code: zk_dsl::ErrorCode::ReconfigDisabled, path, .. }) if path == "/zookeeper/config"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn persistent_watches_and_watch_removal() {
    let env = TestEnv::new().await;
    let client = &env.client;
    zk!(client, create "/pw" persistent).await.unwrap();
    let mut events = zk!(client, watch "/pw" recursive).await.unwrap();
    zk!(client, create "/pw/a" persistent).await.unwrap();
    let event = within("recursive watch", events.next()).await.unwrap();
    assert_eq!((event.event_type, event.path.as_deref()), (EventType::NodeCreated, Some("/pw/a")));
    zk!(client, check_watches "/pw" any).await.unwrap();
    zk!(client, remove_watches "/pw" any).await.unwrap();
    let removed = within("removal notice", events.next()).await.unwrap();
    assert_eq!(removed.event_type, EventType::PersistentWatchRemoved);
    let err = zk!(client, check_watches "/pw" data).await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "no watch left: {err:?}");
    let kind = zk_dsl::WatcherType::Data;
    assert!(zk!(client, remove_watches "/pw" kind).await.is_err());
}

#[tokio::test]
async fn send_and_callback_dispatch_now() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let handles: Vec<_> = (0..20).map(|i| zk!(client, create "/n{i}" send)).collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let got = Arc::new(Mutex::new(None));
    let g = got.clone();
    let names =
        zk!(client, children "/" callback = move |r| *g.lock().unwrap() = r.as_ref().ok().map(Vec::len)).await.unwrap();
    assert_eq!(names.len(), 20);
    assert_eq!(*got.lock().unwrap(), Some(20));
}

#[tokio::test]
async fn transactions_commit_with_typed_results_and_roll_back() {
    let env = TestEnv::new().await;
    let client = &env.client;
    zk!(client, create "/tx" persistent data = "0").await.unwrap();
    zk!(client, create "/tx/old" persistent).await.unwrap();
    let results = zk!(client, txn {
        create "/tx/new" persistent data = "n" acl = [world(all)];
        create "/tx/seq-" persistent sequential;
        set_data "/tx" "1" version = 0;
        check "/tx" version = 1;
        delete "/tx/old";
    })
    .await
    .unwrap();
    assert!(matches!(&results[0], OpResult::Created { path, .. } if path == "/tx/new"));
    assert!(matches!(&results[1], OpResult::Created { path, .. } if path.starts_with("/tx/seq-")));
    assert!(matches!(&results[2], OpResult::DataSet { stat } if stat.version == 1));
    assert_eq!(results[3..], [OpResult::Checked, OpResult::Deleted]);

    // Rollback: the failing check undoes the create before it.
    let err = zk!(client, transaction {
        create "/tx/never" persistent;
        check "/tx" version = 0;
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::TransactionFailed { index: 1, source } if matches!(**source, Error::BadVersion { .. }))
    );
    assert!(client.exists("/tx/never").await.unwrap().is_none());
    assert_eq!(client.get_data("/tx").await.unwrap().bytes(), b"1");
}

#[tokio::test]
async fn blocks_run_in_order_bind_and_stop_at_the_first_error() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let app = "shop";
    let (names, version) = zk! { client =>
        create "/{app}" persistent data = "v1";
        let node = get_data "/{app}";
        let version: i32 = node.stat.version;
        set_data "/{app}" "v2" version = version;
        for i in 0..2 {
            zk!(client, create "/{app}/w{i}" persistent).await?;
        }
        let names = children "/{app}";
        (names, version)
    }
    .await
    .unwrap();
    assert_eq!((names.len(), version), (2, 0));

    // The last command without `;` is the value.
    let stat = zk! { client => exists "/{app}" }.await.unwrap();
    assert_eq!(stat.map(|s| s.version), Some(1));

    // Stops at the first error: the create after the failing delete never runs.
    let result = zk! { client =>
        delete "/{app}";
        create "/after" persistent;
    }
    .await;
    assert!(matches!(result, Err(Error::NotEmpty { .. })), "{result:?}");
    assert!(client.exists("/after").await.unwrap().is_none());

    // `send` in a block pipelines: the value is the handle, awaited later.
    let value = zk! { client =>
        let a = create "/{app}/p1" send;
        let b = create "/{app}/p2" send;
        a.await?;
        b.await?
    }
    .await
    .unwrap();
    assert_eq!(value, "/shop/p2");

    // A transaction as a statement.
    let results = zk! { client =>
        txn { delete "/{app}/p1"; delete "/{app}/p2"; }
    }
    .await
    .unwrap();
    assert_eq!(results, vec![OpResult::Deleted, OpResult::Deleted]);
}

#[test]
fn blocking_client_waits_on_the_same_expansion() {
    let server = suite::server();
    let root = format!("/{}", suite::unique("blocking-macros"));
    let client = zk_dsl::blocking::Client::connect(server.connect_string()).unwrap();
    zk!(client, create root.as_str() persistent data = "b").wait().unwrap();
    assert_eq!(zk!(client, get_data root.as_str()).wait().unwrap().bytes(), b"b");
    zk!(client, delete-all root.as_str()).wait().unwrap();
    zk!(client, close).wait().unwrap();
}

/// Issue 9 #16: the docs said a `blocking::Client` works in a `zk! { … }` block, but the
/// multi-request verbs there did not compile ("`Result` is not a future"): the blocking
/// client had its own versions returning a `Result`. Every verb is now the async client's, so
/// a block is the same future whichever client it names; a blocking program runs it with
/// `blocking::block_on`.
#[test]
fn blocking_client_runs_a_block_with_every_kind_of_verb() {
    let server = suite::server();
    let root = format!("/{}", suite::unique("blocking-block"));
    let client = zk_dsl::blocking::Client::connect(server.connect_string()).unwrap();
    let kept = zk_dsl::blocking::block_on(zk! { client =>
        create_all "{root}/q/job-" persistent sequential data = &1i64;
        create_all "{root}/q/job-" persistent sequential data = &2i64;
        add_auth "digest" "david:secret";
        let jobs = filter_children_by_prefix "{root}/q" "job-";
        let first = get_data "{root}/q/{jobs[0]}" as i64;
        compare_and_set_data "{root}/q/{jobs[0]}" &first &(first + 10) retries = 3;
        delete_children "{root}/q" sort;
        let left = children "{root}/q";
        delete_all "{root}";
        (jobs.len(), first, left)
    })
    .unwrap();
    assert_eq!(kept.0, 2);
    assert!(kept.1 == 1 || kept.1 == 2);
    assert!(kept.2.is_empty());
    assert_eq!(client.exists(root.as_str()).wait().unwrap(), None);
    client.close().wait().unwrap();
}

/// Issue 9, `zk!` friction: a typed read (`get_data P as T`), a typed compare-and-set, and
/// `optional`, which takes an expected refusal as `None` inside a block.
#[tokio::test]
async fn typed_reads_typed_compare_and_set_and_optional() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let (n, missing, created_again, deleted, node) = zk! { client =>
        create "/n" persistent data = &41i64;
        let n = get_data "/n" as i64;
        let set = compare_and_set_data "/n" &n &(n + 1) retries = 3;
        let not_set = compare_and_set_data "/n" &n &(n + 5) retries = 3;
        { assert!(set.is_some() && not_set.is_none()); }
        let missing = get_data "/nothing" optional;
        let created_again = create "/n" persistent optional;
        let deleted = delete "/nothing" optional;
        let (node, watch) = get_data "/n" with_watch as i64;
        { drop(watch); }
        (n, missing, created_again, deleted, node)
    }
    .await
    .unwrap();
    assert_eq!((n, node), (41, 42));
    assert!(missing.is_none() && created_again.is_none() && deleted.is_none());
    assert_eq!(zk!(client, get_data "/n" as i64).await.unwrap(), 42);
    let err = zk!(client, get_data "/n" as i32).await.unwrap_err();
    assert!(matches!(&err, Error::Codec { path: Some(path), .. } if path == "/n"), "{err:?}");
    // Any other refusal still ends the block.
    let err = zk! { client => let _x = set_data "/n" &7i64 version = 99 optional; }.await.unwrap_err();
    assert!(matches!(err, Error::BadVersion { .. }), "{err:?}");
}

// ---- codecs ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = bincode)]
struct ViaBincode {
    name: String,
    tags: Vec<String>,
    weight: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = postcard)]
enum ViaPostcard {
    Idle,
    Busy { job: u64, retries: u8 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = json)]
struct ViaJson {
    host: String,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = json)]
struct Wrapper<T> {
    inner: T,
}

async fn round_trip<T: ZNodeData + PartialEq + std::fmt::Debug>(client: &Client, path: &str, value: T) -> Vec<u8> {
    zk!(client, create path persistent data = &value).await.unwrap();
    let node = client.get_data(path).await.unwrap();
    assert_eq!(node.decode::<T>().unwrap(), value, "{path}");
    node.bytes().to_vec()
}

#[tokio::test]
async fn every_codec_round_trips_through_the_server() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let b = ViaBincode { name: "n".into(), tags: vec!["a".into(), "b".into()], weight: Some(0.5) };
    round_trip(client, "/bincode", b).await;
    round_trip(client, "/postcard-idle", ViaPostcard::Idle).await;
    let bytes = round_trip(client, "/postcard", ViaPostcard::Busy { job: 300, retries: 2 }).await;
    assert_eq!(bytes, [1, 0xAC, 0x02, 2], "postcard's specified format: variant, varint, u8");
    let bytes = round_trip(client, "/json", ViaJson { host: "h".into(), port: 8080 }).await;
    assert_eq!(bytes, br#"{"host":"h","port":8080}"#, "readable by other languages");
    round_trip(client, "/generic", Wrapper { inner: vec![1u8, 2] }).await;

    // Decoding the wrong bytes is a typed error naming the path and the Rust type.
    let err = client.get_data("/json").await.unwrap().decode::<ViaPostcard>().unwrap_err();
    match err {
        Error::Codec { path, source } => {
            assert_eq!(path.as_deref(), Some("/json"));
            assert!(source.type_name.ends_with("ViaPostcard"), "{}", source.type_name);
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
}

// ---- typed nodes ----

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ZNodeData)]
#[znode(codec = postcard, path = "/counters/{name}")]
struct Counter {
    value: u64,
    writers: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = json)]
#[znode(path = "/config")]
struct Config {
    level: String,
}

#[tokio::test]
async fn typed_nodes_get_create_set_delete() {
    let env = TestEnv::new().await;
    let client = &env.client;
    zk!(client, create "/counters" persistent).await.unwrap();
    let node = Counter::node(client, "hits");
    assert_eq!(node.path(), "/counters/hits");
    assert!(matches!(node.get().await, Err(Error::NoNode { .. })));
    assert_eq!(node.get().await.absent_ok().unwrap(), None);
    node.create(&Counter::default()).persistent().await.unwrap();
    let (value, stat) = node.get().await.unwrap();
    assert_eq!((value, stat.version), (Counter::default(), 0));
    node.set(&Counter { value: 5, writers: vec![1] }).version(0).await.unwrap();
    assert_eq!(node.get().await.unwrap().0.value, 5);
    assert!(matches!(node.set(&Counter::default()).version(0).await, Err(Error::BadVersion { .. })));
    node.delete().version(1).await.unwrap();

    let config = Config::node(client);
    config.create(&Config { level: "debug".into() }).persistent().await.unwrap();
    assert_eq!(config.get().await.unwrap().0.level, "debug");
    // Data that is not a Config: a codec error naming the node and the type.
    client.set_data("/config", "not json").await.unwrap();
    let err = config.get().await.unwrap_err();
    assert!(matches!(&err, Error::Codec { path: Some(path), .. } if path == "/config"), "{err:?}");
    assert!(err.to_string().contains("Config"), "{err}");
}

#[tokio::test]
async fn typed_update_loses_nothing_under_contention() {
    const CLIENTS: u32 = 4;
    const UPDATES: u64 = 25;
    let env = TestEnv::new().await;
    zk!(&env.client, create "/counters" persistent).await.unwrap();
    Counter::node(&env.client, "shared").create(&Counter::default()).persistent().await.unwrap();
    let mut tasks = Vec::new();
    for id in 0..CLIENTS {
        let client = env.another_client().await;
        tasks.push(tokio::spawn(async move {
            let node = Counter::node(&client, "shared");
            for _ in 0..UPDATES {
                node.update(|c| {
                    c.value += 1;
                    c.writers.push(id);
                })
                .await
                .unwrap();
            }
            client.close().await.unwrap();
        }));
    }
    for task in tasks {
        within("the updaters", task).await.unwrap();
    }
    let (counter, stat) = Counter::node(&env.client, "shared").get().await.unwrap();
    assert_eq!(counter.value, u64::from(CLIENTS) * UPDATES, "no update lost");
    assert_eq!(counter.writers.len() as u64, counter.value);
    assert_eq!(stat.version as u64, counter.value, "one successful write per update");
    for id in 0..CLIENTS {
        assert_eq!(counter.writers.iter().filter(|w| **w == id).count() as u64, UPDATES);
    }
    // Bounded retries give up with BadVersion only under contention; alone it succeeds.
    let (counter, _) = Counter::node(&env.client, "shared").try_update(0, |c| c.value = 0).await.unwrap();
    assert_eq!(counter.value, 0);
}

#[tokio::test]
async fn typed_watch_streams_values_deletion_and_recreation() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let writer = env.another_client().await;
    zk!(client, create "/counters" persistent).await.unwrap();
    let node = Counter::node(client, "watched");
    let mut values = node.watch();
    assert!(matches!(within("absent at first", values.next()).await, Some(Ok(None))));

    let theirs = Counter::node(&writer, "watched");
    theirs.create(&Counter { value: 1, writers: vec![] }).persistent().await.unwrap();
    let (value, _) = within("created", values.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(value.value, 1);
    theirs.set(&Counter { value: 2, writers: vec![] }).await.unwrap();
    let (value, stat) = within("changed", values.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((value.value, stat.version), (2, 1));

    // Bad data: an error item, and the stream goes on.
    writer.set_data("/counters/watched", &[0xFFu8; 3]).await.unwrap();
    assert!(matches!(within("bad data", values.next()).await, Some(Err(Error::Codec { .. }))));
    theirs.set(&Counter { value: 3, writers: vec![] }).await.unwrap();
    assert_eq!(within("good again", values.next()).await.unwrap().unwrap().unwrap().0.value, 3);

    theirs.delete().await.unwrap();
    assert!(matches!(within("deleted", values.next()).await, Some(Ok(None))));
    theirs.create(&Counter { value: 4, writers: vec![] }).persistent().await.unwrap();
    assert_eq!(within("re-created", values.next()).await.unwrap().unwrap().unwrap().0.value, 4);

    // The session's end ends the stream.
    let watcher_client = env.another_client().await;
    let mut ending = Counter::node(&watcher_client, "watched").watch();
    assert!(within("first", ending.next()).await.unwrap().is_ok());
    watcher_client.close().await.unwrap();
    assert!(matches!(
        within("closed", ending.next()).await,
        Some(Err(Error::Closed { op: Some(OpCode::GetData), .. }))
    ));
    assert!(ending.next().await.is_none());
}

/// A contender node's name with its UUID and sequence blanked: `_c_<uuid>-lock-<seq>`.
fn contender_shape(name: &str) -> String {
    let uuid = regex::Regex::new("^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-").unwrap();
    let seq = regex::Regex::new("[0-9]{10}$").unwrap();
    seq.replace(&uuid.replace(name, "_c_<uuid>-"), "<seq>").into_owned()
}

/// The shape and data of each contender below `dir`, in name order.
async fn contenders(client: &Client, dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut names = client.children(dir).await.unwrap();
    names.sort();
    for name in names {
        let data = client.get_data(format!("{dir}/{name}")).await.unwrap().bytes().to_vec();
        out.push((contender_shape(&name), data));
    }
    out
}

/// Waits until `dir` has `n` children: a timed-out acquisition removes its node in the
/// background.
async fn settle(client: &Client, dir: &str, n: usize) {
    suite::children_until(client, dir, "a timed-out contender's node to go", |children| children.len() == n).await;
}

/// Issue 12 item 7: `lock` is `Mutex::new(&client, P).acquire()`: the same contender node
/// (Curator's `_c_<uuid>-lock-<seq>`, holding the participant id) as the hand-written chain,
/// and a second contender's `timeout = …` gives up with `Timeout` while the lock is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_through_zk_is_the_mutex_a_person_would_write() {
    use zk_dsl::recipes::{LossPolicy, Mutex};
    let env = TestEnv::new().await;
    let client = &env.client;
    let name = "reports";

    let guard = zk!(client, lock "/locks/{name}" timeout = 5s id = "macro").await.unwrap();
    let by_hand =
        Mutex::new(client, "/hand/reports").id("macro").acquire().timeout(Duration::from_secs(5)).await.unwrap();
    let layout = contenders(client, "/locks/reports").await;
    assert_eq!(layout, vec![("_c_<uuid>-lock-<seq>".to_owned(), b"macro".to_vec())]);
    assert_eq!(layout, contenders(client, "/hand/reports").await);
    assert!(guard.is_held() && guard.node().starts_with("/locks/reports/_c_"), "{}", guard.node());
    // The default participant id, too.
    let default_id = zk!(client, lock "/locks/default").await.unwrap();
    let hand_default = Mutex::new(client, "/hand/default").acquire().await.unwrap();
    assert_eq!(contenders(client, "/locks/default").await, contenders(client, "/hand/default").await);
    default_id.release().await.unwrap();
    hand_default.release().await.unwrap();
    by_hand.release().await.unwrap();

    // Held: another session's timed acquisition fails, and leaves no node behind.
    let other = env.another_client().await;
    let started = std::time::Instant::now();
    let refused = zk!(other, lock "/locks/{name}" timeout = 200ms policy = LossPolicy::Session).await;
    assert!(matches!(refused, Err(Error::Timeout { .. })), "{refused:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    settle(client, "/locks/reports", 1).await;

    // Released: a block takes it, binds the guard and writes through its fence.
    guard.release().await.unwrap();
    zk!(client, create "/report" persistent data = "v0").await.unwrap();
    let held = zk! { other =>
        let guard = lock "/locks/{name}" timeout = 5s loss_policy = LossPolicy::Standard;
        guard.set_data("/report", "v1", -1).await?;
        guard
    }
    .await
    .unwrap();
    assert_eq!(client.get_data("/report").await.unwrap().bytes(), b"v1");
    held.release().await.unwrap();
    assert!(client.children("/locks/reports").await.unwrap().is_empty());
}

/// `read_lock`/`write_lock` are `ReadWriteLock::new(&client, P).read()`/`.write()`: readers
/// share, a writer waits for them (and times out), in Curator's `__READ__`/`__WRIT__` layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_locks_through_zk() {
    let env = TestEnv::new().await;
    let (client, other) = (&env.client, env.another_client().await);
    let first = zk!(client, read_lock "/catalog" id = "r1").await.unwrap();
    let second = zk!(other, read-lock "/catalog" id = "r2" timeout = 5s).await.unwrap();
    let writer = zk!(other, write_lock "/catalog" timeout = 200ms).await;
    assert!(matches!(writer, Err(Error::Timeout { .. })), "{writer:?}");
    settle(client, "/catalog", 2).await;
    let hand = zk_dsl::recipes::ReadWriteLock::new(client, "/hand").id("r1").read().await.unwrap();
    let readers = contenders(client, "/catalog").await;
    let shapes: Vec<&str> = readers.iter().map(|(shape, _)| shape.as_str()).collect();
    assert_eq!(shapes, ["_c_<uuid>-__READ__<seq>", "_c_<uuid>-__READ__<seq>"]);
    assert_eq!(readers[0].0, contenders(client, "/hand").await[0].0);
    first.release().await.unwrap();
    second.release().await.unwrap();
    hand.release().await.unwrap();
    let writer = zk!(other, write_lock "/catalog" id = "w" timeout = 5s).await.unwrap();
    assert_eq!(contenders(client, "/catalog").await, vec![("_c_<uuid>-__WRIT__<seq>".to_owned(), b"w".to_vec())]);
    writer.release().await.unwrap();
}

/// `lease P max = N` is `Semaphore::new(&client, P, N).acquire()` (with `timeout`,
/// `.acquire_timeout(d)`): N leases and no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_through_zk_respect_max() {
    let env = TestEnv::new().await;
    let (client, other) = (&env.client, env.another_client().await);
    let max = 2;
    let a = zk!(client, lease "/downloads" max = max id = "a").await.unwrap();
    let b = zk!(other, lease "/downloads" max = 2 id = "b" timeout = 5s).await.unwrap();
    let third = zk!(other, lease "/downloads" max = 2 timeout = 300ms).await;
    assert!(matches!(third, Err(Error::Timeout { .. })), "{third:?}");
    settle(client, "/downloads/leases", 2).await;
    let leases = contenders(client, "/downloads/leases").await;
    let shapes: Vec<&str> = leases.iter().map(|(shape, _)| shape.as_str()).collect();
    assert_eq!(shapes, ["_c_<uuid>-lease-<seq>", "_c_<uuid>-lease-<seq>"]);
    let mut ids: Vec<Vec<u8>> = leases.into_iter().map(|(_, id)| id).collect();
    ids.sort();
    assert_eq!(ids, [b"a".to_vec(), b"b".to_vec()]);
    a.release().await.unwrap();
    let c = zk!(other, lease "/downloads" max = 2 timeout = 5s).await.unwrap();
    b.release().await.unwrap();
    c.release().await.unwrap();
}

/// `latch P` is `LeaderLatch::new(&client, P).start()`: the first participant leads, the
/// second follows until the first closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latch_through_zk_leads() {
    let env = TestEnv::new().await;
    let (client, other) = (&env.client, env.another_client().await);
    let service = "indexer";
    let mut first = zk!(client, latch "/services/{service}/leader" id = "first").await.unwrap();
    within("leadership", first.wait_leader()).await.unwrap();
    assert!(first.is_leader());
    let mut second = zk! { other => latch "/services/{service}/leader" id = "second" }.await.unwrap();
    let ids: Vec<String> = first.participants().await.unwrap().iter().map(|p| p.id_str().into_owned()).collect();
    assert_eq!(ids, ["first", "second"]);
    let shapes: Vec<String> = contenders(client, "/services/indexer/leader").await.into_iter().map(|c| c.0).collect();
    assert_eq!(shapes, ["_c_<uuid>-latch-<seq>", "_c_<uuid>-latch-<seq>"]);
    assert!(!second.is_leader());
    first.close().await.unwrap();
    within("the hand-over", second.wait_leader()).await.unwrap();
    second.close().await.unwrap();
}

/// Durations with units: `ttl = 60s` is `.ttl(Duration::from_secs(60))`.
#[tokio::test]
async fn duration_literals() {
    let env = TestEnv::new().await;
    let client = &env.client;
    let stat = zk!(client, create "/ttl" ttl = 1m with_stat).await.unwrap().1;
    assert_ne!(stat.ephemeral_owner, client.session_id(), "a TTL node is persistent");
}

#[tokio::test]
async fn a_protected_create_gets_curators_prefix() {
    let env = TestEnv::new().await;
    let c = &env.client;
    zk!(c, create "/jobs" persistent).await.unwrap();
    let path = zk!(c, create "/jobs/job-" sequential data = "payload" protected).await.unwrap();
    let name = path.rsplit('/').next().unwrap();
    assert!(name.starts_with("_c_") && name.contains("-job-") && name.len() == 40 + 4 + 10, "{path}");
    assert_eq!(c.get_data(path.as_str()).await.unwrap().bytes(), b"payload");
    // The same as the builder chain a person would write.
    let by_hand = c.create("/jobs/job-").sequential().data("payload").protected().await.unwrap();
    assert_eq!(by_hand.len(), path.len());
}

/// Issue 14 item 3: `dosync [refs…] |tx| { … }` is `Transaction::new(&client).run(|tx| { let
/// r = r.clone(); …; async move { … } })`: a transfer between two refs that returns a value,
/// a refused one that writes nothing, the options, and the verb as a block's statement.
#[tokio::test]
async fn dosync_transfers_between_refs() {
    use zk_dsl::recipes::{Ref, RetryPolicy};
    let env = TestEnv::new().await;
    let client = &env.client;
    let (alice, bob) = (Ref::new("/bank/alice", 25i64), Ref::new("/bank/bob", 0i64));
    let transfer = |amount: i64| {
        let (alice, bob) = (alice.clone(), bob.clone());
        async move {
            zk!(client, dosync [alice, bob] |tx| {
                let from = tx.get(&alice).await?;
                if from < amount {
                    return Ok(false);
                }
                tx.set(&alice, &(from - amount)).await?;
                tx.alter(&bob, |b| b + amount).await?;
                Ok(true)
            })
            .await
        }
    };
    assert!(transfer(10).await.unwrap());
    assert!(transfer(10).await.unwrap());
    assert!(!transfer(10).await.unwrap(), "5 left: refused");
    let balance = |path: &'static str| async move { client.get_data(path).await.unwrap().decode::<i64>().unwrap() };
    assert_eq!((balance("/bank/alice").await, balance("/bank/bob").await), (5, 20));

    // Without a list (a reference is `Copy`: each attempt gets it as is), a body that is one
    // expression, and the options (markers under /my-markers).
    zk!(client, create "/my-markers" persistent).await.unwrap();
    let policy = RetryPolicy::exponential(Duration::from_millis(1)).max_attempts(3);
    let bob_ref = &bob;
    let bob_now = zk!(client, dosync |tx| tx.alter(bob_ref, |b| b * 2).await retry = policy markers = "/my-markers")
        .await
        .unwrap();
    assert_eq!(bob_now, 40);
    assert!(client.exists("/my-markers").await.unwrap().unwrap().cversion > 0, "the marker went there");

    // In a block: awaited with `?` like every other verb, its value bound or returned.
    let (a, b) = zk! { client =>
        create "/audit" persistent;
        let moved: bool = dosync [alice, bob] |tx| {
            tx.alter(&bob, |b| b - 15).await?;
            tx.alter(&alice, |a| a + 15).await?;
            Ok(true)
        };
        assert!(moved);
        set_data "/audit" "moved 15";
        dosync [alice, bob] |tx| { Ok((tx.get(&alice).await?, tx.get(&bob).await?)) }
    }
    .await
    .unwrap();
    assert_eq!((a, b), (20, 25));
    assert_eq!(client.get_data("/audit").await.unwrap().bytes(), b"moved 15");
}

/// A conflicting writer between an attempt's read and its commit forces a rerun on fresh values;
/// two concurrent `dosync` loops incrementing one ref 50 times each lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dosync_reruns_on_conflict_and_loses_no_update() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use zk_dsl::recipes::Ref;
    let env = TestEnv::new().await;
    let (client, other) = (&env.client, env.another_client().await);
    let counter = Ref::new("/counter", 0i64);
    let attempts = Arc::new(AtomicUsize::new(0));
    let result = zk!(client, dosync [counter, attempts, other] |tx| {
        let n = tx.get(&counter).await?;
        if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            // Another session writes the ref after this attempt read it.
            other.create(counter.path()).persistent().data(&(n + 100)).await?;
        }
        tx.set(&counter, &(n + 1)).await?;
        Ok(n + 1)
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the first attempt was rerun");
    assert_eq!(result, 101, "the rerun computed on the other writer's value");
    assert_eq!(client.get_data("/counter").await.unwrap().decode::<i64>().unwrap(), 101);

    let shared = Ref::new("/shared", 0i64);
    // rustfmt reads `dosync [shared] |tx| { … }` as an index and two bitwise ors, and would
    // respace it so (same tokens, same expansion); keep it as written.
    #[rustfmt::skip]
    let bump = |client: Client| {
        let shared = shared.clone();
        async move {
            for _ in 0..50 {
                zk!(client, dosync [shared] |tx| {
                    tx.alter(&shared, |n| n + 1).await?;
                    Ok(())
                })
                .await?;
            }
            Ok::<_, Error>(())
        }
    };
    let (first, second) = tokio::join!(tokio::spawn(bump(client.clone())), tokio::spawn(bump(other.clone())));
    first.unwrap().unwrap();
    second.unwrap().unwrap();
    assert_eq!(client.get_data("/shared").await.unwrap().decode::<i64>().unwrap(), 100);
}
