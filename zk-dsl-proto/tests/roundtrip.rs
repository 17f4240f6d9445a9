//! Every record of the protocol module survives encode → decode unchanged, with nothing left
//! over (`decode_exact`), and frames survive `encode_request` → `decode_frame`.

use std::borrow::Cow;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use zk_dsl_proto::{
    decode_exact, decode_frame, encode_bare, encode_request, xid, Acl, AddWatchMode, AddWatchRequest, AuthPacket,
    ChildrenResponse, ClientInfo, ConnectRequest, ConnectResponse, Create2Response, CreateMode, CreateRequest, Decode,
    DecodeError, Encode, EventType, GetAclResponse, GetDataResponse, Id, IntResponse, KeeperState, MultiOp,
    MultiRequest, MultiResponse, MultiResult, OpCode, PathRequest, PathResponse, PathVersionRequest, PathWatchRequest,
    Perms, Reader, ReplyHeader, RequestHeader, SetAclRequest, SetDataRequest, SetWatches, Stat, WatcherEvent,
    WatcherType, WatchesRequest, WhoAmIResponse, DEFAULT_MAX_PACKET,
};

fn encode(value: &dyn Encode) -> Bytes {
    let mut buf = BytesMut::new();
    value.encode(&mut buf);
    buf.freeze()
}

/// Encodes, decodes with `decode_exact`, and checks equality; returns the encoding.
fn round_trip<T: Encode + Decode + PartialEq + Debug>(value: &T) -> Bytes {
    let bytes = encode(value);
    let back: T = decode_exact(bytes.clone(), "round trip").unwrap_or_else(|e| panic!("{value:?}: {e}"));
    assert_eq!(&back, value);
    // One byte more is refused; one byte less is refused (no record here ends in an optional field
    // except the connect records, which are checked separately).
    let mut longer = BytesMut::from(&bytes[..]);
    longer.extend_from_slice(&[0]);
    assert!(
        matches!(decode_exact::<T>(longer.freeze(), "longer"), Err(DecodeError::TrailingBytes { count: 1, .. })),
        "{value:?} accepted a trailing byte"
    );
    bytes
}

fn versioned<T: PartialEq + Debug>(
    value: &T,
    enc: &dyn Encode,
    decode: impl Fn(&mut Reader) -> Result<T, DecodeError>,
) -> Bytes {
    let bytes = encode(enc);
    let mut r = Reader::new(bytes.clone(), "versioned");
    let back = decode(&mut r).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    r.finish().unwrap();
    assert_eq!(&back, value);
    bytes
}

fn stat(seed: i64) -> Stat {
    Stat {
        czxid: seed.wrapping_neg(),
        mzxid: i64::MIN.wrapping_add(seed),
        ctime: 1_700_000_000_000_i64.wrapping_add(seed),
        mtime: i64::MAX.wrapping_sub(seed),
        version: -1,
        cversion: i32::MAX,
        aversion: i32::MIN,
        ephemeral_owner: 0x0123_4567_89ab_cdef,
        data_length: 0,
        num_children: 7,
        pzxid: -0x7fff_0000_0000_0001,
    }
}

fn acls() -> Vec<Acl> {
    vec![
        Acl::new(Perms::ALL, "world", "anyone"),
        Acl::new(Perms::READ | Perms::ADMIN, "digest", "üser:hash=="),
        Acl::new(Perms::NONE, "", ""),
        Acl { perms: Perms::from_bits(0x8000_0000), id: Id::new("ip", "10.0.0.0/8") },
    ]
}

const UNICODE_PATH: &str = "/zk/名前/ノード/é";

#[test]
fn connect_request() {
    let bytes = round_trip(&ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: -42,
        timeout_ms: 30_000,
        session_id: 0x1234_5678_9abc_def0,
        password: (0u8..16).collect(),
        read_only: true,
    });
    assert_eq!(bytes.len(), 45);
    round_trip(&ConnectRequest {
        protocol_version: -1,
        last_zxid_seen: i64::MIN,
        timeout_ms: 0,
        session_id: -1,
        password: Vec::new(),
        read_only: false,
    });
}

