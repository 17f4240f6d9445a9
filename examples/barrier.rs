//! The seed's barrier example: a double barrier from the ZooKeeper recipes. No process starts
//! its work until `N` have arrived, and none leaves until all have finished.
//!
//! ```sh
//! cargo run --example barrier -- [CONNECT [BARRIER [NAME [N]]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `BARRIER` to `/barrier`; `NAME` to
//! `member-<pid>`; `N` to 2, as in the seed. Pass `-` to keep a default. Start it in `N`
//! terminals: each waits until the last one arrives, then all are released together, do their
//! (simulated) work, wait for each other again and exit 0. Ctrl-C leaves the barrier at once
//! and exits 1 (the others keep waiting for a full house).
//!
//! Output, one event per line: `WAITING <name> <arrived>/<N>` on arrival, `RELEASED <name>` when
//! all `N` are there, `DONE <name>` after the work, `LEFT <name>` once everyone is done.

mod common;

use common::{arg, connect_string, exit};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::{Client, EventType, ResultExt};

type BoxError = Box<dyn std::error::Error>;

/// As the seed's `connect` default: how long a killed process stays in the barrier.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

/// The node whose creation releases everyone (so it is not a participant).
const READY: &str = "ready";

#[tokio::main]
async fn main() -> ExitCode {
    exit("barrier", run().await)
}

async fn run() -> Result<(), BoxError> {
    let connect_string = connect_string(1);
    let barrier = arg(2).unwrap_or("/barrier".into());
    let me = arg(3).unwrap_or_else(|| format!("member-{}", std::process::id()));
    let n: usize = match arg(4) {
        Some(n) => n.parse().map_err(|_| format!("N must be a whole number, not {n:?}"))?,
        None => 2,
    };
    if me == READY {
        return Err(format!("{READY:?} is the barrier's own node; pick another name").into());
    }

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let outcome = tokio::select! {
        outcome = take_part(&client, &barrier, &me, n) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    // Closing removes our node at once, also when interrupted (the others wait on).
    client.close().await?;
    outcome
}

async fn take_part(client: &Client, barrier: &str, me: &str, n: usize) -> Result<(), BoxError> {
    enter(client, barrier, me, n).await?;
    println!("RELEASED {me}");

    // The work the barrier protects; the pid varies its length so the exit has to wait.
    tokio::time::sleep(Duration::from_millis(200 + u64::from(std::process::id() % 800))).await;
    println!("DONE {me}");

    leave(client, barrier, me).await?;
    println!("LEFT {me}");
    Ok(())
}

/// Joins the barrier and waits until `n` processes are in it.
async fn enter(client: &Client, barrier: &str, me: &str, n: usize) -> Result<(), BoxError> {
    let ready = format!("{barrier}/{READY}");
    // The barrier node is persistent, our node ephemeral (a crashed process drops out).
    client.create_all(format!("{barrier}/{me}")).await?;
    // Watch for the ready node *before* counting, so that the last process creating it between
    // our count and our watch cannot go unnoticed.
    let (stat, created) = client.exists(ready.as_str()).with_watch().await?;
    if stat.is_some() {
        return Ok(()); // the others were all here already
    }
    let arrived = participants(client, barrier).await?.len();
    println!("WAITING {me} {arrived}/{n}");
    if arrived >= n {
        // The last to arrive releases everyone; two may see the count at once, hence exists_ok.
        // Ephemeral, as in the seed: it goes when its creator's session does.
        client.create(ready.as_str()).await.exists_ok()?;
        return Ok(());
    }
    let event = created.await;
    if event.event_type != EventType::NodeCreated {
        return Err(format!("the session ended while waiting: {event}").into());
    }
    Ok(())
}

/// Leaves the barrier and waits until every participant has: the lowest name waits for the
/// highest to go, everyone else deletes its own node and waits for the lowest, which goes last.
/// Each process watches one node, so no one is woken for nothing.
async fn leave(client: &Client, barrier: &str, me: &str) -> Result<(), BoxError> {
    loop {
        let mut names = participants(client, barrier).await?;
        names.sort();
        let (Some(lowest), Some(highest)) = (names.first(), names.last()) else {
            return Ok(()); // everyone is gone
        };
        let watched = if names.len() == 1 && lowest == me {
            // The last one out cleans up: the ready node, itself and, if nobody has come for the
            // next round meanwhile, the barrier node (NotEmpty otherwise, which is fine).
            client.delete(format!("{barrier}/{READY}")).await.absent_ok()?;
            client.delete(format!("{barrier}/{me}")).await.absent_ok()?;
            let _ = client.delete(barrier).await;
            return Ok(());
        } else if lowest == me {
            highest
        } else {
            client.delete(format!("{barrier}/{me}")).await.absent_ok()?;
            lowest
        };
        let (stat, gone) = client.exists(format!("{barrier}/{watched}")).with_watch().await?;
        if stat.is_some() {
            gone.await;
        }
    }
}

/// The processes in the barrier (none if the barrier node is gone).
async fn participants(client: &Client, barrier: &str) -> Result<Vec<String>, BoxError> {
    let names = client.children(barrier).await.absent_ok()?.unwrap_or_default();
    Ok(names.into_iter().filter(|name| name != READY).collect())
}
