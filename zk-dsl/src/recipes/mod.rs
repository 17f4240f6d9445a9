//! Coordination recipes that share an ensemble with Curator (Java) and kazoo (Python) services:
//! the node layouts are theirs, so a zk-dsl process and a Curator process contend for the same
//! lock correctly (curator-kazoo.md §2 has the layouts; the README's "Locks" section says what
//! each peer must be configured with).
//!
//! Every recipe is a small handle built from a [`Client`](crate::Client), with builder options
//! and `IntoFuture` acquisitions, like the client's own verbs:
//!
//! * [`Mutex`]: an exclusive lock (Curator `InterProcessMutex`, kazoo `Lock`), with a
//!   [`LockGuard`] that knows whether it still holds ([`HoldState`]), a fencing token, and writes
//!   that only land while it holds.
//! * [`ReadWriteLock`]: shared readers, exclusive writers (Curator `InterProcessReadWriteLock`).
//! * [`Semaphore`] and [`SemaphoreMutex`]: up to N holders (Curator `InterProcessSemaphoreV2`,
//!   `InterProcessSemaphoreMutex`).
//! * [`LeaderLatch`] (Curator `LeaderLatch`) and [`LeaderSelector`] (Curator `LeaderSelector`):
//!   leadership that is never reported without being owned, with a fence for writes.
//! * [`Atom`], [`SharedCount`], [`AtomicLong`]: typed values and counters updated by
//!   compare-and-set (Curator `SharedCount` / `DistributedAtomicLong` and kazoo `Counter`
//!   formats); [`Transaction`]s over [`Ref`]s commit several nodes as one multi.
//! * [`Barrier`] and [`DoubleBarrier`] (Curator `DistributedBarrier`,
//!   `DistributedDoubleBarrier`): wait for a node to go; enter together, leave together.
//! * [`SimpleQueue`] (Curator `SimpleDistributedQueue`) and [`LockingQueue`] (kazoo
//!   `LockingQueue`, at-least-once for consumers that may crash).
//! * [`Cache`]: a local mirror of a subtree, one node or one level (Curator `CuratorCache`),
//!   from one persistent recursive watch, resynchronised after every reconnection;
//!   [`PersistentNode`], a node recreated whenever it goes missing, and [`PersistentTtlNode`],
//!   a TTL node kept alive by a touched child (Curator's).
//! * [`GroupMember`] (Curator `GroupMember`) and [`Party`] (kazoo `Party`, `ShallowParty`):
//!   group membership as a map and a stream of joins and leaves.
//! * [`discovery`] (feature `discovery`): service registration and discovery in
//!   curator-x-discovery's layout and JSON, with cached providers (round-robin, random, sticky).
//! * [`RetryPolicy`] and protected creates ([`ProtectedCreate`]): retrying only what is safe
//!   to retry.
//!
//! Session loss is explicit everywhere: a disconnection makes a guard `Uncertain`, an expiry
//! `Lost`; [`LossPolicy`] says which of the two stops a holder. Recipes that keep something up
//! for a program's life (caches, persistent nodes, memberships) also take
//! [`Sessions`](crate::client::Sessions), and then carry on in each new session after an expiry.

pub mod barrier;
pub mod cache;
pub(crate) mod contenders;
#[cfg(feature = "discovery")]
pub mod discovery;
mod fence;
pub mod leader;
pub mod lock;
pub mod membership;
mod options;
mod protected;
pub mod queue;
mod retry;
pub mod shared;

pub use barrier::{Barrier, DoubleBarrier, Member};
pub use cache::{
    Cache, CacheEvent, CacheHandle, CachedNode, PersistentNode, PersistentNodeHandle, PersistentTtlNode,
    PersistentTtlNodeHandle,
};
pub use contenders::{Contender, ContenderKind};
pub use fence::Fence;
pub use leader::{Latch, LatchState, LeaderLatch, LeaderSelector, Selector};
pub use lock::{
    Acquire, HoldState, LockGuard, LossPolicy, Mutex, Participant, ReadWriteLock, Semaphore, SemaphoreMutex,
};
pub use membership::{GroupMember, MemberEvent, Membership, Party, PartyMembership};
pub use protected::ProtectedCreate;
pub use queue::{LockingQueue, SimpleQueue, Taken};
pub use retry::{Idempotent, RetryPolicy, Retrying};
pub use shared::{Atom, AtomWatch, AtomicLong, Counter, CounterValue, Ref, SharedCount, Transaction, Txn, Versioned};
