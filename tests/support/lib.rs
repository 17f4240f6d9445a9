//! Shared helpers for the integration tests and examples: one real ZooKeeper per test binary,
//! and a fresh chrooted client per test so tests never see each other's nodes and can run in
//! parallel.

pub mod alloc;
pub mod ensemble;
pub mod latch;
pub mod peers;
pub mod tree;

pub use tree::full_read;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use zk_dsl::testing::{scaled, ZkServer};
use zk_dsl::Client;

/// The server shared by every test of one test binary, started on first use. It lives until
/// the process exits; the harness's watchdog then stops the JVM.
pub fn server() -> &'static ZkServer {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(|| match ZkServer::builder().extended_types(true).start() {
        Ok(server) => server,
        // Tests cannot run without a server; say exactly why.
        Err(e) => panic!("cannot start ZooKeeper for the tests: {e}"),
    })
}

/// A test timeout: `base` scaled by `ZK_TEST_TIMEOUT_SCALE`.
pub fn timeout(base: Duration) -> Duration {
    scaled(base)
}

/// The usual wait for something that should happen promptly.
pub fn patience() -> Duration {
    scaled(Duration::from_secs(10))
}

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}-{:08x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), fastrand::u32(..))
}

/// A test's own corner of the server: a fresh persistent root and a client chrooted to it.
pub struct TestEnv {
    /// Chrooted to `root`.
    pub client: Client,
    /// The absolute path of the root node.
    pub root: String,
    /// The connection string of `client` (server address plus chroot).
    pub connect_string: String,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let server = server();
        let root = format!("/{}", unique("t"));
        let admin = connect(&server.connect_string()).await;
        admin.create(root.as_str()).persistent().await.expect("create the test root");
        admin.close().await.expect("close the admin client");
        let connect_string = format!("{}{root}", server.connect_string());
        let client = connect(&connect_string).await;
        TestEnv { client, root, connect_string }
    }

    /// Another session on the same chroot.
    pub async fn another_client(&self) -> Client {
        connect(&self.connect_string).await
    }
}

/// Connects with test-friendly timeouts.
pub async fn connect(connect_string: &str) -> Client {
    Client::connect(connect_string)
        .session_timeout(Duration::from_secs(10))
        .connect_timeout(patience())
        .await
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}\n{}", server().log_tail(30)))
}

/// Awaits `f` or fails the test after `patience()`.
pub async fn within<F: std::future::IntoFuture>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(patience(), f.into_future()).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The paths a `wchc` report lists for `session`: the watches the server holds for it. The
/// report is blocks of `0x<session>` each followed by one tab-indented path per line.
pub fn watched_paths(wchc_report: &str, session: i64) -> std::collections::BTreeSet<String> {
    let header = format!("0x{:x}", session as u64);
    let mut mine = false;
    let mut paths = std::collections::BTreeSet::new();
    for line in wchc_report.lines() {
        match line.strip_prefix('\t') {
            Some(path) if mine => {
                paths.insert(path.trim().to_owned());
            }
            Some(_) => {}
            None if !line.trim().is_empty() => mine = line.trim() == header,
            None => {}
        }
    }
    paths
}

/// `wchc` on the shared server: the paths it holds a watch on for `session`.
pub fn server_watches(session: i64) -> std::collections::BTreeSet<String> {
    watched_paths(&server().four_letter("wchc").expect("wchc"), session)
}

/// A client on `root` through `proxy`, with a `session` timeout and short connection attempts,
/// so it reconnects promptly once the proxy lets it.
pub async fn connect_through(proxy: &zk_dsl::testing::FaultProxy, root: &str, session: Duration) -> Client {
    Client::connect(format!("{}{root}", proxy.connect_string()))
        .session_timeout(session)
        .attempt_timeout(Duration::from_millis(300))
        .connect_timeout(patience())
        .await
        .unwrap_or_else(|e| panic!("connect through the proxy: {e}"))
}

/// Waits until `path`'s children satisfy `done`, on child watches rather than by polling, and
/// returns them; a missing `path` counts as having none (its creation is watched for). Fails the
/// test after `patience()`, naming `what`.
pub async fn children_until(client: &Client, path: &str, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    children_until_within(client, path, what, patience(), done).await
}

/// [`children_until`] with its own limit, for children that change at a peer's pace.
pub async fn children_until_within(
    client: &Client,
    path: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (children, changed) = match client.children(path).with_watch().await {
            Ok(listed) => listed,
            Err(zk_dsl::Error::NoNode { .. }) => {
                let (stat, created) = client.exists(path).with_watch().await.expect("exists");
                if stat.is_none() && tokio::time::timeout_at(deadline, created).await.is_err() {
                    panic!("timed out waiting for {what}: {path} never appeared");
                }
                continue;
            }
            Err(e) => panic!("listing {path} for {what}: {e}"),
        };
        if done(&children) {
            return children;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            panic!("timed out waiting for {what}: {path} has {children:?}");
        }
    }
}

/// Waits until `check` yields a value, for conditions no watch reports (a server's `wchp`
/// table, a flag set by another task): it looks every few milliseconds and fails the test after
/// `patience()`, naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, patience(), check).await
}

/// [`eventually`] with its own limit, for conditions that may take longer than `patience()`
/// (a peer's session timing out, say).
pub async fn eventually_within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `cut` (which drops `client`'s connection, e.g. `proxy.drop_connections()`) and waits
/// until the session has reconnected; fails the test after `patience()`.
pub async fn reconnect_after(client: &Client, cut: impl FnOnce()) {
    let mut events = client.session_events();
    cut();
    within("the reconnection", async {
        while let Some(event) = events.next().await {
            if event == zk_dsl::SessionEvent::Reconnected {
                return;
            }
        }
        panic!("the session ended instead of reconnecting");
    })
    .await;
}

/// The identities a session has on the server (`scheme:id`, from `whoAmI`), sorted.
pub async fn identities(client: &Client) -> Vec<String> {
    let who = client.who_am_i().await.expect("whoAmI");
    let mut ids: Vec<String> = who.into_iter().map(|i| format!("{}:{}", i.auth_scheme, i.user)).collect();
    ids.sort();
    ids
}
