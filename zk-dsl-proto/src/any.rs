//! Decoding a body when all you know is its opcode.
//!
//! The client always knows which record it expects, so it decodes with the record's own
//! [`Decode`](super::Decode) impl. A scripted fake server (tests) and the fuzz targets do not: they read a
//! request header or remember an opcode, and want the body as whatever that opcode carries.
//! [`decode_request_body`] and [`decode_reply_body`] do that dispatch in one place, following
//! the request/response table of the wire protocol. Both insist on the whole body being used.

use bytes::Bytes;

use super::codes::OpCode;
use super::jute::Reader;
use super::multi::{MultiRequest, MultiResponse};
use super::records::{Stat, WatcherEvent};
use super::requests::{
    AddWatchRequest, AuthPacket, CreateRequest, PathRequest, PathVersionRequest, PathWatchRequest, SetAclRequest,
    SetDataRequest, SetWatches, WatchesRequest,
};
use super::responses::{
    ChildrenResponse, Create2Response, GetAclResponse, GetDataResponse, IntResponse, PathResponse, WhoAmIResponse,
};
use super::{decode_exact, DecodeError};

/// The body of a reply, by the opcode of the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// No body: delete, check, addWatch, removeWatches, checkWatches, setWatches(2), auth, ping,
    /// closeSession.
    Empty,
    /// create and sync.
    Path(PathResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData, and reconfig (the new configuration).
    GetData(GetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// getChildren and getEphemerals (`stat` is `None`), getChildren2 (`stat` is `Some`).
    Children(ChildrenResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    /// getAllChildrenNumber.
    Int(IntResponse),
    /// whoAmI.
    WhoAmI(WhoAmIResponse),
    /// sasl: `SetSASLResponse{buffer token}`.
    Sasl { token: Option<Bytes> },
    /// A notification (xid -1, which this module files under opcode 0): `WatcherEvent`.
    Event(WatcherEvent),
}

/// Decodes the body of a successful reply (`ReplyHeader.err == 0`; multi bodies come with err 0
/// even when an op failed) to the request `op`. Error replies carry no body; do not call this
/// for them.
pub fn decode_reply_body(op: OpCode, body: Bytes) -> Result<ReplyBody, DecodeError> {
    Ok(match op {
        OpCode::Delete
        | OpCode::Check
        | OpCode::AddWatch
        | OpCode::RemoveWatches
        | OpCode::CheckWatches
        | OpCode::SetWatches
        | OpCode::SetWatches2
        | OpCode::Auth
        | OpCode::Ping
        | OpCode::CloseSession => {
            Reader::new(body, "EmptyResponse").finish()?;
            ReplyBody::Empty
        }
        OpCode::Create | OpCode::Sync => ReplyBody::Path(decode_exact(body, "PathResponse")?),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            ReplyBody::Create2(decode_exact(body, "Create2Response")?)
        }
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl => ReplyBody::Stat(decode_exact(body, "StatResponse")?),
        OpCode::GetData | OpCode::Reconfig => ReplyBody::GetData(decode_exact(body, "GetDataResponse")?),
        OpCode::GetAcl => ReplyBody::GetAcl(decode_exact(body, "GetACLResponse")?),
        OpCode::GetChildren | OpCode::GetEphemerals => ReplyBody::Children(children(body, false)?),
        OpCode::GetChildren2 => ReplyBody::Children(children(body, true)?),
        OpCode::Multi | OpCode::MultiRead => ReplyBody::Multi(decode_exact(body, "MultiResponse")?),
        OpCode::GetAllChildrenNumber => ReplyBody::Int(decode_exact(body, "GetAllChildrenNumberResponse")?),
        OpCode::WhoAmI => ReplyBody::WhoAmI(decode_exact(body, "WhoAmIResponse")?),
        OpCode::Sasl => ReplyBody::Sasl { token: sasl_token(body, "SetSASLResponse")? },
        OpCode::Notification => ReplyBody::Event(decode_exact(body, "WatcherEvent")?),
        other => {
            return Err(DecodeError::Unexpected { what: "opcode with no client reply", value: other.code().into() })
        }
    })
}

/// `ReconfigRequest`: strings are `None` when sent as jute null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigRequest {
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

impl crate::jute::Encode for ReconfigRequest {
    fn encode(&self, buf: &mut bytes::BytesMut) {
        use crate::jute::JuteWrite;
        use bytes::BufMut;
        for part in [&self.joining_servers, &self.leaving_servers, &self.new_members] {
            buf.put_buffer(part.as_deref().map(str::as_bytes));
        }
        buf.put_i64(self.cur_config_id);
    }
}

/// The body of a request, by its opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// No body: ping, whoAmI, closeSession.
    Empty,
    /// create, create2, createContainer, createTTL.
    Create(CreateRequest<'static>),
    /// delete and check.
    PathVersion(PathVersionRequest<'static>),
    /// exists, getData, getChildren, getChildren2.
    PathWatch(PathWatchRequest<'static>),
    /// getACL, sync, getAllChildrenNumber, getEphemerals (a path prefix).
    Path(PathRequest<'static>),
    SetData(SetDataRequest<'static>),
    SetAcl(SetAclRequest<'static>),
    /// multi and multiRead.
    Multi(MultiRequest<'static>),
    AddWatch(AddWatchRequest<'static>),
    /// checkWatches and removeWatches.
    Watches(WatchesRequest<'static>),
    Auth(AuthPacket<'static>),
    /// setWatches (the persistent lists are empty) and setWatches2.
    SetWatches(SetWatches),
    /// sasl: `GetSASLRequest{buffer token}`.
    Sasl {
        token: Option<Bytes>,
    },
    Reconfig(ReconfigRequest),
}

/// Decodes the body of a request whose header named `op`.
///
/// A create whose mode does not match its opcode (a TTL mode outside createTTL, or createTTL
/// without one) is refused: the server reads a different record layout for createTTL, so such
/// a request can only come from a client bug.
pub fn decode_request_body(op: OpCode, body: Bytes) -> Result<RequestBody, DecodeError> {
    Ok(match op {
        OpCode::Ping | OpCode::WhoAmI | OpCode::CloseSession => {
            Reader::new(body, "EmptyRequest").finish()?;
            RequestBody::Empty
        }
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            let create: CreateRequest<'static> = decode_exact(body, "CreateRequest")?;
            if create.mode.is_ttl() != (op == OpCode::CreateTtl) {
                return Err(DecodeError::Unexpected {
                    what: if op == OpCode::CreateTtl {
                        "non-TTL mode in createTTL"
                    } else {
                        "TTL mode outside createTTL"
                    },
                    value: create.mode.code().into(),
                });
            }
            RequestBody::Create(create)
        }
        OpCode::Delete | OpCode::Check => RequestBody::PathVersion(decode_exact(body, "PathVersionRequest")?),
        OpCode::Exists | OpCode::GetData | OpCode::GetChildren | OpCode::GetChildren2 => {
            RequestBody::PathWatch(decode_exact(body, "PathWatchRequest")?)
        }
        OpCode::GetAcl | OpCode::Sync | OpCode::GetAllChildrenNumber | OpCode::GetEphemerals => {
            RequestBody::Path(decode_exact(body, "PathRequest")?)
        }
        OpCode::SetData => RequestBody::SetData(decode_exact(body, "SetDataRequest")?),
        OpCode::SetAcl => RequestBody::SetAcl(decode_exact(body, "SetACLRequest")?),
        OpCode::Multi | OpCode::MultiRead => RequestBody::Multi(decode_exact(body, "MultiRequest")?),
        OpCode::AddWatch => RequestBody::AddWatch(decode_exact(body, "AddWatchRequest")?),
        OpCode::CheckWatches | OpCode::RemoveWatches => RequestBody::Watches(decode_exact(body, "WatchesRequest")?),
        OpCode::Auth => RequestBody::Auth(decode_exact(body, "AuthPacket")?),
        OpCode::SetWatches | OpCode::SetWatches2 => {
            let mut r = Reader::new(body, "SetWatches");
            let w = SetWatches::decode_versioned(&mut r, op == OpCode::SetWatches2)?;
            r.finish()?;
            RequestBody::SetWatches(w)
        }
        OpCode::Sasl => RequestBody::Sasl { token: sasl_token(body, "GetSASLRequest")? },
        OpCode::Reconfig => {
            let mut r = Reader::new(body, "ReconfigRequest");
            let req = ReconfigRequest {
                joining_servers: r.string_opt("joiningServers")?,
                leaving_servers: r.string_opt("leavingServers")?,
                new_members: r.string_opt("newMembers")?,
                cur_config_id: r.i64("curConfigId")?,
            };
            r.finish()?;
            RequestBody::Reconfig(req)
        }
        other => {
            return Err(DecodeError::Unexpected { what: "opcode a client does not send", value: other.code().into() })
        }
    })
}

fn children(body: Bytes, with_stat: bool) -> Result<ChildrenResponse, DecodeError> {
    let mut r = Reader::new(body, "GetChildrenResponse");
    let children = ChildrenResponse::decode_versioned(&mut r, with_stat)?;
    r.finish()?;
    Ok(children)
}

/// The token of a `SetSASLResponse` (`None`: the server sent a null buffer).
pub fn decode_sasl_token(body: Bytes) -> Result<Option<Bytes>, DecodeError> {
    sasl_token(body, "SetSASLResponse")
}

fn sasl_token(body: Bytes, record: &'static str) -> Result<Option<Bytes>, DecodeError> {
    let mut r = Reader::new(body, record);
    let token = r.buffer("token")?;
    r.finish()?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::codes::CreateMode;
    use crate::jute::Encode;
    use crate::multi::{MultiOp, MultiResult};
    use crate::records::Acl;

    fn enc(value: &dyn Encode) -> Bytes {
        let mut b = BytesMut::new();
        value.encode(&mut b);
        b.freeze()
    }

    fn stat() -> Stat {
        Stat { czxid: -5, mzxid: 7, version: 3, pzxid: i64::MAX, ..Stat::default() }
    }

    #[test]
    fn replies_decode_by_opcode() {
        let path = PathResponse { path: "/a/b".into() };
        assert_eq!(decode_reply_body(OpCode::Create, enc(&path)), Ok(ReplyBody::Path(path.clone())));
        assert_eq!(decode_reply_body(OpCode::Sync, enc(&path)), Ok(ReplyBody::Path(path)));
        let c2 = Create2Response { path: "/n".into(), stat: stat() };
        for op in [OpCode::Create2, OpCode::CreateContainer, OpCode::CreateTtl] {
            assert_eq!(decode_reply_body(op, enc(&c2)), Ok(ReplyBody::Create2(c2.clone())), "{op}");
        }
        for op in [OpCode::Exists, OpCode::SetData, OpCode::SetAcl] {
            assert_eq!(decode_reply_body(op, enc(&stat())), Ok(ReplyBody::Stat(stat())), "{op}");
        }
        let kids = ChildrenResponse { children: vec!["x".into(), String::new()], stat: None };
        assert_eq!(decode_reply_body(OpCode::GetChildren, enc(&kids)), Ok(ReplyBody::Children(kids.clone())));
        assert_eq!(decode_reply_body(OpCode::GetEphemerals, enc(&kids)), Ok(ReplyBody::Children(kids.clone())));
        // getChildren2 needs the Stat; a getChildren body is too short for it.
        assert!(decode_reply_body(OpCode::GetChildren2, enc(&kids)).is_err());
        let kids2 = ChildrenResponse { stat: Some(stat()), ..kids };
        assert_eq!(decode_reply_body(OpCode::GetChildren2, enc(&kids2)), Ok(ReplyBody::Children(kids2)));
        let n = IntResponse { value: 42 };
        assert_eq!(decode_reply_body(OpCode::GetAllChildrenNumber, enc(&n)), Ok(ReplyBody::Int(n)));
        let multi = MultiResponse { results: vec![MultiResult::Delete, MultiResult::Error { code: -101 }] };
        assert_eq!(decode_reply_body(OpCode::MultiRead, enc(&multi)), Ok(ReplyBody::Multi(multi)));
        let mut sasl = BytesMut::new();
        sasl.put_i32(-1);
        assert_eq!(decode_reply_body(OpCode::Sasl, sasl.freeze()), Ok(ReplyBody::Sasl { token: None }));
    }

    #[test]
    fn empty_replies_must_be_empty() {
        for op in [OpCode::Delete, OpCode::Check, OpCode::Ping, OpCode::Auth, OpCode::SetWatches2, OpCode::AddWatch] {
            assert_eq!(decode_reply_body(op, Bytes::new()), Ok(ReplyBody::Empty), "{op}");
            assert!(
                matches!(decode_reply_body(op, Bytes::from_static(&[0])), Err(DecodeError::TrailingBytes { .. })),
                "{op}"
            );
        }
        assert!(matches!(
            decode_reply_body(OpCode::DeleteContainer, Bytes::new()),
            Err(DecodeError::Unexpected { value: 20, .. })
        ));
    }

    #[test]
    fn requests_decode_by_opcode() {
        let create = CreateRequest {
            path: "/t".into(),
            data: Some(Cow::Borrowed(b"v")),
            acl: Cow::Owned(Acl::open_unsafe()),
            mode: CreateMode::PersistentWithTtl,
            ttl: 1000,
        };
        let body = enc(&create);
        let RequestBody::Create(back) = decode_request_body(OpCode::CreateTtl, body.clone()).unwrap() else {
            panic!("not a create");
        };
        assert_eq!(back, create);
        // The same TTL body under create2 is a client bug.
        assert!(matches!(decode_request_body(OpCode::Create2, body), Err(DecodeError::Unexpected { value: 5, .. })));

        let watch = PathWatchRequest { path: "/w".into(), watch: true };
        assert_eq!(
            decode_request_body(OpCode::GetChildren2, enc(&watch)),
            Ok(RequestBody::PathWatch(PathWatchRequest { path: "/w".into(), watch: true }))
        );
        let multi = MultiRequest { ops: vec![MultiOp::Check(PathVersionRequest { path: "/c".into(), version: 2 })] };
        let RequestBody::Multi(back) = decode_request_body(OpCode::Multi, enc(&multi)).unwrap() else {
            panic!("not a multi");
        };
        assert_eq!(back, multi);
        assert_eq!(decode_request_body(OpCode::Ping, Bytes::new()), Ok(RequestBody::Empty));

        let v1 = SetWatches { relative_zxid: 9, data: vec!["/d".into()], ..SetWatches::default() };
        assert_eq!(decode_request_body(OpCode::SetWatches, enc(&v1)), Ok(RequestBody::SetWatches(v1.clone())));
        // A v1 body is too short for SetWatches2.
        assert!(decode_request_body(OpCode::SetWatches2, enc(&v1)).is_err());

        let mut reconfig = BytesMut::new();
        reconfig.put_i32(-1);
        reconfig.put_i32(1);
        reconfig.put_slice(b"2");
        reconfig.put_i32(0);
        reconfig.put_i64(-1);
        assert_eq!(
            decode_request_body(OpCode::Reconfig, reconfig.freeze()),
            Ok(RequestBody::Reconfig(ReconfigRequest {
                joining_servers: None,
                leaving_servers: Some("2".into()),
                new_members: Some(String::new()),
                cur_config_id: -1,
            }))
        );
        let encoded = ReconfigRequest {
            joining_servers: Some("server.4=h:1:2;3".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: 0x1_0000_0000,
        };
        assert_eq!(decode_request_body(OpCode::Reconfig, enc(&encoded)), Ok(RequestBody::Reconfig(encoded.clone())));
        assert!(decode_request_body(OpCode::Notification, Bytes::new()).is_err());
    }
}
