//! The one error type of the crate.
//!
//! The server's refusals that callers routinely handle get their own variants (`NoNode`,
//! `NodeExists`, `BadVersion`, ...), each carrying the operation and the path so a log line says
//! what failed where. Everything else the server can answer is `Error::Server` with its code.
//! Client-side conditions (connection loss, expiry, bad input, malformed replies) have their own.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::proto::{DecodeError, ErrorCode, FrameError, OpCode, PathError};

/// Everything that can go wrong in zk-dsl.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The node does not exist (or, for create, its parent does not).
    NoNode { op: OpCode, path: String },
    /// The node already exists.
    NodeExists { op: OpCode, path: String },
    /// The expected version did not match the node's.
    BadVersion { op: OpCode, path: String },
    /// The node has children, so it cannot be deleted.
    NotEmpty { op: OpCode, path: String },
    /// The session lacks the permission the node's ACL requires.
    NoAuth { op: OpCode, path: String },
    /// The ACL is invalid (for example an `auth` ACL from a session with no identity).
    InvalidAcl { op: OpCode, path: String },
    /// Ephemeral nodes cannot have children.
    NoChildrenForEphemerals { op: OpCode, path: String },
    /// Any other refusal by the server.
    Server { code: ErrorCode, op: OpCode, path: String },
    /// The connection dropped before the reply arrived. The request may or may not have been
    /// applied; the session may still be alive.
    ConnectionLoss { op: OpCode, path: String },
    /// The session is gone (expired, or closed by this client); make a new client.
    SessionExpired { op: OpCode, path: String },
    /// The client was closed by [`close`](crate::Client::close); no more requests are accepted.
    Closed { op: OpCode, path: String },
    /// Authentication failed; the server closed the connection and the session is unusable.
    AuthFailed { op: OpCode, path: String },
    /// No reply (or no connection) within the allowed time.
    Timeout { op: OpCode, path: String },
    /// The path breaks one of ZooKeeper's path rules; nothing was sent.
    InvalidPath { path: String, reason: PathError },
    /// An argument the server would refuse (oversized data, a bad TTL, an empty ACL ...);
    /// nothing was sent.
    InvalidArgument { op: OpCode, path: String, reason: String },
    /// The server's reply to this request was `size` bytes, over the client's read limit
    /// ([`Connect::max_read_packet`](crate::Connect::max_read_packet)), so it was discarded
    /// unread as it arrived. Only this request failed: the connection and the session carry on.
    /// The request *was* executed by the server (this is not `InvalidArgument`, which means
    /// nothing was sent), and retrying it gets the same answer (so it is not retryable); raise
    /// the read limit, or ask for less (fewer children per parent, smaller multi-reads).
    ReplyTooLarge { op: OpCode, path: String, size: usize, limit: usize },
    /// Node data could not be encoded or decoded as the requested Rust type.
    Codec { path: String, type_name: &'static str, reason: String },
    /// A write guarded by a lock (or leadership) was refused because the lock `lock` is no
    /// longer held: its node is gone (the session expired, or it was deleted). Nothing was
    /// written.
    LockLost { op: OpCode, path: String, lock: String },
    /// A blocking wait (`.wait()`) was refused because it could never end: it was made on the
    /// thread that must run for the result to arrive. `reason` says which and what to do.
    WouldDeadlock { op: OpCode, path: String, reason: &'static str },
    /// A socket error.
    Io { context: String, source: Arc<io::Error> },
    /// The server sent something that is not valid ZooKeeper protocol. The connection is closed.
    Protocol { reason: String },
    /// A transaction (multi) was rolled back because its operation number `index` (from 0)
    /// failed with `source`, which names that operation and its path.
    TransactionFailed { index: usize, source: Box<Error> },
}

impl Error {
    /// The error for a non-zero reply code on `op` at `path`.
    pub fn from_server(code: i32, op: OpCode, path: impl Into<String>) -> Error {
        let path = path.into();
        let code = match ErrorCode::from_code(code) {
            Ok(code) => code,
            Err(_) => return Error::Protocol { reason: format!("unknown error code {code} for {op} {path}") },
        };
        match code {
            ErrorCode::NoNode => Error::NoNode { op, path },
            ErrorCode::NodeExists => Error::NodeExists { op, path },
            ErrorCode::BadVersion => Error::BadVersion { op, path },
            ErrorCode::NotEmpty => Error::NotEmpty { op, path },
            ErrorCode::NoAuth => Error::NoAuth { op, path },
            ErrorCode::InvalidAcl => Error::InvalidAcl { op, path },
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals { op, path },
            ErrorCode::ConnectionLoss => Error::ConnectionLoss { op, path },
            ErrorCode::SessionExpired => Error::SessionExpired { op, path },
            ErrorCode::AuthFailed => Error::AuthFailed { op, path },
            ErrorCode::OperationTimeout | ErrorCode::RequestTimeout => Error::Timeout { op, path },
            code => Error::Server { code, op, path },
        }
    }

    /// ZooKeeper's error code for this error, where it has one.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::TransactionFailed { source, .. } => return source.code(),
            Error::NoNode { .. } => ErrorCode::NoNode,
            Error::NodeExists { .. } => ErrorCode::NodeExists,
            Error::BadVersion { .. } => ErrorCode::BadVersion,
            Error::NotEmpty { .. } => ErrorCode::NotEmpty,
            Error::NoAuth { .. } => ErrorCode::NoAuth,
            Error::InvalidAcl { .. } => ErrorCode::InvalidAcl,
            Error::NoChildrenForEphemerals { .. } => ErrorCode::NoChildrenForEphemerals,
            Error::Server { code, .. } => *code,
            Error::ConnectionLoss { .. } => ErrorCode::ConnectionLoss,
            Error::SessionExpired { .. } => ErrorCode::SessionExpired,
            Error::AuthFailed { .. } => ErrorCode::AuthFailed,
            Error::Timeout { .. } => ErrorCode::OperationTimeout,
            _ => return None,
        })
    }

    /// The operation that failed, where there was one.
    pub fn op(&self) -> Option<OpCode> {
        match self {
            Error::NoNode { op, .. }
            | Error::NodeExists { op, .. }
            | Error::BadVersion { op, .. }
            | Error::NotEmpty { op, .. }
            | Error::NoAuth { op, .. }
            | Error::InvalidAcl { op, .. }
            | Error::NoChildrenForEphemerals { op, .. }
            | Error::Server { op, .. }
            | Error::ConnectionLoss { op, .. }
            | Error::SessionExpired { op, .. }
            | Error::Closed { op, .. }
            | Error::AuthFailed { op, .. }
            | Error::Timeout { op, .. }
            | Error::WouldDeadlock { op, .. }
            | Error::LockLost { op, .. }
            | Error::ReplyTooLarge { op, .. }
            | Error::InvalidArgument { op, .. } => Some(*op),
            Error::TransactionFailed { source, .. } => source.op(),
            _ => None,
        }
    }

    /// The path the failed operation was about, where there was one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NoNode { path, .. }
            | Error::NodeExists { path, .. }
            | Error::BadVersion { path, .. }
            | Error::NotEmpty { path, .. }
            | Error::NoAuth { path, .. }
            | Error::InvalidAcl { path, .. }
            | Error::NoChildrenForEphemerals { path, .. }
            | Error::Server { path, .. }
            | Error::ConnectionLoss { path, .. }
            | Error::SessionExpired { path, .. }
            | Error::Closed { path, .. }
            | Error::AuthFailed { path, .. }
            | Error::Timeout { path, .. }
            | Error::InvalidPath { path, .. }
            | Error::InvalidArgument { path, .. }
            | Error::WouldDeadlock { path, .. }
            | Error::LockLost { path, .. }
            | Error::ReplyTooLarge { path, .. }
            | Error::Codec { path, .. } => Some(path),
            Error::TransactionFailed { source, .. } => source.path(),
            _ => None,
        }
    }

    /// Whether retrying the same call later can succeed: the connection dropped or timed out
    /// but the session may live on. (A write that failed this way may have been applied.)
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::ConnectionLoss { .. } | Error::Timeout { .. })
    }

    /// Whether the session is over for good and a new client is needed.
    pub fn is_session_terminal(&self) -> bool {
        matches!(self, Error::SessionExpired { .. } | Error::Closed { .. } | Error::AuthFailed { .. })
    }

    /// Replaces the operation and path of a session-level error with the request's own, so
    /// every error names what the caller asked for.
    pub(crate) fn for_request(self, op: OpCode, path: &str) -> Error {
        let path = path.to_owned();
        match self {
            Error::ConnectionLoss { .. } => Error::ConnectionLoss { op, path },
            Error::SessionExpired { .. } => Error::SessionExpired { op, path },
            Error::Closed { .. } => Error::Closed { op, path },
            Error::AuthFailed { .. } => Error::AuthFailed { op, path },
            Error::Timeout { .. } => Error::Timeout { op, path },
            // The session task knows the op and size, the caller the path.
            Error::ReplyTooLarge { size, limit, .. } => Error::ReplyTooLarge { op, path, size, limit },
            other => other,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source: Arc::new(source) }
    }

    pub(crate) fn decode(op: OpCode, path: &str, e: DecodeError) -> Error {
        Error::Protocol { reason: format!("malformed {op} reply for {path}: {e}") }
    }

    pub(crate) fn frame(op: OpCode, path: &str, e: FrameError) -> Error {
        Error::InvalidArgument { op, path: path.to_owned(), reason: e.to_string() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server { code, op, path } => write!(f, "{op} {path}: server error {code}"),
            Error::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            Error::InvalidArgument { op, path, reason } => {
                write_subject(f, *op, path)?;
                write!(f, "invalid argument: {reason}")
            }
            Error::ReplyTooLarge { op, path, size, limit } => {
                write_subject(f, *op, path)?;
                write!(f, "reply of {size} bytes exceeds the {limit}-byte read limit (max_read_packet); discarded")
            }
            Error::Codec { path, type_name, reason } => {
                if !path.is_empty() {
                    write!(f, "{path}: ")?;
                }
                write!(f, "cannot convert data as {type_name}: {reason}")
            }
            Error::LockLost { op, path, lock } => {
                write_subject(f, *op, path)?;
                write!(f, "refused: the lock {lock} is no longer held")
            }
            Error::WouldDeadlock { op, path, reason } => {
                write_subject(f, *op, path)?;
                write!(f, "a blocking wait here would never end: {reason}")
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Protocol { reason } => write!(f, "protocol error: {reason}"),
            Error::TransactionFailed { index, source } => {
                write!(f, "transaction rolled back: operation {index} failed: {source}")
            }
            other => {
                let what = match other {
                    Error::NoNode { .. } => "no such node",
                    Error::NodeExists { .. } => "node exists",
                    Error::BadVersion { .. } => "version mismatch",
                    Error::NotEmpty { .. } => "node has children",
                    Error::NoAuth { .. } => "not authorized",
                    Error::InvalidAcl { .. } => "invalid ACL",
                    Error::NoChildrenForEphemerals { .. } => "ephemeral nodes cannot have children",
                    Error::ConnectionLoss { .. } => "connection lost",
                    Error::SessionExpired { .. } => "session expired",
                    Error::Closed { .. } => "client closed",
                    Error::AuthFailed { .. } => "authentication failed",
                    Error::Timeout { .. } => "timed out",
                    _ => "error",
                };
                if let (Some(op), Some(path)) = (other.op(), other.path()) {
                    write_subject(f, op, path)?;
                }
                f.write_str(what)
            }
        }
    }
}

