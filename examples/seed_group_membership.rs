//! The seed's group membership example written the seed's way: a blocking client, and a watcher
//! that lists the group again *inside the callback* (a synchronous read on the watcher's own
//! thread) and registers itself for the next change — `group-watcher` in zookeeper-clj's
//! README. `group_membership.rs` is the same program in async style.
//!
//! ```sh
//! cargo run --example seed_group_membership -- [CONNECT [GROUP [NAME]]]
//! ```
//!
//! Arguments, output (`JOINED`, `MEMBERS`, `LEFT`) and the way to stop it (end of standard
//! input) are those of `group_membership.rs`; Ctrl-C kills it, and the others then see it
//! leave once its 5 s session has timed out.

mod common;

use common::{arg, connect_string, exit};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zk_dsl::blocking::Client;
use zk_dsl::watch::WatchFn;
use zk_dsl::{ResultExt, WatchedEvent};

/// As the seed's `connect` default: how long the group keeps a member whose process died.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    exit("seed_group_membership", run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let group = arg(2).unwrap_or("/example-group".into());
    let me = arg(3).unwrap_or_else(|| format!("member-{}", std::process::id()));

    let client = zk_dsl::Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).blocking()?;
    if client.exists(group.as_str()).wait()?.is_none() {
        // Another member may create it between our check and our create.
        client.create(group.as_str()).persistent().wait().exists_ok()?;
    }
    // join-group: an ephemeral node for this member, then the listing with the watcher.
    client.create(format!("{group}/{me}")).wait()?;
    println!("JOINED {me}");
    let watcher = group_watcher(client.clone(), group.clone());
    print_members(client.children(group.as_str()).watcher_shared(watcher).wait()?);

    // Stay in the group until standard input ends.
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())?;
    client.close().wait()?;
    println!("LEFT {me}");
    Ok(())
}

/// The seed's `group-watcher`: called every time the group's children change; it lists them
/// with a blocking read, right here on the watcher thread, and adds itself as the watcher of
/// that read. The callback refers to itself through `slot`, like the seed's named function;
/// it lives as long as the process.
fn group_watcher(client: Client, group: String) -> WatchFn {
    let slot: Arc<OnceLock<WatchFn>> = Arc::new(OnceLock::new());
    let this = slot.clone();
    let watcher: WatchFn = Arc::new(move |event: WatchedEvent| {
        // Connection changes leave the watch in place; the session's end leaves nothing to do.
        if event.is_session_event() {
            return;
        }
        let Some(again) = this.get() else { return };
        match client.children(group.as_str()).watcher_shared(again.clone()).wait() {
            Ok(members) => print_members(members),
            Err(e) => eprintln!("seed_group_membership: listing the group: {e}"),
        }
    });
    let _ = slot.set(watcher.clone());
    watcher
}

fn print_members(mut members: Vec<String>) {
    members.sort();
    println!("MEMBERS {}", members.join(","));
}
