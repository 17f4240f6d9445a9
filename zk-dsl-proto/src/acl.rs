//! The checks an ACL entry fails before it is sent: [`AclError`], and [`Perms::from_names`]
//! (the seed's keyword permissions). The helpers that build and check entries are zk-dsl's
//! `acl` module; the error lives here, beside [`Perms`], so both crates share it.

use std::fmt;

use crate::records::Perms;

/// The schemes zk-dsl's `acl` helpers accept.
///
/// `world`, `auth`, `digest` and `ip` are built into every ZooKeeper server; `x509` and `sasl`
/// are the stock providers a server enables for TLS client certificates and SASL (Kerberos,
/// DIGEST-MD5). `host` is in the seed's API and is accepted so seed code ports, but a stock
/// server has no `host` provider and refuses such an ACL with `InvalidAcl`. `super` is not here:
/// it is an identity the server gives a session that authenticated with the super digest, not a
/// scheme an ACL can name (the server refuses it).
pub const KNOWN_SCHEMES: [&str; 7] = ["world", "auth", "digest", "ip", "x509", "sasl", "host"];

/// An ACL this module refused to build.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AclError {
    /// The scheme is not one of [`KNOWN_SCHEMES`].
    UnknownScheme {
        /// The scheme as given.
        scheme: String,
    },
    /// A permission name other than `read`, `write`, `create`, `delete`, `admin` or `all`.
    UnknownPerm {
        /// The name as given.
        name: String,
    },
    /// No permission at all: the entry would grant nothing.
    NoPerms,
    /// Bits outside [`Perms::ALL`], which name no permission.
    InvalidPermBits {
        /// The bits as given.
        bits: u32,
    },
    /// The id is not of the form the scheme needs. For `digest` only the user name is kept, so
    /// that a password given by mistake does not end up in logs.
    InvalidId {
        /// The entry's scheme.
        scheme: String,
        /// The id (for `digest`, the user name only).
        id: String,
        /// What the scheme needs.
        reason: &'static str,
    },
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclError::UnknownScheme { scheme } => {
                write!(f, "unknown ACL scheme {scheme:?} (known: {})", KNOWN_SCHEMES.join(", "))
            }
            AclError::UnknownPerm { name } => {
                write!(f, "unknown permission {name:?} (known: read, write, create, delete, admin, all)")
            }
            AclError::NoPerms => f.write_str("an ACL entry needs at least one permission"),
            AclError::InvalidPermBits { bits } => write!(f, "permission bits {bits:#x} are outside read..admin (0x1f)"),
            AclError::InvalidId { scheme, id, reason } => write!(f, "invalid {scheme} ACL id {id:?}: {reason}"),
        }
    }
}

impl std::error::Error for AclError {}

impl Perms {
    /// The union of permissions given by name (`read`, `write`, `create`, `delete`, `admin`,
    /// `all`): the seed's keyword perms. One name is enough, unknown names are an error, and so
    /// is an empty list, since an entry granting nothing is never what was meant.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Perms, AclError> {
        let mut perms = Perms::NONE;
        for name in names {
            let name = name.as_ref();
            perms |= Perms::from_name(name).ok_or_else(|| AclError::UnknownPerm { name: name.to_owned() })?;
        }
        if perms.is_empty() {
            return Err(AclError::NoPerms);
        }
        Ok(perms)
    }
}