/// "Op path: ", leaving out what is unknown (`OpCode::Error` stands for "no particular
/// operation", e.g. a request refused before it was made).
fn write_subject(f: &mut fmt::Formatter<'_>, op: OpCode, path: &str) -> fmt::Result {
    match (op, path.is_empty()) {
        (OpCode::Error, true) => Ok(()),
        (OpCode::Error, false) => write!(f, "{path}: "),
        (op, true) => write!(f, "{op}: "),
        (op, false) => write!(f, "{op} {path}: "),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source.as_ref()),
            Error::InvalidPath { reason, .. } => Some(reason),
            Error::TransactionFailed { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_map_to_variants_with_context() {
        let e = Error::from_server(-101, OpCode::GetData, "/a");
        assert!(matches!(&e, Error::NoNode { op: OpCode::GetData, path } if path == "/a"));
        assert_eq!(e.to_string(), "GetData /a: no such node");
        assert_eq!(e.code(), Some(ErrorCode::NoNode));
        let e = Error::from_server(-6, OpCode::CreateTtl, "/t");
        assert!(matches!(e, Error::Server { code: ErrorCode::Unimplemented, .. }));
        assert!(matches!(Error::from_server(-999, OpCode::Create, "/x"), Error::Protocol { .. }));
        let closed = Error::Closed { op: OpCode::Error, path: String::new() };
        assert_eq!(closed.to_string(), "client closed");
        let invalid = Error::InvalidArgument { op: OpCode::Error, path: String::new(), reason: "bad perms".into() };
        assert_eq!(invalid.to_string(), "invalid argument: bad perms");
    }
}
