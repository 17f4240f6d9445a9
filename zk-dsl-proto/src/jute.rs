//! Jute, ZooKeeper's binary record encoding: big-endian integers, length-prefixed buffers and
//! strings, count-prefixed vectors, and records as their fields laid end to end.
//!
//! [`Reader`] is the only way the crate reads bytes that came from a server. Every length it
//! reads is checked against the bytes that are actually left before anything is allocated, so a
//! hostile or corrupt frame costs memory only in proportion to its own size (a small constant
//! factor: a `Vec<String>` of empty names takes 24 bytes per 4-byte name) and never panics.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::DecodeError;

/// Encodes a record into a growing buffer.
pub trait Encode {
    fn encode(&self, buf: &mut BytesMut);
}

/// Decodes a record from the front of a [`Reader`].
pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError>;
}

/// A cursor over one received frame. Slices handed out (`buffer`) share the frame's memory.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    /// What the cursor is reading, named in errors ("Stat", "GetDataResponse", ...).
    record: &'static str,
}

impl Reader {
    pub fn new(buf: Bytes, record: &'static str) -> Self {
        Reader { buf, record }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Names the record being decoded, for error messages; returns the previous name.
    pub fn enter(&mut self, record: &'static str) -> &'static str {
        std::mem::replace(&mut self.record, record)
    }

    /// Fails unless `n` more bytes are there.
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                record: self.record,
                field: what,
                needed: n,
                available: self.buf.len(),
            });
        }
        Ok(())
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    /// Fixed-size fields are copied out and skipped, without the reference counting a shared
    /// `Bytes` slice would cost.
    pub fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        self.need(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[..N]);
        self.buf.advance(N);
        Ok(out)
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.fixed(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.fixed(what)?))
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        Ok(self.fixed::<1>(what)?[0] != 0)
    }

    /// Reads a length prefix; `None` for jute's null (-1).
    fn length(&mut self, what: &'static str) -> Result<Option<usize>, DecodeError> {
        match self.i32(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength { record: self.record, field: what, length: n }),
            n => Ok(Some(n as usize)),
        }
    }

    /// A `buffer`: shares the frame's memory, no copy.
    pub fn buffer(&mut self, what: &'static str) -> Result<Option<Bytes>, DecodeError> {
        match self.length(what)? {
            None => Ok(None),
            Some(n) => self.take(n, what).map(Some),
        }
    }

    /// A `ustring`, decoded leniently (see [`decode_java_utf8`]).
    pub fn string_opt(&mut self, what: &'static str) -> Result<Option<String>, DecodeError> {
        let Some(n) = self.length(what)? else { return Ok(None) };
        self.need(n, what)?;
        // Decoded straight from the frame: the string is copied anyway.
        let s = decode_java_utf8(&self.buf[..n]);
        self.buf.advance(n);
        Ok(Some(s))
    }

    /// A `ustring` where null is read as the empty string (ZooKeeper never sends null for the
    /// strings a client reads, but a lenient reader costs nothing).
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        Ok(self.string_opt(what)?.unwrap_or_default())
    }

    /// A `vector<T>`; null reads as empty. The capacity reserved up front is bounded by the bytes
    /// left (every element takes at least `min_element_size` bytes), so a forged count cannot
    /// make us reserve more elements than the frame could hold.
    pub fn vec<T>(
        &mut self,
        what: &'static str,
        min_element_size: usize,
        mut element: impl FnMut(&mut Reader) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let Some(count) = self.length(what)? else {
            return Ok(Vec::new());
        };
        let plausible = self.remaining() / min_element_size.max(1);
        if count > plausible {
            return Err(DecodeError::Truncated {
                record: self.record,
                field: what,
                needed: count.saturating_mul(min_element_size.max(1)),
                available: self.remaining(),
            });
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(element(self)?);
        }
        Ok(out)
    }

    pub fn strings(&mut self, what: &'static str) -> Result<Vec<String>, DecodeError> {
        self.vec(what, 4, |r| r.string(what))
    }

    /// Fails if bytes are left over: a reply longer than its record is a protocol violation.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { record: self.record, count: self.buf.len() })
        }
    }

    /// The unread rest of the frame.
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }
}

