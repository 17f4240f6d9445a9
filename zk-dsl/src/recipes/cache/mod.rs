//! Caches of the server's tree, and nodes kept present.
//!
//! * [`Cache`]: a local mirror of a subtree (or of one node, or of one level: `.depth(n)`), the
//!   job of Curator's `CuratorCache` (which replaced `TreeCache`, `PathChildrenCache` and
//!   `NodeCache`).
//! * [`PersistentNode`]: an ephemeral (optionally protected) node kept present while its
//!   session lives: recreated with its data when deleted, checked after every reconnection
//!   (Curator's `PersistentNode`).
//!
//! # Why one recursive watch, and why a resync after every reconnection
//!
//! `TreeCache`-style caches set a data and a child watch on every node: a 100,000-node tree
//! costs 200,000 server-side watches, and the re-arming reads race the changes they are meant to
//! see (curator-kazoo.md §3.4, §3.7). A [`Cache`] instead holds **one** persistent recursive watch
//! (`addWatch PERSISTENT_RECURSIVE`, ZooKeeper 3.6+) on its root: the server reports every
//! creation, data change and deletion below it, in order, and nothing needs re-arming. Each
//! change is then read (pipelined: reads leave as events arrive, and are applied in event order,
//! an older read never overwriting a newer one — Stat `mzxid`s are compared).
//!
//! The initial load is pipelined too: the tree is listed level by level, each level's data and
//! child lists read in `multiRead` batches of 256 nodes, 4 batches in flight, so a wide tree
//! costs a few round trips per thousand nodes, not one per node (100,000 nodes in about half a
//! second on a busy 2-core machine, where Curator's `CuratorCache` takes 7 s). A cached node
//! costs about 280 bytes with 100 bytes of data: its data never pins the reply it came in, the
//! nodes are keyed by their path below the root, and the load's `Added` events are read from the
//! cache as they are taken instead of being queued up front.
//!
//! Persistent watches survive a reconnection, but the server does not replay what changed while
//! the client was away (a node created and deleted meanwhile is never reported). So after
//! **every** reconnection the cache re-reads its whole subtree (pipelined again) and emits
//! exactly the differences as [`CacheEvent`]s, followed by [`CacheEvent::Reconnected`].
//!
//! Both recipes live as long as their session. After an expiry the client is finished (a new
//! session is a new [`Client`](crate::Client)): the cache's event stream ends (after a final
//! [`CacheEvent::Disconnected`]) and a persistent node's task stops; build them again on the
//! new client (inside a [`run_sessions`](crate::client::reconnect::run_sessions) loop, start them in each session).

mod node;
mod tree;
mod ttl_node;

pub use node::{PersistentNode, PersistentNodeHandle};
pub use tree::{Cache, CacheEvent, CacheHandle, CachedNode};
pub use ttl_node::{PersistentTtlNode, PersistentTtlNodeHandle, TOUCH_CHILD};
