//! The seed's primitive encodings (`zookeeper.data`), byte for byte.
//!
//! These are an interop contract: data written by zookeeper-clj (and by Avout, which stores its
//! transaction states as 8-byte longs) must read back here, and the other way round. So the
//! encodings are exactly Java's `ByteBuffer` ones:
//!
//! | Rust | seed (Java) | bytes |
//! |---|---|---|
//! | `String` / `&str` | `String` | UTF-8, no length prefix, no terminator |
//! | `i32` | `Integer` | 4, two's complement, big-endian |
//! | `i64` | `Long` (Clojure's integer literals) | 8, big-endian |
//! | `i16` | `Short` | 2, big-endian |
//! | `f64` | `Double` | 8, IEEE-754 binary64 bits, big-endian |
//! | `f32` | `Float` | 4, IEEE-754 binary32 bits, big-endian |
//! | `char` | `Character` | 2, one UTF-16 code unit, big-endian |
//!
//! Two deliberate differences from the seed, both about bad input:
//!
//! * **Decoding wants exactly the type's width.** The seed's decoders read the first N bytes and
//!   ignore the rest, so `(to-int (to-bytes 1234))` is silently `0`: the literal is a Long, and
//!   `to-int` reads its four high bytes. Every value the seed writes has exactly its type's width,
//!   so requiring it loses no interop; it only turns "read with the wrong type" into an error
//!   instead of a wrong number. Too few bytes is an error too (the seed throws
//!   `BufferUnderflowException`). Callers who really want a prefix can slice first.
//! * **Text is UTF-8, strictly.** The seed's dynamic `*charset*` defaults to UTF-8 and is rarely
//!   rebound; this module always uses UTF-8 (other encodings can go through `Vec<u8>`).
//!   [`to_string`] rejects invalid UTF-8, where Java would substitute U+FFFD; [`to_string_lossy`]
//!   does what Java does.
//!
//! Each type also implements [`ZNodeData`], so the client's typed calls use the same encodings.
//!
//! ```
//! use zk_dsl::data;
//!
//! # fn main() -> Result<(), zk_dsl::CodecError> {
//! // The seed's `(data/to-bytes 1234)`: a Clojure integer literal is a Long.
//! let bytes = data::to_bytes(&1234i64)?;
//! assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0x04, 0xD2]);
//! assert_eq!(data::to_long(&bytes)?, 1234);
//! assert!(data::to_int(&bytes).is_err()); // the seed would say 0
//! # Ok(())
//! # }
//! ```

use crate::codec::{CodecError, ToZNodeBytes, ZNodeData};

/// The bytes for any value the builders' `.data(…)` takes: the seed's `to-bytes`. That is every
/// [`ZNodeData`] type, and `str` and byte slices, so `to_bytes("hello")` works as the seed's
/// `(to-bytes "hello")` does.
pub fn to_bytes<T: ToZNodeBytes + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    value.to_node_bytes()
}

/// The value of type `T` that `bytes` encode.
pub fn from_bytes<T: ZNodeData>(bytes: &[u8]) -> Result<T, CodecError> {
    T::from_znode_bytes(bytes)
}

/// `String.getBytes("UTF-8")`.
pub fn encode_string(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// `ByteBuffer.putInt`.
pub fn encode_int(v: i32) -> [u8; 4] {
    v.to_be_bytes()
}

/// `ByteBuffer.putLong`.
pub fn encode_long(v: i64) -> [u8; 8] {
    v.to_be_bytes()
}

/// `ByteBuffer.putShort`.
pub fn encode_short(v: i16) -> [u8; 2] {
    v.to_be_bytes()
}

/// `ByteBuffer.putDouble`: the raw bits, so NaN is `7F F8 00 ...` as in Java.
pub fn encode_double(v: f64) -> [u8; 8] {
    v.to_bits().to_be_bytes()
}

/// `ByteBuffer.putFloat`.
pub fn encode_float(v: f32) -> [u8; 4] {
    v.to_bits().to_be_bytes()
}

/// `ByteBuffer.putChar`: one UTF-16 code unit.
///
/// A Java `char` cannot hold a character outside the Basic Multilingual Plane (it would take a
/// surrogate pair, i.e. two `char`s), so such a `char` is an error rather than half of one.
pub fn encode_char(c: char) -> Result<[u8; 2], CodecError> {
    match u16::try_from(u32::from(c)) {
        Ok(unit) => Ok(unit.to_be_bytes()),
        Err(_) => Err(CodecError::new(
            "char",
            format!("U+{:04X} is outside the Basic Multilingual Plane and does not fit one UTF-16 unit", u32::from(c)),
        )),
    }
}

/// The text in `bytes`, which must be valid UTF-8.
pub fn to_string(bytes: &[u8]) -> Result<String, CodecError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::new("String", format!("invalid UTF-8: {e}")))
}

