//! Shared data: [`Atom`]s, counters Curator and kazoo share, and [`Transaction`]s over
//! [`Ref`]s (Avout's atoms and refs, optimistic and typed).

mod atom;
mod counter;
mod txn;

pub use atom::{Atom, AtomWatch, Versioned};
pub use counter::{AtomicLong, Counter, CounterValue, SharedCount};
pub use txn::{Ref, Transaction, Txn};
