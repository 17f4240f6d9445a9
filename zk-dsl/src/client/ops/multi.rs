//! Transactions (multi, op 14) and batched reads (multiRead, op 22).
//!
//! A transaction applies all of its operations or none. When one fails the server still
//! answers "OK" for the multi as a whole; the per-op results carry the cause, and this module
//! turns that into [`Error::TransactionFailed`] naming the failing op's index, path and error.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::create::{create_options, CreateSpec};
use super::read::NodeData;
use super::server_path;
use crate::client::call::{Call, Op, ReplyContext};
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{
    CreateMode, Encode, MultiOp, MultiRequest, MultiResponse, MultiResult, OpCode, PathVersionRequest,
    PathWatchRequest, SetDataRequest, Stat,
};
use crate::session::chroot::Chroot;
use crate::session::request::RawReply;

/// One write in a transaction.
#[derive(Debug, Clone)]
enum TxnEntry {
    Create(CreateSpec),
    Delete { path: String, version: i32 },
    SetData { path: String, data: Option<Bytes>, version: i32 },
    Check { path: String, version: i32 },
}

impl TxnEntry {
    fn path(&self) -> &str {
        match self {
            TxnEntry::Create(spec) => &spec.path,
            TxnEntry::Delete { path, .. } | TxnEntry::SetData { path, .. } | TxnEntry::Check { path, .. } => path,
        }
    }

    fn opcode(&self) -> OpCode {
        match self {
            TxnEntry::Create(spec) => spec.effective_mode().opcode(),
            TxnEntry::Delete { .. } => OpCode::Delete,
            TxnEntry::SetData { .. } => OpCode::SetData,
            TxnEntry::Check { .. } => OpCode::Check,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        match self {
            TxnEntry::Create(spec) => spec.validate(),
            other => crate::proto::validate_path(other.path(), false)
                .map_err(|reason| Error::InvalidPath { path: other.path().to_owned(), reason }),
        }
    }

    fn to_wire<'a>(&'a self, chroot: &Chroot) -> MultiOp<'a> {
        match self {
            TxnEntry::Create(spec) => MultiOp::Create(spec.request(chroot)),
            TxnEntry::Delete { path, version } => {
                MultiOp::Delete(PathVersionRequest { path: server_path(chroot, path), version: *version })
            }
            TxnEntry::SetData { path, data, version } => MultiOp::SetData(SetDataRequest {
                path: server_path(chroot, path),
                data: data.as_deref().map(Cow::Borrowed),
                version: *version,
            }),
            TxnEntry::Check { path, version } => {
                MultiOp::Check(PathVersionRequest { path: server_path(chroot, path), version: *version })
            }
        }
    }
}

/// The outcome of one operation of a successful transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path (with its sequence suffix) and the new node's Stat *if the server
    /// sent one*. ZooKeeper 3.8 answers a create inside a transaction with the path only, so
    /// `stat` is `None` there; it is never made up (an all-zero Stat would claim version 0,
    /// czxid 0, ...). Read the node (`exists`) when the Stat matters.
    Created {
        /// The created node's path (with its sequence suffix, chroot stripped).
        path: String,
        /// The new node's Stat, when the server sent one (see above).
        stat: Option<Stat>,
    },
    /// A delete succeeded.
    Deleted,
    /// The node's Stat after the write.
    DataSet {
        /// The Stat after the write.
        stat: Stat,
    },
    /// A version check passed.
    Checked,
}

/// Options of a create inside a transaction (see [`Call::create_with`]).
#[derive(Debug)]
pub struct TxnCreate {
    spec: CreateSpec,
}

create_options!(TxnCreate, spec);

/// `multi`: an atomic transaction.
#[derive(Debug, Default)]
pub struct TransactionOp {
    entries: Vec<TxnEntry>,
    /// A data conversion that failed while building; reported when the call is made.
    error: Option<Error>,
}

impl<'c> Call<'c, TransactionOp> {
    /// Creates `path` with `data` in `mode`, with the default ACL.
    pub fn create<T: ToZNodeBytes + ?Sized>(self, path: impl Into<String>, data: &T, mode: CreateMode) -> Self {
        self.create_with(path, |c| c.mode(mode).data(data))
    }

    /// Creates `path` with every create option: `.create_with("/a", |c| c.persistent().acl(..))`.
    pub fn create_with(mut self, path: impl Into<String>, options: impl FnOnce(TxnCreate) -> TxnCreate) -> Self {
        let create = options(TxnCreate { spec: CreateSpec::new(path) });
        self.op.entries.push(TxnEntry::Create(create.spec));
        self
    }

    /// Sets `path`'s data if its version is `version` (-1: any).
    pub fn set_data<T: ToZNodeBytes + ?Sized>(mut self, path: impl Into<String>, data: &T, version: i32) -> Self {
        let path = path.into();
        match data.to_node_bytes() {
            Ok(bytes) => self.op.entries.push(TxnEntry::SetData { path, data: Some(Bytes::from(bytes)), version }),
            Err(e) => self.op.error = self.op.error.take().or(Some(e.with_path(&path))),
        }
        self
    }

    /// Deletes `path` if its version is `version` (-1: any).
    pub fn delete(mut self, path: impl Into<String>, version: i32) -> Self {
        self.op.entries.push(TxnEntry::Delete { path: path.into(), version });
        self
    }

