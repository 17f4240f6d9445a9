//! The zookeeper-clj README once more, in macro syntax: `zk!` for every call, `acl!` for the
//! ACLs, `txn { }` for atomic updates, `zk! { client => … }` blocks for the recipes, and
//! `#[derive(ZNodeData)]` typed nodes in place of `pr-str`/`read-string`.
//!
//! ```sh
//! cargo run --example macro_tour                      # starts a throwaway ZooKeeper of its own
//! cargo run --example macro_tour -- 127.0.0.1:2181    # or uses yours (also: ZK_CONNECT=...)
//! ```
//!
//! With a connection string it works under a fresh root node of its own and deletes it at the
//! end. Exits 0 when every step behaved as the README says.

use std::error::Error as StdError;
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::unbounded_channel;
use zk_dsl::testing::ZkServer;
use zk_dsl::{acl, data, util, zk, Client, OpResult, ResultExt, ZNodeData};

type BoxError = Box<dyn StdError>;

const EVENT_WAIT: Duration = Duration::from_secs(10);

/// Prints a step's source and value, and hands the value back.
macro_rules! show {
    ($e:expr) => {{
        let value = $e;
        println!("{}\n    => {:?}", stringify!($e).replace('\n', " "), value);
        value
    }};
}

fn section(title: &str) {
    println!("\n== {title} ==\n");
}

/// The seed's `(pr-str {:a 1, :b 2, :c 3})`, as a typed node payload: JSON, so a Clojure or
/// Python reader can still parse it.
#[derive(Debug, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = json)]
struct Abc {
    a: i64,
    b: i64,
    c: i64,
}

/// A typed node: `Member::node(&client, name)` is `/example-group/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ZNodeData)]
#[znode(codec = postcard, path = "/example-group/{name}")]
struct Member {
    host: String,
    jobs_done: u32,
}

