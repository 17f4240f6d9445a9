//! Leader election with a leader latch (Curator's `LeaderLatch` layout, so Curator services can
//! take part): every process joins the election and says when it leads and when it stops;
//! exactly one leads at a time, and it stops saying so as soon as its connection is in doubt.
//!
//! ```sh
//! cargo run --example leader_latch -- [CONNECT [ELECTION [NAME]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `ELECTION` to `/example-latch`;
//! `NAME` (the participant id) to `candidate-<pid>`. Start it in several terminals; type `who`
//! (and Enter) to see every participant in order; end standard input (Ctrl-D) to withdraw (the
//! next one leads at once); kill the leader (Ctrl-C) and the next leads after its 5 s session
//! has timed out.
//!
//! Output: `CANDIDATE <name>`, then `LEADER <name>` / `FOLLOWER <name>` whenever that changes,
//! `PARTICIPANTS <id>,<id>,...` for `who`, and `RESIGNED <name>` at exit.

mod common;

use common::{arg, connect_string, exit};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::recipes::LeaderLatch;
use zk_dsl::Client;

const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("leader_latch", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let election = arg(2).unwrap_or("/example-latch".into());
    let me = arg(3).unwrap_or_else(|| format!("candidate-{}", std::process::id()));

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let mut latch = LeaderLatch::new(&client, election.as_str()).id(me.as_str()).start().await?;
    println!("CANDIDATE {me}");
    if !latch.is_leader() {
        println!("FOLLOWER {me}");
    }
    let mut commands = stdin_lines();
    loop {
        tokio::select! {
            change = latch.leadership_changed() => match change {
                Some(true) => println!("LEADER {me}"),
                Some(false) => println!("FOLLOWER {me}"),
                None => return Err("the session ended; this latch will not lead again".into()),
            },
            line = commands.recv() => match line {
                Some(command) if command.trim() == "who" => {
                    let ids: Vec<String> = latch.participants().await?.iter().map(|p| p.id_str().into_owned()).collect();
                    println!("PARTICIPANTS {}", ids.join(","));
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    latch.close().await?;
    client.close().await?;
    println!("RESIGNED {me}");
    Ok(())
}

/// Standard input's lines, read on a plain thread; the channel closes at the end of input.
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
