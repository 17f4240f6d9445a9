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
//! * [`RetryPolicy`] and protected creates ([`ProtectedCreate`]): retrying only what is safe
//!   to retry.
//!
//! Session loss is explicit everywhere: a disconnection makes a guard `Uncertain`, an expiry
//! `Lost`; [`LossPolicy`] says which of the two stops a holder.

pub(crate) mod contenders;
pub mod lock;
mod protected;
mod retry;

pub use contenders::{Contender, ContenderKind};
pub use lock::{Acquire, HoldState, LockGuard, LossPolicy, Mutex, Participant, ReadWriteLock};
pub use protected::ProtectedCreate;
pub use retry::{Idempotent, RetryPolicy, Retrying};
