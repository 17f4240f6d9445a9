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
//! * [`RetryPolicy`] and protected creates ([`ProtectedCreate`]): retrying only what is safe
//!   to retry.
//!
//! Session loss is explicit everywhere: a disconnection makes a guard `Uncertain`, an expiry
//! `Lost`; [`LossPolicy`] says which of the two stops a holder.

pub(crate) mod contenders;
mod fence;
pub mod leader;
pub mod lock;
mod options;
mod protected;
mod retry;

pub use contenders::{Contender, ContenderKind};
pub use fence::Fence;
pub use leader::{Latch, LatchState, LeaderLatch, LeaderSelector, Selector};
pub use lock::{
    Acquire, HoldState, LockGuard, LossPolicy, Mutex, Participant, ReadWriteLock, Semaphore, SemaphoreMutex,
};
pub use protected::ProtectedCreate;
pub use retry::{Idempotent, RetryPolicy, Retrying};