    /// Fails the whole transaction unless `path` is at `version`.
    pub fn check(mut self, path: impl Into<String>, version: i32) -> Self {
        self.op.entries.push(TxnEntry::Check { path: path.into(), version });
        self
    }
}

impl crate::client::call::sealed::Sealed for TransactionOp {}

impl Op for TransactionOp {
    type Output = Vec<OpResult>;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::Multi
    }
    fn path(&self) -> &str {
        self.entries.first().map_or("", TxnEntry::path)
    }
    fn validate(&self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.entries.iter().try_for_each(TxnEntry::validate)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        MultiRequest { ops: self.entries.iter().map(|e| e.to_wire(chroot)).collect() }.encode(buf);
    }
    fn size_hint(&self) -> usize {
        self.entries.iter().map(|e| 32 + e.path().len()).sum()
    }
    fn parts(&self) -> Vec<(OpCode, String)> {
        self.entries.iter().map(|e| (e.opcode(), e.path().to_owned())).collect()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Vec<OpResult>, Error> {
        decode_transaction(reply, ctx)
    }
}

/// Decodes a multi reply; a failure names the failing op (from the context's parts).
fn decode_transaction(reply: RawReply, ctx: &ReplyContext) -> Result<Vec<OpResult>, Error> {
    let body = ctx.ok(reply)?;
    let response: MultiResponse = ctx.decode(body, "MultiResponse")?;
    if let Some((index, code)) = response.first_error() {
        return Err(Error::TransactionFailed { index, source: Box::new(ctx.part_error(index, code)) });
    }
    response
        .results
        .into_iter()
        .map(|r| match r {
            MultiResult::Create { path, stat } => {
                Ok(OpResult::Created { path: super::create::created_path(ctx, &path)?, stat })
            }
            MultiResult::Delete => Ok(OpResult::Deleted),
            MultiResult::SetData { stat } => Ok(OpResult::DataSet { stat }),
            MultiResult::Check => Ok(OpResult::Checked),
            other => Err(Error::protocol(format!("unexpected result in a transaction reply: {other:?}"))),
        })
        .collect()
}

/// One read of a [`multi_read`](crate::Client::multi_read): each succeeds or fails on its own.
#[derive(Debug, Clone)]
pub enum ReadResult {
    /// A `get_data`'s node.
    Data(NodeData),
    /// A `get_children`'s names.
    Children(Vec<String>),
    /// This read's refusal (`NoNode`, `NoAuth`, ...); the other reads still answered.
    Error(Error),
}

#[derive(Debug, Clone)]
enum ReadEntry {
    GetData(String),
    GetChildren(String),
}

/// `multiRead`: several reads in one round trip.
#[derive(Debug, Default)]
pub struct MultiReadOp {
    entries: Vec<ReadEntry>,
}

impl<'c> Call<'c, MultiReadOp> {
    /// Reads `path`'s data and Stat.
    pub fn get_data(mut self, path: impl Into<String>) -> Self {
        self.op.entries.push(ReadEntry::GetData(path.into()));
        self
    }

    /// Lists `path`'s children.
    pub fn get_children(mut self, path: impl Into<String>) -> Self {
        self.op.entries.push(ReadEntry::GetChildren(path.into()));
        self
    }
}

impl ReadEntry {
    fn path(&self) -> &str {
        match self {
            ReadEntry::GetData(p) | ReadEntry::GetChildren(p) => p,
        }
    }
}

impl crate::client::call::sealed::Sealed for MultiReadOp {}

impl Op for MultiReadOp {
    type Output = Vec<ReadResult>;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::MultiRead
    }
    fn path(&self) -> &str {
        self.entries.first().map_or("", ReadEntry::path)
    }
    fn validate(&self) -> Result<(), Error> {
        self.entries.iter().try_for_each(|e| {
            crate::proto::validate_path(e.path(), false)
                .map_err(|reason| Error::InvalidPath { path: e.path().to_owned(), reason })
        })
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        let ops = self
            .entries
            .iter()
            .map(|e| {
                let req = PathWatchRequest { path: server_path(chroot, e.path()), watch: false };
                match e {
                    ReadEntry::GetData(_) => MultiOp::GetData(req),
                    ReadEntry::GetChildren(_) => MultiOp::GetChildren(req),
                }
            })
            .collect();
        MultiRequest { ops }.encode(buf);
    }
    fn parts(&self) -> Vec<(OpCode, String)> {
        self.entries
            .iter()
            .map(|e| match e {
                ReadEntry::GetData(p) => (OpCode::GetData, p.clone()),
                ReadEntry::GetChildren(p) => (OpCode::GetChildren, p.clone()),
            })
            .collect()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Vec<ReadResult>, Error> {
        let body = ctx.ok(reply)?;
        let response: MultiResponse = ctx.decode(body, "MultiResponse")?;
        Ok(response
            .results
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                MultiResult::GetData { data, stat } => {
                    let path = ctx.parts.get(i).map(|(_, path)| path.clone()).unwrap_or_default();
                    ReadResult::Data(NodeData { data, stat, path })
                }
                MultiResult::GetChildren { children } => ReadResult::Children(children),
                MultiResult::Error { code } => ReadResult::Error(ctx.part_error(i, code)),
                other => ReadResult::Error(Error::protocol(format!("unexpected result in multiRead: {other:?}"))),
            })
            .collect())
    }
}
