//! The session: one TCP connection at a time to one server of the ensemble, owned by one
//! task (`task`), carrying one ZooKeeper session across reconnects.
//!
//! Handles talk to the task through a channel of `Command`s; the task publishes
//! its state through `StateHub`.

pub(crate) mod chroot;
pub(crate) mod config;
pub(crate) mod connect_string;
pub(crate) mod connector;
pub(crate) mod inflight;
pub(crate) mod metrics;
pub(crate) mod rebalance;
pub(crate) mod request;
#[cfg(feature = "sasl")]
pub(crate) mod sasl;
pub(crate) mod state;
pub(crate) mod task;
pub(crate) mod transport;

pub use connect_string::{ConnectString, HostPort, DEFAULT_PORT};
pub use connector::ServerStream;
pub use state::{SessionEvent, SessionState, SessionStatus};
