//! Watches with ZooKeeper's semantics.
//!
//! * `event`: what a watcher receives ([`WatchedEvent`]).
//! * `registry`: which watchers an event triggers — one-shot data, exist and child watches
//!   are consumed, persistent ones stay — exactly as the Programmer's Guide says. It is owned by
//!   the session task, so registering on a successful reply needs no lock.
//! * `dispatcher`: the thread that runs user callbacks, so a slow callback never stalls the
//!   connection, and callbacks see events and replies in wire order.

pub(crate) mod dispatcher;
pub(crate) mod event;
pub(crate) mod registry;

pub use event::WatchedEvent;
pub use registry::WatchFn;
pub(crate) use registry::{WatchKind, Watcher};
