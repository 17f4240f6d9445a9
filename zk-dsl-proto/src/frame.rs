//! Framing: every packet, both ways, is a 4-byte big-endian length and then the payload.
//!
//! The two directions have separate limits. Requests are held to the servers' `jute.maxbuffer`
//! (default 0xfffff, 1,048,575 bytes), which is what a server accepts: one that would exceed it is
//! refused before sending. Replies have a read limit of their own ([`DEFAULT_MAX_READ_PACKET`]),
//! because the server limits only what it receives: a small `getChildren` can answer with
//! megabytes, and a `getData` of the largest writable node answers with the data plus a reply
//! header and a Stat. [`FrameReader`] (the client's reading side) turns a reply over the read
//! limit into [`Incoming::TooLarge`] once its header has arrived and discards the rest as it
//! streams in, without buffering it, so only that one request fails. [`decode_frame`] (for
//! simple readers: handshakes, tests, the benchmark's raw client) refuses it outright. A negative
//! length is always a protocol error.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::codes::OpCode;
use super::jute::Encode;
use super::records::RequestHeader;

/// ZooKeeper's default `jute.maxbuffer`: the largest payload (after the length prefix).
pub const DEFAULT_MAX_PACKET: usize = 0xfffff;

/// Length prefix size.
pub const LENGTH_PREFIX: usize = 4;

/// The default read limit: 16 MiB, room for a listing of about a million short child names
/// (200,000 children take about 2.2 MB) while a broken or hostile server still cannot make the
/// client buffer more than this for one reply.
pub const DEFAULT_MAX_READ_PACKET: usize = 16 << 20;

/// The smallest packet limit that makes sense: a handshake plus a short path barely fits in
/// less, so a smaller value is a unit mistake (bytes for KiB), refused when the client is built.
pub const MIN_PACKET: usize = 1024;

/// How much larger a reply can be than the request that wrote what it returns: a `getData`
/// reply carries a 16-byte reply header, the data and a 68-byte Stat, while the `setData` that
/// wrote it took an 8-byte header, the path (at least `"/"`, 5 bytes) and a 4-byte version: 67
/// bytes more, rounded up. The read limit is never below the write limit plus this, so every
/// node the client can write, it can read back.
pub const REPLY_OVERHEAD: usize = 128;

/// What [`FrameReader`] keeps free in its shared buffer for one read.
pub const READ_CHUNK: usize = 64 << 10;

/// A reply larger than this that has not fully arrived gets a buffer of its own, sized exactly,
/// and is read straight into it (no copy); smaller replies are copied out of the shared buffer.
pub const OWN_BUFFER_MIN: usize = 16 << 10;

/// How many leading bytes of an over-limit frame [`FrameReader`] hands over: a reply header
/// (xid, zxid, err), enough to tell which request it answers.
pub const OVERSIZED_HEAD: usize = 16;

