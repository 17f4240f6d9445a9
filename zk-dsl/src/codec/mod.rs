//! Typed node data: the [`ZNodeData`] trait every typed read and write goes through, and the
//! serde codecs behind `#[derive(ZNodeData)]`.
//!
//! ZooKeeper stores opaque bytes. The seed converts them by hand (`to-bytes`, `to-long`, or
//! `pr-str`/`read-string`); here a type says once how it maps to bytes, and the client's typed
//! getters and setters call that. The trait is deliberately tiny — one function each way, owned
//! bytes out, borrowed bytes in — so that the seed's primitive encodings ([`crate::data`]), the
//! identity impls below, serde-based codecs and `#[derive(ZNodeData)]` can all sit on top of it.
//!
//! A conversion failure is a [`CodecError`]. It does not know which node it came from; the caller
//! that does attaches the path with [`CodecError::with_path`], giving [`Error::Codec`].
//!
//! # Serde codecs
//!
//! `#[derive(ZNodeData)]` with `#[znode(codec = …)]` encodes any serde type with one of three
//! formats, each a type here implementing [`SerdeCodec`] behind the cargo feature of its name:
//!
//! | codec | feature | wire format | choose it for |
//! |---|---|---|---|
//! | [`Postcard`] | `postcard` (on by default) | postcard 1.x: compact varints, a [specified and frozen wire format](https://postcard.jamesmunns.com/wire-format) | **new data**: small, fast, and the format will not change under you |
//! | [`Json`] | `json` | JSON text (serde_json) | nodes that Java, Python or a human with `zkCli.sh get` read too; tolerant of added fields (with `#[serde(default)]`) |
//! | [`Bincode`] | `bincode` | bincode 2.0 standard configuration (little-endian varints) | the design card's choice; kept for data already written with it |
//!
//! Trade-offs: postcard and bincode are schema-less binary formats — a reader must use the same
//! field order and types as the writer, so evolve such types by appending `Option` fields at
//! the end or by versioning the path. JSON is larger and slower but self-describing. Bincode is
//! pinned to 2.0.x: its 3.0.0 release is a `compile_error!` tombstone and the project is no
//! longer maintained, so it is not the format to start new data in. **Recommendation: postcard
//! for new data, JSON when other languages read the node.**
//!
//! Every codec refuses trailing bytes after the value (like [`crate::data`]'s exact widths), and
//! bincode decoding is limited to [`BINCODE_DECODE_LIMIT`] bytes of claimed allocations, so a
//! corrupt or hostile node cannot make the client allocate more than that. Errors name the Rust
//! type (`std::any::type_name`), and the client adds the node's path.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use zk_dsl::codec::{Json, SerdeCodec};
//!
//! let bytes = <Json as SerdeCodec<Vec<u32>>>::encode(&vec![1, 2]).unwrap();
//! assert_eq!(bytes, b"[1,2]");
//! # }
//! ```

mod serde_codecs;

pub use serde_codecs::{Bincode, Json, Postcard, SerdeCodec, BINCODE_DECODE_LIMIT};

use std::fmt;

use bytes::Bytes;

use crate::error::Error;

/// A Rust type that can be stored as a node's data.
///
/// Both directions are fallible: not every value has an encoding (a `char` outside the Basic
/// Multilingual Plane, for one) and not every byte string is a valid value. Implementations must
/// not panic on any input, since the bytes come from the server and were possibly written by
/// another program.
pub trait ZNodeData: Sized {
    /// The bytes to store for `self`.
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError>;

    /// The value that `bytes` (a node's whole data) encodes.
    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError>;
}

/// Anything that can be written as node data: every [`ZNodeData`] type, plus string slices and
/// byte slices, which can be written but (being unsized) not read back as themselves. This is
/// the bound of the builders' `data` arguments, so `.data("text")` and `.data(&bytes[..])` work.
pub trait ToZNodeBytes {
    /// The bytes to store.
    fn to_node_bytes(&self) -> Result<Vec<u8>, CodecError>;
}

impl<T: ZNodeData> ToZNodeBytes for T {
    fn to_node_bytes(&self) -> Result<Vec<u8>, CodecError> {
        self.to_znode_bytes()
    }
}

/// UTF-8, as `String`.
impl ToZNodeBytes for str {
    fn to_node_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.as_bytes().to_vec())
    }
}

/// Raw bytes, unchanged.
impl ToZNodeBytes for [u8] {
    fn to_node_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.to_vec())
    }
}

/// Raw bytes, unchanged.
impl<const N: usize> ToZNodeBytes for [u8; N] {
    fn to_node_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.to_vec())
    }
}

/// Node data could not be converted to or from a Rust type.
///
/// It names the type rather than the node because the conversion does not know the node; see
/// [`CodecError::with_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// The Rust type being converted (`"i64"`, `"String"`, a user type's name).
    pub type_name: &'static str,
    /// What was wrong, in words (e.g. "expected exactly 8 bytes, got 4").
    pub reason: String,
}

impl CodecError {
    /// A failure converting `type_name`, because of `reason`.
    pub fn new(type_name: &'static str, reason: impl Into<String>) -> CodecError {
        CodecError { type_name, reason: reason.into() }
    }

    /// The crate error for this failure on the node at `path`.
    pub fn with_path(self, path: impl Into<String>) -> Error {
        let path: String = path.into();
        Error::Codec { path: crate::error::some_path(&path), source: self }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot convert data as {}: {}", self.type_name, self.reason)
    }
}

impl std::error::Error for CodecError {}

/// So `?` works on conversions in a function returning [`Error`] (`data::to_long(&bytes)?`).
/// The conversion does not know the node, so the path is empty; where the node is known,
/// [`CodecError::with_path`] names it (`NodeData::decode` does that for you).
impl From<CodecError> for Error {
    fn from(e: CodecError) -> Error {
        e.with_path(String::new())
    }
}

/// Raw bytes, unchanged: what the seed's `data` and `set-data` traffic in.
impl ZNodeData for Vec<u8> {
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.clone())
    }

    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.to_vec())
    }
}

/// Raw bytes, unchanged, for callers that keep data in [`Bytes`].
impl ZNodeData for Bytes {
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.to_vec())
    }

    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_types_are_identity() {
        let raw = vec![0u8, 1, 0xFF];
        assert_eq!(raw.to_znode_bytes().unwrap(), raw);
        assert_eq!(Vec::<u8>::from_znode_bytes(&raw).unwrap(), raw);
        let b = Bytes::from_static(b"\x00zk");
        assert_eq!(b.to_znode_bytes().unwrap(), b"\x00zk");
        assert_eq!(Bytes::from_znode_bytes(b"").unwrap(), Bytes::new());
    }

    #[test]
    fn with_path_gives_the_codec_variant() {
        let e = CodecError::new("i64", "expected exactly 8 bytes, got 4").with_path("/a/b");
        assert!(matches!(&e, Error::Codec { path: Some(path), source } if path == "/a/b" && source.type_name == "i64"));
        assert_eq!(e.to_string(), "/a/b: node data conversion failed (i64)");
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("cannot convert data as i64: expected exactly 8 bytes, got 4"));
    }

    #[test]
    fn question_mark_converts_into_the_crate_error() {
        fn read(bytes: &[u8]) -> crate::Result<i64> {
            Ok(crate::data::to_long(bytes)?)
        }
        let e = read(&[1, 2]).unwrap_err();
        assert!(matches!(&e, Error::Codec { path: None, source } if source.type_name == "i64"));
        assert_eq!(e.to_string(), "node data conversion failed (i64)");
        assert_eq!(read(&7i64.to_be_bytes()).unwrap(), 7);
    }
}
