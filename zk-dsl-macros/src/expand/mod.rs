//! The checked model to Rust: builder calls for `zk!` and `acl!`, trait impls for the derive.

pub mod acl;
pub mod derive;
pub mod zk;
