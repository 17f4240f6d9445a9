//! Watches with ZooKeeper's semantics.
//!
//! * [`event`]: what a watcher receives ([`WatchedEvent`]).
//! * [`registry`]: which watchers an event triggers — one-shot data, exist and child watches
//!   are consumed, persistent ones stay — exactly as the Programmer's Guide says. It is owned by
//!   the session task, so registering on a successful reply needs no lock.
//! * [`dispatcher`]: the thread that runs user callbacks, so a slow callback never stalls the
//!   connection, and callbacks see events and replies in wire order.

pub mod dispatcher;
pub mod event;
pub mod registry;

pub use event::WatchedEvent;
pub use registry::{WatchKind, Watcher};
