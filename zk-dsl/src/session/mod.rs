//! The session: one TCP connection at a time to one server of the ensemble, owned by one
//! task ([`task`]), carrying one ZooKeeper session across reconnects.
//!
//! Handles talk to the task through a channel of [`request::Command`]s; the task publishes
//! its state through [`state::StateHub`].

pub mod chroot;
pub mod config;
pub mod connect_string;
pub mod request;
#[cfg(feature = "sasl")]
pub(crate) mod sasl;
pub mod state;
pub mod task;
pub(crate) mod transport;

pub use connect_string::{ConnectString, HostPort};
pub use state::{SessionEvent, SessionState, SessionStatus};