fn main() -> ExitCode {
    let given = std::env::args().nth(1).or_else(|| std::env::var("ZK_CONNECT").ok()).filter(|s| !s.is_empty());
    let mut _server = None; // kept alive until the end: dropping it stops ZooKeeper
    let connect_string = match given {
        Some(cs) => cs,
        None => match ZkServer::start() {
            Ok(server) => {
                println!("Started a throwaway ZooKeeper at {}.", server.connect_string());
                let cs = server.connect_string();
                _server = Some(server);
                cs
            }
            Err(e) => {
                eprintln!("macro_tour: cannot start ZooKeeper: {e}\n(scripts/tour.sh installs it)");
                return ExitCode::FAILURE;
            }
        },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("macro_tour: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(connect_string.trim_end_matches('/'))) {
        Ok(()) => {
            println!("\nThe macro tour is over; everything it created is gone.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("macro_tour: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the tour chrooted to a root of its own, and deletes the root whatever happened.
async fn run(connect_string: &str) -> Result<(), BoxError> {
    let admin = Client::connect(connect_string).await?;
    let root = format!("/zk-dsl-macro-tour-{}-{:08x}", std::process::id(), fastrand::u32(..));
    zk!(admin, create root.as_str() persistent).await?;
    let outcome = tour(&format!("{connect_string}{root}")).await;
    zk!(admin, add_auth "digest" "david:secret").await?;
    zk!(admin, delete_all root.as_str()).await?;
    zk!(admin, close).await?;
    outcome
}

async fn tour(connect_string: &str) -> Result<(), BoxError> {
    section("connect, with a watcher");
    let (events_tx, mut events) = unbounded_channel();
    let client = Client::connect(connect_string)
        .watcher(move |event| {
            let _ = events_tx.send(event);
        })
        .await?;

    section("create, exists, children");
    show!(zk!(client, create "/parent-node" persistent).await?);
    // The seed's :async? true and :callback f.
    let promise = show!(zk!(client, create "/parent-node/async" persistent send));
    show!(promise.await?);
    show!(zk!(client, create "/parent-node/callback" callback = |r| println!("    callback: {r:?}")).await?);
    show!(zk!(client, exists "/parent-node").await?.map(|stat| stat.num_children));
    show!(zk!(client, create "/parent-node/child-node").await?);
    show!(zk!(client, children "/parent-node" watch).await?);
    zk!(client, delete "/parent-node/child-node").await?;
    let event = tokio::time::timeout(EVENT_WAIT, async {
        loop {
            match events.recv().await {
                Some(event) if event.path.is_some() => return Some(event),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await?;
    println!("the default watcher heard: {event:?}");

    section("sequential nodes");
    show!(zk!(client, create-all "/parent/child-" persistent sequential).await?);
    show!(zk!(client, create "/parent/child-" persistent sequential).await?);
    show!(zk!(client, create "/parent/child-" persistent sequential).await?);
    let sorted = show!(util::sort_sequential_nodes(zk!(client, children "/parent").await?)?);
    show!(util::extract_id(&sorted[0])?);

    section("data, in a block: read the version, write with it");
    let node = zk! { client =>
        let version = exists "/parent";
        set_data "/parent" "hello world" version = version.map_or(-1, |s| s.version);
        get_data "/parent"
    }
    .await?;
    show!(String::from_utf8_lossy(node.bytes()));
    zk!(client, set_data "/parent" &data::to_bytes(&1234i64)?).await?;
    show!(data::to_long(zk!(client, data "/parent").await?.bytes())?);
    // (pr-str {:a 1 :b 2 :c 3}) / read-string: a derived type instead.
    let abc = Abc { a: 1, b: 2, c: 3 };
    zk!(client, set_data "/parent" &abc version = 2).await?;
    show!(zk!(client, get_data "/parent").await?.decode::<Abc>()?);

    section("delete");
    show!(zk!(client, delete "/parent-node/async").await?);
    show!(zk!(client, delete "/parent-node/missing").await.absent_ok()?);

    section("ACLs");
    let entries = show!(acl![world(read, create, delete, admin, write), auth(read, delete, write)]?);
    show!(entries.len());
    let password = "secret";
    show!(zk!(client, add-auth-info "digest" "david:secret").await?);
    show!(zk!(client, create "/protected-node" persistent acl = [digest("david", password, all), world(read)]).await?);
    show!(zk!(client, get_acl "/protected-node").await?.0);

    section("transactions: all or nothing");
    let results = zk!(client, txn {
        create "/jobs" persistent;
        create "/jobs/job-" persistent sequential data = "todo";
        set_data "/parent" "1 job";
        check "/protected-node" version = 0;
    })
    .await?;
    show!(results.iter().filter(|r| matches!(r, OpResult::Created { .. })).count());
    let rolled_back = zk!(client, txn { create "/jobs/never" persistent; check "/jobs" version = 42; }).await;
    show!(rolled_back.is_err() && zk!(client, exists "/jobs/never").await?.is_none());

    section("group membership, with typed members");
    let members = zk! { client =>
        create "/example-group" persistent;
        let _ = children "/example-group" watcher = |e| println!("    group changed: {e}");
        {
            Member::node(&client, "bob").create(&Member { host: "h1".into(), jobs_done: 0 }).await?;
            Member::node(&client, "sue").create(&Member { host: "h2".into(), jobs_done: 0 }).await?
        };
        children "/example-group"
    }
    .await?;
    show!(members);
    let bob = Member::node(&client, "bob");
    let mut changes = bob.watch();
    show!(changes.next().await);
    show!(bob.update(|m| m.jobs_done += 1).await?.0);
    show!(changes.next().await);

    section("leader election: the lowest sequential node leads");
    zk!(client, create "/election" persistent).await?;
    let me = zk!(client, create "/election/n-" sequential).await?;
    let other = zk!(client, create "/election/n-" sequential).await?;
    let candidates = util::sort_sequential_nodes(zk!(client, children "/election").await?)?;
    show!(format!("/election/{}", candidates[0]) == me);
    // The next in line watches only its predecessor, and leads when it goes.
    let (_, predecessor_gone) = zk!(client, exists me.as_str() with_watch).await?;
    zk!(client, delete me.as_str()).await?;
    show!(tokio::time::timeout(EVENT_WAIT, predecessor_gone).await?);
    show!(util::sort_sequential_nodes(zk!(client, children "/election").await?)?[0] == other["/election/".len()..]);

    section("barrier: proceed once n have arrived");
    let n = 2;
    for proc_name in ["node1", "node2"] {
        let arrived = zk! { client =>
            create_all "/barrier/{proc_name}";
            children "/barrier"
        }
        .await?;
        if arrived.len() >= n {
            show!(zk!(client, create "/barrier/ready").await?);
        }
    }
    show!(zk!(client, exists "/barrier/ready").await?.is_some());
    zk!(client, delete_all "/barrier").await?;

    section("close");
    zk!(client, close).await?;
    show!(client.state());
    Ok(())
}
