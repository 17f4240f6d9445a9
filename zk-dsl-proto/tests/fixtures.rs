//! Byte-exact fixtures. Every hex literal here was worked out by hand from the jute rules
//! (big-endian ints and longs, one-byte booleans, length-prefixed buffers and strings,
//! count-prefixed vectors, fields in declaration order), not produced by our encoder, so these
//! tests catch an encoder and decoder that agree with each other but not with ZooKeeper.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use zk_dsl_proto::any::{decode_reply_body, decode_request_body, ReplyBody, RequestBody};
use zk_dsl_proto::{
    decode_exact, decode_frame, encode_bare, encode_request, Acl, AuthPacket, ChildrenResponse, ConnectRequest,
    CreateMode, CreateRequest, Decode, Encode, ErrorCode, EventType, KeeperState, MultiResponse, MultiResult, OpCode,
    Perms, Reader, ReplyHeader, RequestHeader, Stat, WatcherEvent, DEFAULT_MAX_PACKET,
};

/// Hex to bytes; whitespace and `_` are layout only.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'_').collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).expect("hex digit"))
        .collect()
}

fn encode(value: &dyn Encode) -> Vec<u8> {
    let mut buf = BytesMut::new();
    value.encode(&mut buf);
    buf.to_vec()
}

/// Exactly one frame in `wire`; returns its payload.
fn single_frame(wire: &[u8]) -> Bytes {
    let mut buf = BytesMut::from(wire);
    let frame = decode_frame(&mut buf, DEFAULT_MAX_PACKET).unwrap().expect("a whole frame");
    assert!(buf.is_empty(), "bytes after the frame");
    frame
}

// ---------------------------------------------------------------------------------------------
// ConnectRequest for a new session.

const CONNECT_NEW_SESSION: &str = "
    00000000            protocolVersion 0
    0000000000000000    lastZxidSeen 0
    00007530            timeOut 30000
    0000000000000000    sessionId 0
    00000010            passwd length 16
    00000000000000000000000000000000
    00                  readOnly false
";

/// Hex laid out one field per line with a description after it: on each line, the words up to
/// the first one that is not all hex digits.
fn annotated(s: &str) -> Vec<u8> {
    let mut out = String::new();
    for line in s.lines() {
        for word in line.split_whitespace() {
            if word.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_') {
                out.push_str(word);
            } else {
                break;
            }
        }
    }
    hex(&out)
}

fn new_session_request() -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        password: vec![0; 16],
        read_only: false,
    }
}

#[test]
fn connect_request_for_a_new_session_is_45_bytes() {
    let expected = annotated(CONNECT_NEW_SESSION);
    assert_eq!(expected.len(), 45);
    assert_eq!(encode(&new_session_request()), expected);
    assert_eq!(
        decode_exact::<ConnectRequest>(Bytes::from(expected.clone()), "fixture").unwrap(),
        new_session_request()
    );

    let mut framed = BytesMut::new();
    encode_bare(&mut framed, &new_session_request(), DEFAULT_MAX_PACKET).unwrap();
    assert_eq!(framed.len(), 49);
    assert_eq!(&framed[..4], &hex("0000002d"));
    assert_eq!(&framed[4..], &expected[..]);
}

// ---------------------------------------------------------------------------------------------
// create("/a", "hi", OPEN_ACL_UNSAFE, EPHEMERAL) as xid 1.

const CREATE_FRAME_BODY: &str = "
    00000002 2f61                   path \"/a\"
    00000002 6869                   data \"hi\"
    00000001                        one ACL
    0000001f                        perms ALL (31)
    00000005 776f726c64             scheme \"world\"
    00000006 616e796f6e65           id \"anyone\"
    00000001                        flags 1 (EPHEMERAL)
";

fn create_a() -> CreateRequest<'static> {
    CreateRequest {
        path: Cow::Borrowed("/a"),
        data: Some(Cow::Borrowed(b"hi")),
        acl: Cow::Owned(Acl::open_unsafe()),
        mode: CreateMode::Ephemeral,
        ttl: 0,
    }
}

#[test]
fn create_request_frame_byte_for_byte() {
    for (op, op_hex) in [(OpCode::Create, "00000001"), (OpCode::Create2, "0000000f")] {
        // 8 header + 6 path + 6 data + 4 count + 4 perms + 9 scheme + 10 id + 4 flags = 51.
        let expected = [hex("00000033"), hex("00000001"), hex(op_hex), annotated(CREATE_FRAME_BODY)].concat();
        assert_eq!(expected.len(), 4 + 51);
        let mut wire = BytesMut::new();
        encode_request(&mut wire, 1, op, Some(&create_a()), DEFAULT_MAX_PACKET).unwrap();
        assert_eq!(&wire[..], &expected[..], "{op}");

        let frame = single_frame(&expected);
        let mut r = Reader::new(frame.clone(), "create frame");
        assert_eq!(RequestHeader::decode(&mut r).unwrap(), RequestHeader { xid: 1, op: op.code() });
        let RequestBody::Create(body) = decode_request_body(op, r.rest()).unwrap() else { panic!("not a create") };
        assert_eq!(body, create_a());
        assert_eq!(body.acl[0].perms, Perms::ALL);
        assert_eq!(body.acl[0].id.to_string(), "world:anyone");
    }
}

