//! Who holds and who waits: read from the contender nodes' names and data.

use super::driver::BlockedBy;
use crate::client::Client;
use crate::error::Error;
use crate::recipes::contenders;
use crate::recipes::protected::child_path;

/// A contender, as [`participants`](super::Mutex::participants) lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The contender node's path.
    pub node: String,
    /// Its participant id (the node's data; Curator writes its participant id or local address,
    /// kazoo its identifier).
    pub id: Vec<u8>,
    /// Whether it holds the lock (or leads) now.
    pub holds: bool,
}

impl Participant {
    /// The id as text (lossy for non-UTF-8 ids).
    pub fn id_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.id)
    }
}

/// The contenders of `dir` in order, with their data read in one pipelined batch. A contender
/// that goes between the listing and the read is left out.
pub(crate) async fn participants(client: &Client, dir: &str, blocked_by: BlockedBy) -> Result<Vec<Participant>, Error> {
    let children = match client.children(dir).await {
        Ok(children) => children,
        Err(Error::NoNode { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let ordered = contenders::sorted(children);
    let reads: Vec<_> = ordered.iter().map(|c| client.get_data(child_path(dir, &c.name)).send()).collect();
    let mut out = Vec::with_capacity(ordered.len());
    for (index, (contender, read)) in ordered.iter().zip(reads).enumerate() {
        match read.await {
            Ok(node) => out.push(Participant {
                node: child_path(dir, &contender.name),
                id: node.bytes().to_vec(),
                holds: blocked_by(&ordered, index).is_none(),
            }),
            Err(Error::NoNode { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
