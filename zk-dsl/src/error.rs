//! The one error type of the crate.
//!
//! The server's refusals that callers routinely handle get their own variants (`NoNode`,
//! `NodeExists`, `BadVersion`, ...), each carrying the operation and the path so a log line says
//! what failed where. Everything else the server can answer is `Error::Server` with its code.
//! Client-side conditions (connection loss, expiry, bad input, malformed replies) have their own.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::codec::CodecError;
use crate::proto::{DecodeError, ErrorCode, FrameError, OpCode, PathError};
use crate::session::SessionState;

/// The typed cause an error keeps (see [`Error::source`](std::error::Error::source)): shared so
/// [`Error`] stays `Clone`; downcast it to the concrete error (`FrameError`, `AclError`,
/// `DecodeError`, …).
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in zk-dsl.
///
/// A server's refusal always answers a request, so those variants carry a plain `op` and
/// `path`. Session-level and client-side variants can happen outside any request (a session
/// that ended while nobody asked anything, `?` on an ACL helper), so theirs are `Option`s:
/// `None` means "no operation" / "no path", never a made-up value.
///
/// Errors with a cause return it from [`source`](std::error::Error::source) and do not repeat
/// it in `Display`, so reporters that walk the chain (anyhow's `{:#}`, tracing's error fields)
/// print each part once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The node does not exist (or, for create, its parent does not).
    NoNode {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The node already exists.
    NodeExists {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The expected version did not match the node's.
    BadVersion {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The node has children, so it cannot be deleted.
    NotEmpty {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The session lacks the permission the node's ACL requires.
    NoAuth {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The ACL is invalid (for example an `auth` ACL from a session with no identity).
    InvalidAcl {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// Ephemeral nodes cannot have children.
    NoChildrenForEphemerals {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// A write (or a sync) reached a server in read-only mode: cut off from its quorum, it
    /// serves reads only. Nothing was applied; retry once the session is `Connected` again
    /// (the client is already looking for a read-write server).
    NotReadOnly {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// Any other refusal by the server.
    Server {
        /// The server's error code.
        code: ErrorCode,
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// The connection dropped before the reply arrived. The request may or may not have been
    /// applied; the session may still be alive.
    ConnectionLoss {
        /// The operation that failed, if there was one.
        op: Option<OpCode>,
        /// The node path, if there was one.
        path: Option<String>,
    },
    /// The session is gone (expired, or closed by this client); make a new client.
    SessionExpired {
        /// The operation that failed, if there was one.
        op: Option<OpCode>,
        /// The node path, if there was one.
        path: Option<String>,
    },
    /// The client was closed by [`close`](crate::Client::close); no more requests are accepted.
    Closed {
        /// The operation that failed, if there was one.
        op: Option<OpCode>,
        /// The node path, if there was one.
        path: Option<String>,
    },
    /// Authentication failed; the server closed the connection and the session is unusable.
    AuthFailed {
        /// The operation that failed, if there was one.
        op: Option<OpCode>,
        /// The node path, if there was one.
        path: Option<String>,
    },
    /// No reply (or no connection) within the allowed time.
    Timeout {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
    },
    /// No server of `connect_string` granted a session within the connect timeout, and the
    /// attempts failed rather than just taking long: `last_failure` says how the last one
    /// failed (refused connection, a TLS certificate not trusted or not for that host name, a
    /// server that is not ZooKeeper ...). Retryable, like `Timeout`.
    NoServer {
        /// The connection string that was tried.
        connect_string: String,
        /// How the last attempt failed.
        last_failure: String,
    },
    /// The path breaks one of ZooKeeper's path rules (`reason`, also the error's source);
    /// nothing was sent.
    InvalidPath {
        /// The node path the operation was about.
        path: String,
        /// The rule it breaks (also the error's source).
        reason: PathError,
    },
    /// An argument the server would refuse (oversized data, a bad TTL, an empty ACL ...);
    /// nothing was sent. `source` is the typed cause when there is one (an `AclError`, a
    /// `FrameError`, ...).
    InvalidArgument {
        /// The operation that failed, if there was one.
        op: Option<OpCode>,
        /// The node path, if there was one.
        path: Option<String>,
        /// Why, in words.
        reason: String,
        /// The typed cause, when there is one.
        source: Option<Cause>,
    },
    /// The server's reply to this request was `size` bytes, over the client's read limit
    /// ([`Connect::max_read_packet`](crate::Connect::max_read_packet)), so it was discarded
    /// unread as it arrived. Only this request failed: the connection and the session carry on.
    /// The request *was* executed by the server (this is not `InvalidArgument`, which means
    /// nothing was sent), and retrying it gets the same answer (so it is not retryable); raise
    /// the read limit, or ask for less (fewer children per parent, smaller multi-reads).
    ReplyTooLarge {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
        /// The reply's size in bytes.
        size: usize,
        /// The read limit in bytes.
        limit: usize,
    },
    /// Node data could not be encoded or decoded as the requested Rust type (`source`, which
    /// names the type).
    Codec {
        /// The node path, if there was one.
        path: Option<String>,
        /// The conversion failure, naming the Rust type.
        source: CodecError,
    },
    /// A write guarded by a lock (or leadership) was refused because the lock `lock` is no
    /// longer held: its node is gone (the session expired, or it was deleted). Nothing was
    /// written.
    LockLost {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
        /// The lock node whose loss refused the write.
        lock: String,
    },
    /// A blocking wait (`.wait()`) was refused because it could never end: it was made on the
    /// thread that must run for the result to arrive. `reason` says which and what to do.
    WouldDeadlock {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about.
        path: String,
        /// Which thread, and what to do instead.
        reason: &'static str,
    },
    /// The ensemble configuration (`/zookeeper/config`, from `get_config` or `reconfig`)
    /// has a line that cannot be read (`source` names it). The server's answer was otherwise
    /// fine; read the node's bytes with `get_data` on a client without a chroot to see it.
    BadConfig {
        /// The operation that failed.
        op: OpCode,
        /// The node path the operation was about (`/zookeeper/config`).
        path: String,
        /// The line that could not be read, and why.
        source: crate::reconfig::ConfigParseError,
    },
    /// A socket error (`source`) while doing `context`.
    Io {
        /// What the client was doing.
        context: String,
        /// The socket error.
        source: Arc<io::Error>,
    },
    /// The server sent something that is not valid ZooKeeper protocol. The connection is closed.
    /// `source` is the decoder's typed error when there is one.
    Protocol {
        /// Why, in words.
        reason: String,
        /// The typed cause, when there is one.
        source: Option<Cause>,
    },
    /// A transaction (multi) was rolled back because its operation number `index` (from 0)
    /// failed with `source`, which names that operation and its path.
    TransactionFailed {
        /// Which operation of the transaction failed (from 0).
        index: usize,
        /// The failed operation's error, naming its op and path.
        source: Box<Error>,
    },
}

impl Error {
    /// The error for a non-zero reply code on `op` at `path`.
    pub fn from_server(code: i32, op: OpCode, path: impl Into<String>) -> Error {
        let path = path.into();
        let code = match ErrorCode::from_code(code) {
            Ok(code) => code,
            Err(_) => return Error::protocol(format!("unknown error code {code} for {op} {path}")),
        };
        match code {
            ErrorCode::NoNode => Error::NoNode { op, path },
            ErrorCode::NodeExists => Error::NodeExists { op, path },
            ErrorCode::BadVersion => Error::BadVersion { op, path },
            ErrorCode::NotEmpty => Error::NotEmpty { op, path },
            ErrorCode::NoAuth => Error::NoAuth { op, path },
            ErrorCode::InvalidAcl => Error::InvalidAcl { op, path },
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals { op, path },
            ErrorCode::NotReadOnly => Error::NotReadOnly { op, path },
            ErrorCode::ConnectionLoss => Error::ConnectionLoss { op: Some(op), path: some_path(&path) },
            ErrorCode::SessionExpired => Error::SessionExpired { op: Some(op), path: some_path(&path) },
            ErrorCode::AuthFailed => Error::AuthFailed { op: Some(op), path: some_path(&path) },
            ErrorCode::OperationTimeout | ErrorCode::RequestTimeout => Error::Timeout { op, path },
            code => Error::Server { code, op, path },
        }
    }

    /// [`Error::InvalidArgument`] without a typed cause: nothing was sent because of `reason`.
    pub fn invalid_argument(op: Option<OpCode>, path: Option<&str>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument { op, path: path.map(str::to_owned), reason: reason.into(), source: None }
    }

    /// [`Error::Protocol`] without a typed cause.
    pub fn protocol(reason: impl Into<String>) -> Error {
        Error::Protocol { reason: reason.into(), source: None }
    }

    /// The error every request gets once the session ended in `state` (`Expired`,
    /// `AuthFailed`, or anything else: closed). The one place that mapping is written.
    pub(crate) fn session_over(state: SessionState, op: Option<OpCode>, path: Option<&str>) -> Error {
        let path = path.map(str::to_owned);
        match state {
            SessionState::Expired => Error::SessionExpired { op, path },
            SessionState::AuthFailed => Error::AuthFailed { op, path },
            _ => Error::Closed { op, path },
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
            Error::NotReadOnly { .. } => ErrorCode::NotReadOnly,
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
            | Error::NotReadOnly { op, .. }
            | Error::Server { op, .. }
            | Error::Timeout { op, .. }
            | Error::WouldDeadlock { op, .. }
            | Error::LockLost { op, .. }
            | Error::BadConfig { op, .. }
            | Error::ReplyTooLarge { op, .. } => Some(*op),
            Error::ConnectionLoss { op, .. }
            | Error::SessionExpired { op, .. }
            | Error::Closed { op, .. }
            | Error::AuthFailed { op, .. }
            | Error::InvalidArgument { op, .. } => *op,
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
            | Error::NotReadOnly { path, .. }
            | Error::Server { path, .. }
            | Error::Timeout { path, .. }
            | Error::InvalidPath { path, .. }
            | Error::WouldDeadlock { path, .. }
            | Error::LockLost { path, .. }
            | Error::BadConfig { path, .. }
            | Error::ReplyTooLarge { path, .. } => Some(path),
            Error::ConnectionLoss { path, .. }
            | Error::SessionExpired { path, .. }
            | Error::Closed { path, .. }
            | Error::AuthFailed { path, .. }
            | Error::InvalidArgument { path, .. }
            | Error::Codec { path, .. } => path.as_deref(),
            Error::TransactionFailed { source, .. } => source.path(),
            _ => None,
        }
    }

    /// Whether retrying the same call later can succeed: the connection dropped or the call
    /// timed out, but the session may live on (ZooKeeper's "recoverable" errors). A write that
    /// failed this way may have been applied, so only retry what is safe to repeat.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss { .. } | Error::Timeout { .. } | Error::NoServer { .. } | Error::NotReadOnly { .. }
        )
    }

    /// Whether the session expired: its ephemeral nodes and watches are gone, and a new client
    /// (a new session) is the way on.
    pub fn is_session_expired(&self) -> bool {
        matches!(self, Error::SessionExpired { .. })
    }

    /// Whether the session is over for good (expired, closed, or authentication failed), so
    /// no call on this client can succeed again.
    pub fn is_session_terminal(&self) -> bool {
        matches!(self, Error::SessionExpired { .. } | Error::Closed { .. } | Error::AuthFailed { .. })
    }

    /// Whether this is the server's answer to the request (`NoNode`, `BadVersion`, any
    /// `Server` code, a rolled-back transaction, a fenced write refused): the request reached
    /// the server and was not applied, so the outcome is known. Not a refusal: connection and
    /// session trouble, timeouts, and errors of the client itself.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::NoNode { .. }
            | Error::NodeExists { .. }
            | Error::BadVersion { .. }
            | Error::NotEmpty { .. }
            | Error::NoAuth { .. }
            | Error::InvalidAcl { .. }
            | Error::NoChildrenForEphemerals { .. }
            | Error::Server { .. }
            | Error::LockLost { .. } => true,
            Error::TransactionFailed { source, .. } => source.is_refusal(),
            _ => false,
        }
    }

    /// Whether the client refused the call before sending anything (bad path or argument, data
    /// that would not encode, a blocking wait that could never end): retrying it as is fails
    /// the same way.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidPath { .. } | Error::InvalidArgument { .. } | Error::WouldDeadlock { .. })
            || matches!(self, Error::Codec { .. })
    }

    /// Replaces the operation and path of a session-level error with the request's own, so
    /// every error names what the caller asked for.
    pub(crate) fn for_request(self, op: OpCode, path: &str) -> Error {
        let (some_op, some) = (Some(op), some_path(path));
        match self {
            Error::ConnectionLoss { .. } => Error::ConnectionLoss { op: some_op, path: some },
            Error::SessionExpired { .. } => Error::SessionExpired { op: some_op, path: some },
            Error::Closed { .. } => Error::Closed { op: some_op, path: some },
            Error::AuthFailed { .. } => Error::AuthFailed { op: some_op, path: some },
            Error::Timeout { .. } => Error::Timeout { op, path: path.to_owned() },
            // The session task knows the op and size, the caller the path.
            Error::ReplyTooLarge { size, limit, .. } => Error::ReplyTooLarge { op, path: path.to_owned(), size, limit },
            other => other,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source: Arc::new(source) }
    }

    pub(crate) fn decode(op: OpCode, path: &str, e: DecodeError) -> Error {
        Error::Protocol { reason: format!("malformed {op} reply for {path}"), source: Some(Arc::new(e)) }
    }

    pub(crate) fn frame(op: OpCode, path: &str, e: FrameError) -> Error {
        Error::InvalidArgument {
            op: Some(op),
            path: some_path(path),
            reason: "the request cannot be sent".to_owned(),
            source: Some(Arc::new(e)),
        }
    }
}

/// A request's path as an error's: `None` for the pathless requests (`whoAmI`, ...).
pub(crate) fn some_path(path: &str) -> Option<String> {
    (!path.is_empty()).then(|| path.to_owned())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server { code, op, path } => write!(f, "{op} {path}: server error {code}"),
            Error::InvalidPath { path, .. } => write!(f, "invalid path {path:?}"),
            Error::InvalidArgument { op, path, reason, .. } => {
                write_subject(f, *op, path.as_deref())?;
                write!(f, "invalid argument: {reason}")
            }
            Error::ReplyTooLarge { op, path, size, limit } => {
                write_subject(f, Some(*op), Some(path))?;
                write!(f, "reply of {size} bytes exceeds the {limit}-byte read limit (max_read_packet); discarded")
            }
            Error::Codec { path, source } => {
                write_subject(f, None, path.as_deref())?;
                write!(f, "node data conversion failed ({})", source.type_name)
            }
            Error::LockLost { op, path, lock } => {
                write_subject(f, Some(*op), Some(path))?;
                write!(f, "refused: the lock {lock} is no longer held")
            }
            Error::BadConfig { op, path, .. } => {
                write_subject(f, Some(*op), Some(path))?;
                f.write_str("the ensemble configuration cannot be read")
            }
            Error::WouldDeadlock { op, path, reason } => {
                write_subject(f, Some(*op), Some(path))?;
                write!(f, "a blocking wait here would never end: {reason}")
            }
            Error::NoServer { connect_string, last_failure } => {
                write!(f, "no server of {connect_string} granted a session; last attempt: {last_failure}")
            }
            Error::Io { context, .. } => f.write_str(context),
            Error::Protocol { reason, .. } => write!(f, "protocol error: {reason}"),
            Error::TransactionFailed { index, .. } => {
                write!(f, "transaction rolled back: operation {index} failed")
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
                    Error::NotReadOnly { .. } => "the server is read-only (cut off from its quorum)",
                    Error::ConnectionLoss { .. } => "connection lost",
                    Error::SessionExpired { .. } => "session expired",
                    Error::Closed { .. } => "client closed",
                    Error::AuthFailed { .. } => "authentication failed",
                    Error::Timeout { .. } => "timed out",
                    _ => "error",
                };
                write_subject(f, other.op(), other.path())?;
                f.write_str(what)
            }
        }
    }
}

