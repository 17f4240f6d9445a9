//! ACL helpers: the seed's `acl`, `acl-id`, `world-acl` ... `digest-acl` and `hash-password`,
//! with its bugs fixed.
//!
//! What changes from the seed, and why:
//!
//! * [`digest_acl`] stores `user:base64(sha1("user:password"))`, the form ZooKeeper's digest
//!   provider compares against. The seed stores `user:password` as is, so a node it protects is
//!   unreadable even by that user.
//! * A single permission works (`world_acl(Perms::READ)`); the seed throws an `ArityException`.
//! * Unknown permission names and schemes are errors; the seed drops unknown names silently.
//! * Every helper checks what it builds (see [`validate`]) and returns a [`Result`], so a
//!   mistake shows up where the ACL is written, with a reason, rather than as a bare
//!   `InvalidACL` from the server — or, worse, as a node nobody can open.
//!
//! The ACL types themselves ([`Acl`], [`Id`], [`Perms`]) live in the protocol layer and are
//! re-exported here. To use a scheme this module does not know (a server with a custom
//! `authProvider`), build the entry with [`Acl::new`], which checks nothing.
//!
//! ```
//! use zk_dsl::acl::{self, Perms, DEFAULT_PERMS};
//!
//! # fn main() -> zk_dsl::Result<()> {
//! // Only david (after `add_auth("digest", "david:secret")`) may do anything, everyone may read.
//! let acl = vec![
//!     acl::digest_acl("david", "secret", Perms::ALL)?,
//!     acl::world_acl(Perms::from_names(["read"])?)?,
//! ];
//! assert_eq!(acl[0].id.id, "david:skR34IUghqUm2jMeXKyHqHxr3Gk=");
//! assert_eq!(acl::ip_acl("10.0.0.0/8", DEFAULT_PERMS)?.perms.bits(), 15);
//! assert!(acl::acl("world", "nobody", Perms::READ).is_err());
//! # Ok(())
//! # }
//! ```

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::error::Error;
pub use crate::proto::acl::{AclError, KNOWN_SCHEMES};
use crate::proto::OpCode;
pub use crate::proto::{Acl, Id, Perms};

/// The permissions the seed's helpers grant when given none: read, write, create and delete,
/// but not admin, so the grantee cannot change the ACL itself.
pub const DEFAULT_PERMS: Perms =
    Perms::from_bits(Perms::READ.bits() | Perms::WRITE.bits() | Perms::CREATE.bits() | Perms::DELETE.bits());

/// The crate error for an ACL refused in a request: [`Error::InvalidArgument`] with the
/// request's operation and path, and the [`AclError`] as its source. Client calls that check
/// their ACL list use this.
pub(crate) fn refused_in_request(e: AclError, op: OpCode, path: &str) -> Error {
    Error::InvalidArgument {
        op: Some(op),
        path: crate::error::some_path(path),
        reason: "invalid ACL".to_owned(),
        source: Some(std::sync::Arc::new(e)),
    }
}

/// An ACL refused outside any request, e.g. by `?` on [`world_acl`]: an
/// [`Error::InvalidArgument`] with no `op` and no path. Nothing was sent; the source, the
/// [`AclError`], says what was wrong.
impl From<AclError> for Error {
    fn from(e: AclError) -> Error {
        Error::InvalidArgument {
            op: None,
            path: None,
            reason: "invalid ACL".to_owned(),
            source: Some(std::sync::Arc::new(e)),
        }
    }
}

/// An ACL identity, unchecked: the seed's `acl-id`. Useful for comparing with what
/// `get_acl` returns.
pub fn acl_id(scheme: impl Into<String>, id: impl Into<String>) -> Id {
    Id::new(scheme, id)
}

/// An ACL entry, checked by [`validate`]: the seed's `acl`.
pub fn acl(scheme: impl Into<String>, id: impl Into<String>, perms: Perms) -> Result<Acl, AclError> {
    let entry = Acl::new(perms, scheme, id);
    validate(&entry)?;
    Ok(entry)
}

/// Checks an entry the way this module's helpers do, before anything is sent:
///
/// * the permissions are not empty and name only real permissions;
/// * the scheme is one of [`KNOWN_SCHEMES`];
/// * the id has the scheme's form: `world` takes only `anyone`; `digest` takes
///   `user:base64(hash)` (a hashed password of at least 16 bytes, which catches the seed's raw
///   `user:password`); `ip` takes an IPv4 or IPv6 address with an optional `/bits` mask;
///   `x509`, `sasl` and `host` take any non-empty id; `auth` takes any id, since the server
///   replaces it with the session's own identities.
///
/// The server refuses an entry with a bad scheme or id form too, as a bare `InvalidAcl`; the
/// digest check goes further, since the server accepts `user:password` there and the node then
/// matches nobody. A passing entry can still be refused for reasons that depend on the session
/// or the server's configuration (an `auth` entry from an unauthenticated session, a scheme the
/// server does not enable).
pub fn validate(entry: &Acl) -> Result<(), AclError> {
    check_perms(entry.perms)?;
    check_id(&entry.id)
}

