//! `zk!` costs nothing at run time: for every verb and option, the macro and the builder chain
//! a person would write send byte-identical requests. A scripted fake server records each
//! request frame (xid blanked, since it only counts requests) and answers every request with
//! NoNode, so both sides see the same replies and compound operations take the same path.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use suite::within;
use zk_dsl::acl::{self, DEFAULT_PERMS};
use zk_dsl::proto::{encode_bare, ConnectResponse, Encode, ReplyHeader, DEFAULT_MAX_PACKET};
use zk_dsl::{zk, Client, CreateMode, Perms, WatcherType};

const CLOSE: i32 = -11;
const PING_XID: i32 = -2;
const AUTH_XID: i32 = -4;
const ADD_WATCH: i32 = 106;

/// A client connected to a fake server that records every request.
struct Recorder {
    client: Client,
    frames: Arc<Mutex<Vec<Vec<u8>>>>,
    server: JoinHandle<()>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let recorded = frames.clone();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_frame(&mut s).await.unwrap(); // ConnectRequest
            let mut out = BytesMut::new();
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 10_000,
                session_id: 0x5eed,
                password: vec![1; 16],
                read_only: false,
            };
            encode_bare(&mut out, &resp, DEFAULT_MAX_PACKET).unwrap();
            s.write_all(&out).await.unwrap();
            while let Some(mut frame) = read_frame(&mut s).await {
                let xid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                let op = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                let err = match (xid, op) {
                    (PING_XID, _) => 0,
                    // Accepted, so the client holds a watch that removeWatches can name.
                    (AUTH_XID, _) | (_, CLOSE | ADD_WATCH) => 0,
                    _ => -101,
                };
                if xid != PING_XID && op != CLOSE {
                    frame[..4].copy_from_slice(&[0; 4]);
                    recorded.lock().unwrap().push(frame);
                }
                let mut reply = BytesMut::new();
                ReplyHeader { xid, zxid: 1, err }.encode(&mut reply);
                let mut framed = (reply.len() as i32).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if s.write_all(&framed).await.is_err() || op == CLOSE {
                    break;
                }
            }
        });
        let client =
            Client::connect(addr.to_string()).session_timeout(Duration::from_secs(10)).await.expect("fake handshake");
        Recorder { client, frames, server }
    }

    async fn frames(self) -> Vec<Vec<u8>> {
        self.client.close().await.unwrap();
        within("the fake server to finish", self.server).await.unwrap();
        let frames = self.frames.lock().unwrap().clone();
        frames
    }
}

