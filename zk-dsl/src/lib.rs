//! zk-dsl: an Apache ZooKeeper client for Rust, and an embedded DSL for coordination logic.
//!
//! See the repository's README for a tour and ARCHITECTURE.md for how the pieces fit.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod error;
pub mod proto;

pub use error::{Error, Result};

#[cfg(feature = "testing")]
pub mod testing;