fn check_perms(perms: Perms) -> Result<(), AclError> {
    if perms.is_empty() {
        return Err(AclError::NoPerms);
    }
    if !Perms::ALL.contains(perms) {
        return Err(AclError::InvalidPermBits { bits: perms.bits() });
    }
    Ok(())
}

fn check_id(id: &Id) -> Result<(), AclError> {
    let invalid = |shown: &str, reason| AclError::InvalidId { scheme: id.scheme.clone(), id: shown.to_owned(), reason };
    match id.scheme.as_str() {
        "world" if id.id != "anyone" => Err(invalid(&id.id, "the world scheme has the single id \"anyone\"")),
        "world" | "auth" => Ok(()),
        "digest" => {
            let (user, hash) =
                id.id.split_once(':').ok_or_else(|| invalid("<redacted>", "expected user:base64(hash)"))?;
            let shown = format!("{user}:<redacted>");
            if hash.contains(':') {
                return Err(invalid(&shown, "the user name and the hash cannot contain ':'"));
            }
            match BASE64.decode(hash) {
                Ok(digest) if digest.len() >= 16 => Ok(()),
                _ => Err(invalid(
                    &shown,
                    "the part after ':' must be base64(sha1(\"user:password\")), not the password; \
                     use digest_acl(user, password, perms)",
                )),
            }
        }
        "ip" => check_ip(&id.id).map_err(|reason| invalid(&id.id, reason)),
        "x509" | "sasl" | "host" if id.id.is_empty() => Err(invalid(&id.id, "the id cannot be empty")),
        "x509" | "sasl" | "host" => Ok(()),
        _ => Err(AclError::UnknownScheme { scheme: id.scheme.clone() }),
    }
}

/// `addr` or `addr/bits`, as ZooKeeper's IP provider accepts (in standard notation: Java also
/// takes leading zeros such as `010.0.0.1`, which [`IpAddr`] refuses).
fn check_ip(expr: &str) -> Result<(), &'static str> {
    let (addr, bits) = match expr.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (expr, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| "expected an IPv4 or IPv6 address, optionally with /bits")?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    match bits.map(str::parse::<u8>) {
        None => Ok(()),
        Some(Ok(bits)) if bits <= width => Ok(()),
        Some(_) => Err("the mask after '/' must be a bit count no larger than the address"),
    }
}

/// `world:anyone` with `perms`: the seed's `world-acl`.
pub fn world_acl(perms: Perms) -> Result<Acl, AclError> {
    acl("world", "anyone", perms)
}

/// `auth` with `perms`: whoever the creating session authenticated as (the server substitutes
/// the session's identities; with none it refuses the ACL). The seed's `auth-acl`.
pub fn auth_acl(perms: Perms) -> Result<Acl, AclError> {
    acl("auth", "", perms)
}

/// `ip:<addr>` (`"10.0.0.0/8"`, `"127.0.0.1"`, `"::1"`) with `perms`: the seed's `ip-acl`.
pub fn ip_acl(addr: &str, perms: Perms) -> Result<Acl, AclError> {
    acl("ip", addr, perms)
}

/// `host:<suffix>` with `perms`: the seed's `host-acl`.
///
/// Kept for porting seed code, but a stock ZooKeeper server has no `host` provider and answers
/// `InvalidAcl`; it only works on a server with a custom one.
pub fn host_acl(suffix: &str, perms: Perms) -> Result<Acl, AclError> {
    acl("host", suffix, perms)
}

/// `digest:<user>:<hash>` with `perms`, for the user that authenticates with
/// `add_auth("digest", "user:password")`: the seed's `digest-acl`, fixed to hash the password.
///
/// A user name containing `:` is an error, because the server splits the credentials at the
/// first `:` and so can never match it.
pub fn digest_acl(user: &str, password: &str, perms: Perms) -> Result<Acl, AclError> {
    if user.contains(':') {
        return Err(AclError::InvalidId {
            scheme: "digest".into(),
            id: user.to_owned(),
            reason: "the user name cannot contain ':'",
        });
    }
    acl("digest", digest_id(user, password), perms)
}

