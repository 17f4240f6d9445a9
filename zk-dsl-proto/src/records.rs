//! The records every exchange is built from: session handshake, request and reply headers,
//! watch notifications, Stat and ACLs.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use bytes::{BufMut, BytesMut};

use super::codes::{EventType, KeeperState};
use super::jute::{Decode, Encode, JuteWrite, Reader};
use super::DecodeError;

/// `ConnectRequest`: opens or resumes a session. It has no request header. Its `Debug` leaves
/// the password out (see [`Redacted`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    /// The highest zxid this client has seen; a server that is behind it refuses the session.
    pub last_zxid_seen: i64,
    /// Requested session timeout in milliseconds; the server clamps it.
    pub timeout_ms: i32,
    /// 0 for a new session.
    pub session_id: i64,
    /// 16 zero bytes for a new session.
    pub password: Vec<u8>,
    pub read_only: bool,
}

/// A secret in `Debug` output: its length only. A session's password with its id is enough
/// to take the session over, so no type holding one prints it (requests, replies, statuses,
/// configuration), whatever logs or panics they end up in.
pub struct Redacted<'a>(pub &'a [u8]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

impl fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("protocol_version", &self.protocol_version)
            .field("last_zxid_seen", &self.last_zxid_seen)
            .field("timeout_ms", &self.timeout_ms)
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("password", &Redacted(&self.password))
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl fmt::Debug for ConnectResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectResponse")
            .field("protocol_version", &self.protocol_version)
            .field("timeout_ms", &self.timeout_ms)
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("password", &Redacted(&self.password))
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl Encode for ConnectRequest {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.protocol_version);
        buf.put_i64(self.last_zxid_seen);
        buf.put_i32(self.timeout_ms);
        buf.put_i64(self.session_id);
        buf.put_buffer(Some(&self.password));
        buf.put_bool(self.read_only);
    }
}

impl Decode for ConnectRequest {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("ConnectRequest");
        Ok(ConnectRequest {
            protocol_version: r.i32("protocolVersion")?,
            last_zxid_seen: r.i64("lastZxidSeen")?,
            timeout_ms: r.i32("timeOut")?,
            session_id: r.i64("sessionId")?,
            password: r.buffer("passwd")?.map(|b| b.to_vec()).unwrap_or_default(),
            read_only: if r.remaining() > 0 { r.bool("readOnly")? } else { false },
        })
    }
}

/// `ConnectResponse`: the session the server granted. A timeout of 0 means the session expired.
/// Its `Debug` leaves the password out (see [`Redacted`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    /// The negotiated session timeout, ms.
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
    /// Absent on pre-3.4 servers; read as false then.
    pub read_only: bool,
}

impl ConnectResponse {
    /// The server's way of saying the session we tried to resume is gone.
    pub fn is_expired(&self) -> bool {
        self.timeout_ms <= 0
    }
}

impl Encode for ConnectResponse {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.protocol_version);
        buf.put_i32(self.timeout_ms);
        buf.put_i64(self.session_id);
        buf.put_buffer(Some(&self.password));
        buf.put_bool(self.read_only);
    }
}

impl Decode for ConnectResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("ConnectResponse");
        Ok(ConnectResponse {
            protocol_version: r.i32("protocolVersion")?,
            timeout_ms: r.i32("timeOut")?,
            session_id: r.i64("sessionId")?,
            password: r.buffer("passwd")?.map(|b| b.to_vec()).unwrap_or_default(),
            read_only: if r.remaining() > 0 { r.bool("readOnly")? } else { false },
        })
    }
}

/// `RequestHeader`: precedes every request body except the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    /// The opcode as sent (kept raw so a fake server can read what it does not know).
    pub op: i32,
}

impl Encode for RequestHeader {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.xid);
        buf.put_i32(self.op);
    }
}

impl Decode for RequestHeader {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("RequestHeader");
        Ok(RequestHeader { xid: r.i32("xid")?, op: r.i32("type")? })
    }
}

/// `ReplyHeader`: precedes every reply. `err` is a raw [`ErrorCode`](super::ErrorCode) number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

impl ReplyHeader {
    pub const LEN: usize = 16;
}