/// The text in `bytes`, with each invalid UTF-8 sequence replaced by U+FFFD, as Java's
/// `new String(bytes, "UTF-8")` (the seed's `to-string`) does.
pub fn to_string_lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ByteBuffer.getInt`, on exactly 4 bytes.
pub fn to_int(bytes: &[u8]) -> Result<i32, CodecError> {
    exact(bytes, "i32").map(i32::from_be_bytes)
}

/// `ByteBuffer.getLong`, on exactly 8 bytes.
pub fn to_long(bytes: &[u8]) -> Result<i64, CodecError> {
    exact(bytes, "i64").map(i64::from_be_bytes)
}

/// `ByteBuffer.getShort`, on exactly 2 bytes.
pub fn to_short(bytes: &[u8]) -> Result<i16, CodecError> {
    exact(bytes, "i16").map(i16::from_be_bytes)
}

/// `ByteBuffer.getDouble`, on exactly 8 bytes.
pub fn to_double(bytes: &[u8]) -> Result<f64, CodecError> {
    exact(bytes, "f64").map(|b| f64::from_bits(u64::from_be_bytes(b)))
}

/// `ByteBuffer.getFloat`, on exactly 4 bytes.
pub fn to_float(bytes: &[u8]) -> Result<f32, CodecError> {
    exact(bytes, "f32").map(|b| f32::from_bits(u32::from_be_bytes(b)))
}

/// `ByteBuffer.getChar`, on exactly 2 bytes.
///
/// A lone surrogate (`D800`–`DFFF`) is a valid Java `char` but not a Rust `char`, so it is an
/// error.
pub fn to_char(bytes: &[u8]) -> Result<char, CodecError> {
    let unit = u16::from_be_bytes(exact(bytes, "char")?);
    char::from_u32(u32::from(unit))
        .ok_or_else(|| CodecError::new("char", format!("{unit:04X} is a lone UTF-16 surrogate, not a character")))
}

/// `bytes` as an array of exactly `N`, or the error explaining the width mismatch.
fn exact<const N: usize>(bytes: &[u8], type_name: &'static str) -> Result<[u8; N], CodecError> {
    <[u8; N]>::try_from(bytes).map_err(|_| {
        CodecError::new(type_name, format!("expected exactly {N} bytes (big-endian {type_name}), got {}", bytes.len()))
    })
}

impl ZNodeData for String {
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
        Ok(encode_string(self))
    }

    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        to_string(bytes)
    }
}

/// Implements [`ZNodeData`] for a fixed-width primitive from its encode/decode pair.
macro_rules! fixed_width {
    ($($ty:ty => $encode:ident, $decode:ident;)+) => {$(
        impl ZNodeData for $ty {
            fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
                Ok($encode(*self).to_vec())
            }

            fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
                $decode(bytes)
            }
        }
    )+};
}

fixed_width! {
    i32 => encode_int, to_int;
    i64 => encode_long, to_long;
    i16 => encode_short, to_short;
    f64 => encode_double, to_double;
    f32 => encode_float, to_float;
}

impl ZNodeData for char {
    fn to_znode_bytes(&self) -> Result<Vec<u8>, CodecError> {
        encode_char(*self).map(|b| b.to_vec())
    }

    fn from_znode_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        to_char(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_width_errors_name_the_type_and_sizes() {
        let e = to_long(&[0, 0, 4, 0xD2]).unwrap_err();
        assert_eq!(e.type_name, "i64");
        assert_eq!(e.reason, "expected exactly 8 bytes (big-endian i64), got 4");
        // The seed's `(to-int (to-bytes 1234))` gives 0; here it is an error.
        assert!(to_int(&encode_long(1234)).is_err());
    }

    #[test]
    fn char_edges() {
        assert_eq!(encode_char('\u{FFFF}').unwrap(), [0xFF, 0xFF]);
        assert!(encode_char('\u{10000}').is_err());
        assert!(to_char(&[0xD8, 0x00]).is_err());
        assert_eq!(to_char(&[0xFF, 0xFD]).unwrap(), '\u{FFFD}');
    }

    #[test]
    fn text_strict_and_lossy() {
        assert!(to_string(&[0x68, 0xC3]).is_err());
        assert_eq!(to_string_lossy(&[0x68, 0xC3]), "h\u{FFFD}");
    }

    #[test]
    fn generic_entry_points() {
        assert_eq!(to_bytes(&7i16).unwrap(), [0, 7]);
        assert_eq!(from_bytes::<i16>(&[0, 7]).unwrap(), 7);
    }
}