/// `base64(sha1("user:password"))`: the hash ZooKeeper's digest provider computes.
///
/// The seed's `hash-password` takes a single string and returns the same kind of value without
/// the user prefix: `(hash-password "david:secret")` is `hash_password("david", "secret")`,
/// `skR34IUghqUm2jMeXKyHqHxr3Gk=`. Joining the two here keeps a caller from hashing the bare
/// password by mistake. The text is hashed as UTF-8 (Java uses the platform charset, UTF-8 on
/// any current JVM). [`digest_id`] gives the full `user:hash` id.
pub fn hash_password(user: &str, password: &str) -> String {
    let digest = Sha1::new().chain_update(user).chain_update(":").chain_update(password).finalize();
    BASE64.encode(digest)
}

/// `user:base64(sha1("user:password"))`: the id a digest ACL entry names and the identity the
/// server gives a session that authenticated as `user:password`.
pub fn digest_id(user: &str, password: &str) -> String {
    format!("{user}:{}", hash_password(user, password))
}

/// Everything for everyone: `world:anyone` with every permission (`OPEN_ACL_UNSAFE`, the
/// default ACL of `create`).
pub fn open_acl_unsafe() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// Read for everyone (`READ_ACL_UNSAFE`).
pub fn read_acl_unsafe() -> Vec<Acl> {
    Acl::read_unsafe()
}

/// Every permission for the creating session's identities (`CREATOR_ALL_ACL`).
pub fn creator_all_acl() -> Vec<Acl> {
    Acl::creator_all()
}

/// The identity of everyone, `world:anyone` (the seed's `:anyone-id-unsafe`).
pub fn anyone_id_unsafe() -> Id {
    Id::new("world", "anyone")
}

/// The placeholder identity that stands for the session's own, `auth:` (the seed's `:auth-ids`).
pub fn auth_ids() -> Id {
    Id::new("auth", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_perms_are_the_seeds_15() {
        assert_eq!(DEFAULT_PERMS.bits(), 15);
        assert!(!DEFAULT_PERMS.contains(Perms::ADMIN));
    }

    #[test]
    fn digest_ids_are_checked_without_leaking_the_password() {
        let e = acl("digest", "david:secret", Perms::READ).unwrap_err();
        assert!(matches!(&e, AclError::InvalidId { id, .. } if id == "david:<redacted>"));
        assert!(!e.to_string().contains("secret"));
        assert!(acl("digest", "david", Perms::READ).is_err());
        assert!(acl("digest", "a:b:skR34IUghqUm2jMeXKyHqHxr3Gk=", Perms::READ).is_err());
        assert!(acl("digest", "david:skR34IUghqUm2jMeXKyHqHxr3Gk=", Perms::READ).is_ok());
        assert!(digest_acl("da:vid", "x", Perms::READ).is_err());
    }

    #[test]
    fn ip_ids() {
        for ok in ["127.0.0.1", "10.0.0.0/8", "10.0.0.0/32", "::1", "fe80::/10", "0.0.0.0/0"] {
            assert!(ip_acl(ok, Perms::READ).is_ok(), "{ok}");
        }
        for bad in ["", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8", "1.2.3.4/x"] {
            assert!(ip_acl(bad, Perms::READ).is_err(), "{bad}");
        }
    }

    #[test]
    fn perms_are_checked() {
        assert_eq!(world_acl(Perms::NONE), Err(AclError::NoPerms));
        assert_eq!(world_acl(Perms::from_bits(32)), Err(AclError::InvalidPermBits { bits: 32 }));
        assert_eq!(Perms::from_names(Vec::<&str>::new()), Err(AclError::NoPerms));
        assert_eq!(Perms::from_names(["all"]), Ok(Perms::ALL));
    }

    #[test]
    fn world_takes_only_anyone_and_other_schemes_need_an_id() {
        assert!(acl("world", "nobody", Perms::READ).is_err());
        assert!(acl("x509", "", Perms::READ).is_err());
        assert!(acl("sasl", "zk@EXAMPLE.COM", Perms::READ).is_ok());
        assert!(acl("auth", "ignored", Perms::READ).is_ok());
    }

    #[test]
    fn acl_error_in_a_request_names_it() {
        let e = refused_in_request(AclError::NoPerms, OpCode::Create, "/p");
        assert!(
            matches!(&e, Error::InvalidArgument { op: Some(OpCode::Create), path: Some(path), .. } if path == "/p")
        );
        let cause = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<AclError>());
        assert_eq!(cause, Some(&AclError::NoPerms));
        let e: Error = AclError::NoPerms.into();
        assert_eq!((e.op(), e.path()), (None, None));
    }
}
