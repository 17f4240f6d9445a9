//! sync, getEphemerals, getAllChildrenNumber, whoAmI.

use bytes::BytesMut;

use super::server_path;
use crate::client::call::{Op, ReplyContext};
use crate::error::Error;
use crate::proto::{
    ChildrenResponse, ClientInfo, Encode, IntResponse, OpCode, PathRequest, PathResponse, WhoAmIResponse,
};
use crate::session::chroot::Chroot;
use crate::session::request::RawReply;

/// An op whose request is just a path.
macro_rules! path_op {
    ($(#[$doc:meta])* $name:ident, $opcode:expr, $output:ty, |$reply:ident, $ctx:ident| $decode:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            pub(crate) path: String,
        }

        impl crate::client::call::sealed::Sealed for $name {}


        impl Op for $name {
            type Output = $output;
            type Carry = ();

            fn opcode(&self) -> OpCode {
                $opcode
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
            fn decode($reply: RawReply, $ctx: &mut ReplyContext, _: ()) -> Result<$output, Error> {
                $decode
            }
        }
    };
}

path_op!(
    /// `sync`: waits until the server this session is connected to has caught up with the
    /// leader, so a following read sees every write committed before the sync.
    SyncOp,
    OpCode::Sync,
    (),
    |reply, ctx| {
        let body = ctx.ok(reply)?;
        ctx.decode::<PathResponse>(body, "SyncResponse").map(drop)
    }
);

path_op!(
    /// `getAllChildrenNumber`: how many nodes live below the path (all descendants).
    AllChildrenNumberOp,
    OpCode::GetAllChildrenNumber,
    i32,
    |reply, ctx| {
        let body = ctx.ok(reply)?;
        ctx.decode::<IntResponse>(body, "GetAllChildrenNumberResponse").map(|r| r.value)
    }
);

path_op!(
    /// `getEphemerals`: the paths of this session's ephemeral nodes under a path prefix
    /// (`/` for all), chroot stripped. The server matches the prefix as text, so under the
    /// chroot `/app` it also reports nodes such as `/apple/x`; those are outside the chroot,
    /// have no client path, and are left out.
    EphemeralsOp,
    OpCode::GetEphemerals,
    Vec<String>,
    |reply, ctx| {
        let body = ctx.ok(reply)?;
        let mut r = crate::proto::Reader::new(body, "GetEphemeralsResponse");
        let resp =
            ChildrenResponse::decode_versioned(&mut r, false).map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
        r.finish().map_err(|e| Error::decode(ctx.op, &ctx.path, e))?;
        Ok(resp.children.iter().filter_map(|p| ctx.chroot.strip(p)).collect())
    }
);

/// `whoAmI`: the identities this session authenticated as.
#[derive(Debug)]
pub struct WhoAmIOp;

impl crate::client::call::sealed::Sealed for WhoAmIOp {}

impl Op for WhoAmIOp {
    type Output = Vec<ClientInfo>;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        OpCode::WhoAmI
    }
    fn path(&self) -> &str {
        ""
    }
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
    fn encode_body(&self, _: &mut BytesMut, _: &Chroot) {}
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<Vec<ClientInfo>, Error> {
        let body = ctx.ok(reply)?;
        ctx.decode::<WhoAmIResponse>(body, "WhoAmIResponse").map(|r| r.clients)
    }
}
