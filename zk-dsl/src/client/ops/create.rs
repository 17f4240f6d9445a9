//! `create`, in every mode: ephemeral (the seed's default), persistent, sequential, container
//! and TTL. Always sent as create2 / createContainer / createTTL so the Stat comes back and a
//! container really is a container.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::server_path;
use crate::client::call::{Call, Op, ReplyContext};
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{Acl, Create2Response, CreateMode, CreateRequest, Encode, OpCode, Stat};
use crate::session::chroot::Chroot;
use crate::session::request::RawReply;

/// `world:anyone` with every permission: the seed's (and ZooKeeper's) default ACL.
pub(crate) static OPEN_ACL: LazyLock<Vec<Acl>> = LazyLock::new(Acl::open_unsafe);

/// The largest TTL ZooKeeper accepts (it is packed into 40 bits of ephemeralOwner).
pub const MAX_TTL: Duration = Duration::from_millis(0xFF_FFFF_FFFF);

/// What a create sends. Also used inside transactions.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub(crate) path: String,
    pub(crate) data: Option<Bytes>,
    pub(crate) acl: Cow<'static, [Acl]>,
    pub(crate) mode: CreateMode,
    pub(crate) ttl: Option<Duration>,
    /// A data conversion that failed while building; reported when the call is made.
    pub(crate) error: Option<Error>,
}

