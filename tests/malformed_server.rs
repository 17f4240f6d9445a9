//! Faults a real ZooKeeper will not produce, from a scripted fake server: oversized, negative,
//! truncated and garbage frames. Each must fail the request with `Error::Protocol` and close the
//! connection — never panic, never allocate what the frame claims — except a reply over the read
//! limit that answers a pending request: that fails only the request (`Error::ReplyTooLarge`), and
//! the connection carries on.

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use suite::within;
use zk_dsl::proto::{encode_bare, ConnectResponse, Encode, ReplyHeader, DEFAULT_MAX_PACKET};
use zk_dsl::{Client, Error};

/// Reads one length-prefixed frame.
async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let len = s.read_i32().await.expect("frame length");
    let mut buf = vec![0; len as usize];
    s.read_exact(&mut buf).await.expect("frame body");
    buf
}

/// Accepts the client, completes the handshake, reads one request and answers it with
/// `reply` (raw bytes, length prefix included). Returns whether the client then closed the
/// connection.
async fn scripted(listener: TcpListener, reply: Vec<u8>) -> bool {
    let (mut s, _) = listener.accept().await.expect("accept");
    read_frame(&mut s).await; // ConnectRequest
    let mut out = BytesMut::new();
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 10_000,
        session_id: 0x5eed,
        password: vec![1; 16],
        read_only: false,
    };
    encode_bare(&mut out, &resp, DEFAULT_MAX_PACKET).unwrap();
    s.write_all(&out).await.unwrap();
    read_frame(&mut s).await; // the client's request
    s.write_all(&reply).await.unwrap();
    let mut rest = [0u8; 64];
    // The client must hang up on us (EOF), not wait for more.
    loop {
        match s.read(&mut rest).await {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue, // e.g. a ping
        }
    }
}

