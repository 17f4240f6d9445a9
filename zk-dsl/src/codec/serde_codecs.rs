//! The serde codecs: one marker type per format, implementing [`SerdeCodec`] for every serde
//! type when its cargo feature is on. The markers always exist so that a derive naming a codec
//! whose feature is off fails with a message saying so, not with "cannot find type".

use super::CodecError;

/// Encodes and decodes `T` in one wire format. Implemented by [`Bincode`], [`Postcard`] and
/// [`Json`] for every `T: Serialize + DeserializeOwned` when the matching cargo feature is on;
/// `#[derive(ZNodeData)]` calls it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot encode `{T}`",
    label = "needs `{T}: Serialize + DeserializeOwned` and zk-dsl's cargo feature for this codec",
    note = "derive serde's Serialize and Deserialize for `{T}`, and enable the zk-dsl feature named after the codec \
            (`bincode`, `postcard` or `json`)"
)]
pub trait SerdeCodec<T> {
    /// The bytes for `value`.
    fn encode(value: &T) -> Result<Vec<u8>, CodecError>;

    /// The value `bytes` encode, refusing bytes left over after it.
    fn decode(bytes: &[u8]) -> Result<T, CodecError>;
}

/// bincode 2.0 (standard configuration: little-endian, variable-length integers). Feature
/// `bincode` (off by default: the project is unmaintained upstream). See the [module docs](super) for when to choose it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

/// postcard 1.x, whose wire format is specified and stable: the recommendation for new data.
/// Feature `postcard`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postcard;

/// JSON (serde_json), readable by other languages and by people. Feature `json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

/// The most bytes a bincode decode may claim for the containers and strings it allocates
/// (64 MiB). ZooKeeper nodes hold at most about 1 MiB, so real data stays far below; a corrupt
/// length prefix is refused instead of allocated.
pub const BINCODE_DECODE_LIMIT: usize = 64 << 20;

#[cfg(any(feature = "bincode", feature = "postcard", feature = "json"))]
fn failed<T>(codec: &str, what: &str, error: impl std::fmt::Display) -> CodecError {
    CodecError::new(std::any::type_name::<T>(), format!("{codec} {what} failed: {error}"))
}

#[cfg(any(feature = "bincode", feature = "postcard"))]
fn trailing<T>(codec: &str, left: usize) -> CodecError {
    CodecError::new(std::any::type_name::<T>(), format!("{codec}: {left} bytes left over after the value"))
}

#[cfg(feature = "bincode")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> SerdeCodec<T> for Bincode {
    fn encode(value: &T) -> Result<Vec<u8>, CodecError> {
        bincode::serde::encode_to_vec(value, bincode::config::standard())
            .map_err(|e| failed::<T>("bincode", "encoding", e))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        let config = bincode::config::standard().with_limit::<BINCODE_DECODE_LIMIT>();
        let (value, read) =
            bincode::serde::decode_from_slice(bytes, config).map_err(|e| failed::<T>("bincode", "decoding", e))?;
        match bytes.len() - read {
            0 => Ok(value),
            left => Err(trailing::<T>("bincode", left)),
        }
    }
}

#[cfg(feature = "postcard")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> SerdeCodec<T> for Postcard {
    fn encode(value: &T) -> Result<Vec<u8>, CodecError> {
        postcard::to_allocvec(value).map_err(|e| failed::<T>("postcard", "encoding", e))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| failed::<T>("postcard", "decoding", e))?;
        match rest.len() {
            0 => Ok(value),
            left => Err(trailing::<T>("postcard", left)),
        }
    }
}

#[cfg(feature = "json")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> SerdeCodec<T> for Json {
    fn encode(value: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(value).map_err(|e| failed::<T>("json", "encoding", e))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| failed::<T>("json", "decoding", e))
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;

    #[cfg(feature = "bincode")]
    #[test]
    fn bincode_round_trips_and_refuses_leftovers_and_huge_lengths() {
        let value = (7u32, String::from("zk"));
        let bytes = Bincode::encode(&value).unwrap();
        assert_eq!(<Bincode as SerdeCodec<(u32, String)>>::decode(&bytes).unwrap(), value);
        let mut longer = bytes.clone();
        longer.push(0);
        let e = <Bincode as SerdeCodec<(u32, String)>>::decode(&longer).unwrap_err();
        assert!(e.reason.contains("left over"), "{e}");
        assert_eq!(e.type_name, "(u32, alloc::string::String)");
        // A string claiming 2^40 bytes: refused by the limit, not allocated.
        let huge = [0xFD, 0, 0, 0, 0, 0, 1, 0, 0];
        assert!(<Bincode as SerdeCodec<String>>::decode(&huge).is_err());
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn postcard_round_trips_and_refuses_leftovers() {
        let bytes = Postcard::encode(&vec![1u16, 300]).unwrap();
        assert_eq!(bytes, [2, 1, 0xAC, 0x02]);
        assert_eq!(<Postcard as SerdeCodec<Vec<u16>>>::decode(&bytes).unwrap(), vec![1, 300]);
        assert!(<Postcard as SerdeCodec<Vec<u16>>>::decode(&[2, 1, 0xAC, 0x02, 9]).is_err());
        assert!(<Postcard as SerdeCodec<String>>::decode(&[0xFF, 0xFF, 0xFF, 0x0F]).is_err());
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_round_trips_and_names_the_type() {
        let bytes = Json::encode(&vec![Some(1u8), None]).unwrap();
        assert_eq!(bytes, b"[1,null]");
        let e = <Json as SerdeCodec<Vec<u8>>>::decode(b"[1,2] x").unwrap_err();
        assert!(e.to_string().contains("alloc::vec::Vec<u8>"), "{e}");
    }
}
