//! The seed's leader election example written the seed's way: a blocking client, and a
//! predecessor watcher (`watch-predecessor` in zookeeper-clj's README) that checks the
//! predecessor again, and re-runs the election, with blocking calls *inside the callback*.
//! `leader_election.rs` is the same algorithm in async style.
//!
//! ```sh
//! cargo run --example seed_leader_election -- [CONNECT [ELECTION [NAME]]]
//! ```
//!
//! Arguments, output (`CANDIDATE`, `LEADER`, `FOLLOWER … watching …`, `RESIGNED`) and the way to
//! stop it (end of standard input) are those of `leader_election.rs`.

mod common;

use common::{arg, connect_string, exit};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use zk_dsl::blocking::Client;
use zk_dsl::{util, EventType, ResultExt, WatchedEvent};

/// As the seed's `connect` default: how long a killed leader keeps its place.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    exit("seed_leader_election", run())
}

/// What every callback needs: the client and the election's root node.
struct Election {
    client: Client,
    root: String,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let root = arg(2).unwrap_or("/election".into());
    let prefix = arg(3).unwrap_or("n".into());

    let client = zk_dsl::Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).blocking()?;
    if client.exists(root.as_str()).wait()?.is_none() {
        client.create(root.as_str()).persistent().wait().exists_ok()?;
    }
    let election = Arc::new(Election { client: client.clone(), root });
    // join-group: an ephemeral sequential candidate, then the election.
    let path = client.create(format!("{}/{prefix}-", election.root)).sequential().wait()?;
    let me = election.node_from_path(&path).to_owned();
    println!("CANDIDATE {me}");
    election.elect_leader(&me)?;

    // Stay a candidate until standard input ends; closing deletes our node at once.
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())?;
    client.close().wait()?;
    println!("RESIGNED {me}");
    Ok(())
}

impl Election {
    fn node_from_path<'p>(&self, path: &'p str) -> &'p str {
        path.rsplit('/').next().unwrap_or(path)
    }

    fn path_of(&self, node: &str) -> String {
        format!("{}/{node}", self.root)
    }

    /// The seed's `elect-leader`: the lowest sequence number leads; everyone else watches only
    /// its predecessor (no herd). Runs on the main thread first, then inside callbacks.
    fn elect_leader(self: &Arc<Self>, me: &str) -> zk_dsl::Result<()> {
        let members = util::sort_sequential_nodes(self.client.children(self.root.as_str()).wait()?)?;
        let Some(position) = members.iter().position(|m| m == me) else {
            println!("LOST {me}");
            return Ok(());
        };
        if position == 0 {
            println!("LEADER {me}");
            return Ok(());
        }
        let (pred, leader) = (members[position - 1].clone(), members[0].clone());
        println!("FOLLOWER {me} watching {pred}");
        if !self.watch_predecessor(me, &pred, &leader)? {
            // It went between the listing and the watch: look again.
            return self.elect_leader(me);
        }
        Ok(())
    }

    /// Sets the seed's `watch-predecessor` on `pred`; false if `pred` is already gone.
    fn watch_predecessor(self: &Arc<Self>, me: &str, pred: &str, leader: &str) -> zk_dsl::Result<bool> {
        let (election, me_, pred_, leader_) = (self.clone(), me.to_owned(), pred.to_owned(), leader.to_owned());
        let stat = self
            .client
            .exists(self.path_of(pred))
            .watcher(move |event| election.predecessor_changed(&me_, &pred_, &leader_, event))
            .wait()?;
        Ok(stat.is_some())
    }

    /// The seed's `watch-predecessor` callback: the leader went, so this candidate leads;
    /// otherwise check the predecessor again (blocking, inside the callback) and re-elect if it
    /// is gone.
    fn predecessor_changed(self: &Arc<Self>, me: &str, pred: &str, leader: &str, event: WatchedEvent) {
        if event.is_session_event() {
            return; // the watch stays across reconnects; the session's end ends the election
        }
        let gone = event.event_type == EventType::NodeDeleted;
        let outcome = if gone && event.path.as_deref().map(|p| self.node_from_path(p)) == Some(leader) {
            println!("LEADER {me}");
            Ok(())
        } else {
            match self.watch_predecessor(me, pred, leader) {
                Ok(true) => Ok(()),
                Ok(false) => self.elect_leader(me),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = outcome {
            eprintln!("seed_leader_election: {e}");
        }
    }
}
