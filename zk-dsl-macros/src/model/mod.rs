//! What the parser builds and the later stages read: the grammar's tables ([`spec`]) and the
//! parsed forms of `zk!` ([`command`]), paths ([`path`]), ACLs ([`acl`]) and derives
//! ([`derive`]).

pub mod acl;
pub mod command;
pub mod derive;
pub mod duration;
pub mod path;
pub mod spec;