#[test]
fn connect_response_with_and_without_read_only() {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 4000,
        session_id: -0x0fed_cba9_8765_4321,
        password: vec![0xff; 16],
        read_only: true,
    };
    let bytes = round_trip(&resp);
    assert_eq!(bytes.len(), 4 + 4 + 8 + 4 + 16 + 1);
    // A pre-3.4 server omits the trailing readOnly byte: read as false.
    let old: ConnectResponse = decode_exact(bytes.slice(..bytes.len() - 1), "old").unwrap();
    assert_eq!(old, ConnectResponse { read_only: false, ..resp.clone() });
    // The expired-session answer.
    let expired =
        ConnectResponse { protocol_version: 0, timeout_ms: 0, session_id: 0, password: vec![0; 16], read_only: false };
    round_trip(&expired);
    assert!(expired.is_expired());
    assert!(!resp.is_expired());
}

#[test]
fn headers() {
    for (xid, op) in
        [(1, OpCode::Create2), (i32::MAX, OpCode::Multi), (xid::PING, OpCode::Ping), (xid::AUTH, OpCode::Auth)]
    {
        assert_eq!(round_trip(&RequestHeader { xid, op: op.code() }).len(), 8);
    }
    // An unknown opcode is kept raw.
    round_trip(&RequestHeader { xid: -8, op: 9999 });
    for h in [
        ReplyHeader { xid: 1, zxid: 0x1_0000_0001, err: 0 },
        ReplyHeader { xid: xid::NOTIFICATION, zxid: -1, err: 0 },
        ReplyHeader { xid: 17, zxid: i64::MIN, err: -110 },
    ] {
        assert_eq!(round_trip(&h).len(), ReplyHeader::LEN);
    }
}

#[test]
fn watcher_events() {
    for &event_type in EventType::ALL {
        for &state in KeeperState::ALL {
            round_trip(&WatcherEvent { event_type, state, path: UNICODE_PATH.into() });
        }
    }
    round_trip(&WatcherEvent { event_type: EventType::None, state: KeeperState::Expired, path: String::new() });
}

#[test]
fn stat_acl_and_id() {
    for seed in [0, 1, -1, i64::MAX / 3] {
        let s = stat(seed);
        assert_eq!(round_trip(&s).len(), Stat::LEN);
    }
    round_trip(&Stat::default());
    for acl in acls() {
        round_trip(&acl);
    }
    // Acl with the smallest possible encoding.
    assert_eq!(round_trip(&Acl::new(Perms::NONE, "", "")).len(), 12);
}

#[test]
fn create_request_in_every_mode() {
    assert_eq!(CreateMode::ALL.len(), 7);
    for &mode in CreateMode::ALL {
        let ttl = if mode.is_ttl() { 0xFF_FFFF_FFFF } else { 0 };
        let req = CreateRequest {
            path: Cow::Borrowed(UNICODE_PATH),
            data: Some(Cow::Borrowed(&[0, 1, 2, 0xff][..])),
            acl: Cow::Owned(acls()),
            mode,
            ttl,
        };
        let bytes = round_trip(&req);
        let without_ttl = encode(&CreateRequest { mode: CreateMode::Persistent, ttl: 0, ..req.clone() }).len();
        assert_eq!(bytes.len(), without_ttl + if mode.is_ttl() { 8 } else { 0 }, "{mode}");
        // Null data and an empty ACL list.
        round_trip(&CreateRequest { data: None, acl: Cow::Owned(Vec::new()), path: Cow::Borrowed(""), ..req });
    }
}

#[test]
fn path_requests() {
    for version in [-1, 0, i32::MAX] {
        round_trip(&PathVersionRequest { path: UNICODE_PATH.into(), version });
    }
    round_trip(&PathVersionRequest { path: "".into(), version: i32::MIN });
    for watch in [false, true] {
        round_trip(&PathWatchRequest { path: "/a".into(), watch });
    }
    round_trip(&PathRequest { path: UNICODE_PATH.into() });
    round_trip(&PathRequest { path: "".into() });
}

