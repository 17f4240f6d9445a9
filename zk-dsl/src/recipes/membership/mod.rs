//! Group membership in the layouts of Curator and kazoo.
//!
//! * [`GroupMember`]: Curator's `GroupMember` — each member an ephemeral `<path>/<id>` holding
//!   its payload (kept by a [`PersistentNode`](crate::recipes::PersistentNode)), the group read
//!   from a [`Cache`](crate::recipes::Cache) of the path: members as a map, changes as a stream.
//! * [`Party`]: kazoo's `Party` (`<path>/<uuid hex>__party__`, the identifier as data) and
//!   `ShallowParty` (`<path>/<uuid hex>-<identifier>`, listed by one `getChildren`), so Rust
//!   services join and read the parties their Python neighbours keep.
//!
//! Both keep their node through disconnections, and through session expiries when built from
//! [`Sessions`](crate::client::Sessions).

mod group_member;
mod party;

pub use group_member::{GroupMember, MemberEvent, Membership};
pub use party::{Party, PartyMembership};
