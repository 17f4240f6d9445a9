//! Reply bodies. Decoded on the caller's task, not the connection's, and sharing the frame's
//! memory for node data.

use bytes::{BufMut, Bytes, BytesMut};

use super::jute::{Decode, Encode, JuteWrite, Reader};
use super::records::{put_acls, read_acls, Acl, Stat};
use super::DecodeError;

/// `CreateResponse` and `SyncResponse`: a path (for create, the real name of a sequential node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathResponse {
    pub path: String,
}

impl Encode for PathResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
    }
}

impl Decode for PathResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("PathResponse");
        Ok(PathResponse { path: r.string("path")? })
    }
}

/// `Create2Response`: create2, createContainer and createTTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create2Response {
    pub path: String,
    pub stat: Stat,
}

impl Encode for Create2Response {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        self.stat.encode(buf);
    }
}

impl Decode for Create2Response {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("Create2Response");
        Ok(Create2Response { path: r.string("path")?, stat: Stat::decode(r)? })
    }
}

/// `GetDataResponse`. `data` is `None` when the node holds null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDataResponse {
    pub data: Option<Bytes>,
    pub stat: Stat,
}

impl Encode for GetDataResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_buffer(self.data.as_deref());
        self.stat.encode(buf);
    }
}

impl Decode for GetDataResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("GetDataResponse");
        Ok(GetDataResponse { data: r.buffer("data")?, stat: Stat::decode(r)? })
    }
}

/// `GetACLResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAclResponse {
    pub acl: Vec<Acl>,
    pub stat: Stat,
}

impl Encode for GetAclResponse {
    fn encode(&self, buf: &mut BytesMut) {
        put_acls(buf, &self.acl);
        self.stat.encode(buf);
    }
}

impl Decode for GetAclResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("GetACLResponse");
        Ok(GetAclResponse { acl: read_acls(r)?, stat: Stat::decode(r)? })
    }
}

/// `GetChildrenResponse`, `GetChildren2Response` (with a Stat) and `GetEphemeralsResponse`
/// (paths, no Stat): a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildrenResponse {
    pub children: Vec<String>,
    /// Present for getChildren2 only.
    pub stat: Option<Stat>,
}

impl ChildrenResponse {
    pub fn decode_versioned(r: &mut Reader, with_stat: bool) -> Result<Self, DecodeError> {
        r.enter("GetChildrenResponse");
        let children = r.strings("children")?;
        let stat = if with_stat { Some(Stat::decode(r)?) } else { None };
        Ok(ChildrenResponse { children, stat })
    }
}

impl Encode for ChildrenResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_strings(&self.children);
        if let Some(stat) = &self.stat {
            stat.encode(buf);
        }
    }
}

/// `GetAllChildrenNumberResponse`, and `ErrorResponse` inside a multi: one int.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntResponse {
    pub value: i32,
}

impl Encode for IntResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.value);
    }
}

impl Decode for IntResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(IntResponse { value: r.i32("value")? })
    }
}

/// One authenticated identity of the session, from whoAmI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// `WhoAmIResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmIResponse {
    pub clients: Vec<ClientInfo>,
}

impl Encode for WhoAmIResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(i32::try_from(self.clients.len()).unwrap_or(i32::MAX));
        for c in &self.clients {
            buf.put_string(&c.auth_scheme);
            buf.put_string(&c.user);
        }
    }
}

impl Decode for WhoAmIResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("WhoAmIResponse");
        let clients = r.vec("clientInfo", 8, |r| {
            Ok(ClientInfo { auth_scheme: r.string("authScheme")?, user: r.string("user")? })
        })?;
        Ok(WhoAmIResponse { clients })
    }
}
