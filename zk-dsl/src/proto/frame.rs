//! Framing: every packet, both ways, is a 4-byte big-endian length and then the payload.
//!
//! Both directions enforce the same limit as ZooKeeper's `jute.maxbuffer` (default 0xfffff,
//! 1,048,575 bytes): a request that would exceed it is refused before sending, and a reply that
//! claims more (or a negative length) is a protocol error before any byte of it is buffered.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::codes::OpCode;
use super::jute::Encode;
use super::records::RequestHeader;

/// ZooKeeper's default `jute.maxbuffer`: the largest payload (after the length prefix).
pub const DEFAULT_MAX_PACKET: usize = 0xfffff;

/// Length prefix size.
pub const LENGTH_PREFIX: usize = 4;

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