#[test]
fn ping_and_auth_frames() {
    let mut wire = BytesMut::new();
    encode_request(&mut wire, -2, OpCode::Ping, None, DEFAULT_MAX_PACKET).unwrap();
    assert_eq!(&wire[..], &hex("00000008 fffffffe 0000000b"));

    let auth = AuthPacket { kind: 0, scheme: "digest".into(), auth: Cow::Borrowed(b"u:p") };
    let mut wire = BytesMut::new();
    encode_request(&mut wire, -4, OpCode::Auth, Some(&auth), DEFAULT_MAX_PACKET).unwrap();
    let expected = hex("0000001d fffffffc 00000064 \
         00000000 00000006 646967657374 00000003 753a70");
    assert_eq!(&wire[..], &expected[..]);
}

// ---------------------------------------------------------------------------------------------
// A multi of three ops whose second failed with NodeExists.

const MULTI_FAILED_REPLY: &str = "
    00000040                        frame length 16 + 3 * 13 + 9 = 64
    00000009 0000000100000abc 00000000   ReplyHeader xid 9, zxid 0x100000abc, err 0 (even so)
    ffffffff 00 00000000 00000000   ErrorResult: type -1, done false, err 0, body err 0 (rolled back)
    ffffffff 00 ffffff92 ffffff92   ErrorResult -110 NodeExists (the cause)
    ffffffff 00 fffffffe fffffffe   ErrorResult -2 RuntimeInconsistency (skipped)
    ffffffff 01 ffffffff            terminator: type -1, done true, err -1
";

#[test]
fn multi_reply_with_a_failed_second_op() {
    let wire = annotated(MULTI_FAILED_REPLY);
    assert_eq!(wire.len(), 4 + 64);
    let frame = single_frame(&wire);
    let mut r = Reader::new(frame, "multi reply");
    let header = ReplyHeader::decode(&mut r).unwrap();
    assert_eq!(header, ReplyHeader { xid: 9, zxid: 0x1_0000_0abc, err: 0 });
    let body = r.rest();

    let expected = MultiResponse {
        results: vec![
            MultiResult::Error { code: 0 },
            MultiResult::Error { code: -110 },
            MultiResult::Error { code: -2 },
        ],
    };
    let decoded: MultiResponse = decode_exact(body.clone(), "MultiResponse").unwrap();
    assert_eq!(decoded, expected);
    assert_eq!(decoded.first_error(), Some((1, -110)));
    assert_eq!(ErrorCode::from_code(-110).unwrap(), ErrorCode::NodeExists);
    assert_eq!(decode_reply_body(OpCode::Multi, body.clone()).unwrap(), ReplyBody::Multi(expected.clone()));
    // And our encoder writes exactly these bytes.
    assert_eq!(encode(&expected), &body[..]);
}

#[test]
fn multi_reply_with_successful_results() {
    // create "/x" (type 1: path only), delete (type 2: no body), check (type 13: no body).
    let body = hex("00000001 00 00000000 00000002 2f78 \
         00000002 00 00000000 \
         0000000d 00 00000000 \
         ffffffff 01 ffffffff");
    let decoded: MultiResponse = decode_exact(Bytes::from(body), "MultiResponse").unwrap();
    assert_eq!(
        decoded.results,
        vec![MultiResult::Create { path: "/x".into(), stat: None }, MultiResult::Delete, MultiResult::Check]
    );
    assert_eq!(decoded.first_error(), None);
}

// ---------------------------------------------------------------------------------------------
// A watch notification.

#[test]
fn watcher_event_notification_frame() {
    let wire = hex("00000020 \
         ffffffff ffffffffffffffff 00000000 \
         00000003 00000003 00000004 2f612f62");
    let frame = single_frame(&wire);
    let mut r = Reader::new(frame, "notification");
    let header = ReplyHeader::decode(&mut r).unwrap();
    assert_eq!(header, ReplyHeader { xid: -1, zxid: -1, err: 0 });
    let event = WatcherEvent::decode(&mut r).unwrap();
    r.finish().unwrap();
    assert_eq!(
        event,
        WatcherEvent { event_type: EventType::NodeDataChanged, state: KeeperState::SyncConnected, path: "/a/b".into() }
    );

    // A 3.9 server puts the triggering zxid in the header; a session event has type None (-1)
    // and an empty path; Expired is -112 (0xffffff90).
    let wire = hex("0000001c \
         ffffffff 0000000200000007 00000000 \
         ffffffff ffffff90 00000000");
    let frame = single_frame(&wire);
    let header: ReplyHeader = decode_exact(frame.slice(..16), "header").unwrap();
    assert_eq!(header.zxid, 0x2_0000_0007);
    let event: WatcherEvent = decode_exact(frame.slice(16..), "event").unwrap();
    assert_eq!(event, WatcherEvent { event_type: EventType::None, state: KeeperState::Expired, path: String::new() });
    assert_eq!(decode_reply_body(OpCode::Notification, frame.slice(16..)).unwrap(), ReplyBody::Event(event));
}

