//! The seed's group membership example: every process joins a group by creating an ephemeral
//! node named after itself, and prints the members whenever they change.
//!
//! ```sh
//! cargo run --example group_membership -- [CONNECT [GROUP [NAME]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `GROUP` to `/example-group`;
//! `NAME` to `member-<pid>`. Pass `-` to keep a default. Start it in several terminals with
//! different names (bob, sue, dan): each prints the members as they join, and when one process
//! is killed the others print the members that remain (after its session times out, 5 s, since
//! a killed process cannot say goodbye).
//!
//! It leaves the group at once and exits 0 on Ctrl-C or at the end of its standard input
//! (Ctrl-D). Run it in the background with stdin kept open (`sleep infinity | cargo run ...`),
//! or it leaves straight away.
//!
//! Output, one event per line: `JOINED <name>`, `MEMBERS <name>,<name>,...` (sorted), `LEFT <name>`.

mod common;

use common::{arg, connect_string, exit, stdin_closed};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::{Client, ResultExt};

/// As the seed's `connect` default: how long the group keeps a member whose process died.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("group_membership", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let group = arg(2).unwrap_or("/example-group".into());
    let me = arg(3).unwrap_or_else(|| format!("member-{}", std::process::id()));

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    // The group itself is persistent; several members may create it at the same moment.
    client.create_all(group.as_str()).persistent().await.exists_ok()?;
    // The member is ephemeral (the default): the server deletes it when this process's session
    // ends, which is how the others learn it left, even if it crashed.
    client.create(format!("{group}/{me}")).await?;
    println!("JOINED {me}");

    let shutdown = stdin_closed();
    tokio::pin!(shutdown);
    loop {
        // A watch fires once, so every read sets a new one: the seed's group-watcher, which
        // re-registers itself each time it runs.
        let (mut members, changed) = client.children(group.as_str()).with_watch().await?;
        members.sort();
        println!("MEMBERS {}", members.join(","));
        tokio::select! {
            // If the session ended instead, the next read says so.
            _ = changed => {}
            () = &mut shutdown => break,
        }
    }
    // Closing deletes our node now rather than after the session timeout.
    client.close().await?;
    println!("LEFT {me}");
    Ok(())
}
