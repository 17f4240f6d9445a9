//! The tour of the zookeeper-clj README, section by section, in Rust: every step is run against
//! a real ZooKeeper and printed with what it returned.
//!
//! ```sh
//! cargo run --example tour                      # starts a throwaway ZooKeeper of its own
//! cargo run --example tour -- 127.0.0.1:2181    # or uses yours (also: ZK_CONNECT=...)
//! ```
//!
//! Without a connection string it starts a private server through `zk_dsl::testing::ZkServer`
//! (ZooKeeper and Java must be installed: `scripts/tour.sh` installs them). With one, it works
//! under a fresh root node of its own, which it deletes at the end, so it never touches anything
//! else on that server. Exits 0 when every step behaved as the README says.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use zk_dsl::acl::{self, Perms, DEFAULT_PERMS};
use zk_dsl::testing::ZkServer;
use zk_dsl::{data, util, Client, CodecError, Error, ResultExt, SessionState, WatchedEvent, ZNodeData};

type BoxError = Box<dyn StdError>;

/// How long a watch event may take to arrive.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// The identity of the ACL section (the README's `david:secret`).
const USER: &str = "david";
const PASSWORD: &str = "secret";

/// Runs a step, prints its code and what it returned, and hands the value back.
macro_rules! step {
    ($e:expr) => {{
        let value = $e;
        // (The pretty-printed source may wrap; one line reads better.)
        println!("{}\n    => {:?}", stringify!($e).replace('\n', " "), value);
        value
    }};
    // A step with an outcome other than success the README promises: checked, so the tour
    // fails if the library does something else.
    ($e:expr => $expected:pat) => {{
        #[allow(clippy::redundant_pattern_matching)] // `=> None` is clear enough
        let as_expected = matches!(step!($e), $expected);
        if !as_expected {
            return Err(concat!("expected ", stringify!($expected)).into());
        }
    }};
}

fn section(title: &str) {
    println!("\n== {title} ==\n");
}

fn note(text: &str) {
    println!("-- {text}");
}

