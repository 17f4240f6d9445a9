//! Reads: exists, getData, getChildren2, getACL.

use bytes::{Bytes, BytesMut};

use super::server_path;
use crate::client::call::{Call, Op, ReplyContext, Watchable};
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::{
    ChildrenResponse, Encode, ErrorCode, GetAclResponse, GetDataResponse, OpCode, PathRequest, PathWatchRequest, Stat,
};
use crate::session::chroot::Chroot;
use crate::session::request::{RawReply, WatchAction};
use crate::watch::{WatchKind, Watcher};

fn encode_path_watch(buf: &mut BytesMut, chroot: &Chroot, path: &str, watch: bool) {
    PathWatchRequest { path: server_path(chroot, path), watch }.encode(buf);
}

/// `exists`: the node's Stat, or `None` if it does not exist. A watch set on a missing node
/// fires when it is created.
#[derive(Debug)]
pub struct ExistsOp {
    pub(crate) path: String,
    pub(crate) watch: Option<Watcher>,
}

impl Watchable for ExistsOp {
    fn watch_slot(&mut self) -> &mut Option<Watcher> {
        &mut self.watch
    }
}

impl Op for ExistsOp {
    type Output = Option<Stat>;

    fn opcode(&self) -> OpCode {
        OpCode::Exists
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        encode_path_watch(buf, chroot, &self.path, self.watch.is_some());
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        self.watch.take().map(|watcher| WatchAction::RegisterExists { path: self.path.clone(), watcher })
    }
    fn decode(reply: RawReply, ctx: &ReplyContext) -> Result<Option<Stat>, Error> {
        if reply.err == ErrorCode::NoNode.code() {
            return Ok(None);
        }
        let body = ctx.ok(reply)?;
        ctx.decode::<Stat>(body, "ExistsResponse").map(Some)
    }
}

/// A node's data and Stat (the seed's `{:data … :stat …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// `None` when the node holds null (created or set with no data), as the seed's `:data nil`.
    pub data: Option<Bytes>,
    pub stat: Stat,
}

impl NodeData {
    /// The bytes, empty for null.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// The data decoded as `T` (a seed primitive or a `#[derive(ZNodeData)]` type). `path` is
    /// only used to name the node in the error.
    pub fn decode<T: ZNodeData>(&self, path: &str) -> Result<T, Error> {
        T::from_znode_bytes(self.bytes()).map_err(|e| e.with_path(path))
    }
}

/// `getData`.
#[derive(Debug)]
pub struct GetDataOp {
    pub(crate) path: String,
    pub(crate) watch: Option<Watcher>,
}

impl Watchable for GetDataOp {
    fn watch_slot(&mut self) -> &mut Option<Watcher> {
        &mut self.watch
    }
}

impl Op for GetDataOp {
    type Output = NodeData;

    fn opcode(&self) -> OpCode {
        OpCode::GetData
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        encode_path_watch(buf, chroot, &self.path, self.watch.is_some());
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        let path = self.path.clone();
        self.watch.take().map(|watcher| WatchAction::Register { kind: WatchKind::Data, path, watcher })
    }
    fn decode(reply: RawReply, ctx: &ReplyContext) -> Result<NodeData, Error> {
        let body = ctx.ok(reply)?;
        let r: GetDataResponse = ctx.decode(body, "GetDataResponse")?;
        Ok(NodeData { data: r.data, stat: r.stat })
    }
}

/// `getChildren2`: child names (not paths), in the server's order, with the parent's Stat.
#[derive(Debug)]
pub struct ChildrenOp {
    pub(crate) path: String,
    pub(crate) watch: Option<Watcher>,
}

impl Watchable for ChildrenOp {
    fn watch_slot(&mut self) -> &mut Option<Watcher> {
        &mut self.watch
    }
}

fn decode_children(reply: RawReply, ctx: &ReplyContext) -> Result<(Vec<String>, Stat), Error> {
    let body = ctx.ok(reply)?;
    let mut r = crate::proto::Reader::new(body, "GetChildren2Response");
    let resp = ChildrenResponse::decode_versioned(&mut r, true).map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
    r.finish().map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
    Ok((resp.children, resp.stat.unwrap_or_default()))
}

impl Op for ChildrenOp {
    type Output = Vec<String>;

    fn opcode(&self) -> OpCode {
        OpCode::GetChildren2
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        encode_path_watch(buf, chroot, &self.path, self.watch.is_some());
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        let path = self.path.clone();
        self.watch.take().map(|watcher| WatchAction::Register { kind: WatchKind::Child, path, watcher })
    }
    fn decode(reply: RawReply, ctx: &ReplyContext) -> Result<Vec<String>, Error> {
        decode_children(reply, ctx).map(|(children, _)| children)
    }
}

impl<'c> Call<'c, ChildrenOp> {
    /// Also return the parent's Stat (getChildren2 sends it anyway).
    pub fn with_stat(self) -> Call<'c, ChildrenWithStatOp> {
        Call::new(self.client, ChildrenWithStatOp(self.op))
    }
}

/// `getChildren2` returning the Stat too.
#[derive(Debug)]
pub struct ChildrenWithStatOp(ChildrenOp);

impl Watchable for ChildrenWithStatOp {
    fn watch_slot(&mut self) -> &mut Option<Watcher> {
        &mut self.0.watch
    }
}

impl Op for ChildrenWithStatOp {
    type Output = (Vec<String>, Stat);

    fn opcode(&self) -> OpCode {
        self.0.opcode()
    }
    fn path(&self) -> &str {
        self.0.path()
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        self.0.encode_body(buf, chroot)
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        self.0.take_watch()
    }
    fn decode(reply: RawReply, ctx: &ReplyContext) -> Result<(Vec<String>, Stat), Error> {
        decode_children(reply, ctx)
    }
}

/// `getACL`: the node's ACL and Stat.
#[derive(Debug)]
pub struct GetAclOp {
    pub(crate) path: String,
}

impl Op for GetAclOp {
    type Output = (Vec<crate::proto::Acl>, Stat);

    fn opcode(&self) -> OpCode {
        OpCode::GetAcl
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        PathRequest { path: server_path(chroot, &self.path) }.encode(buf);
    }
    fn decode(reply: RawReply, ctx: &ReplyContext) -> Result<Self::Output, Error> {
        let body = ctx.ok(reply)?;
        let r: GetAclResponse = ctx.decode(body, "GetACLResponse")?;
        Ok((r.acl, r.stat))
    }
}