impl Encode for ReplyHeader {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.xid);
        buf.put_i64(self.zxid);
        buf.put_i32(self.err);
    }
}

impl Decode for ReplyHeader {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("ReplyHeader");
        Ok(ReplyHeader { xid: r.i32("xid")?, zxid: r.i64("zxid")?, err: r.i32("err")? })
    }
}

/// `WatcherEvent`: a notification (xid -1). The path is the server's, before chroot stripping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEvent {
    pub event_type: EventType,
    pub state: KeeperState,
    pub path: String,
}

impl Encode for WatcherEvent {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i32(self.event_type.code());
        buf.put_i32(self.state.code());
        buf.put_string(&self.path);
    }
}

impl Decode for WatcherEvent {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.enter("WatcherEvent");
        Ok(WatcherEvent {
            event_type: EventType::from_code(r.i32("type")?)?,
            state: KeeperState::from_code(r.i32("state")?)?,
            path: r.string("path")?,
        })
    }
}

/// A node's metadata, as ZooKeeper's `Stat` (68 bytes on the wire; `pzxid` comes last).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// zxid of the change that created the node.
    pub czxid: i64,
    /// zxid of the change that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last modification time, ms since the epoch.
    pub mtime: i64,
    /// Number of changes to the data.
    pub version: i32,
    /// Number of changes to the children.
    pub cversion: i32,
    /// Number of changes to the ACL.
    pub aversion: i32,
    /// Session id of the owner if ephemeral; 0 if persistent; `0x8000_0000_0000_0000` for a
    /// container; `0xFF00_0000_0000_0000 | ttl` for a TTL node.
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    /// zxid of the change that last modified the children.
    pub pzxid: i64,
}

impl Stat {
    pub const LEN: usize = 68;
    /// `ephemeralOwner` of a container node (`Long.MIN_VALUE`).
    pub const CONTAINER_OWNER: i64 = i64::MIN;
    const TTL_MASK: i64 = 0xFF00_0000_0000_0000_u64 as i64;

    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral_owner != 0 && !self.is_container() && !self.is_ttl()
    }

    pub fn is_container(&self) -> bool {
        self.ephemeral_owner == Self::CONTAINER_OWNER
    }

    pub fn is_ttl(&self) -> bool {
        self.ephemeral_owner & Self::TTL_MASK == Self::TTL_MASK
    }

    /// The TTL of a TTL node, ms.
    pub fn ttl_ms(&self) -> Option<i64> {
        self.is_ttl().then_some(self.ephemeral_owner & !Self::TTL_MASK)
    }
}

impl Encode for Stat {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64(self.czxid);
        buf.put_i64(self.mzxid);
        buf.put_i64(self.ctime);
        buf.put_i64(self.mtime);
        buf.put_i32(self.version);
        buf.put_i32(self.cversion);
        buf.put_i32(self.aversion);
        buf.put_i64(self.ephemeral_owner);
        buf.put_i32(self.data_length);
        buf.put_i32(self.num_children);
        buf.put_i64(self.pzxid);
    }
}

/// A `Stat` on the wire: 7 longs and 4 ints.
const STAT_WIRE_LEN: usize = 68;

impl Stat {
    /// The fields of a whole `Stat` record.
    fn from_wire(b: &[u8; STAT_WIRE_LEN]) -> Stat {
        // Constant offsets into a fixed-size array: every slice is in bounds.
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        let i32_at = |at: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[at..at + 4]);
            i32::from_be_bytes(x)
        };
        Stat {
            czxid: i64_at(0),
            mzxid: i64_at(8),
            ctime: i64_at(16),
            mtime: i64_at(24),
            version: i32_at(32),
            cversion: i32_at(36),
            aversion: i32_at(40),
            ephemeral_owner: i64_at(44),
            data_length: i32_at(52),
            num_children: i32_at(56),
            pzxid: i64_at(60),
        }
    }
}