fn main() -> ExitCode {
    let given = std::env::args().nth(1).or_else(|| std::env::var("ZK_CONNECT").ok()).filter(|s| !s.is_empty());
    println!("zk-dsl tour: the zookeeper-clj README, section by section, in Rust.");
    // Kept alive until the end: dropping it stops the JVM and deletes its files.
    let mut _server = None;
    let connect_string = match given {
        Some(cs) => {
            println!("Using the ZooKeeper at {cs}.");
            cs
        }
        None => {
            println!(
                "No connection string given (first argument or ZK_CONNECT), so the tour starts a throwaway \
                 ZooKeeper of its own\nwith zk_dsl::testing::ZkServer; it is stopped and deleted at the end."
            );
            match ZkServer::start() {
                Ok(server) => {
                    println!("Started ZooKeeper at {}.", server.connect_string());
                    let cs = server.connect_string();
                    _server = Some(server);
                    cs
                }
                Err(e) => {
                    eprintln!("tour: cannot start ZooKeeper: {e}\n(scripts/tour.sh installs it)");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tour: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(connect_string.trim_end_matches('/'))) {
        Ok(()) => {
            println!("\nThe tour is over; everything it created is gone.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tour: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Makes the tour's own root, runs the tour chrooted to it, and deletes the root whatever
/// happened.
async fn run(connect_string: &str) -> Result<(), BoxError> {
    let admin = Client::connect(connect_string).await?;
    let root = format!("/zk-dsl-tour-{}-{:08x}", std::process::id(), fastrand::u32(..));
    if let Err(e) = admin.create(root.as_str()).persistent().await {
        return Err(format!("cannot create the tour's root {root} (does the chroot exist?): {e}").into());
    }
    println!("The tour works under {root}: its client is chrooted there, so its \"/\" is that node.");
    let outcome = tour(&format!("{connect_string}{root}")).await;

    section("cleaning up");
    // The ACL section protected nodes for david; as david the admin client may delete them all.
    admin.add_auth("digest", format!("{USER}:{PASSWORD}")).await?;
    step!(admin.delete_all(root.as_str()).await)?;
    admin.close().await?;
    outcome
}

async fn tour(connect_string: &str) -> Result<(), BoxError> {
    // ---------------------------------------------------------------------------------------------
    section("connect function");
    // The default watcher hands every event to this channel, so the tour can print them in order.
    let (events_tx, mut events) = unbounded_channel();
    println!(
        "let client = Client::connect({connect_string:?})\n    .watcher(move |event| events.send(event))\n    .await?;"
    );
    let client = Client::connect(connect_string)
        .watcher(move |event| {
            let _ = events_tx.send(event);
        })
        .await?;
    println!("    => {client:?}");
    expect_event(&mut events, "the default watcher").await?;
    step!(client.state());
    note("The seed's (close client): later calls fail with Closed.");
    let other = Client::connect(connect_string).await?;
    step!(other.close().await)?;
    step!(other.state() => SessionState::Closed);
    step!(other.exists("/").await => Err(Error::Closed { .. }));
    note("No server granting a session in time is an error that says why, not a hang (port 1 has no ZooKeeper):");
    step!(Client::connect("127.0.0.1:1").connect_timeout(Duration::from_millis(500)).await => Err(Error::NoServer { .. }));

    // ---------------------------------------------------------------------------------------------
    section("watchers");
    note(":watch? true leaves a one-shot watch for the default watcher; exists watches missing nodes too.");
    step!(client.exists("/watched").watch().await)?;
    step!(client.create("/watched").persistent().await)?;
    expect_event(&mut events, "the default watcher").await?;
    note(":watcher f calls f instead (on the callback thread):");
    let (custom_tx, mut custom) = unbounded_channel();
    step!(
        client
            .get_data("/watched")
            .watcher(move |event| {
                let _ = custom_tx.send(event);
            })
            .await
    )?;
    step!(client.set_data("/watched", "first").await)?;
    expect_event(&mut custom, "the custom watcher").await?;
    note("Watches are one-time triggers: a second change tells nobody.");
    step!(client.set_data("/watched", "second").await)?;
    // A watch callback runs before the reply that follows its event, so it would be here by now.
    step!(custom.try_recv().ok() => None);
    note("Or await the watch as a future (Rust only):");
    let (children, changed) = step!(client.children("/watched").with_watch().await)?;
    drop(children);
    step!(client.create("/watched/child").await)?;
    step!(tokio::time::timeout(EVENT_WAIT, changed).await)?;

    // ---------------------------------------------------------------------------------------------
    section("create function");
    step!(client.create("/parent-node").persistent().await)?;
    note("The seed returns false when the node exists; here that is an error, or None with exists_ok():");
    step!(client.create("/parent-node").persistent().await => Err(Error::NodeExists { .. }));
    step!(client.create("/parent-node").persistent().await.exists_ok() => Ok(None));
    note("Ephemeral is the default, as in the seed: the node goes with the session.");
    step!(client.create("/ephemeral-node").await)?;
    step!(client.exists("/ephemeral-node").await?.map(|stat| stat.ephemeral_owner == client.session_id()) => Some(true));
    note("A node must be persistent to have children:");
    step!(client.create("/ephemeral-node/child").await => Err(Error::NoChildrenForEphemerals { .. }));
    note("Data and an ACL are options too (data: bytes, strings, numbers, any ZNodeData):");
    step!(client.create("/node-with-data").persistent().data("hello").await)?;
    step!(client.create("/read-only-node").persistent().acl(vec![acl::world_acl(Perms::READ)?]).await)?;
    step!(client.set_data("/read-only-node", "changed?").await => Err(Error::NoAuth { .. }));

    // ---------------------------------------------------------------------------------------------
    section("asynchronous calls");
    note(".send() dispatches at once and returns a handle (the seed's promise); await it to get the result.");
    let pending = step!(client.create("/async-node").persistent().send());
    step!(pending.await)?;
    note(".callback(f) runs f with the result (on the callback thread) and still returns the handle:");
    let pending = client.exists("/async-node").callback(|result| println!("    callback got {result:?}"));
    println!("client.exists(\"/async-node\").callback(|result| println!(...))");
    step!(pending.await)?;
    note("Many requests in flight at once, results in the order they were sent:");
    let handles: Vec<_> = (0..5).map(|i| client.create(format!("/async-node/n{i}")).persistent().send()).collect();
    let mut created = Vec::new();
    for handle in handles {
        created.push(handle.await?);
    }
    println!("(0..5).map(|i| client.create(format!(\"/async-node/n{{i}}\")).persistent().send())\n    => {created:?}");
    note("Async children works (it never answers in the seed):");
    let pending = client.children("/async-node").callback(|result| println!("    callback got {result:?}"));
    println!("client.children(\"/async-node\").callback(|result| println!(...))");
    step!(pending.await.map(|names| names.len()))?;

    // ---------------------------------------------------------------------------------------------
    section("exists function");
    step!(client.exists("/parent-node").await)?;
    step!(client.exists("/no-such-node").await => Ok(None));

    // ---------------------------------------------------------------------------------------------
    section("children function");
    step!(client.create("/parent-node/child-node").await)?;
    step!(client.children("/parent-node").await)?;
    note("No children is an empty list (the seed says nil); a missing node is NoNode, or None (the seed's false):");
    step!(client.children("/parent-node/child-node").await)?;
    step!(client.children("/no-such-node").await => Err(Error::NoNode { .. }));
    step!(client.children("/no-such-node").await.absent_ok() => Ok(None));

    // ---------------------------------------------------------------------------------------------
    section("sequential nodes");
    note("create_all makes the missing parents (persistent) and returns the real sequential name:");
    step!(client.create_all("/parent/child-").sequential().await)?;
    step!(client.create("/parent/child-").sequential().await)?;
    step!(client.create("/parent/child-").sequential().await)?;
    let children = step!(client.children("/parent").await)?;
    step!(util::extract_id(&children[0]))?;
    step!(util::sort_sequential_nodes(children))?;

    // ---------------------------------------------------------------------------------------------
    section("data functions");
    let version = step!(client.exists("/parent").await?.map(|stat| stat.version)).unwrap_or(-1);
    step!(client.set_data("/parent", b"hello world").version(version).await)?;
    note("The version must match: the same write again is refused.");
    step!(client.set_data("/parent", b"hello world").version(version).await => Err(Error::BadVersion { .. }));
    let node = step!(client.get_data("/parent").await)?;
    step!(String::from_utf8_lossy(node.bytes()));
    step!(node.decode::<String>())?;
    note("compare_and_set_data: Some(stat) if it was set, None if the data differed:");
    step!(client.compare_and_set_data("/parent", b"hello world", b"hello again", 3).await)?;
    step!(client.compare_and_set_data("/parent", b"hello world", b"hello there", 3).await => Ok(None));

    // ---------------------------------------------------------------------------------------------
    section("data serialization");
    note("zk_dsl::data has the seed's encodings, byte for byte, so Clojure and Rust read each other's nodes:");
    println!("    String \"héllo\" => {}", hex(&data::to_bytes(&String::from("héllo"))?));
    println!("    i32 1234       => {}", hex(&data::to_bytes(&1234i32)?));
    println!("    i64 1234       => {}", hex(&data::to_bytes(&1234i64)?));
    println!("    f64 123.456    => {}", hex(&data::to_bytes(&123.456f64)?));
    println!("    f32 123.456    => {}", hex(&data::to_bytes(&123.456f32)?));
    println!("    i16 12         => {}", hex(&data::to_bytes(&12i16)?));
    println!("    char 'a'       => {}", hex(&data::to_bytes(&'a')?));
    let version = client.exists("/parent").await?.map_or(-1, |stat| stat.version);
    note("The README's (set-data client \"/parent\" (data/to-bytes 1234) version): a Clojure literal is a Long.");
    step!(client.set_data("/parent", &data::to_bytes(&1234i64)?).version(version).await)?;
    step!(data::to_long(client.get_data("/parent").await?.bytes()))?;
    note("Reading with the wrong width is an error (the seed's to-int says 0):");
    step!(data::to_int(client.get_data("/parent").await?.bytes()) => Err(CodecError { .. }));
    note("Typed data: any ZNodeData type is written and read as itself.");
    step!(client.set_data("/parent", &-42i64).await)?;
    step!(client.get_data("/parent").await?.decode::<i64>())?;
    note("The README stores Clojure forms with pr-str; a Rust type can write the same text (see Settings below):");
    step!(client.set_data("/parent", &Settings { a: 1, b: 2, c: 3 }).await)?;
    step!(data::to_string(client.get_data("/parent").await?.bytes()))?;
    step!(client.get_data("/parent").await?.decode::<Settings>())?;

    // ---------------------------------------------------------------------------------------------
    section("delete functions");
    step!(client.delete("/parent-node/child-node").await)?;
    note("Deleting a missing node is NoNode, or None (the seed's false) with absent_ok():");
    step!(client.delete("/parent-node/child-node").await => Err(Error::NoNode { .. }));
    step!(client.delete("/parent-node/child-node").await.absent_ok() => Ok(None));
    note("An optional version (default -1, any):");
    step!(client.delete("/node-with-data").version(7).await => Err(Error::BadVersion { .. }));
    step!(client.delete("/node-with-data").version(0).await)?;
    note("Nodes with children cannot be deleted; delete_children and delete_all can:");
    step!(client.delete("/parent").await => Err(Error::NotEmpty { .. }));
    step!(client.delete_children("/async-node", false).await)?;
    step!(client.children("/async-node").await)?;
    step!(client.delete_all("/parent").await)?;
    step!(client.exists("/parent").await => Ok(None));

    // ---------------------------------------------------------------------------------------------
    section("ACL functions");
    note("ACL entries: a scheme, an id and permissions; helpers default to read|write|create|delete.");
    step!(acl::acl("world", "anyone", Perms::ALL))?;
    step!(acl::world_acl(Perms::READ | Perms::DELETE | Perms::WRITE))?;
    step!(acl::ip_acl("127.0.0.1", DEFAULT_PERMS))?;
    step!(acl::host_acl("example.com", DEFAULT_PERMS))?;
    step!(acl::auth_acl(DEFAULT_PERMS))?;
    note("digest_acl hashes the password, as the server expects (the seed stores it raw, which locks its user out):");
    step!(acl::digest_acl(USER, PASSWORD, Perms::READ | Perms::DELETE | Perms::WRITE))?;
    step!(acl::hash_password(USER, PASSWORD));
    step!(Perms::from_names(["read", "create"]))?;
    step!(acl::world_acl(Perms::NONE) => Err(acl::AclError::NoPerms));
    note("An auth ACL names the session's own identities, so it needs one first:");
    step!(client.create("/protected-node").persistent().acl(vec![acl::auth_acl(Perms::ALL)?]).await => Err(Error::InvalidAcl { .. }));
    step!(client.add_auth("digest", format!("{USER}:{PASSWORD}")).await)?;
    step!(client.create("/protected-node").persistent().data("david's").acl(vec![acl::auth_acl(Perms::ALL)?]).await)?;
    step!(client.get_acl("/protected-node").await.map(|(acl, _stat)| acl))?;
    note("Another session, not authenticated, is refused (the seed's NoAuthException):");
    let stranger = Client::connect(connect_string).await?;
    step!(stranger.get_data("/protected-node").await => Err(Error::NoAuth { .. }));
    step!(
        client
            .create("/digest-node")
            .persistent()
            .data("for david")
            .acl(vec![acl::digest_acl(USER, PASSWORD, Perms::ALL)?])
            .await
    )?;
    step!(stranger.get_data("/digest-node").await => Err(Error::NoAuth { .. }));
    note("After add_auth (the seed's add-auth-info) the same session may read it:");
    step!(stranger.add_auth("digest", format!("{USER}:{PASSWORD}")).await)?;
    step!(stranger.get_data("/digest-node").await.map(|node| node.data))?;
    stranger.close().await?;
    step!(client.delete("/protected-node").await)?;
    step!(client.delete("/digest-node").await)?;

    // ---------------------------------------------------------------------------------------------
    section("Group Membership, Leader Election and Barrier examples");
    note("The README's three examples are programs of their own; run each in several terminals against one server:");
    println!("    cargo run --example group_membership -- 127.0.0.1:2181 /example-group bob");
    println!("    cargo run --example leader_election -- 127.0.0.1:2181 /election");
    println!("    cargo run --example barrier -- 127.0.0.1:2181 /barrier node1 2");
    println!("(see the top of examples/*.rs for what they print; tests/examples.rs runs three of each)");

    // ---------------------------------------------------------------------------------------------
    section("Running ZooKeeper and testing");
    println!("scripts/tour.sh and scripts/test.sh install ZooKeeper (Debian package) when it is missing.");
    println!("Tests start their own servers with zk_dsl::testing::ZkServer (feature \"testing\"), as this tour");
    println!("does without a connection string; ZK_TEST_TIMEOUT_SCALE stretches their timeouts on slow machines.");
    note("Closing the client: the default watcher hears Closed, and the ephemeral nodes go.");
    step!(client.close().await)?;
    expect_event(&mut events, "the default watcher").await?;
    Ok(())
}

/// Waits for the next event on a watcher's channel and prints it.
async fn expect_event(events: &mut UnboundedReceiver<WatchedEvent>, who: &str) -> Result<(), BoxError> {
    match tokio::time::timeout(EVENT_WAIT, events.recv()).await {
        Ok(Some(event)) => {
            println!("    {who} got {event}");
            Ok(())
        }
        _ => Err(format!("{who} got no event within {EVENT_WAIT:?}").into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
}

/// The README's `{:a 1, :b 2, :c 3}`, as a Rust type stored as that same text (what `pr-str`
/// writes and `read-string` reads), so a Clojure service can share the node.
#[derive(Debug, PartialEq)]
struct Settings {
    a: i64,
    b: i64,
    c: i64,
}

impl ZNodeData for Settings {
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(format!("{{:a {}, :b {}, :c {}}}", self.a, self.b, self.c).into_bytes())
    }

    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        let invalid = |why: &str| CodecError::new("Settings", why);
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8"))?;
        let body =
            text.trim().strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(|| invalid("not a map"))?;
        let (mut a, mut b, mut c) = (None, None, None);
        for entry in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, value) = entry.split_once(' ').ok_or_else(|| invalid("expected `:key value`"))?;
            let value = value.trim().parse::<i64>().map_err(|_| invalid("values must be integers"))?;
            match key {
                ":a" => a = Some(value),
                ":b" => b = Some(value),
                ":c" => c = Some(value),
                _ => return Err(invalid("unknown key")),
            }
        }
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => Ok(Settings { a, b, c }),
            _ => Err(invalid("expected :a, :b and :c")),
        }
    }
}