async fn read_frame(s: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let len = s.read_i32().await.ok()?;
    let mut buf = vec![0; usize::try_from(len).ok()?];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Runs the `zk!` form and the builder form, each on its own recorded session, and compares
/// what reached the server. Results are ignored (every request is answered NoNode).
macro_rules! same_requests {
    ($client:ident => $dsl:expr, $builder:expr $(,)?) => {{
        let with_macro = Recorder::start().await;
        {
            let $client = &with_macro.client;
            let _ = within("the zk! form", async { $dsl.await }).await;
        }
        let with_builder = Recorder::start().await;
        {
            let $client = &with_builder.client;
            let _ = within("the builder form", async { $builder.await }).await;
        }
        let (a, b) = (with_macro.frames().await, with_builder.frames().await);
        assert!(!a.is_empty(), "nothing was sent for {}", stringify!($dsl));
        assert_eq!(a, b, "{} sent other requests than {}", stringify!($dsl), stringify!($builder));
    }};
}

#[tokio::test]
async fn creates() {
    same_requests!(c => zk!(c, create "/p" persistent), c.create("/p").persistent());
    same_requests!(c => zk!(c, create "/p"), c.create("/p"));
    same_requests!(
        c => zk!(c, create "/q/job-" sequential data = "x" acl = [world(read, write)]),
        c.create("/q/job-").sequential().data("x").acl(vec![acl::world_acl(Perms::READ | Perms::WRITE).unwrap()]),
    );
    same_requests!(
        c => zk!(c, create "/p" with_stat persistent),
        c.create("/p").persistent().with_stat(),
    );
    same_requests!(c => zk!(c, create "/c" container), c.create("/c").container());
    same_requests!(
        c => zk!(c, create "/t" ttl = Duration::from_secs(5) bytes = &b"raw"[..]),
        c.create("/t").ttl(Duration::from_secs(5)).bytes(&b"raw"[..]),
    );
    // Duration literals are the constructors a person would write.
    same_requests!(c => zk!(c, create "/t" ttl = 90s), c.create("/t").ttl(Duration::from_secs(90)));
    same_requests!(c => zk!(c, create "/t" ttl = 2m), c.create("/t").ttl(Duration::from_secs(120)));
    same_requests!(c => zk!(c, create "/t" ttl = 1500ms), c.create("/t").ttl(Duration::from_millis(1500)));
    same_requests!(
        c => zk!(c, create "/m" mode = CreateMode::PersistentSequential),
        c.create("/m").mode(CreateMode::PersistentSequential),
    );
    let name = "svc";
    same_requests!(
        c => zk!(c, create "/services/{name}/config" persistent data = &7i64),
        c.create(format!("/services/{name}/config")).persistent().data(&7i64),
    );
    same_requests!(
        c => zk!(c, create "/a/{1 + 1}/{{b}}" ephemeral),
        c.create(format!("/a/{}/{{b}}", 1 + 1)).ephemeral(),
    );
    same_requests!(
        c => zk!(c, create-all "/x/y/z" persistent data = "leaf"),
        c.create_all("/x/y/z").persistent().data("leaf"),
    );
}

#[tokio::test]
async fn reads() {
    same_requests!(c => zk!(c, exists "/e" watch), c.exists("/e").watch());
    same_requests!(c => zk!(c, exists "/e" with_watch), c.exists("/e").with_watch());
    same_requests!(c => zk!(c, get_data "/d"), c.get_data("/d"));
    same_requests!(c => zk!(c, get_data "/d" as i64), c.get_data("/d").decode::<i64>());
    same_requests!(
        c => zk!(c, get_data "/d" with_watch as String),
        c.get_data("/d").decode::<String>().with_watch(),
    );
    same_requests!(c => zk!(c, data "/d" watcher = |_| {}), c.get_data("/d").watcher(|_| {}));
    same_requests!(c => zk!(c, exists "/e" watcher_once = |_| {}), c.exists("/e").watcher_once(|_| {}));
    same_requests!(
        c => zk!(c, get_data "/d" timeout = 5s),
        c.get_data("/d").timeout(std::time::Duration::from_secs(5)),
    );
    same_requests!(
        c => zk!(c, create "/t" persistent timeout = 500ms with_stat),
        c.create("/t").persistent().timeout(std::time::Duration::from_millis(500)).with_stat(),
    );
    let shared: zk_dsl::watch::WatchFn = Arc::new(|_| {});
    same_requests!(
        c => zk!(c, children "/k" watcher_shared = shared.clone()),
        c.children("/k").watcher_shared(shared.clone()),
    );
    same_requests!(c => zk!(c, children "/k" with_watch with_stat), c.children("/k").with_stat().with_watch());
    same_requests!(c => zk!(c, get_acl "/a"), c.get_acl("/a"));
    same_requests!(c => zk!(c, sync "/s"), c.sync("/s"));
    same_requests!(c => zk!(c, get_ephemerals "/"), c.get_ephemerals("/"));
    same_requests!(c => zk!(c, get_all_children_number "/n"), c.get_all_children_number("/n"));
    same_requests!(c => zk!(c, who_am_i), c.who_am_i());
    same_requests!(c => zk!(c, get_config with_watch), c.get_config().with_watch());
    same_requests!(
        c => zk!(c, reconfig add = "server.4=h:1:2;3" remove = 2 from_config = 7),
        c.reconfig().add("server.4=h:1:2;3").remove(2).from_config(7),
    );
    same_requests!(c => zk!(c, reconfig members = ["server.1=h:1:2"]), c.reconfig().members(["server.1=h:1:2"]));
    same_requests!(
        c => zk!(c, multi_read { get_data "/a"; children "/b"; }),
        c.multi_read().get_data("/a").get_children("/b"),
    );
    same_requests!(c => zk!(c, filter_children_by_prefix "/f" "job-"), c.filter_children_by_prefix("/f", "job-"));
    same_requests!(c => zk!(c, filter_children_by_suffix "/f" "-1"), c.filter_children_by_suffix("/f", "-1"));
    let re = zk_dsl::regex::Regex::new("x").unwrap();
    same_requests!(c => zk!(c, filter_children_by_pattern "/f" &re), c.filter_children_by_pattern("/f", &re));
    same_requests!(c => zk!(c, filter_children "/f" |_| true), c.filter_children("/f", |_| true));
}

#[tokio::test]
async fn writes() {
    same_requests!(c => zk!(c, set_data "/d" "v" version = 3), c.set_data("/d", "v").version(3));
    let value = vec![1u8, 2];
    same_requests!(c => zk!(c, set-data "/d" &value), c.set_data("/d", &value));
    same_requests!(c => zk!(c, clear_data "/d" version = 1), c.clear_data("/d").version(1));
    same_requests!(c => zk!(c, delete "/d" version = 2), c.delete("/d").version(2));
    same_requests!(c => zk!(c, delete_all "/d"), c.delete_all("/d"));
    same_requests!(c => zk!(c, delete_children "/d" sort), c.delete_children("/d", true));
    same_requests!(
        c => zk!(c, compare_and_set_data "/d" &1i64 &2i64 retries = 3),
        c.compare_and_set_data("/d", &1i64, &2i64, 3),
    );
    same_requests!(
        c => zk!(c, set_acl "/d" [digest("u", "p", read), ip("10.0.0.0/8")] version = 4),
        c.set_acl("/d", vec![acl::digest_acl("u", "p", Perms::READ).unwrap(), acl::ip_acl("10.0.0.0/8", DEFAULT_PERMS).unwrap()])
            .version(4),
    );
    same_requests!(
        c => zk!(c, compare_and_set_data "/d" b"old" b"new" retries = 2),
        c.compare_and_set_data("/d", b"old", b"new", 2),
    );
    same_requests!(c => zk!(c, add-auth-info "digest" "u:p"), c.add_auth("digest", "u:p"));
}

#[tokio::test]
async fn watches_and_transactions() {
    same_requests!(c => zk!(c, watch "/w" recursive), c.watch("/w").recursive());
    same_requests!(c => zk!(c, watch "/w"), c.watch("/w"));
    same_requests!(
        c => async { c.watch("/w").await?; zk!(c, check_watches "/w" any).await },
        async { c.watch("/w").await?; c.check_watches("/w", WatcherType::Any).await },
    );
    same_requests!(
        c => async { c.watch("/w").await?; zk!(c, remove_watches "/w" any).await },
        async { c.watch("/w").await?; c.remove_watches("/w", WatcherType::Any).await },
    );
    same_requests!(
        c => zk!(c, txn {
            create "/t/a" persistent data = "x" acl = [auth(all)];
            create "/t/b-" sequential;
            set_data "/t" "y" version = 3;
            check "/t" version = 4;
            delete "/t/old";
        }),
        c.transaction()
            .create_with("/t/a", |o| o.persistent().data("x").acl(vec![acl::auth_acl(Perms::ALL).unwrap()]))
            .create_with("/t/b-", |o| o.sequential())
            .set_data("/t", "y", 3)
            .check("/t", 4)
            .delete("/t/old", -1),
    );
    same_requests!(
        c => zk!(c, transaction { create "/t/x" persistent; }),
        c.transaction().create_with("/t/x", |o| o.persistent()),
    );
    same_requests!(
        c => zk! { c =>
            create "/b" persistent;
            let stat = exists "/b";
            set_data "/b" "v" version = stat.map_or(-1, |s| s.version);
        },
        async {
            c.create("/b").persistent().await?;
            let stat = c.exists("/b").await?;
            c.set_data("/b", "v").version(stat.map_or(-1, |s| s.version)).await?;
            Ok::<_, zk_dsl::Error>(())
        },
    );
}
