//! ZooKeeper's client wire protocol, sans IO.
//!
//! Records, opcodes, error codes, path rules and the frame codec, with no sockets, no tokio and
//! no clocks, so every byte the client sends or accepts can be tested (and fuzzed) in isolation.
//! Decoding arbitrary bytes never panics, and never allocates more than a small constant multiple
//! of the frame it reads (declared lengths and counts are checked against the bytes present first).
//!
//! Layout: [`jute`] (primitives), [`codes`] (typed enums), [`records`] (handshake, headers,
//! Stat, ACL), [`requests`] and [`responses`] (operation bodies), [`multi`], [`path`], [`frame`],
//! [`acl`] (what an ACL entry can fail), [`any`] (any body by opcode, for fuzzing and scripted
//! servers).
//!
//! This is zk-dsl's protocol layer as a crate of its own (as tokio-postgres keeps its wire format
//! in `postgres-protocol`): `zk-dsl` re-exports it as `zk_dsl::proto`, `zk-dsl-macros` checks
//! paths with its [`path`] rules at compile time, and the fuzz targets and the benchmark's raw
//! driver use it alone. The record fields follow ZooKeeper's jute definitions
//! (`zookeeper.jute`), which document them.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod acl;
pub mod any;
pub mod codes;
pub mod frame;
pub mod jute;
pub mod multi;
pub mod path;
pub mod records;
pub mod requests;
pub mod responses;

pub use codes::{AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType};
pub use frame::{
    decode_frame, encode_bare, encode_request, FrameError, FrameReader, Incoming, DEFAULT_MAX_PACKET,
    DEFAULT_MAX_READ_PACKET,
};
pub use jute::{Decode, Encode, Reader};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use path::{validate_path, PathError};
pub use records::{
    Acl, ConnectRequest, ConnectResponse, Id, Perms, Redacted, ReplyHeader, RequestHeader, Stat, WatcherEvent,
};
pub use requests::{
    AddWatchRequest, AuthPacket, CreateRequest, PathRequest, PathVersionRequest, PathWatchRequest, SetAclRequest,
    SetDataRequest, SetWatches, WatchesRequest,
};
pub use responses::{
    ChildrenResponse, ClientInfo, Create2Response, GetAclResponse, GetDataResponse, IntResponse, PathResponse,
    WhoAmIResponse,
};

/// Special xids (`ClientCnxn`): negative values are reserved for these.
pub mod xid {
    /// A watch notification from the server.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An auth packet and its reply.
    pub const AUTH: i32 = -4;
    /// SetWatches / SetWatches2 and their reply.
    pub const SET_WATCHES: i32 = -8;
    /// The SASL exchange during a connection's setup (before any other request). The server
    /// echoes it; the Java client uses ordinary xids, which the server does not distinguish.
    pub const SASL: i32 = -10;
}

/// The bytes received do not form the record expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than a field needs.
    Truncated { record: &'static str, field: &'static str, needed: usize, available: usize },
    /// A length prefix below -1.
    NegativeLength { record: &'static str, field: &'static str, length: i32 },
    /// A number that names no known value of the enum.
    UnknownValue { kind: &'static str, value: i32 },
    /// A value that is known but not allowed where it appeared.
    Unexpected { what: &'static str, value: i64 },
    /// Bytes left over after the record.
    TrailingBytes { record: &'static str, count: usize },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { record, field, needed, available } => {
                write!(f, "{record}.{field}: needs {needed} bytes, {available} left")
            }
            DecodeError::NegativeLength { record, field, length } => {
                write!(f, "{record}.{field}: negative length {length}")
            }
            DecodeError::UnknownValue { kind, value } => write!(f, "unknown {kind} {value}"),
            DecodeError::Unexpected { what, value } => write!(f, "unexpected {what}: {value}"),
            DecodeError::TrailingBytes { record, count } => write!(f, "{record}: {count} unexpected trailing bytes"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a whole record from `bytes`, refusing leftovers.
pub fn decode_exact<T: Decode>(bytes: bytes::Bytes, record: &'static str) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes, record);
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}
