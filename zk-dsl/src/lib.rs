//! zk-dsl: an Apache ZooKeeper client for Rust, and an embedded DSL for coordination logic.
//!
//! See the repository's README for a tour and ARCHITECTURE.md for how the pieces fit.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs, rust_2018_idioms)]

pub mod acl;
pub mod blocking;
pub mod client;
pub mod codec;
pub mod data;
pub mod error;
/// ZooKeeper's client wire protocol, sans IO: the `zk-dsl-proto` crate (records, opcodes,
/// error codes, path rules, frames), which zk-dsl speaks.
pub use zk_dsl_proto as proto;
#[cfg(feature = "recipes")]
pub mod recipes;
pub mod reconfig;
#[cfg(feature = "sasl")]
pub mod sasl;
pub mod session;
#[cfg(feature = "tls")]
pub mod tls;
pub mod typed;
pub mod util;
pub mod watch;

pub use client::{
    Call, Client, Connect, NodeData, OpResult, Pending, ReadResult, ResultExt, SessionEvents, Sessions, WatchFuture,
    WatchStream,
};
pub use codec::{CodecError, ToZNodeBytes, ZNodeData};
pub use error::{Error, Result};
/// `ErrorCode`: ZooKeeper's numeric return codes (the seed's `:return-code`, `Error::code()`).
pub use proto::{Acl, CreateMode, ErrorCode, EventType, Id, KeeperState, Perms, Stat, WatcherType};
/// The `regex` crate, re-exported so patterns for the `filter_*_by_pattern` functions need no
/// separate (and possibly mismatched) dependency.
#[cfg(feature = "regex")]
pub use regex;
/// The port a connection string's host gets when it names none (2181).
pub use session::DEFAULT_PORT;
pub use session::{SessionEvent, SessionState};
pub use watch::WatchedEvent;
/// The DSL's macros (see each for its grammar). `ZNodeData` the derive and `ZNodeData` the
/// trait share a name, as serde's do: they live in different namespaces.
pub use zk_dsl_macros::{acl, zk, ZNodeData};

#[cfg(feature = "testing")]
pub mod testing;

/// The README's examples, compiled as doctests so they stay true (they use the testing
/// harness, hence the feature).
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