/// A frame that cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The declared length is negative.
    NegativeLength(i32),
    /// The declared (or, when sending, actual) length exceeds the limit.
    TooLarge { length: usize, max: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::NegativeLength(n) => write!(f, "negative frame length {n}"),
            FrameError::TooLarge { length, max } => {
                write!(f, "frame of {length} bytes exceeds the {max}-byte packet limit (jute.maxbuffer)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Splits complete frames off the front of a receive buffer.
///
/// Returns `Ok(None)` until a whole frame is buffered. The length is validated as soon as the
/// four prefix bytes arrive, so an oversized or negative frame is rejected before its payload
/// is read, and the buffer is only ever asked to hold one legal frame.
pub fn decode_frame(src: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if src.len() < LENGTH_PREFIX {
        return Ok(None);
    }
    let declared = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
    if declared < 0 {
        return Err(FrameError::NegativeLength(declared));
    }
    let length = declared as usize;
    if length > max {
        return Err(FrameError::TooLarge { length, max });
    }
    if src.len() < LENGTH_PREFIX + length {
        // Make room for the rest of this frame in one allocation.
        src.reserve(LENGTH_PREFIX + length - src.len());
        return Ok(None);
    }
    src.advance(LENGTH_PREFIX);
    Ok(Some(src.split_to(length).freeze()))
}

/// What [`FrameReader::next_frame`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A whole frame's payload, in an allocation of its own.
    Frame(Bytes),
    /// A frame whose declared `length` exceeds the read limit: its first bytes (up to
    /// [`OVERSIZED_HEAD`]), enough to tell which request it answers. The rest is discarded as it
    /// arrives.
    TooLarge { length: usize, head: Bytes },
}

/// The reading side of a connection: a read buffer and the frames split off it.
///
/// Two rules keep memory honest:
///
/// * **Every frame owns its allocation.** A frame that arrives whole among others is copied out
///   of the shared buffer (at most one buffer's worth, a memcpy next to the read that brought
///   it); a frame over [`OWN_BUFFER_MIN`] still arriving gets an exactly sized buffer of its own,
///   is read straight into it and handed over without a copy. So a value kept from a reply
///   costs about its own size: it never pins the buffer its neighbours arrived in (a 4-byte
///   value read next to megabyte replies used to keep 64 KiB and more alive).
/// * **An over-limit frame is never buffered.** Once its length and header are in, it is
///   reported as [`Incoming::TooLarge`] and the rest of its bytes are dropped as they come.
#[derive(Debug)]
pub struct FrameReader {
    buf: BytesMut,
    max: usize,
    /// Bytes of an over-limit frame still to discard.
    skip: usize,
    /// `buf` holds exactly one large frame being filled (its capacity is that frame's size).
    own: bool,
}

impl FrameReader {
    /// A reader refusing frames over `max` bytes of payload.
    pub fn new(max: usize) -> FrameReader {
        FrameReader { buf: BytesMut::with_capacity(READ_CHUNK), max, skip: 0, own: false }
    }

    /// The buffer to read into, with room for a read. Only append to it.
    pub fn buffer(&mut self) -> &mut BytesMut {
        if !self.own && self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        &mut self.buf
    }

    /// Bytes buffered and not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next frame, `Ok(None)` until one is complete (or an over-limit one's header is in).
    pub fn next_frame(&mut self) -> Result<Option<Incoming>, FrameError> {
        self.discard();
        if self.skip > 0 || self.buf.len() < LENGTH_PREFIX {
            return Ok(None);
        }
        let declared = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if declared < 0 {
            return Err(FrameError::NegativeLength(declared));
        }
        let length = declared as usize;
        let whole = LENGTH_PREFIX + length;
        if length > self.max {
            let head_len = OVERSIZED_HEAD.min(length);
            if self.buf.len() < LENGTH_PREFIX + head_len {
                return Ok(None);
            }
            self.buf.advance(LENGTH_PREFIX);
            let head = Bytes::copy_from_slice(&self.buf[..head_len]);
            self.buf.advance(head_len);
            self.skip = length - head_len;
            self.discard();
            return Ok(Some(Incoming::TooLarge { length, head }));
        }
        if self.buf.len() >= whole {
            let frame = if self.own {
                self.own = false;
                let mut own = std::mem::take(&mut self.buf);
                if own.len() > whole {
                    // Only if a read appended past the frame's exact capacity; keep the rest.
                    self.buf = own.split_off(whole);
                }
                own.advance(LENGTH_PREFIX);
                own.freeze()
            } else {
                let frame = Bytes::copy_from_slice(&self.buf[LENGTH_PREFIX..whole]);
                self.buf.advance(whole);
                frame
            };
            return Ok(Some(Incoming::Frame(frame)));
        }
        // Incomplete: everything buffered belongs to this frame.
        if !self.own {
            if length > OWN_BUFFER_MIN {
                let mut own = BytesMut::with_capacity(whole);
                own.extend_from_slice(&self.buf);
                self.buf = own;
                self.own = true;
            } else {
                self.buf.reserve(whole - self.buf.len());
            }
        }
        Ok(None)
    }

    /// Drops what is buffered of an over-limit frame.
    fn discard(&mut self) {
        let n = self.skip.min(self.buf.len());
        self.buf.advance(n);
        self.skip -= n;
    }
}

/// Writes a complete frame (`length, header, body`) and checks it against the limit; on error
/// nothing is left in `buf`.
pub fn encode_request(
    buf: &mut BytesMut,
    xid: i32,
    op: OpCode,
    body: Option<&dyn Encode>,
    max: usize,
) -> Result<(), FrameError> {
    let start = buf.len();
    buf.put_i32(0);
    RequestHeader { xid, op: op.code() }.encode(buf);
    if let Some(body) = body {
        body.encode(buf);
    }
    finish_frame(buf, start, max)
}

/// Writes a frame with no request header (the session handshake).
pub fn encode_bare(buf: &mut BytesMut, body: &dyn Encode, max: usize) -> Result<(), FrameError> {
    let start = buf.len();
    buf.put_i32(0);
    body.encode(buf);
    finish_frame(buf, start, max)
}

fn finish_frame(buf: &mut BytesMut, start: usize, max: usize) -> Result<(), FrameError> {
    let length = buf.len() - start - LENGTH_PREFIX;
    if length > max {
        buf.truncate(start);
        return Err(FrameError::TooLarge { length, max });
    }
    // length <= max <= i32::MAX was just checked.
    buf[start..start + LENGTH_PREFIX].copy_from_slice(&(length as i32).to_be_bytes());
    Ok(())
}

/// Offset of the xid within a request frame made by [`encode_request`]. The client encodes
/// frames on the caller's task with a placeholder xid; the connection task stamps the real one
/// when it sends, so xids follow send order.
pub const XID_OFFSET: usize = LENGTH_PREFIX;

/// Stamps `xid` into a frame made by [`encode_request`].
pub fn set_xid(frame: &mut [u8], xid: i32) {
    frame[XID_OFFSET..XID_OFFSET + 4].copy_from_slice(&xid.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_and_waits_for_more() {
        let mut b = BytesMut::new();
        b.put_i32(3);
        b.put_slice(b"ab");
        assert_eq!(decode_frame(&mut b, 10), Ok(None));
        b.put_slice(b"cd");
        assert_eq!(decode_frame(&mut b, 10).unwrap().unwrap(), Bytes::from_static(b"abc"));
        assert_eq!(&b[..], b"d");
    }

    #[test]
    fn rejects_bad_lengths_before_buffering() {
        let mut b = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(decode_frame(&mut b, 10), Err(FrameError::NegativeLength(-1)));
        let mut b = BytesMut::from(&(11i32).to_be_bytes()[..]);
        assert_eq!(decode_frame(&mut b, 10), Err(FrameError::TooLarge { length: 11, max: 10 }));
        assert!(b.capacity() < 64, "nothing reserved for a rejected frame");
    }

    fn feed(reader: &mut FrameReader, bytes: &[u8]) {
        reader.buffer().extend_from_slice(bytes);
    }

    #[test]
    fn reader_splits_frames_into_their_own_allocations() {
        let mut r = FrameReader::new(1 << 20);
        let mut wire = BytesMut::new();
        for payload in [&b"abc"[..], b"", b"defg"] {
            wire.put_i32(payload.len() as i32);
            wire.put_slice(payload);
        }
        feed(&mut r, &wire[..5]);
        assert_eq!(r.next_frame(), Ok(None));
        feed(&mut r, &wire[5..]);
        assert_eq!(r.next_frame(), Ok(Some(Incoming::Frame(Bytes::from_static(b"abc")))));
        assert_eq!(r.next_frame(), Ok(Some(Incoming::Frame(Bytes::new()))));
        let Ok(Some(Incoming::Frame(last))) = r.next_frame() else { panic!("a third frame") };
        assert_eq!(&last[..], b"defg");
        assert!(!r.buf.as_ptr_range().contains(&last.as_ptr()), "a small frame is copied out");
        assert_eq!(r.next_frame(), Ok(None));
    }

    #[test]
    fn reader_reads_a_large_frame_into_an_exact_buffer() {
        let mut r = FrameReader::new(1 << 20);
        let payload = vec![7u8; 100_000];
        let mut wire = BytesMut::new();
        wire.put_i32(payload.len() as i32);
        wire.put_slice(&payload);
        wire.put_i32(1);
        wire.put_u8(9);
        feed(&mut r, &wire[..1000]);
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.buf.capacity(), 100_004, "sized for exactly this frame");
        // The socket read takes no more than the frame's own capacity.
        let rest = r.buf.capacity() - r.buf.len();
        feed(&mut r, &wire[1000..1000 + rest]);
        assert_eq!(r.next_frame(), Ok(Some(Incoming::Frame(Bytes::from(payload)))));
        feed(&mut r, &wire[1000 + rest..]);
        assert_eq!(r.next_frame(), Ok(Some(Incoming::Frame(Bytes::from_static(&[9])))));
    }

    #[test]
    fn reader_discards_an_over_limit_frame_without_buffering_it() {
        let mut r = FrameReader::new(4096);
        let length = 10 << 20;
        let mut head = BytesMut::new();
        head.put_i32(length as i32);
        head.put_slice(&[1; OVERSIZED_HEAD]);
        feed(&mut r, &head[..10]);
        assert_eq!(r.next_frame(), Ok(None), "waits for the header");
        feed(&mut r, &head[10..]);
        let expected = Incoming::TooLarge { length, head: Bytes::copy_from_slice(&[1; OVERSIZED_HEAD]) };
        assert_eq!(r.next_frame(), Ok(Some(expected)));
        let mut left = length - OVERSIZED_HEAD;
        let chunk = vec![0u8; 50_000];
        while left > 0 {
            let n = left.min(chunk.len());
            feed(&mut r, &chunk[..n]);
            left -= n;
            assert_eq!(r.next_frame(), Ok(None));
            assert!(r.buf.capacity() < 4 * READ_CHUNK, "buffered {} bytes", r.buf.capacity());
        }
        let mut next = BytesMut::new();
        next.put_i32(2);
        next.put_slice(b"ok");
        feed(&mut r, &next);
        assert_eq!(r.next_frame(), Ok(Some(Incoming::Frame(Bytes::from_static(b"ok")))));
        feed(&mut r, &(-1i32).to_be_bytes());
        assert_eq!(r.next_frame(), Err(FrameError::NegativeLength(-1)));
    }

    #[test]
    fn refuses_to_send_oversized_frames() {
        let mut b = BytesMut::new();
        b.put_slice(b"keep");
        let big = super::super::requests::PathRequest { path: "x".repeat(100).into() };
        let err = encode_request(&mut b, 1, OpCode::Sync, Some(&big), 50).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
        assert_eq!(&b[..], b"keep");
    }
}
