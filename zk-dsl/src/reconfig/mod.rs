//! Dynamic reconfiguration (ZooKeeper 3.5+): the ensemble's membership as `/zookeeper/config`
//! holds it, parsed ([`EnsembleConfig`]), and what keeps a client's server list in step with it.
//!
//! [`Client::get_config`](crate::Client::get_config) reads the node (never through the
//! chroot: the configuration is the ensemble's, not the application's),
//! [`Client::reconfig`](crate::Client::reconfig) changes it, and
//! [`Connect::follow_config`](crate::Connect::follow_config) makes a client watch it and move
//! to the new members as [`Client::update_servers`](crate::Client::update_servers) would, so
//! clients spread over a grown ensemble and leave removed members (ZOOKEEPER-1355).

pub(crate) mod follow;
mod parse;

pub use parse::{ConfigMember, ConfigParseError, EnsembleConfig, MemberRole};

use bytes::Bytes;

use crate::proto::Stat;

/// The configuration node as read: its bytes and Stat, and the text parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigData {
    /// The node's bytes (`None` for null).
    pub data: Option<Bytes>,
    /// The node's Stat at the read.
    pub stat: Stat,
    /// The parsed configuration.
    pub config: EnsembleConfig,
}