/// "Op path: ", leaving out what is unknown.
fn write_subject(f: &mut fmt::Formatter<'_>, op: Option<OpCode>, path: Option<&str>) -> fmt::Result {
    match (op, path) {
        (None, None) => Ok(()),
        (None, Some(path)) => write!(f, "{path}: "),
        (Some(op), None) => write!(f, "{op}: "),
        (Some(op), Some(path)) => write!(f, "{op} {path}: "),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source.as_ref()),
            Error::InvalidPath { reason, .. } => Some(reason),
            Error::TransactionFailed { source, .. } => Some(source.as_ref()),
            Error::Codec { source, .. } => Some(source),
            Error::BadConfig { source, .. } => Some(source),
            Error::InvalidArgument { source: Some(source), .. } | Error::Protocol { source: Some(source), .. } => {
                Some(source.as_ref())
            }
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// The whole chain, as anyhow's `{:#}` prints it.
    fn chain(e: &Error) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            next = cause.source();
        }
        out
    }

    #[test]
    fn server_codes_map_to_variants_with_context() {
        let e = Error::from_server(-101, OpCode::GetData, "/a");
        assert!(matches!(&e, Error::NoNode { op: OpCode::GetData, path } if path == "/a"));
        assert_eq!(e.to_string(), "GetData /a: no such node");
        assert_eq!(e.code(), Some(ErrorCode::NoNode));
        let e = Error::from_server(-6, OpCode::CreateTtl, "/t");
        assert!(matches!(e, Error::Server { code: ErrorCode::Unimplemented, .. }));
        assert!(matches!(Error::from_server(-999, OpCode::Create, "/x"), Error::Protocol { .. }));
        let e = Error::from_server(-4, OpCode::WhoAmI, "");
        assert!(matches!(e, Error::ConnectionLoss { op: Some(OpCode::WhoAmI), path: None }));
        let closed = Error::Closed { op: None, path: None };
        assert_eq!(closed.to_string(), "client closed");
        let invalid = Error::invalid_argument(None, None, "bad perms");
        assert_eq!(invalid.to_string(), "invalid argument: bad perms");
    }

    /// Each cause is printed once along the chain: by `source()`, not by `Display`.
    #[test]
    fn causes_are_sources_and_printed_once() {
        let io = Error::io("connecting to 127.0.0.1:1", io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(io.to_string(), "connecting to 127.0.0.1:1");
        assert_eq!(chain(&io), "connecting to 127.0.0.1:1: refused");

        let path = crate::proto::validate_path("a", false).unwrap_err();
        let invalid = Error::InvalidPath { path: "a".into(), reason: path.clone() };
        assert_eq!(chain(&invalid), format!("invalid path \"a\": {path}"));
        assert_eq!(chain(&invalid).matches(&path.to_string()).count(), 1);

        let part = Error::from_server(-110, OpCode::Create2, "/t");
        let txn = Error::TransactionFailed { index: 1, source: Box::new(part) };
        assert_eq!(chain(&txn), "transaction rolled back: operation 1 failed: Create2 /t: node exists");
        assert!(txn.is_refusal() && txn.path() == Some("/t"));

        let codec = CodecError::new("i64", "expected exactly 8 bytes, got 4").with_path("/n");
        assert_eq!(
            chain(&codec),
            "/n: node data conversion failed (i64): cannot convert data as i64: expected exactly 8 bytes, got 4"
        );
        assert!(codec.source().and_then(|s| s.downcast_ref::<CodecError>()).is_some());

        let frame = Error::frame(OpCode::SetData, "/big", FrameError::TooLarge { length: 10, max: 5 });
        let cause = frame.source().and_then(|s| s.downcast_ref::<FrameError>());
        assert!(matches!(cause, Some(FrameError::TooLarge { length: 10, max: 5 })), "{frame:?}");
        assert_eq!(chain(&frame).matches("10").count(), 1, "{}", chain(&frame));

        let decode = Error::decode(
            OpCode::GetData,
            "/x",
            DecodeError::Truncated { record: "Stat", field: "czxid", needed: 8, available: 1 },
        );
        assert!(decode.to_string().contains("GetData reply for /x"));
        assert!(decode.source().and_then(|s| s.downcast_ref::<DecodeError>()).is_some());
        assert!(Error::protocol("bad").source().is_none());
    }

    #[test]
    fn predicates_sort_errors_the_way_recipes_need() {
        let loss = Error::ConnectionLoss { op: Some(OpCode::GetData), path: Some("/a".into()) };
        let timeout = Error::Timeout { op: OpCode::GetData, path: "/a".into() };
        let expired = Error::session_over(SessionState::Expired, None, None);
        let closed = Error::session_over(SessionState::Closed, Some(OpCode::Exists), Some("/e"));
        let auth = Error::session_over(SessionState::AuthFailed, None, None);
        let refusal = Error::from_server(-103, OpCode::SetData, "/a");
        let input = Error::invalid_argument(Some(OpCode::Create), Some("/p"), "bad ttl");
        for (e, retryable, expired_, terminal, refused, bad_input) in [
            (&loss, true, false, false, false, false),
            (&timeout, true, false, false, false, false),
            (&expired, false, true, true, false, false),
            (&closed, false, false, true, false, false),
            (&auth, false, false, true, false, false),
            (&refusal, false, false, false, true, false),
            (&input, false, false, false, false, true),
        ] {
            assert_eq!(e.is_retryable(), retryable, "{e:?}");
            assert_eq!(e.is_session_expired(), expired_, "{e:?}");
            assert_eq!(e.is_session_terminal(), terminal, "{e:?}");
            assert_eq!(e.is_refusal(), refused, "{e:?}");
            assert_eq!(e.is_invalid_input(), bad_input, "{e:?}");
        }
        assert!(matches!(&closed, Error::Closed { op: Some(OpCode::Exists), path: Some(p) } if p == "/e"));
        assert_eq!(closed.to_string(), "Exists /e: client closed");
        assert_eq!(expired.op(), None);
        // A session-level error takes the request's op and path.
        let named = expired.for_request(OpCode::Delete, "/d");
        assert_eq!((named.op(), named.path()), (Some(OpCode::Delete), Some("/d")));
    }
}
