//! Request bodies. They borrow what they send (`Cow`), so the client encodes straight from a
//! builder's fields without copying them first; decoding (for tests and scripted servers)
//! produces owned values.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

use super::codes::{AddWatchMode, CreateMode, WatcherType};
use super::jute::{Decode, Encode, JuteWrite, Reader};
use super::records::{put_acls, read_acls, Acl};
use super::DecodeError;

fn cow_string(r: &mut Reader, what: &'static str) -> Result<Cow<'static, str>, DecodeError> {
    r.string(what).map(Cow::Owned)
}

fn cow_data(r: &mut Reader) -> Result<Option<Cow<'static, [u8]>>, DecodeError> {
    Ok(r.buffer("data")?.map(|b| Cow::Owned(b.to_vec())))
}

/// create, create2, createContainer and createTTL. The TTL goes on the wire only for the TTL
/// modes (that is what distinguishes `CreateTTLRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    pub path: Cow<'a, str>,
    /// `None` stores a null payload, which reads back as null.
    pub data: Option<Cow<'a, [u8]>>,
    pub acl: Cow<'a, [Acl]>,
    pub mode: CreateMode,
    /// Milliseconds; used only when `mode.is_ttl()`.
    pub ttl: i64,
}

impl Encode for CreateRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_buffer(self.data.as_deref());
        put_acls(buf, &self.acl);
        buf.put_i32(self.mode.code());
        if self.mode.is_ttl() {
            buf.put_i64(self.ttl);
        }
    }
}

impl Decode for CreateRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("CreateRequest");
        let path = cow_string(r, "path")?;
        let data = cow_data(r)?;
        let acl = Cow::Owned(read_acls(r)?);
        let mode = CreateMode::from_code(r.i32("flags")?)?;
        let ttl = if mode.is_ttl() { r.i64("ttl")? } else { 0 };
        Ok(CreateRequest { path, data, acl, mode, ttl })
    }
}

/// A path and an expected version: delete (`DeleteRequest`) and check (`CheckVersionRequest`).
/// Version -1 matches any version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathVersionRequest<'a> {
    pub path: Cow<'a, str>,
    pub version: i32,
}

impl Encode for PathVersionRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_i32(self.version);
    }
}

impl Decode for PathVersionRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("PathVersionRequest");
        Ok(PathVersionRequest { path: cow_string(r, "path")?, version: r.i32("version")? })
    }
}

/// A path and a watch flag: exists, getData, getChildren, getChildren2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathWatchRequest<'a> {
    pub path: Cow<'a, str>,
    pub watch: bool,
}

impl Encode for PathWatchRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_bool(self.watch);
    }
}

impl Decode for PathWatchRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("PathWatchRequest");
        Ok(PathWatchRequest { path: cow_string(r, "path")?, watch: r.bool("watch")? })
    }
}

/// Just a path: getACL, sync, getAllChildrenNumber, getEphemerals (a prefix there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRequest<'a> {
    pub path: Cow<'a, str>,
}

impl Encode for PathRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
    }
}

impl Decode for PathRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("PathRequest");
        Ok(PathRequest { path: cow_string(r, "path")? })
    }
}

/// `SetDataRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDataRequest<'a> {
    pub path: Cow<'a, str>,
    pub data: Option<Cow<'a, [u8]>>,
    pub version: i32,
}

impl Encode for SetDataRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_buffer(self.data.as_deref());
        buf.put_i32(self.version);
    }
}

impl Decode for SetDataRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("SetDataRequest");
        Ok(SetDataRequest { path: cow_string(r, "path")?, data: cow_data(r)?, version: r.i32("version")? })
    }
}

/// `SetACLRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAclRequest<'a> {
    pub path: Cow<'a, str>,
    pub acl: Cow<'a, [Acl]>,
    pub version: i32,
}

impl Encode for SetAclRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        put_acls(buf, &self.acl);
        buf.put_i32(self.version);
    }
}

impl Decode for SetAclRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("SetACLRequest");
        Ok(SetAclRequest { path: cow_string(r, "path")?, acl: Cow::Owned(read_acls(r)?), version: r.i32("version")? })
    }
}

