//! Reads: exists, getData, getChildren2, getACL.

use std::marker::PhantomData;

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

/// One of the reads that can leave a one-shot watch: what it is on the wire, where its watch
/// goes and how its reply decodes. The op itself is [`WatchableRead`].
pub trait ReadKind: crate::client::call::sealed::Sealed + Send + 'static {
    /// The read's opcode.
    const OP: OpCode;
    /// What the read resolves to.
    type Output: Send + 'static;
    /// The watch the read leaves at `path`.
    fn watch_action(path: String, watcher: Watcher) -> WatchAction;
    /// The result from the server's reply.
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<Self::Output, Error>;
}

/// exists, getData or getChildren2, with its optional watch (see [`Watchable`]).
pub struct WatchableRead<K> {
    pub(crate) path: String,
    pub(crate) watch: Option<Watcher>,
    kind: PhantomData<K>,
}

impl<K> WatchableRead<K> {
    pub(crate) fn new(path: String) -> Self {
        WatchableRead { path, watch: None, kind: PhantomData }
    }

    /// The same read, decoded as another kind (e.g. children with their parent's Stat).
    fn into_kind<L>(self) -> WatchableRead<L> {
        WatchableRead { path: self.path, watch: self.watch, kind: PhantomData }
    }
}

/// A copy that sends the same read with the same watcher (for retries). By hand: `K` is a
/// marker type that is never `Clone`.
impl<K> Clone for WatchableRead<K> {
    fn clone(&self) -> Self {
        WatchableRead { path: self.path.clone(), watch: self.watch.clone(), kind: PhantomData }
    }
}

impl<K> std::fmt::Debug for WatchableRead<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(std::any::type_name::<K>().rsplit("::").next().unwrap_or("Read"))
            .field("path", &self.path)
            .field("watch", &self.watch)
            .finish()
    }
}

impl<K> Watchable for WatchableRead<K> {
    fn watch_slot(&mut self) -> &mut Option<Watcher> {
        &mut self.watch
    }
}

impl<K> crate::client::call::sealed::Sealed for WatchableRead<K> {}

impl<K: ReadKind> Op for WatchableRead<K> {
    type Output = K::Output;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        K::OP
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        PathWatchRequest { path: server_path(chroot, &self.path), watch: self.watch.is_some() }.encode(buf);
    }
    fn take_watch(&mut self) -> Option<WatchAction> {
        // The path is copied only for a watch (most reads set none).
        let path = &self.path;
        self.watch.take().map(|watcher| K::watch_action(path.clone(), watcher))
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<K::Output, Error> {
        K::decode(reply, ctx)
    }
}

/// `exists`: the node's Stat, or `None` if it does not exist. A watch set on a missing node
/// fires when it is created.
#[derive(Debug)]
pub enum Exists {}

impl crate::client::call::sealed::Sealed for Exists {}

impl ReadKind for Exists {
    const OP: OpCode = OpCode::Exists;
    type Output = Option<Stat>;

    fn watch_action(path: String, watcher: Watcher) -> WatchAction {
        WatchAction::RegisterExists { path, watcher }
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<Option<Stat>, Error> {
        if reply.err == ErrorCode::NoNode.code() {
            return Ok(None);
        }
        let body = ctx.ok(reply)?;
        ctx.decode::<Stat>(body, "ExistsResponse").map(Some)
    }
}

/// A node's data and Stat (the seed's `{:data … :stat …}`), and the path it was read from,
/// so decoding names the node in its error without being told again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// `None` when the node holds null (created or set with no data), as the seed's `:data nil`.
    pub data: Option<Bytes>,
    /// The node's Stat at the read.
    pub stat: Stat,
    /// The node's path, as the read named it (chroot-relative).
    pub path: String,
}

impl NodeData {
    /// The bytes, empty for null.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// The data decoded as `T` (a seed primitive or a `#[derive(ZNodeData)]` type); a failure
    /// is `Error::Codec` naming this node's path and the type.
    pub fn decode<T: ZNodeData>(&self) -> Result<T, Error> {
        decode_data(self.bytes(), &self.path)
    }
}

/// `getData`: the node's data and Stat.
#[derive(Debug)]
pub enum GetData {}

impl crate::client::call::sealed::Sealed for GetData {}

impl ReadKind for GetData {
    const OP: OpCode = OpCode::GetData;
    type Output = NodeData;

