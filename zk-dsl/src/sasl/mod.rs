//! SASL for ZooKeeper sessions (feature `sasl`): the mechanisms, sans-IO.
//!
//! ZooKeeper runs SASL after the session handshake on every connection: the client sends
//! `sasl` requests (opcode 102, a token each) and the server answers each with a token, until the
//! mechanism is complete; only then does the client send anything else. A successful exchange
//! gives the connection the identity `sasl:<user>`, which ACLs with scheme `sasl` name. Because
//! the identity belongs to the connection, the exchange is redone after every reconnection.
//!
//! [`DigestMd5`] is the mechanism deployments without Kerberos use (the server's JAAS
//! `DigestLoginModule`): RFC 2831, `qop=auth` (authentication only; the connection itself is
//! not protected by SASL — use TLS for that).

mod digest_md5;

pub use digest_md5::{DigestMd5, SaslError};

/// The SASL service name ZooKeeper servers register ("zookeeper").
pub const SERVICE: &str = "zookeeper";
/// The server name ZooKeeper hard-wires for DIGEST-MD5 on both sides (it is also the realm).
pub const DIGEST_SERVER_NAME: &str = "zk-sasl-md5";
