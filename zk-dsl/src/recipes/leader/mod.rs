//! Leadership: [`LeaderLatch`] (be the leader while participating) and [`LeaderSelector`] (run
//! a task while leader, then let the next one lead).

mod latch;
mod selector;

pub use latch::{Latch, LatchState, LeaderLatch};
pub use selector::{LeaderSelector, Selector};
