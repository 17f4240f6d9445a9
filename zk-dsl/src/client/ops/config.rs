//! getConfig (a `getData` of `/zookeeper/config`, never through the chroot) and reconfig.

use std::fmt::Display;

use bytes::BytesMut;

use crate::client::call::{Call, Op, ReplyContext, Watchable};
use crate::error::Error;
use crate::proto::any::ReconfigRequest;
use crate::proto::{Encode, GetDataResponse, OpCode, PathWatchRequest};
use crate::reconfig::{ConfigData, EnsembleConfig};
use crate::session::chroot::{Chroot, CONFIG_NODE, CONFIG_WATCH_KEY};
use crate::session::request::{RawReply, WatchAction};
use crate::watch::{WatchKind, Watcher};

/// The configuration node's reply (getConfig's and reconfig's are both a `GetDataResponse`).
fn decode_node(reply: RawReply, ctx: &ReplyContext) -> Result<GetDataResponse, Error> {
    let body = ctx.ok(reply)?;
    ctx.decode(body, "GetDataResponse")
}

/// The configuration from a reply, parsed.
fn decode_config(reply: RawReply, ctx: &mut ReplyContext) -> Result<ConfigData, Error> {
    let r = decode_node(reply, ctx)?;
    let text = String::from_utf8_lossy(r.data.as_deref().unwrap_or_default());
    let config = EnsembleConfig::parse(&text).map_err(|source| Error::BadConfig {
        op: ctx.op,
        path: std::mem::take(&mut ctx.path),
        source,
    })?;
    Ok(ConfigData { data: r.data, stat: r.stat, config })
}

/// A read of the configuration node, whatever the chroot, and where its watch is kept.
macro_rules! config_read {
    ($name:ident, $output:ty, $decode:expr) => {
        impl Watchable for $name {
            fn watch_slot(&mut self) -> &mut Option<Watcher> {
                &mut self.watch
            }
        }

        impl crate::client::call::sealed::Sealed for $name {}

        impl Op for $name {
            type Output = $output;
            type Carry = ();

            fn opcode(&self) -> OpCode {
                OpCode::GetData
            }
            fn path(&self) -> &str {
                CONFIG_NODE
            }
            fn validate(&self) -> Result<(), Error> {
                Ok(())
            }
            fn encode_body(&self, buf: &mut BytesMut, _: &Chroot) {
                // The ensemble's node, whatever the chroot.
                PathWatchRequest { path: CONFIG_NODE.into(), watch: self.watch.is_some() }.encode(buf);
            }
            fn take_watch(&mut self) -> Option<WatchAction> {
                // Under its own key, so SetWatches restores it unchrooted (see CONFIG_WATCH_KEY).
                self.watch.take().map(|watcher| WatchAction::Register {
                    kind: WatchKind::Data,
                    path: CONFIG_WATCH_KEY.to_owned(),
                    watcher,
                })
            }
            fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<$output, Error> {
                $decode(reply, ctx)
            }
        }
    };
}

/// `getConfig`: the ensemble's configuration, with an optional watch (see [`Watchable`]).
#[derive(Debug, Clone, Default)]
pub struct GetConfigOp {
    watch: Option<Watcher>,
}

config_read!(GetConfigOp, ConfigData, decode_config);

/// `getConfig` unparsed, for the follower, which must keep its watch even when the text
/// cannot be read (a parse failure would drop a `with_watch` future with the call's error).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConfigOp {
    watch: Option<Watcher>,
}

config_read!(RawConfigOp, GetDataResponse, decode_node);

/// `reconfig`: changes the ensemble's membership, incrementally (`add`, `remove`) or by
/// naming every member (`members`); resolves to the new configuration.
#[derive(Debug, Clone)]
pub struct ReconfigOp {
    joining: Vec<String>,
    leaving: Vec<String>,
    members: Option<Vec<String>>,
    from_config: i64,
}

impl ReconfigOp {
    pub(crate) fn new() -> ReconfigOp {
        ReconfigOp { joining: Vec::new(), leaving: Vec::new(), members: None, from_config: -1 }
    }

    fn refuse(reason: &str) -> Result<(), Error> {
        Err(Error::invalid_argument(Some(OpCode::Reconfig), Some(CONFIG_NODE), reason))
    }
}

/// A list as the request carries it: comma-separated, null when empty.
fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

impl crate::client::call::sealed::Sealed for ReconfigOp {}

impl Op for ReconfigOp {
    type Output = ConfigData;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::Reconfig
    }
    fn path(&self) -> &str {
        CONFIG_NODE
    }
    fn validate(&self) -> Result<(), Error> {
        let incremental = !self.joining.is_empty() || !self.leaving.is_empty();
        match &self.members {
            Some(_) if incremental => {
                Self::refuse("members(..) names the whole new ensemble: no add or remove with it")
            }
            Some(members) if members.is_empty() => Self::refuse("members(..) needs at least one member"),
            None if !incremental => Self::refuse("nothing to change: add a member, remove one, or give members(..)"),
            _ => {
                let all = self.joining.iter().chain(&self.leaving).chain(self.members.iter().flatten());
                match all.into_iter().find(|s| s.contains(',') || s.trim().is_empty()) {
                    Some(bad) => Self::refuse(&format!("{bad:?} is not one server (empty, or holds a comma)")),
                    None => Ok(()),
                }
            }
        }
    }
    fn encode_body(&self, buf: &mut BytesMut, _: &Chroot) {
        ReconfigRequest {
            joining_servers: joined(&self.joining),
            leaving_servers: joined(&self.leaving),
            new_members: self.members.as_deref().and_then(joined),
            cur_config_id: self.from_config,
        }
        .encode(buf);
    }
    fn size_hint(&self) -> usize {
        self.joining.iter().chain(&self.leaving).chain(self.members.iter().flatten()).map(|s| s.len() + 1).sum()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<ConfigData, Error> {
        decode_config(reply, ctx)
    }
}

impl<'c> Call<'c, ReconfigOp> {
    /// Adds a server (call once per server): its configuration line, such as
    /// `server.4=127.0.0.1:2890:3890:participant;127.0.0.1:2184` or a
    /// [`ConfigMember`](crate::reconfig::ConfigMember). The server must already run and be
    /// connected to the leader (started with the current members plus itself in its
    /// configuration).
    // `add` is reconfig's own word (`reconfig -add`, `-remove`, `-members`), not arithmetic.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, server: impl Display) -> Self {
        self.op.joining.push(server.to_string());
        self
    }

    /// Removes the server with id `id` (call once per server).
    pub fn remove(mut self, id: u64) -> Self {
        self.op.leaving.push(id.to_string());
        self
    }

    /// Names the whole new ensemble instead (a non-incremental reconfig): every member's
    /// configuration line. Not combinable with `add` or `remove`.
    pub fn members<S: Display>(mut self, members: impl IntoIterator<Item = S>) -> Self {
        self.op.members = Some(members.into_iter().map(|m| m.to_string()).collect());
        self
    }

    /// Applies the change only if the current configuration's version is `version` (from
    /// [`EnsembleConfig::version`]), as a conditional write does; otherwise the server refuses
    /// it with `BadVersion`. By default (-1) it applies to whatever is current.
    pub fn from_config(mut self, version: i64) -> Self {
        self.op.from_config = version;
        self
    }
}
