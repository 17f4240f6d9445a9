//! [`GroupMember`]: Curator's group membership layout, a map of members and a stream of changes.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::client::SessionSource;
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::cache::{Cache, CacheEvent, CacheHandle, PersistentNode, PersistentNodeHandle};
use crate::recipes::protected::child_path;

/// A member of a group (Curator's `GroupMember`): an ephemeral node `<path>/<id>` holding the
/// member's payload, kept present while the member runs, and a cache of the group's other
/// members. Ids are node names, unique in the group; Curator members of the same path are
/// members like any other.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::{GroupMember, MemberEvent};
///
/// let mut group = GroupMember::new(client, "/groups/indexers", "indexer-3").payload("10.0.0.7:9000").start().await?;
/// for (id, payload) in group.members() {
///     println!("{id} at {}", String::from_utf8_lossy(&payload));
/// }
/// while let Some(event) = group.next().await {
///     if let MemberEvent::Left { id } = event {
///         println!("{id} left");
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GroupMember {
    source: SessionSource,
    path: String,
    id: String,
    payload: Result<Bytes, Error>,
}

impl GroupMember {
    /// Member `id` of the group at `path`, with an empty payload, in the sessions of `source`
    /// (a `&Client` or `&Sessions`).
    pub fn new(source: impl Into<SessionSource>, path: impl Into<String>, id: impl Into<String>) -> GroupMember {
        GroupMember { source: source.into(), path: path.into(), id: id.into(), payload: Ok(Bytes::new()) }
    }

    /// The member's payload: bytes, text or any `ZNodeData` value.
    pub fn payload<T: ToZNodeBytes + ?Sized>(mut self, value: &T) -> Self {
        self.payload = value.to_node_bytes().map(Bytes::from).map_err(|e| e.with_path(&self.path));
        self
    }

    /// Starts watching the group, then joins it. The stream starts with a `Joined` per member
    /// present (this one included, once its node is there), then `Initialized`.
    pub async fn start(self) -> Result<Membership, Error> {
        let GroupMember { source, path, id, payload } = self;
        check_member_id(&path, &id)?;
        let payload = payload?;
        // The cache first, so that every member, this one included, is reported as it joins.
        let cache = Cache::new(&source, path.as_str()).depth(1).start().await?;
        let node = PersistentNode::new(&source, child_path(&path, &id)).data(&payload[..]).start().await?;
        Ok(Membership { cache, node, id })
    }
}

/// Refuses ids that are not one node name.
fn check_member_id(path: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(Error::invalid_argument(
            Some(OpCode::Create),
            Some(path),
            format!("a member id is one node name, not {id:?}"),
        ));
    }
    Ok(())
}

/// What changed in a group, in the order the cache saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member joined (or was there when the membership started).
    Joined {
        /// The member's id (its node's name).
        id: String,
        /// Its payload.
        payload: Bytes,
    },
    /// A member changed its payload.
    Updated {
        /// The member's id.
        id: String,
        /// Its new payload.
        payload: Bytes,
    },
    /// A member left (its session ended or it closed).
    Left {
        /// The member's id.
        id: String,
    },
    /// Every member present at start has been reported.
    Initialized,
    /// The connection was lost: the view may be stale until `Reconnected`.
    Disconnected,
    /// Connected again (or in a new session) and resynchronised.
    Reconnected,
}

/// A running [`GroupMember`]: the group's members and a stream of [`MemberEvent`]s (`next` or
/// the `futures` `Stream` trait). Dropping it stops keeping the member's node (which goes with
/// the session); [`close`](Self::close) leaves the group at once.
#[derive(Debug)]
pub struct Membership {
    cache: CacheHandle,
    node: PersistentNodeHandle,
    id: String,
}

impl Membership {
    /// This member's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every member by id, with its payload: this one always (with its current payload), the
    /// others as the cache last saw them. This is the view now; the event stream reports the
    /// group from its start in order, so it may lag behind (a member that came and went before
    /// its `Joined` was read is never reported at all).
    pub fn members(&self) -> BTreeMap<String, Bytes> {
        let mut members: BTreeMap<String, Bytes> = self
            .cache
            .snapshot()
            .into_iter()
            .filter_map(|(path, node)| Some((self.member_id(&path)?.to_owned(), node.data.unwrap_or_default())))
            .collect();
        members.insert(self.id.clone(), self.node.data());
        members
    }

    /// Replaces this member's payload.
    pub async fn set_payload<T: ToZNodeBytes + ?Sized>(&self, value: &T) -> Result<(), Error> {
        self.node.set_data(value).await
    }

    /// The next change; `None` once the membership's sessions have ended.
    pub async fn next(&mut self) -> Option<MemberEvent> {
        loop {
            let event = self.cache.next().await?;
            if let Some(event) = self.member_event(event) {
                return Some(event);
            }
        }
    }

    /// Leaves the group: deletes this member's node and stops watching.
    pub async fn close(self) -> Result<(), Error> {
        self.node.close().await
    }

    /// The member id of a cached path (`None` for the group node itself).
    fn member_id<'p>(&self, path: &'p str) -> Option<&'p str> {
        let root = self.cache.root();
        let rest = if root == "/" { path.strip_prefix('/')? } else { path.strip_prefix(root)?.strip_prefix('/')? };
        (!rest.is_empty()).then_some(rest)
    }

    fn member_event(&self, event: CacheEvent) -> Option<MemberEvent> {
        Some(match event {
            CacheEvent::Added { path, node } => {
                MemberEvent::Joined { id: self.member_id(&path)?.to_owned(), payload: node.data.unwrap_or_default() }
            }
            CacheEvent::Updated { path, new, .. } => {
                MemberEvent::Updated { id: self.member_id(&path)?.to_owned(), payload: new.data.unwrap_or_default() }
            }
            CacheEvent::Removed { path, .. } => MemberEvent::Left { id: self.member_id(&path)?.to_owned() },
            CacheEvent::Initialized => MemberEvent::Initialized,
            CacheEvent::Disconnected => MemberEvent::Disconnected,
            CacheEvent::Reconnected => MemberEvent::Reconnected,
        })
    }
}

impl futures_core::Stream for Membership {
    type Item = MemberEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MemberEvent>> {
        let this = self.get_mut();
        loop {
            match Pin::new(&mut this.cache).poll_next(cx) {
                Poll::Ready(Some(event)) => {
                    if let Some(event) = this.member_event(event) {
                        return Poll::Ready(Some(event));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_one_node_name() {
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(check_member_id("/g", bad).is_err(), "{bad:?}");
        }
        assert!(check_member_id("/g", "worker-1").is_ok());
    }
}