/// `AddWatchRequest`: a persistent or persistent-recursive watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWatchRequest<'a> {
    pub path: Cow<'a, str>,
    pub mode: AddWatchMode,
}

impl Encode for AddWatchRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_i32(self.mode.code());
    }
}

impl Decode for AddWatchRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("AddWatchRequest");
        Ok(AddWatchRequest { path: cow_string(r, "path")?, mode: AddWatchMode::from_code(r.i32("mode")?)? })
    }
}

/// checkWatches and removeWatches (`CheckWatchesRequest`, `RemoveWatchesRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchesRequest<'a> {
    pub path: Cow<'a, str>,
    pub kind: WatcherType,
}

impl Encode for WatchesRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_string(&self.path);
        buf.put_i32(self.kind.code());
    }
}

impl Decode for WatchesRequest<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("WatchesRequest");
        Ok(WatchesRequest { path: cow_string(r, "path")?, kind: WatcherType::from_code(r.i32("type")?)? })
    }
}

/// `AuthPacket` (sent with xid -4 and opcode 100). Its `Debug` leaves the credentials out
/// (`digest` sends `user:password` in clear).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthPacket<'a> {
    /// Always 0 in practice.
    pub kind: i32,
    pub scheme: Cow<'a, str>,
    pub auth: Cow<'a, [u8]>,
}

impl std::fmt::Debug for AuthPacket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPacket")
            .field("kind", &self.kind)
            .field("scheme", &self.scheme)
            .field("auth", &super::Redacted(&self.auth))
            .finish()
    }
}

/// `GetSASLRequest` (opcode `sasl`): one token of a SASL exchange. The reply is
/// `SetSASLResponse{buffer token}` (decoded by [`decode_sasl_token`](super::any::decode_sasl_token)).
#[derive(Clone, PartialEq, Eq)]
pub struct SaslRequest<'a> {
    pub token: Cow<'a, [u8]>,
}

impl std::fmt::Debug for SaslRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token may carry credentials' digests: like passwords, never printed.
        f.debug_struct("SaslRequest").field("token", &super::Redacted(&self.token)).finish()
    }
}

impl Encode for SaslRequest<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_buffer(Some(&self.token));
    }
}

impl Encode for AuthPacket<'_> {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.kind);
        buf.put_string(&self.scheme);
        buf.put_buffer(Some(&self.auth));
    }
}

impl Decode for AuthPacket<'static> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("AuthPacket");
        Ok(AuthPacket {
            kind: r.i32("type")?,
            scheme: cow_string(r, "scheme")?,
            auth: Cow::Owned(r.buffer("auth")?.map(|b| b.to_vec()).unwrap_or_default()),
        })
    }
}

/// `SetWatches` (op 101) or, when persistent watches are present, `SetWatches2` (op 105):
/// re-registers watches on a new connection. Paths are the server's (chroot applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetWatches {
    /// The client's last seen zxid: the server fires standard watches for changes after it.
    pub relative_zxid: i64,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

impl SetWatches {
    /// Whether this batch needs `SetWatches2`; plain `SetWatches` keeps 3.5 servers working.
    pub fn needs_v2(&self) -> bool {
        !self.persistent.is_empty() || !self.persistent_recursive.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }

    /// Decodes either form: `v2` says whether the two persistent lists follow.
    pub fn decode_versioned(r: &mut Reader, v2: bool) -> Result<Self, DecodeError> {
        r.enter(if v2 { "SetWatches2" } else { "SetWatches" });
        let mut w = SetWatches {
            relative_zxid: r.i64("relativeZxid")?,
            data: r.strings("dataWatches")?,
            exist: r.strings("existWatches")?,
            child: r.strings("childWatches")?,
            ..SetWatches::default()
        };
        if v2 {
            w.persistent = r.strings("persistentWatches")?;
            w.persistent_recursive = r.strings("persistentRecursiveWatches")?;
        }
        Ok(w)
    }
}

impl Encode for SetWatches {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64(self.relative_zxid);
        buf.put_strings(&self.data);
        buf.put_strings(&self.exist);
        buf.put_strings(&self.child);
        if self.needs_v2() {
            buf.put_strings(&self.persistent);
            buf.put_strings(&self.persistent_recursive);
        }
    }
}