/// Decodes a string the way Java wrote it. Java's `DataOutput`-style encoders in ZooKeeper write
/// UTF-16 code units one by one, so a character outside the Basic Multilingual Plane can arrive as
/// two 3-byte surrogate encodings (CESU-8) instead of one 4-byte UTF-8 sequence. Valid UTF-8 takes
/// the fast path; surrogate pairs are joined; anything else becomes U+FFFD rather than an error,
/// because a name we cannot render is still better than a dropped reply.
pub fn decode_java_utf8(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some((ch, used)) = cesu8_pair(&bytes[i..]) {
            out.push(ch);
            i += used;
            continue;
        }
        // Copy the longest valid UTF-8 run, then replace one invalid sequence.
        match std::str::from_utf8(&bytes[i..]) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                // The prefix was just validated by from_utf8, so this cannot fail.
                out.push_str(std::str::from_utf8(&bytes[i..i + valid]).unwrap_or_default());
                i += valid;
                if cesu8_pair(&bytes[i..]).is_none() {
                    out.push(char::REPLACEMENT_CHARACTER);
                    i += e.error_len().unwrap_or(bytes.len() - i).max(1);
                }
            }
        }
    }
    out
}

/// A CESU-8 surrogate pair at the start of `b`: `ED A0..AF xx ED B0..BF xx`.
fn cesu8_pair(b: &[u8]) -> Option<(char, usize)> {
    if b.len() < 6 || b[0] != 0xED || !(0xA0..=0xAF).contains(&b[1]) || b[3] != 0xED {
        return None;
    }
    if !(0xB0..=0xBF).contains(&b[4]) || b[2] & 0xC0 != 0x80 || b[5] & 0xC0 != 0x80 {
        return None;
    }
    let unit = |x: &[u8]| (u32::from(x[0] & 0x0F) << 12) | (u32::from(x[1] & 0x3F) << 6) | u32::from(x[2] & 0x3F);
    let high = unit(&b[0..3]);
    let low = unit(&b[3..6]);
    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    char::from_u32(code).map(|c| (c, 6))
}

/// Jute writers. They cannot fail: limits are enforced on the finished frame.
pub trait JuteWrite {
    fn put_buffer(&mut self, data: Option<&[u8]>);
    fn put_string(&mut self, s: &str);
    fn put_bool(&mut self, b: bool);
    fn put_strings<S: AsRef<str>>(&mut self, items: &[S]);
}

impl JuteWrite for BytesMut {
    fn put_buffer(&mut self, data: Option<&[u8]>) {
        match data {
            None => self.put_i32(-1),
            Some(d) => {
                // Lengths above i32::MAX cannot be represented; the frame limit (far smaller)
                // rejects such a record before it is sent.
                self.put_i32(i32::try_from(d.len()).unwrap_or(i32::MAX));
                self.put_slice(d);
            }
        }
    }

    fn put_string(&mut self, s: &str) {
        self.put_buffer(Some(s.as_bytes()));
    }

    fn put_bool(&mut self, b: bool) {
        self.put_u8(u8::from(b));
    }

    fn put_strings<S: AsRef<str>>(&mut self, items: &[S]) {
        self.put_i32(i32::try_from(items.len()).unwrap_or(i32::MAX));
        for s in items {
            self.put_string(s.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_cesu8_surrogate_pairs() {
        // U+1F600 as Java's modified encoding: high D83D, low DE00.
        let cesu = [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80];
        assert_eq!(decode_java_utf8(&cesu), "\u{1F600}");
        let mixed = [b'a', 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80, b'b'];
        assert_eq!(decode_java_utf8(&mixed), "a\u{1F600}b");
    }

    #[test]
    fn replaces_invalid_bytes() {
        assert_eq!(decode_java_utf8(&[b'x', 0xFF, b'y']), "x\u{FFFD}y");
        assert_eq!(decode_java_utf8(&[0xED, 0xA0, 0xBD]), "\u{FFFD}\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn forged_vector_count_is_rejected_before_allocating() {
        let mut b = BytesMut::new();
        b.put_i32(i32::MAX);
        let mut r = Reader::new(b.freeze(), "test");
        assert!(matches!(r.strings("children"), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn forged_buffer_length_is_rejected() {
        let mut b = BytesMut::new();
        b.put_i32(1_000_000);
        b.put_slice(b"abc");
        let mut r = Reader::new(b.freeze(), "test");
        assert!(r.buffer("data").is_err());
        let mut b = BytesMut::new();
        b.put_i32(-7);
        assert!(matches!(Reader::new(b.freeze(), "t").buffer("data"), Err(DecodeError::NegativeLength { .. })));
    }
}