impl CreateSpec {
    pub(crate) fn new(path: impl Into<String>) -> CreateSpec {
        CreateSpec {
            path: path.into(),
            data: None,
            acl: Cow::Borrowed(OPEN_ACL.as_slice()),
            mode: CreateMode::Ephemeral,
            ttl: None,
            error: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mode = self.effective_mode();
        crate::proto::validate_path(&self.path, mode.is_sequential())
            .map_err(|reason| Error::InvalidPath { path: self.path.clone(), reason })?;
        let invalid = |reason: &str| Error::invalid_argument(Some(mode.opcode()), Some(&self.path), reason.to_owned());
        if self.acl.is_empty() {
            return Err(invalid("an empty ACL would make the node unusable; ZooKeeper rejects it"));
        }
        match (mode.is_ttl(), self.ttl) {
            (true, None) => return Err(invalid("a TTL mode needs .ttl(duration)")),
            (true, Some(ttl)) if ttl.is_zero() || ttl > MAX_TTL => {
                return Err(invalid("TTL must be between 1 ms and 0xFFFFFFFFFF ms"))
            }
            (false, Some(_)) => return Err(invalid("a TTL applies only to persistent nodes (use .persistent())")),
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn request<'a>(&'a self, chroot: &Chroot) -> CreateRequest<'a> {
        let mode = self.effective_mode();
        // A sequential create's path is a name prefix, not a node: `/` means "a child of the
        // root named by the counter", which under a chroot is inside it (see `Chroot`).
        let path =
            if mode.is_sequential() { chroot.prefix_to_server(&self.path) } else { server_path(chroot, &self.path) };
        CreateRequest {
            path,
            data: self.data.as_deref().map(Cow::Borrowed),
            acl: Cow::Borrowed(&self.acl),
            mode,
            ttl: self.ttl.map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// The mode on the wire once a TTL is taken into account.
    pub(crate) fn effective_mode(&self) -> CreateMode {
        match (self.mode, self.ttl) {
            (CreateMode::Persistent, Some(_)) => CreateMode::PersistentWithTtl,
            (CreateMode::PersistentSequential, Some(_)) => CreateMode::PersistentSequentialWithTtl,
            (mode, _) => mode,
        }
    }

    pub(crate) fn set_persistent(&mut self, persistent: bool) {
        let sequential = self.mode.is_sequential();
        self.mode = CreateMode::from_flags(persistent, sequential);
    }

    pub(crate) fn set_sequential(&mut self, sequential: bool) {
        let persistent = !self.mode.is_ephemeral();
        self.mode = CreateMode::from_flags(persistent, sequential);
    }

    pub(crate) fn set_data<T: ToZNodeBytes + ?Sized>(&mut self, value: &T) {
        match value.to_node_bytes() {
            Ok(bytes) => self.data = Some(Bytes::from(bytes)),
            Err(e) => self.error = Some(e.with_path(&self.path)),
        }
    }
}

/// Builder options shared by `create` and a transaction's create.
macro_rules! create_options {
    ($ty:ty, $($field:tt).+) => {
        impl $ty {
            /// A persistent node (the seed's `:persistent? true`); ephemeral is the default.
            pub fn persistent(mut self) -> Self {
                self.$($field).+.set_persistent(true);
                self
            }

            /// An ephemeral node, deleted when the session ends (the default, as in the seed).
            pub fn ephemeral(mut self) -> Self {
                self.$($field).+.set_persistent(false);
                self
            }

            /// Append ZooKeeper's 10-digit sequence number to the name (the seed's
            /// `:sequential? true`). The path may end with `/` to use the number as the name;
            /// `/` alone makes a child of the root named by the number, which under a chroot
            /// is a child of the chroot node (never a sibling of it outside the chroot).
            pub fn sequential(mut self) -> Self {
                self.$($field).+.set_sequential(true);
                self
            }

            /// A container node: deleted by the server once its last child is gone.
            pub fn container(mut self) -> Self {
                self.$($field).+.mode = crate::proto::CreateMode::Container;
                self
            }

            /// A persistent node deleted after `ttl` without changes and without children
            /// (needs the server's `zookeeper.extendedTypesEnabled=true`, or it answers
            /// Unimplemented). Implies `.persistent()` unless sequential was chosen.
            pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
                if self.$($field).+.mode.is_ephemeral() {
                    self.$($field).+.set_persistent(true);
                }
                self.$($field).+.ttl = Some(ttl);
                self
            }

            /// Any mode at once.
            pub fn mode(mut self, mode: crate::proto::CreateMode) -> Self {
                self.$($field).+.mode = mode;
                self
            }

            /// The node's data: raw bytes (`&[u8]`, `Vec<u8>`, `Bytes`) or any [`ZNodeData`](crate::ZNodeData)
            /// value (strings and numbers in the seed's encodings, derived types).
            pub fn data<T: crate::codec::ToZNodeBytes + ?Sized>(mut self, value: &T) -> Self {
                self.$($field).+.set_data(value);
                self
            }

            /// Raw bytes without conversion (cheap for `Bytes`).
            pub fn bytes(mut self, bytes: impl Into<bytes::Bytes>) -> Self {
                self.$($field).+.data = Some(bytes.into());
                self
            }

            /// The ACL (default: `world:anyone` with all permissions, as the seed).
            pub fn acl(mut self, acl: impl Into<Vec<crate::proto::Acl>>) -> Self {
                self.$($field).+.acl = std::borrow::Cow::Owned(acl.into());
                self
            }

            /// The ACL from a fallible construction (`acl![…]`, the [`acl`](mod@crate::acl)
            /// helpers): a refused entry is reported when the call is made, as a bad `.data(…)`
            /// is, so the builder needs no `?`.
            pub fn try_acl(mut self, acl: Result<Vec<crate::proto::Acl>, crate::acl::AclError>) -> Self {
                match acl {
                    Ok(acl) => self.$($field).+.acl = std::borrow::Cow::Owned(acl),
                    Err(e) => {
                        let spec = &mut self.$($field).+;
                        let op = spec.effective_mode().opcode();
                        spec.error = Some(crate::acl::refused_in_request(e, op, &spec.path));
                    }
                }
                self
            }
        }
    };
}
pub(crate) use create_options;

/// `create`: resolves to the created path (for sequential nodes, with its suffix).
#[derive(Debug)]
pub struct CreateOp {
    pub(crate) spec: CreateSpec,
}

create_options!(Call<'_, CreateOp>, op.spec);

impl<'c> Call<'c, CreateOp> {
    /// Also return the new node's Stat.
    pub fn with_stat(self) -> Call<'c, CreateWithStatOp> {
        self.map_op(CreateWithStatOp)
    }
}

fn decode_create(reply: RawReply, ctx: &ReplyContext) -> Result<(String, Stat), Error> {
    let body = ctx.ok(reply)?;
    let r: Create2Response = ctx.decode(body, "Create2Response")?;
    Ok((created_path(ctx, &r.path)?, r.stat))
}

/// The client's path for a created node's server path. One outside the chroot cannot be
/// named as a client path (it would name another node), so it is a protocol error rather than
/// a wrong answer.
pub(crate) fn created_path(ctx: &ReplyContext, server_path: &str) -> Result<String, Error> {
    ctx.chroot.strip(server_path).ok_or_else(|| {
        Error::protocol(format!("{} {}: the server created {server_path:?}, outside the chroot", ctx.op, ctx.path))
    })
}

impl crate::client::call::sealed::Sealed for CreateOp {}

impl Op for CreateOp {
    type Output = String;
    type Carry = ();

    fn opcode(&self) -> OpCode {
        self.spec.effective_mode().opcode()
    }
    fn path(&self) -> &str {
        &self.spec.path
    }
    fn take_path(&mut self) -> String {
        std::mem::take(&mut self.spec.path)
    }
    fn validate(&self) -> Result<(), Error> {
        self.spec.validate()
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        self.spec.request(chroot).encode(buf);
    }
    fn size_hint(&self) -> usize {
        self.spec.path.len() + self.spec.data.as_ref().map_or(0, Bytes::len) + 32 * self.spec.acl.len()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<String, Error> {
        decode_create(reply, ctx).map(|(path, _)| path)
    }
}

/// `create` returning the Stat too.
#[derive(Debug)]
pub struct CreateWithStatOp(CreateOp);

create_options!(Call<'_, CreateWithStatOp>, op.0.spec);

impl crate::client::call::sealed::Sealed for CreateWithStatOp {}

impl Op for CreateWithStatOp {
    type Output = (String, Stat);
    type Carry = ();

    fn opcode(&self) -> OpCode {
        self.0.opcode()
    }
    fn path(&self) -> &str {
        self.0.path()
    }
    fn take_path(&mut self) -> String {
        self.0.take_path()
    }
    fn validate(&self) -> Result<(), Error> {
        self.0.validate()
    }
    fn encode_body(&self, buf: &mut BytesMut, chroot: &Chroot) {
        self.0.encode_body(buf, chroot)
    }
    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
    fn decode(reply: RawReply, ctx: &mut ReplyContext, _: ()) -> Result<(String, Stat), Error> {
        decode_create(reply, ctx)
    }
}
