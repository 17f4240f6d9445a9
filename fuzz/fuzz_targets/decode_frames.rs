//! Arbitrary bytes as a stream of received frames. Every frame is decoded as a reply (header,
//! then the body under every opcode), as a request, as a notification and as a handshake. No
//! decoder may panic; records that decode must re-encode to something that decodes to the same
//! value (decoding is a projection onto canonical encodings).

#![no_main]

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use zk_dsl_proto::any::{decode_reply_body, decode_request_body};
use zk_dsl_proto::{
    decode_exact, decode_frame, ConnectRequest, ConnectResponse, Decode, Encode, GetAclResponse, GetDataResponse,
    MultiRequest, MultiResponse, OpCode, Reader, ReplyHeader, RequestHeader, WatcherEvent, DEFAULT_MAX_PACKET,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    // Half the inputs use the default limit, the rest a small one so oversized frames are common.
    let max = if selector & 1 == 0 { DEFAULT_MAX_PACKET } else { usize::from(selector) * 4 };
    let mut buf = BytesMut::from(stream);
    loop {
        let before = buf.len();
        match decode_frame(&mut buf, max) {
            Ok(Some(frame)) => {
                assert!(frame.len() <= max, "frame over the limit");
                assert_eq!(buf.len(), before - 4 - frame.len(), "frame and buffer disagree");
                check_frame(frame);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "waiting consumed bytes");
                break;
            }
            Err(_) => break,
        }
    }
});

fn check_frame(frame: Bytes) {
    let mut r = Reader::new(frame.clone(), "fuzz reply");
    if ReplyHeader::decode(&mut r).is_ok() {
        let body = r.rest();
        for &op in OpCode::ALL {
            let _ = decode_reply_body(op, body.clone());
        }
        fixed_point::<WatcherEvent>(&body);
        fixed_point::<MultiResponse>(&body);
        fixed_point::<GetDataResponse>(&body);
        fixed_point::<GetAclResponse>(&body);
    }
    let mut r = Reader::new(frame.clone(), "fuzz request");
    if let Ok(header) = RequestHeader::decode(&mut r) {
        let body = r.rest();
        if let Ok(op) = OpCode::from_code(header.op) {
            let _ = decode_request_body(op, body.clone());
        }
        fixed_point::<MultiRequest<'static>>(&body);
    }
    fixed_point::<ConnectResponse>(&frame);
    fixed_point::<ConnectRequest>(&frame);
}

fn fixed_point<T: Decode + Encode + PartialEq + Debug>(bytes: &Bytes) {
    let Ok(value) = decode_exact::<T>(bytes.clone(), "fuzz") else {
        return;
    };
    let mut again = BytesMut::new();
    value.encode(&mut again);
    let back = decode_exact::<T>(again.freeze(), "fuzz re-encoded").expect("re-encoding must decode");
    assert_eq!(back, value);
}