async fn request_against(reply: Vec<u8>) -> Error {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(scripted(listener, reply));
    let client = Client::connect(addr.to_string()).await.expect("handshake with the fake server");
    let err = within("the request to fail", client.get_data("/x")).await.expect_err("a malformed reply cannot succeed");
    assert!(within("the client to close the connection", server).await.unwrap());
    drop(client);
    err
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn assert_protocol(err: &Error, what: &str) {
    assert!(matches!(err, Error::Protocol { .. }), "{what}: expected a protocol error, got {err:?}");
}

fn oversized_head(length: usize, xid: i32) -> Vec<u8> {
    let mut v = (length as i32).to_be_bytes().to_vec();
    let mut header = BytesMut::new();
    ReplyHeader { xid, zxid: 1, err: 0 }.encode(&mut header);
    v.extend_from_slice(&header);
    v
}

#[tokio::test]
async fn an_oversized_frame_answering_no_request_is_a_protocol_error() {
    // Claims 2 GB for an xid nobody waits for; refused at the header, before buffering anything.
    let err = request_against(oversized_head(i32::MAX as usize, 999)).await;
    assert_protocol(&err, "oversized, unknown xid");
    assert!(err.to_string().contains("exceeds"), "{err}");
}

/// A reply over the read limit fails only its own request, with the op, path and size, as soon as
/// its header is in (here the 2 GB it claims never come); its bytes are discarded as they stream
/// in; the request after it and the connection carry on.
#[tokio::test]
async fn a_reply_over_the_read_limit_fails_only_its_request() {
    const LIMIT: usize = 256 << 10;
    const BIG: usize = 3 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_frame(&mut s).await;
        let mut out = BytesMut::new();
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 10_000,
            session_id: 9,
            password: vec![0; 16],
            read_only: false,
        };
        encode_bare(&mut out, &resp, DEFAULT_MAX_PACKET).unwrap();
        s.write_all(&out).await.unwrap();
        let xid_of = |f: &[u8]| i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        let (first, second) = (xid_of(&read_frame(&mut s).await), xid_of(&read_frame(&mut s).await));
        // The over-limit reply, streamed in pieces, then the next reply (NoNode for an exists).
        s.write_all(&oversized_head(BIG, first)).await.unwrap();
        let chunk = vec![0xabu8; 64 << 10];
        let mut left = BIG - 16;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n]).await.unwrap();
            left -= n;
        }
        let mut next = BytesMut::new();
        ReplyHeader { xid: second, zxid: 2, err: -101 }.encode(&mut next);
        s.write_all(&frame(&next)).await.unwrap();
        // Another one on the same connection.
        let third = xid_of(&read_frame(&mut s).await);
        let mut last = BytesMut::new();
        ReplyHeader { xid: third, zxid: 3, err: -101 }.encode(&mut last);
        s.write_all(&frame(&last)).await.unwrap();
        read_frame(&mut s).await // the closeSession
    });
    let client = Client::connect(addr.to_string())
        .max_packet(64 << 10)
        .max_read_packet(LIMIT)
        .await
        .expect("handshake with the fake server");
    let big = client.children("/big").send();
    let small = client.exists("/small").send();
    let err = within("the over-limit reply", big).await.expect_err("over the read limit");
    match &err {
        Error::ReplyTooLarge { op, path, size, limit } => {
            assert_eq!((op.to_string().as_str(), path.as_str(), *size, *limit), ("GetChildren2", "/big", BIG, LIMIT));
        }
        other => panic!("expected ReplyTooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("/big") && err.to_string().contains(&BIG.to_string()), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(within("the next reply", small).await.unwrap(), None);
    assert_eq!(within("a later request", client.exists("/later")).await.unwrap(), None);
    assert_eq!(client.state(), zk_dsl::SessionState::Connected);
    client.close().await.unwrap();
    within("the fake server", server).await.unwrap();
}

#[tokio::test]
async fn negative_length_is_a_protocol_error() {
    let err = request_against((-5i32).to_be_bytes().to_vec()).await;
    assert_protocol(&err, "negative length");
    assert!(err.to_string().contains("negative"), "{err}");
}

#[tokio::test]
async fn garbage_shorter_than_a_header_is_a_protocol_error() {
    let err = request_against(frame(&[0xde, 0xad, 0xbe])).await;
    assert_protocol(&err, "garbage");
}

#[tokio::test]
async fn reply_for_an_unknown_xid_is_a_protocol_error() {
    let mut payload = BytesMut::new();
    ReplyHeader { xid: 999, zxid: 1, err: 0 }.encode(&mut payload);
    let err = request_against(frame(&payload)).await;
    assert_protocol(&err, "wrong xid");
    assert!(err.to_string().contains("xid"), "{err}");
}

#[tokio::test]
async fn truncated_body_is_a_protocol_error() {
    // A getData reply whose data claims 1 MB but carries 3 bytes and no Stat.
    let mut payload = BytesMut::new();
    ReplyHeader { xid: 1, zxid: 1, err: 0 }.encode(&mut payload);
    payload.put_i32(1_000_000);
    payload.put_slice(b"abc");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_frame(&mut s).await;
        let mut out = BytesMut::new();
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 10_000,
            session_id: 7,
            password: vec![0; 16],
            read_only: false,
        };
        encode_bare(&mut out, &resp, DEFAULT_MAX_PACKET).unwrap();
        s.write_all(&out).await.unwrap();
        read_frame(&mut s).await;
        s.write_all(&frame(&payload)).await.unwrap();
        // Keep the connection open: a truncated body is decoded by the caller, and the
        // connection itself stays usable for the next request.
        let second = read_frame(&mut s).await;
        let xid = i32::from_be_bytes([second[0], second[1], second[2], second[3]]);
        let mut ok = BytesMut::new();
        ReplyHeader { xid, zxid: 2, err: -101 }.encode(&mut ok);
        s.write_all(&frame(&ok)).await.unwrap();
    });
    let client = Client::connect(addr.to_string()).await.unwrap();
    let err = within("the bad reply", client.get_data("/x")).await.unwrap_err();
    assert_protocol(&err, "truncated body");
    assert!(err.to_string().contains("GetData reply for /x"), "the error names the op and path: {err}");
    let next = within("the next reply", client.exists("/y")).await.unwrap();
    assert_eq!(next, None);
    server.await.unwrap();
}

#[tokio::test]
async fn garbage_handshake_is_refused_without_panicking() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Every attempt gets a frame too short to be a ConnectResponse.
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_frame(&mut s).await;
            let _ = s.write_all(&frame(&[1, 2, 3])).await;
        }
    });
    let err =
        Client::connect(addr.to_string()).connect_timeout(std::time::Duration::from_millis(500)).await.unwrap_err();
    match &err {
        Error::NoServer { last_failure, .. } => assert!(last_failure.contains("malformed handshake"), "{last_failure}"),
        other => panic!("{other:?}"),
    }
}

/// A server that grants the session and then drops every connection at once: the client
/// reconnects with a backoff, as after a failed handshake, not in a tight loop (it used to skip
/// the backoff after any established connection: thousands of reconnects a second).
#[tokio::test]
async fn connections_lost_as_soon_as_made_are_retried_with_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = read_frame(&mut s).await;
            let mut out = BytesMut::new();
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 30_000,
                session_id: 0x5eed,
                password: vec![1; 16],
                read_only: false,
            };
            encode_bare(&mut out, &resp, DEFAULT_MAX_PACKET).unwrap();
            let _ = s.write_all(&out).await;
            drop(s);
        }
    });
    let client = Client::connect(addr.to_string()).start().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let connections = accepted.load(std::sync::atomic::Ordering::Relaxed);
    // Backoff from 100 ms doubling to 1 s: about 6 attempts in 2 s; a tight loop makes thousands.
    assert!((2..=12).contains(&connections), "{connections} connections in 2 s");
    drop(client);
    server.abort();
}