impl Decode for Stat {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        if r.remaining() >= STAT_WIRE_LEN {
            // The whole record is there (as in every well-formed reply): one bounds check
            // instead of eleven. A short record is read field by field below, so the error
            // names the field it cuts.
            return r.fixed::<STAT_WIRE_LEN>("Stat").map(|b| Stat::from_wire(&b));
        }
        let outer = r.enter("Stat");
        let stat = Stat {
            czxid: r.i64("czxid")?,
            mzxid: r.i64("mzxid")?,
            ctime: r.i64("ctime")?,
            mtime: r.i64("mtime")?,
            version: r.i32("version")?,
            cversion: r.i32("cversion")?,
            aversion: r.i32("aversion")?,
            ephemeral_owner: r.i64("ephemeralOwner")?,
            data_length: r.i32("dataLength")?,
            num_children: r.i32("numChildren")?,
            pzxid: r.i64("pzxid")?,
        };
        r.enter(outer);
        Ok(stat)
    }
}

/// ACL permissions as a bit set: `Perms::READ | Perms::WRITE`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Perms(u32);

impl Perms {
    pub const NONE: Perms = Perms(0);
    pub const READ: Perms = Perms(1);
    pub const WRITE: Perms = Perms(2);
    pub const CREATE: Perms = Perms(4);
    pub const DELETE: Perms = Perms(8);
    pub const ADMIN: Perms = Perms(16);
    pub const ALL: Perms = Perms(31);
    /// Each single permission with its name, in bit order.
    pub const NAMED: [(Perms, &'static str); 5] = [
        (Perms::READ, "read"),
        (Perms::WRITE, "write"),
        (Perms::CREATE, "create"),
        (Perms::DELETE, "delete"),
        (Perms::ADMIN, "admin"),
    ];

    /// The permission bits exactly as ZooKeeper stores them. Bits above `ALL` are kept so that
    /// what a server sends is reported faithfully.
    pub const fn from_bits(bits: u32) -> Perms {
        Perms(bits)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A permission by its lower-case name (`read`, `write`, `create`, `delete`, `admin`, `all`).
    pub fn from_name(name: &str) -> Option<Perms> {
        if name == "all" {
            return Some(Perms::ALL);
        }
        Perms::NAMED.iter().find(|(_, n)| *n == name).map(|(p, _)| *p)
    }
}

impl BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl BitOrAssign for Perms {
    fn bitor_assign(&mut self, rhs: Perms) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Perms({self})")
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = Perms::NAMED.iter().filter(|(p, _)| self.contains(*p)).map(|(_, n)| *n).collect();
        f.write_str(&names.join("|"))
    }
}

/// An ACL identity: a scheme and an id within it (`world:anyone`, `digest:user:hash`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id { scheme: scheme.into(), id: id.into() }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.id)
    }
}

/// One ACL entry: who ([`Id`]) may do what ([`Perms`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    pub perms: Perms,
    pub id: Id,
}

impl Acl {
    pub fn new(perms: Perms, scheme: impl Into<String>, id: impl Into<String>) -> Acl {
        Acl { perms, id: Id::new(scheme, id) }
    }

    /// `world:anyone` with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, "world", "anyone")]
    }

    /// `world:anyone` may read (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, "world", "anyone")]
    }

    /// Every permission for the identities the session authenticated as
    /// (`ZooDefs.Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, "auth", "")]
    }
}

impl fmt::Display for Acl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.perms)
    }
}

impl Encode for Acl {
    fn encode(&self, buf: &mut BytesMut) {
        // Perms that do not fit an i32 cannot come from ZooKeeper; the server rejects them.
        buf.put_i32(self.perms.bits() as i32);
        buf.put_string(&self.id.scheme);
        buf.put_string(&self.id.id);
    }
}

impl Decode for Acl {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let outer = r.enter("ACL");
        let acl = Acl {
            perms: Perms::from_bits(r.i32("perms")? as u32),
            id: Id { scheme: r.string("scheme")?, id: r.string("id")? },
        };
        r.enter(outer);
        Ok(acl)
    }
}

/// Smallest encoded ACL: perms plus two empty strings.
pub(crate) const ACL_MIN_LEN: usize = 12;

pub(crate) fn put_acls(buf: &mut BytesMut, acl: &[Acl]) {
    buf.put_i32(i32::try_from(acl.len()).unwrap_or(i32::MAX));
    for a in acl {
        a.encode(buf);
    }
}

pub(crate) fn read_acls(r: &mut Reader) -> Result<Vec<Acl>, DecodeError> {
    r.vec("acl", ACL_MIN_LEN, Acl::decode)
}
