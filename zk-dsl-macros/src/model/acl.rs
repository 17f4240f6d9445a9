//! ACL entries as written in `acl![…]` and in `acl = […]`:
//! `scheme(ids…, perms…)`, where each scheme takes a fixed number of ids, so everything after
//! them is a permission name. This is the seed's helper calls with the keywords unquoted:
//! `(digest-acl "david" "secret" :read :write)` is `digest("david", "secret", read, write)`.

use proc_macro2::Span;
use syn::{Expr, Ident};

/// A list in brackets.
pub struct AclList {
    pub span: Span,
    pub entries: Vec<AclEntry>,
}

/// One entry, as written; [`Scheme`] and the permissions are resolved by the checker.
pub struct AclEntry {
    pub scheme: Ident,
    /// Everything inside the parentheses (none for a bare `world`).
    pub args: Vec<Expr>,
}

/// The schemes an entry can name: the ones `zk_dsl::acl` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    World,
    Auth,
    Digest,
    Ip,
    Host,
    X509,
    Sasl,
}

impl Scheme {
    pub const ALL: [Scheme; 7] =
        [Scheme::World, Scheme::Auth, Scheme::Digest, Scheme::Ip, Scheme::Host, Scheme::X509, Scheme::Sasl];

    pub fn name(self) -> &'static str {
        match self {
            Scheme::World => "world",
            Scheme::Auth => "auth",
            Scheme::Digest => "digest",
            Scheme::Ip => "ip",
            Scheme::Host => "host",
            Scheme::X509 => "x509",
            Scheme::Sasl => "sasl",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What comes before the permissions.
    pub fn ids(self) -> &'static [&'static str] {
        match self {
            Scheme::World | Scheme::Auth => &[],
            Scheme::Digest => &["user", "password"],
            Scheme::Ip => &["address"],
            Scheme::Host => &["host suffix"],
            Scheme::X509 | Scheme::Sasl => &["id"],
        }
    }

    /// An example entry, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Scheme::World => "world(read, write)",
            Scheme::Auth => "auth(all)",
            Scheme::Digest => "digest(\"david\", password, read, write)",
            Scheme::Ip => "ip(\"10.0.0.0/8\", read)",
            Scheme::Host => "host(\".example.com\", read)",
            Scheme::X509 => "x509(\"CN=app\", read)",
            Scheme::Sasl => "sasl(\"app@EXAMPLE.COM\", all)",
        }
    }
}

/// The permission names (the seed's keywords), and the `Perms` constant each stands for.
pub const PERMS: &[(&str, &str)] = &[
    ("read", "READ"),
    ("write", "WRITE"),
    ("create", "CREATE"),
    ("delete", "DELETE"),
    ("admin", "ADMIN"),
    ("all", "ALL"),
];

/// The `Perms` constant for a permission name.
pub fn perm_const(name: &str) -> Option<&'static str> {
    PERMS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// The permission name an argument spells, if it is a bare identifier.
pub fn as_name(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident(),
        _ => None,
    }
}
