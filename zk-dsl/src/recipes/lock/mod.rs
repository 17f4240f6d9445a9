//! Locks: [`Mutex`], [`ReadWriteLock`], [`Semaphore`], [`SemaphoreMutex`], and the pieces every lock-like recipe shares — the acquire loop
//! (`driver`), the [`Acquire`] builder, the [`LockGuard`] with its [`HoldState`], fencing token
//! and guarded writes.

mod acquire;
pub(crate) mod driver;
mod guard;
mod mutex;
mod participants;
mod rwlock;
mod semaphore;

pub use acquire::Acquire;
pub use guard::{HoldState, LockGuard, LossPolicy};
pub use mutex::Mutex;
pub(crate) use participants::participants;
pub use participants::Participant;
pub use rwlock::ReadWriteLock;
pub use semaphore::{Semaphore, SemaphoreMutex};
