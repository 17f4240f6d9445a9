//! A shared configuration and a group, mirrored in every process: each process joins the group
//! `<PATH>/members` (Curator's `GroupMember` layout) and keeps a [`Cache`] of `<PATH>/config`;
//! lines typed on standard input change the configuration, and every process prints what
//! changed. It runs on [`Sessions`], so a process whose session expires carries on in a new
//! one: it rejoins, reloads, and prints exactly what changed while it was away.
//!
//! ```sh
//! cargo run --example cache -- [CONNECT [PATH [NAME]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `PATH` to `/example-cache`;
//! `NAME` to `member-<pid>`. Start it in several terminals and type in any of them:
//!
//! * `set KEY VALUE` writes `<PATH>/config/KEY`, `del KEY` deletes it;
//! * `show` prints this process's view: `MEMBERS <name,...>` and one `CONFIG KEY=VALUE` per key.
//!
//! Output: `READY <name>` once joined and loaded, then one line per change seen: `JOINED <name>`,
//! `LEFT <name>`, `CONFIG <key>=<value>`, `UNSET <key>`, `DISCONNECTED`, `RECONNECTED`. End of
//! input (Ctrl-D) or Ctrl-C leaves the group and exits.
//!
//! [`Cache`]: zk_dsl::recipes::Cache
//! [`Sessions`]: zk_dsl::client::Sessions

mod common;

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use common::{arg, connect_string, exit};
use tokio::sync::mpsc;
use zk_dsl::client::Sessions;
use zk_dsl::recipes::{Cache, CacheEvent, CacheHandle, GroupMember, MemberEvent};
use zk_dsl::{Client, ResultExt};

const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("cache", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let path = arg(2).unwrap_or("/example-cache".into());
    let me = arg(3).unwrap_or_else(|| format!("member-{}", std::process::id()));
    let config_dir = format!("{path}/config");

    let zk =
        Sessions::connect(move || Client::connect(connect_string.clone()).session_timeout(SESSION_TIMEOUT)).await?;
    zk.client().create_all(config_dir.as_str()).persistent().await.exists_ok()?;
    let mut config = Cache::new(&zk, config_dir.as_str()).depth(1).start().await?;
    let mut group = GroupMember::new(&zk, format!("{path}/members"), me.as_str()).start().await?;
    // What was there at start is the view `show` prints, not news.
    while !matches!(config.next().await, Some(CacheEvent::Initialized) | None) {}
    while !matches!(group.next().await, Some(MemberEvent::Initialized) | None) {}
    println!("READY {me}");

    let mut commands = stdin_lines();
    loop {
        tokio::select! {
            line = commands.recv() => match line {
                Some(line) => command(&zk.client(), &config_dir, &config, &group.members(), line.trim()).await?,
                None => break,
            },
            Some(event) = config.next() => print_config_event(&config_dir, event),
            Some(event) = group.next() => match event {
                MemberEvent::Joined { id, .. } if id != me => println!("JOINED {id}"),
                MemberEvent::Left { id } => println!("LEFT {id}"),
                _ => {}
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    group.close().await?;
    zk.close().await?;
    Ok(())
}

async fn command(
    client: &Client,
    config_dir: &str,
    config: &CacheHandle,
    members: &std::collections::BTreeMap<String, bytes::Bytes>,
    line: &str,
) -> zk_dsl::Result<()> {
    let mut words = line.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("set"), Some(key), Some(value)) => {
            let node = format!("{config_dir}/{key}");
            match client.set_data(node.as_str(), value).await {
                Err(zk_dsl::Error::NoNode { .. }) => {
                    client.create(node.as_str()).persistent().data(value).await.map(drop)
                }
                other => other.map(drop),
            }
        }
        (Some("del"), Some(key), None) => match client.delete(format!("{config_dir}/{key}")).await {
            Err(zk_dsl::Error::NoNode { .. }) => Ok(()),
            other => other,
        },
        (Some("show"), None, None) => {
            println!("MEMBERS {}", members.keys().cloned().collect::<Vec<_>>().join(","));
            for key in config.children(config_dir) {
                let value = config.get_as::<String>(&format!("{config_dir}/{key}"))?.unwrap_or_default();
                println!("CONFIG {key}={value}");
            }
            Ok(())
        }
        (None | Some(""), ..) => Ok(()),
        _ => {
            eprintln!("commands: set KEY VALUE | del KEY | show");
            Ok(())
        }
    }
}

fn print_config_event(config_dir: &str, event: CacheEvent) {
    let key = |path: &str| path.strip_prefix(config_dir).and_then(|k| k.strip_prefix('/')).map(str::to_owned);
    match event {
        CacheEvent::Added { path, node } | CacheEvent::Updated { path, new: node, .. } => {
            if let Some(key) = key(&path) {
                println!("CONFIG {key}={}", String::from_utf8_lossy(node.bytes()));
            }
        }
        CacheEvent::Removed { path, .. } => {
            if let Some(key) = key(&path) {
                println!("UNSET {key}");
            }
        }
        CacheEvent::Disconnected => println!("DISCONNECTED"),
        CacheEvent::Reconnected => println!("RECONNECTED"),
        CacheEvent::Initialized => {}
    }
}

/// Standard input's lines, read on a plain thread (tokio's stdin would keep the runtime from
/// shutting down while it reads); the channel closes at the end of input.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
