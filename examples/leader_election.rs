//! The seed's leader election example: every process enters the election with an
//! ephemeral-sequential node; the lowest number leads, and each of the others watches only the
//! node just before its own, so a leader's death wakes one process, not all of them (no herd
//! effect).
//!
//! ```sh
//! cargo run --example leader_election -- [CONNECT [ELECTION [NAME]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `ELECTION` to `/election`; `NAME`
//! (the prefix of the candidate node) to `n`, as in the seed. Pass `-` to keep a default. Start
//! it in several terminals, then kill them in any order: when the leader goes, the next in line
//! takes over — at once if it exited cleanly, after its session timeout (5 s) if it was killed.
//!
//! It withdraws and exits 0 on Ctrl-C or at the end of its standard input (Ctrl-D); keep stdin
//! open to run it in the background (`sleep infinity | cargo run ...`).
//!
//! Output, one event per line: `CANDIDATE <node>`, then `LEADER <node>`, or
//! `FOLLOWER <node> watching <predecessor>` (again whenever the predecessor changes), and
//! `RESIGNED <node>` at exit. A leader whose session expires prints `LOST <node>` and exits 1.

mod common;

use common::{arg, connect_string, exit, stdin_closed};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::{util, Client, ResultExt, SessionEvent};

/// As the seed's `connect` default: how long a killed leader keeps its place.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("leader_election", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let election = arg(2).unwrap_or("/election".into());
    let prefix = arg(3).unwrap_or("n".into());

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let mut session = client.session_events();
    client.create_all(election.as_str()).persistent().await.exists_ok()?;
    // Ephemeral (the default) and sequential: the server numbers the candidates in order of
    // arrival and removes a candidate whose process is gone.
    let path = client.create(format!("{election}/{prefix}-")).sequential().await?;
    let me = path.rsplit('/').next().unwrap_or_default().to_owned();
    println!("CANDIDATE {me}");

    let shutdown = stdin_closed();
    tokio::pin!(shutdown);
    loop {
        // The order of children is arbitrary; the sequence numbers give the order of arrival
        // (whatever the names' prefixes: the parent numbers all its children with one counter).
        let candidates = util::sort_sequential_nodes(client.children(election.as_str()).await?)?;
        let Some(position) = candidates.iter().position(|c| *c == me) else {
            // Our node is gone: the session expired while we were not looking.
            println!("LOST {me}");
            return Err(format!("{path} is gone: the session expired").into());
        };
        if position == 0 {
            println!("LEADER {me}");
            tokio::select! {
                () = &mut shutdown => break,
                () = session_lost(&mut session) => {
                    // The node went with the session; someone else leads now.
                    println!("LOST {me}");
                    return Err(format!("lost {path}: the session ended").into());
                }
            }
        }
        // Watch only the predecessor. When it goes, look again: it may have been the leader
        // (then we lead) or a follower that died (then we watch the one before it).
        let predecessor = &candidates[position - 1];
        let (stat, gone) = client.exists(format!("{election}/{predecessor}")).with_watch().await?;
        if stat.is_none() {
            continue; // it went between the listing and the watch
        }
        println!("FOLLOWER {me} watching {predecessor}");
        tokio::select! {
            // A session event instead of a deletion means the session is over: the next
            // listing says so.
            _ = gone => {}
            () = &mut shutdown => break,
        }
    }
    // Closing deletes our node now, so the next candidate takes over without waiting.
    client.close().await?;
    println!("RESIGNED {me}");
    Ok(())
}

/// Resolves when the session has ended for good (an expired session loses its ephemeral node,
/// and with it the leadership). A mere disconnection is not enough: the session, and the node,
/// may survive it.
async fn session_lost(events: &mut zk_dsl::client::SessionEvents) {
    while let Some(event) = events.next().await {
        if matches!(event, SessionEvent::Expired | SessionEvent::AuthFailed | SessionEvent::Closed) {
            return;
        }
    }
}