#[test]
fn set_data_and_set_acl() {
    round_trip(&SetDataRequest { path: "/d".into(), data: Some(Cow::Owned(vec![7; 300])), version: -1 });
    round_trip(&SetDataRequest { path: UNICODE_PATH.into(), data: Some(Cow::Borrowed(&[])), version: 3 });
    let null = round_trip(&SetDataRequest { path: "/d".into(), data: None, version: 0 });
    assert_eq!(&null[6..10], &(-1i32).to_be_bytes(), "null data is length -1");
    round_trip(&SetAclRequest { path: UNICODE_PATH.into(), acl: Cow::Owned(acls()), version: 12 });
    round_trip(&SetAclRequest { path: "/".into(), acl: Cow::Owned(Vec::new()), version: -1 });
}

#[test]
fn watch_requests_and_auth() {
    for &mode in AddWatchMode::ALL {
        round_trip(&AddWatchRequest { path: UNICODE_PATH.into(), mode });
    }
    for &kind in WatcherType::ALL {
        round_trip(&WatchesRequest { path: "/w".into(), kind });
    }
    round_trip(&AuthPacket { kind: 0, scheme: "digest".into(), auth: Cow::Borrowed(b"user:p\xc3\xa4ss") });
    round_trip(&AuthPacket { kind: -3, scheme: "".into(), auth: Cow::Borrowed(b"") });
}

#[test]
fn set_watches_v1_and_v2() {
    let v1 = SetWatches {
        relative_zxid: -7,
        data: vec!["/a".into(), UNICODE_PATH.into()],
        exist: vec![],
        child: vec!["".into(), "/c".into()],
        ..SetWatches::default()
    };
    assert!(!v1.needs_v2());
    let v1_bytes = versioned(&v1, &v1, |r| SetWatches::decode_versioned(r, false));
    // The v1 encoding lacks the two persistent vectors a v2 decoder needs.
    assert!(SetWatches::decode_versioned(&mut Reader::new(v1_bytes, "v1 as v2"), true).is_err());

    let v2 = SetWatches { persistent: vec!["/p".into()], persistent_recursive: vec!["/r".into(), "/r2".into()], ..v1 };
    assert!(v2.needs_v2());
    let v2_bytes = versioned(&v2, &v2, |r| SetWatches::decode_versioned(r, true));
    // Decoded as v1, the persistent lists are left over.
    let mut r = Reader::new(v2_bytes, "v2 as v1");
    SetWatches::decode_versioned(&mut r, false).unwrap();
    assert!(r.finish().is_err());

    let only_recursive =
        SetWatches { relative_zxid: 1, persistent_recursive: vec!["/x".into()], ..SetWatches::default() };
    versioned(&only_recursive, &only_recursive, |r| SetWatches::decode_versioned(r, true));
    let empty = SetWatches::default();
    assert_eq!(versioned(&empty, &empty, |r| SetWatches::decode_versioned(r, false)).len(), 8 + 3 * 4);
}

fn all_multi_ops() -> Vec<MultiOp<'static>> {
    let mut ops: Vec<MultiOp<'static>> = CreateMode::ALL
        .iter()
        .map(|&mode| {
            MultiOp::Create(CreateRequest {
                path: Cow::Owned(format!("/m/{mode}")),
                data: if mode.is_sequential() { None } else { Some(Cow::Borrowed(b"x")) },
                acl: Cow::Owned(Acl::open_unsafe()),
                mode,
                ttl: if mode.is_ttl() { 60_000 } else { 0 },
            })
        })
        .collect();
    ops.extend([
        MultiOp::Delete(PathVersionRequest { path: "/m/del".into(), version: -1 }),
        MultiOp::SetData(SetDataRequest { path: UNICODE_PATH.into(), data: Some(Cow::Borrowed(b"")), version: 5 }),
        MultiOp::SetData(SetDataRequest { path: "/m/null".into(), data: None, version: -1 }),
        MultiOp::Check(PathVersionRequest { path: "/m/check".into(), version: 0 }),
        MultiOp::GetData(PathWatchRequest { path: "/m/get".into(), watch: false }),
        MultiOp::GetChildren(PathWatchRequest { path: "".into(), watch: true }),
    ]);
    ops
}

#[test]
fn multi_request_with_every_op_kind() {
    let req = MultiRequest { ops: all_multi_ops() };
    let bytes = round_trip(&req);
    // The terminator: type -1, done true, err -1.
    assert_eq!(&bytes[bytes.len() - 9..], &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]);
    let empty = round_trip(&MultiRequest { ops: vec![] });
    assert_eq!(empty.len(), 9);
    // Ops go out under the opcode that creates them correctly.
    let codes: Vec<OpCode> = req.ops.iter().map(MultiOp::opcode).collect();
    assert!(codes.contains(&OpCode::CreateContainer) && codes.contains(&OpCode::CreateTtl));
}