// ---------------------------------------------------------------------------------------------
// Stat: 68 bytes, pzxid last.

const STAT: &str = "
    0000000100000002    czxid
    0000000100000003    mzxid
    0102030405060708    ctime
    1112131415161718    mtime
    00000005            version
    00000006            cversion
    00000007            aversion
    8000000000000000    ephemeralOwner (a container: Long.MIN_VALUE)
    0000000a            dataLength
    0000000b            numChildren
    0000000100000009    pzxid
";

fn expected_stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0002,
        mzxid: 0x1_0000_0003,
        ctime: 0x0102_0304_0506_0708,
        mtime: 0x1112_1314_1516_1718,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: i64::MIN,
        data_length: 10,
        num_children: 11,
        pzxid: 0x1_0000_0009,
    }
}

#[test]
fn stat_is_68_bytes_with_pzxid_last() {
    let bytes = annotated(STAT);
    assert_eq!(bytes.len(), 68);
    assert_eq!(bytes.len(), Stat::LEN);
    let stat: Stat = decode_exact(Bytes::from(bytes.clone()), "Stat").unwrap();
    assert_eq!(stat, expected_stat());
    assert!(stat.is_container() && !stat.is_ephemeral() && !stat.is_ttl());
    assert_eq!(encode(&stat), bytes);
    assert_eq!(&bytes[60..], &hex("0000000100000009"), "pzxid is the last 8 bytes");

    // A TTL node's owner: 0xFF00_0000_0000_0000 | ttl.
    let mut ttl = bytes.clone();
    ttl[44..52].copy_from_slice(&hex("ff000000000003e8"));
    let stat: Stat = decode_exact(Bytes::from(ttl), "Stat").unwrap();
    assert_eq!(stat.ttl_ms(), Some(1000));
    // An ephemeral node's owner is the session id.
    let mut eph = bytes;
    eph[44..52].copy_from_slice(&hex("0100000000000abc"));
    let stat: Stat = decode_exact(Bytes::from(eph), "Stat").unwrap();
    assert!(stat.is_ephemeral());
    assert_eq!(stat.ephemeral_owner, 0x0100_0000_0000_0abc);
    // 67 bytes are not a Stat.
    assert!(decode_exact::<Stat>(Bytes::from(annotated(STAT)[..67].to_vec()), "Stat").is_err());
}

// ---------------------------------------------------------------------------------------------
// getChildren2 reply.

#[test]
fn get_children2_reply() {
    // 16 header + 4 count + 5 "a" + 6 "bc" + 68 Stat = 99 (0x63).
    let wire = [hex("00000063 00000007 0000000000000010 00000000 00000002 00000001 61 00000002 6263"), annotated(STAT)]
        .concat();
    let frame = single_frame(&wire);
    assert_eq!(frame.len(), 99);
    let mut r = Reader::new(frame.clone(), "getChildren2");
    assert_eq!(ReplyHeader::decode(&mut r).unwrap(), ReplyHeader { xid: 7, zxid: 16, err: 0 });
    let reply = ChildrenResponse::decode_versioned(&mut r, true).unwrap();
    r.finish().unwrap();
    let expected = ChildrenResponse { children: vec!["a".into(), "bc".into()], stat: Some(expected_stat()) };
    assert_eq!(reply, expected);
    assert_eq!(decode_reply_body(OpCode::GetChildren2, frame.slice(16..)).unwrap(), ReplyBody::Children(expected));
    // Read as a plain getChildren reply, the Stat is 68 bytes too many.
    assert!(decode_reply_body(OpCode::GetChildren, frame.slice(16..)).is_err());
}

#[test]
fn error_reply_has_no_body() {
    // exists on a missing node: NoNode (-101 = 0xffffff9b), header only.
    let frame = single_frame(&hex("00000010 00000003 0000000000000011 ffffff9b"));
    let header: ReplyHeader = decode_exact(frame, "ReplyHeader").unwrap();
    assert_eq!(header, ReplyHeader { xid: 3, zxid: 17, err: -101 });
    assert_eq!(ErrorCode::from_code(header.err).unwrap(), ErrorCode::NoNode);
}
