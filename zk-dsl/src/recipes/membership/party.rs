//! [`Party`]: kazoo's `Party` and `ShallowParty` layouts.

use bytes::Bytes;

use crate::client::{ReadResult, SessionSource};
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::cache::{PersistentNode, PersistentNodeHandle};
use crate::recipes::protected::child_path;

/// The suffix of a kazoo `Party` member's node name.
const PARTY_SUFFIX: &str = "__party__";

/// How many member nodes one `multiRead` of [`Party::members`] covers.
const READ_BATCH: usize = 256;

/// A kazoo party at a path: join it, or list who is in it.
///
/// * [`Party::new`] is kazoo's `Party`: a member is an ephemeral `<uuid hex>__party__` node
///   holding the identifier (UTF-8); listing reads every member's data.
/// * [`.shallow()`](Self::shallow) is kazoo's `ShallowParty`: a member is an ephemeral
///   `<uuid hex>-<identifier>` node; listing is one `getChildren`.
///
/// kazoo members and zk-dsl members of the same path see each other.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::Party;
///
/// let workers = Party::new(client, "/party/workers", "rust-worker-1");
/// let me = workers.join().await?;
/// println!("in the party: {:?}", workers.members().await?);
/// me.leave().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Party {
    source: SessionSource,
    path: String,
    identifier: String,
    shallow: bool,
}

impl Party {
    /// kazoo's `Party(path, identifier)`, in the sessions of `source` (a `&Client` or
    /// `&Sessions`).
    pub fn new(source: impl Into<SessionSource>, path: impl Into<String>, identifier: impl Into<String>) -> Party {
        Party { source: source.into(), path: path.into(), identifier: identifier.into(), shallow: false }
    }

    /// kazoo's `ShallowParty` layout instead: the identifier is part of the node name.
    pub fn shallow(mut self) -> Self {
        self.shallow = true;
        self
    }

    /// Joins the party: creates this member's node and keeps it present (through deletions,
    /// reconnections and, with `Sessions`, expiries) until [`leave`](PartyMembership::leave).
    pub async fn join(&self) -> Result<PartyMembership, Error> {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        let node = if self.shallow {
            if self.identifier.contains('/') || self.identifier.contains('\0') {
                return Err(Error::invalid_argument(
                    Some(OpCode::Create),
                    Some(&self.path),
                    format!("a shallow party identifier is part of a node name, not {:?}", self.identifier),
                ));
            }
            PersistentNode::new(&self.source, child_path(&self.path, &format!("{uuid}-{}", self.identifier)))
        } else {
            PersistentNode::new(&self.source, child_path(&self.path, &format!("{uuid}{PARTY_SUFFIX}")))
                .data(self.identifier.as_bytes())
        };
        Ok(PartyMembership { node: node.start().await? })
    }

    /// The identifiers of the party's members, in node-name order (kazoo's `list(party)`); empty
    /// when the party's node does not exist. A member leaving while it is read is left out; data
    /// that is not UTF-8 is shown lossily.
    pub async fn members(&self) -> Result<Vec<String>, Error> {
        let client = self.source.client();
        let mut names = match client.children(self.path.as_str()).await {
            Ok(names) => names,
            Err(Error::NoNode { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        names.sort();
        if self.shallow {
            // kazoo takes what follows the first '-'.
            return Ok(names
                .iter()
                .map(|name| name.split_once('-').map_or(name.as_str(), |(_, id)| id).to_owned())
                .collect());
        }
        let pending: Vec<_> = names
            .chunks(READ_BATCH)
            .map(|batch| {
                batch.iter().fold(client.multi_read(), |read, name| read.get_data(child_path(&self.path, name))).send()
            })
            .collect();
        let mut members = Vec::with_capacity(names.len());
        for read in pending {
            for result in read.await? {
                if let ReadResult::Data(node) = result {
                    members.push(String::from_utf8_lossy(node.data.as_deref().unwrap_or_default()).into_owned());
                }
            }
        }
        Ok(members)
    }

    /// How many members the party has (one `getChildren`; kazoo's `len(party)`).
    pub async fn count(&self) -> Result<usize, Error> {
        match self.source.client().children(self.path.as_str()).await {
            Ok(names) => Ok(names.len()),
            Err(Error::NoNode { .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A joined [`Party`]. Dropping it stops keeping the member's node (which goes with the
/// session); [`leave`](Self::leave) deletes it at once.
#[derive(Debug)]
pub struct PartyMembership {
    node: PersistentNodeHandle,
}

impl PartyMembership {
    /// The member's node.
    pub fn path(&self) -> &str {
        self.node.path()
    }

    /// The member node's data (the identifier for `Party`, empty for `ShallowParty`).
    pub fn data(&self) -> Bytes {
        self.node.data()
    }

    /// Leaves the party.
    pub async fn leave(self) -> Result<(), Error> {
        self.node.close().await
    }
}