#[test]
fn multi_response_with_every_result_kind() {
    let resp = MultiResponse {
        results: vec![
            MultiResult::Create { path: "/m/a".into(), stat: None },
            MultiResult::Create { path: UNICODE_PATH.into(), stat: Some(stat(3)) },
            MultiResult::Delete,
            MultiResult::SetData { stat: stat(4) },
            MultiResult::Check,
            MultiResult::GetData { data: Some(Bytes::from_static(b"payload")), stat: stat(5) },
            MultiResult::GetData { data: None, stat: stat(6) },
            MultiResult::GetChildren { children: vec!["a".into(), "".into(), "ü".into()] },
            MultiResult::GetChildren { children: vec![] },
            MultiResult::Error { code: 0 },
            MultiResult::Error { code: -101 },
            MultiResult::Error { code: -2 },
        ],
    };
    round_trip(&resp);
    assert_eq!(resp.first_error(), Some((10, -101)));
    assert_eq!(round_trip(&MultiResponse { results: vec![] }).len(), 9);
}

#[test]
fn simple_responses() {
    round_trip(&PathResponse { path: UNICODE_PATH.into() });
    round_trip(&PathResponse { path: "".into() });
    round_trip(&Create2Response { path: "/seq0000000012".into(), stat: stat(9) });
    round_trip(&GetDataResponse { data: Some(Bytes::from_static(&[0, 0xff, 0x80])), stat: stat(1) });
    round_trip(&GetDataResponse { data: Some(Bytes::new()), stat: stat(1) });
    let null = round_trip(&GetDataResponse { data: None, stat: Stat::default() });
    assert_eq!(null.len(), 4 + Stat::LEN);
    round_trip(&GetAclResponse { acl: acls(), stat: stat(2) });
    round_trip(&GetAclResponse { acl: vec![], stat: stat(2) });
    for value in [0, -1, i32::MAX, i32::MIN] {
        assert_eq!(round_trip(&IntResponse { value }).len(), 4);
    }
    round_trip(&WhoAmIResponse {
        clients: vec![
            ClientInfo { auth_scheme: "ip".into(), user: "127.0.0.1".into() },
            ClientInfo { auth_scheme: "digest".into(), user: "bénédicte".into() },
            ClientInfo { auth_scheme: "".into(), user: "".into() },
        ],
    });
    round_trip(&WhoAmIResponse { clients: vec![] });
}

#[test]
fn children_response_with_and_without_stat() {
    let plain = ChildrenResponse { children: vec!["a".into(), "名前".into(), "".into()], stat: None };
    let plain_bytes = versioned(&plain, &plain, |r| ChildrenResponse::decode_versioned(r, false));
    let with = ChildrenResponse { stat: Some(stat(8)), ..plain.clone() };
    let with_bytes = versioned(&with, &with, |r| ChildrenResponse::decode_versioned(r, true));
    assert_eq!(with_bytes.len(), plain_bytes.len() + Stat::LEN);
    let empty = ChildrenResponse { children: vec![], stat: None };
    assert_eq!(versioned(&empty, &empty, |r| ChildrenResponse::decode_versioned(r, false)).len(), 4);
    // Without the Stat the getChildren2 decoder runs out of bytes.
    assert!(matches!(
        ChildrenResponse::decode_versioned(&mut Reader::new(plain_bytes, "short"), true),
        Err(DecodeError::Truncated { .. })
    ));
}

/// Splits `buf` into frames and checks nothing is left.
fn frames(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some(frame) = decode_frame(buf, DEFAULT_MAX_PACKET).unwrap() {
        out.push(frame);
    }
    assert!(buf.is_empty(), "{} bytes of a partial frame left", buf.len());
    out
}

