//! Writes: setData, delete, setACL. Each takes an expected version (`-1`, the default,
//! matches any).

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::server_path;
use crate::client::call::{check_deferred, Call, Op, ReplyContext};
use crate::error::Error;
use crate::proto::{Acl, Encode, OpCode, PathVersionRequest, SetAclRequest, SetDataRequest, Stat};
use crate::session::chroot::Chroot;
use crate::session::request::RawReply;

/// The expected-version option shared by the writes.
pub trait Versioned: crate::client::call::sealed::Sealed {
    /// Where the expected version goes.
    fn version_slot(&mut self) -> &mut i32;
}

impl<O: Op + Versioned> Call<'_, O> {
    /// Only if the node's version is `version` (else BadVersion); -1, the default, matches any.
    pub fn version(mut self, version: i32) -> Self {
        *self.op.version_slot() = version;
        self
    }
}

fn decode_stat(reply: RawReply, ctx: &ReplyContext, record: &'static str) -> Result<Stat, Error> {
    let body = ctx.ok(reply)?;
    ctx.decode(body, record)
}

/// `setData`: resolves to the node's Stat after the write.
#[derive(Debug)]
pub struct SetDataOp {
    pub(crate) path: String,
    /// `None` stores null.
    pub(crate) data: Option<Bytes>,
    pub(crate) version: i32,
    pub(crate) error: Option<Error>,
}

impl Versioned for SetDataOp {
    fn version_slot(&mut self) -> &mut i32 {
        &mut self.version
    }
}

impl crate::client::call::sealed::Sealed for SetDataOp {}

impl Op for SetDataOp {
    type Output = Stat;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::SetData
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn validate(&self) -> Result<(), Error> {
        check_deferred(&self.error, &self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        SetDataRequest {
            path: server_path(chroot, &self.path),
            data: self.data.as_deref().map(Cow::Borrowed),
            version: self.version,
        }
        .encode(buf);
    }
    fn size_hint(&self) -> usize {
        self.path.len() + self.data.as_ref().map_or(0, Bytes::len)
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Stat, Error> {
        decode_stat(reply, ctx, "SetDataResponse")
    }
}

/// `delete`.
#[derive(Debug)]
pub struct DeleteOp {
    pub(crate) path: String,
    pub(crate) version: i32,
}

impl Versioned for DeleteOp {
    fn version_slot(&mut self) -> &mut i32 {
        &mut self.version
    }
}

impl crate::client::call::sealed::Sealed for DeleteOp {}

impl Op for DeleteOp {
    type Output = ();
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::Delete
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        PathVersionRequest { path: server_path(chroot, &self.path), version: self.version }.encode(buf);
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<(), Error> {
        ctx.ok(reply).map(drop)
    }
}

/// `setACL`: resolves to the node's Stat after the change.
#[derive(Debug)]
pub struct SetAclOp {
    pub(crate) path: String,
    pub(crate) acl: Vec<Acl>,
    pub(crate) version: i32,
    /// An ACL construction that failed (see [`Call::try_acl`]); reported when the call is made.
    pub(crate) error: Option<Error>,
}

impl Call<'_, SetAclOp> {
    /// Replaces the ACL with one from a fallible construction (`acl![…]`, the
    /// [`acl`](mod@crate::acl) helpers); a refused entry is reported when the call is made:
    /// `client.set_acl(path, Vec::new()).try_acl(acl![auth(all)])`.
    pub fn try_acl(mut self, acl: Result<Vec<Acl>, crate::acl::AclError>) -> Self {
        match acl {
            Ok(acl) => self.op.acl = acl,
            Err(e) => self.op.error = Some(crate::acl::refused_in_request(e, OpCode::SetAcl, &self.op.path)),
        }
        self
    }
}

impl Versioned for SetAclOp {
    fn version_slot(&mut self) -> &mut i32 {
        &mut self.version
    }
}

impl crate::client::call::sealed::Sealed for SetAclOp {}

impl Op for SetAclOp {
    type Output = Stat;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::SetAcl
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.path)
    }
    fn validate(&self) -> Result<(), Error> {
        check_deferred(&self.error, &self.path)?;
        if self.acl.is_empty() {
            return Err(Error::invalid_argument(
                Some(OpCode::SetAcl),
                Some(&self.path),
                "an empty ACL would make the node unusable; ZooKeeper rejects it",
            ));
        }
        Ok(())
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        SetAclRequest { path: server_path(chroot, &self.path), acl: Cow::Borrowed(&self.acl), version: self.version }
            .encode(buf);
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Stat, Error> {
        decode_stat(reply, ctx, "SetACLResponse")
    }
}