    fn watch_action(path: String, watcher: Watcher) -> WatchAction {
        WatchAction::Register { kind: WatchKind::Data, path, watcher }
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<NodeData, Error> {
        let body = ctx.ok(reply)?;
        let r: GetDataResponse = ctx.decode(body, "GetDataResponse")?;
        Ok(NodeData { data: r.data, stat: r.stat, path: std::mem::take(&mut ctx.path) })
    }
}

fn decode_data<T: ZNodeData>(bytes: &[u8], path: &str) -> Result<T, Error> {
    T::from_znode_bytes(bytes).map_err(|e| e.with_path(path))
}

/// `getData` decoded as `T`: what `client.get_data(path).decode::<T>()` resolves to (the
/// value only; read the [`NodeData`] for the Stat too).
pub struct GetDataAs<T>(PhantomData<fn() -> T>);

impl<T> std::fmt::Debug for GetDataAs<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GetDataAs<{}>", std::any::type_name::<T>())
    }
}

impl<T: ZNodeData + Send + 'static> crate::client::call::sealed::Sealed for GetDataAs<T> {}

impl<T: ZNodeData + Send + 'static> ReadKind for GetDataAs<T> {
    const OP: OpCode = OpCode::GetData;
    type Output = T;

    fn watch_action(path: String, watcher: Watcher) -> WatchAction {
        GetData::watch_action(path, watcher)
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<T, Error> {
        let body = ctx.ok(reply)?;
        let r: GetDataResponse = ctx.decode(body, "GetDataResponse")?;
        decode_data(r.data.as_deref().unwrap_or_default(), &ctx.path)
    }
}

fn decode_children(reply: RawReply, ctx: &ReplyContext) -> Result<(Vec<String>, Stat), Error> {
    let body = ctx.ok(reply)?;
    let mut r = crate::proto::Reader::new(body, "GetChildren2Response");
    let resp = ChildrenResponse::decode_versioned(&mut r, true).map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
    r.finish().map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
    Ok((resp.children, resp.stat.unwrap_or_default()))
}

/// `getChildren2`: child names (not paths), in the server's order.
#[derive(Debug)]
pub enum Children {}

impl crate::client::call::sealed::Sealed for Children {}

impl ReadKind for Children {
    const OP: OpCode = OpCode::GetChildren2;
    type Output = Vec<String>;

    fn watch_action(path: String, watcher: Watcher) -> WatchAction {
        WatchAction::Register { kind: WatchKind::Child, path, watcher }
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<Vec<String>, Error> {
        decode_children(reply, ctx).map(|(children, _)| children)
    }
}

/// `getChildren2` with the parent's Stat (which the server sends anyway).
#[derive(Debug)]
pub enum ChildrenWithStat {}

impl crate::client::call::sealed::Sealed for ChildrenWithStat {}

impl ReadKind for ChildrenWithStat {
    const OP: OpCode = OpCode::GetChildren2;
    type Output = (Vec<String>, Stat);

    fn watch_action(path: String, watcher: Watcher) -> WatchAction {
        Children::watch_action(path, watcher)
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext) -> Result<(Vec<String>, Stat), Error> {
        decode_children(reply, ctx)
    }
}

/// [`Client::exists`](crate::Client::exists).
pub type ExistsOp = WatchableRead<Exists>;
/// [`Client::get_data`](crate::Client::get_data).
pub type GetDataOp = WatchableRead<GetData>;
/// [`Client::children`](crate::Client::children).
pub type ChildrenOp = WatchableRead<Children>;
/// `children(..).with_stat()`.
pub type ChildrenWithStatOp = WatchableRead<ChildrenWithStat>;
/// `get_data(..).decode::<T>()`.
pub type GetDataAsOp<T> = WatchableRead<GetDataAs<T>>;

impl<'c> Call<'c, GetDataOp> {
    /// Resolve to the data decoded as `T` (a seed primitive, `String`, a
    /// `#[derive(ZNodeData)]` type) instead of [`NodeData`]: `get_data(p).decode::<i64>()`.
    /// A node whose data is not a `T` fails with `Error::Codec` naming the path and the type.
    /// Watch options still apply.
    pub fn decode<T: ZNodeData + Send + 'static>(self) -> Call<'c, GetDataAsOp<T>> {
        self.map_op(WatchableRead::into_kind)
    }
}

impl<'c> Call<'c, ChildrenOp> {
    /// Also return the parent's Stat.
    pub fn with_stat(self) -> Call<'c, ChildrenWithStatOp> {
        self.map_op(WatchableRead::into_kind)
    }
}

/// `getACL`: the node's ACL and Stat.
#[derive(Debug, Clone)]
pub struct GetAclOp {
    pub(crate) path: String,
}

impl crate::client::call::sealed::Sealed for GetAclOp {}

impl Op for GetAclOp {
    type Output = (Vec<crate::proto::Acl>, Stat);
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::GetAcl
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        PathRequest { path: server_path(chroot, &self.path) }.encode(buf);
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Self::Output, Error> {
        let body = ctx.ok(reply)?;
        let r: GetAclResponse = ctx.decode(body, "GetACLResponse")?;
        Ok((r.acl, r.stat))
    }
}