#[test]
fn request_frames_round_trip() {
    let create = CreateRequest {
        path: UNICODE_PATH.into(),
        data: Some(Cow::Borrowed(b"hello")),
        acl: Cow::Owned(acls()),
        mode: CreateMode::EphemeralSequential,
        ttl: 0,
    };
    let set_data = SetDataRequest { path: "/x".into(), data: None, version: -1 };
    let multi = MultiRequest { ops: all_multi_ops() };
    let mut buf = BytesMut::new();
    encode_request(&mut buf, 1, OpCode::Create2, Some(&create), DEFAULT_MAX_PACKET).unwrap();
    encode_request(&mut buf, xid::PING, OpCode::Ping, None, DEFAULT_MAX_PACKET).unwrap();
    encode_request(&mut buf, i32::MAX, OpCode::SetData, Some(&set_data), DEFAULT_MAX_PACKET).unwrap();
    encode_request(&mut buf, 3, OpCode::Multi, Some(&multi), DEFAULT_MAX_PACKET).unwrap();
    let got = frames(&mut buf);
    assert_eq!(got.len(), 4);

    let mut r = Reader::new(got[0].clone(), "frame 0");
    assert_eq!(RequestHeader::decode(&mut r).unwrap(), RequestHeader { xid: 1, op: 15 });
    assert_eq!(CreateRequest::decode(&mut r).unwrap(), create);
    r.finish().unwrap();

    let ping: RequestHeader = decode_exact(got[1].clone(), "ping").unwrap();
    assert_eq!(ping, RequestHeader { xid: -2, op: 11 });

    let mut r = Reader::new(got[2].clone(), "frame 2");
    assert_eq!(RequestHeader::decode(&mut r).unwrap(), RequestHeader { xid: i32::MAX, op: 5 });
    assert_eq!(SetDataRequest::decode(&mut r).unwrap(), set_data);
    r.finish().unwrap();

    let mut r = Reader::new(got[3].clone(), "frame 3");
    assert_eq!(RequestHeader::decode(&mut r).unwrap(), RequestHeader { xid: 3, op: 14 });
    assert_eq!(MultiRequest::decode(&mut r).unwrap(), multi);
    r.finish().unwrap();
}

#[test]
fn bare_frames_and_frames_fed_byte_by_byte() {
    let connect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 5,
        timeout_ms: 10_000,
        session_id: 0,
        password: vec![0; 16],
        read_only: false,
    };
    let mut wire = BytesMut::new();
    encode_bare(&mut wire, &connect, DEFAULT_MAX_PACKET).unwrap();
    encode_request(&mut wire, 2, OpCode::GetData, Some(&PathWatchRequest { path: "/g".into(), watch: true }), 64)
        .unwrap();
    assert_eq!(&wire[..4], &45i32.to_be_bytes());

    // Delivered one byte at a time, the same two frames come out.
    let mut rx = BytesMut::new();
    let mut got = Vec::new();
    for &b in wire.iter() {
        rx.extend_from_slice(&[b]);
        if let Some(frame) = decode_frame(&mut rx, DEFAULT_MAX_PACKET).unwrap() {
            got.push(frame);
        }
    }
    assert!(rx.is_empty());
    assert_eq!(got.len(), 2);
    assert_eq!(decode_exact::<ConnectRequest>(got[0].clone(), "connect").unwrap(), connect);
    let mut r = Reader::new(got[1].clone(), "getData");
    assert_eq!(RequestHeader::decode(&mut r).unwrap(), RequestHeader { xid: 2, op: OpCode::GetData.code() });
    assert_eq!(PathWatchRequest::decode(&mut r).unwrap(), PathWatchRequest { path: "/g".into(), watch: true });
    r.finish().unwrap();
}

#[test]
fn a_short_stat_names_the_field_it_cuts() {
    let mut buf = bytes::BytesMut::new();
    stat(3).encode(&mut buf);
    let whole = buf.freeze();
    // Whole: read in one piece, field for field the same.
    assert_eq!(zk_dsl_proto::decode_exact::<Stat>(whole.clone(), "Stat").unwrap(), stat(3));
    // Cut inside `numChildren` (bytes 56..60) and inside `pzxid` (60..68).
    for (len, field) in [(58, "numChildren"), (67, "pzxid")] {
        let err = zk_dsl_proto::decode_exact::<Stat>(whole.slice(..len), "Stat").unwrap_err();
        assert!(err.to_string().contains(field), "cut at {len}: {err}");
    }
}
