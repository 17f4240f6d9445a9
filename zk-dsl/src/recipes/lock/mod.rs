//! Locks: [`Mutex`], [`ReadWriteLock`], and the pieces every lock-like recipe shares — the acquire loop
//! (`driver`), the [`Acquire`] builder, the [`LockGuard`] with its [`HoldState`], fencing token
//! and guarded writes.

mod acquire;
pub(crate) mod driver;
mod guard;
mod mutex;
mod participants;
mod rwlock;

pub use acquire::Acquire;
pub use guard::{HoldState, LockGuard, LossPolicy};
pub use mutex::Mutex;
pub use participants::Participant;
pub use rwlock::ReadWriteLock;
