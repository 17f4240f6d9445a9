//! The ceiling: `zk_dsl_proto` over a bare tokio `TcpStream`, nothing else. One connection per
//! session, a window of N units outstanding, everything queued written with one `write_all`,
//! replies split from one read buffer and matched FIFO by xid. Only reply headers are looked at.
//! `raw-tls` is the same over tokio-rustls (the rustls and ring zk-dsl's `tls` feature uses):
//! the ceiling over TLS.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use zk_dsl_proto as proto;
use zk_dsl_proto::{
    decode_frame, encode_bare, encode_request, xid, ConnectRequest, ConnectResponse, CreateMode, CreateRequest, Decode,
    Encode, MultiOp, MultiRequest, OpCode, PathVersionRequest, PathWatchRequest, Reader, ReplyHeader, SetDataRequest,
    DEFAULT_MAX_PACKET,
};

use super::Ctx;
use crate::measure::{CpuSampler, Recorder, Timing};
use crate::spec::{RunReport, RunSpec, Workload};

const READ_CHUNK: usize = 64 << 10;
const SESSION_TIMEOUT_MS: i32 = 10_000;

type Res<T> = Result<T, String>;

/// The connection's byte stream: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How to reach the server: plain, or TLS trusting the run's CA.
pub(super) struct Dialer {
    tls: Option<TlsConnector>,
}

impl Dialer {
    pub(super) fn for_spec(spec: &RunSpec) -> Res<Dialer> {
        let Some(ca) = &spec.tls_ca else { return Ok(Dialer { tls: None }) };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
            roots.add(cert.map_err(|e| format!("{ca}: {e}"))?).map_err(|e| format!("{ca}: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Dialer { tls: Some(TlsConnector::from(Arc::new(config))) })
    }

    async fn dial(&self, addr: &str) -> Res<Stream> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let Some(tls) = &self.tls else { return Ok(Stream::Plain(stream)) };
        let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
        let stream = tls.connect(name, stream).await.map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
        // What the server agreed to, once per worker, into its log (for the results' notes).
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let (_, conn) = stream.get_ref();
            eprintln!("raw-tls: {:?}, {:?}", conn.protocol_version(), conn.negotiated_cipher_suite());
        });
        Ok(Stream::Tls(Box::new(stream)))
    }
}

pub(super) struct RawConn {
    stream: Stream,
    rbuf: BytesMut,
    pub(super) wbuf: BytesMut,
    pub(super) next_xid: i32,
}

impl RawConn {
    pub(super) async fn connect(dialer: &Dialer, addr: &str) -> Res<RawConn> {
        let mut stream = dialer.dial(addr).await?;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: SESSION_TIMEOUT_MS,
            session_id: 0,
            password: vec![0; 16],
            read_only: false,
        };
        let mut out = BytesMut::with_capacity(64);
        encode_bare(&mut out, &request, DEFAULT_MAX_PACKET).map_err(|e| e.to_string())?;
        stream.write_all(&out).await.map_err(|e| format!("handshake write: {e}"))?;
        stream.flush().await.map_err(|e| format!("handshake write: {e}"))?;
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            if let Some(frame) = decode_frame(&mut rbuf, DEFAULT_MAX_PACKET).map_err(|e| e.to_string())? {
                let resp: ConnectResponse =
                    proto::decode_exact(frame, "ConnectResponse").map_err(|e| format!("handshake: {e}"))?;
                if resp.timeout_ms <= 0 {
                    return Err("server refused the session".into());
                }
                break;
            }
            if stream.read_buf(&mut rbuf).await.map_err(|e| format!("handshake read: {e}"))? == 0 {
                return Err("server closed the connection during the handshake".into());
            }
        }
        Ok(RawConn { stream, rbuf, wbuf: BytesMut::with_capacity(READ_CHUNK), next_xid: 1 })
    }

    /// Appends one request frame; returns its xid.
    fn push(&mut self, op: OpCode, body: Option<&dyn Encode>) -> Res<i32> {
        push_frame(&mut self.wbuf, &mut self.next_xid, op, body)
    }

    pub(super) async fn flush(&mut self) -> Res<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await.map_err(|e| format!("write: {e}"))?;
            // TLS may keep records buffered until flushed (a no-op on plain TCP).
            self.stream.flush().await.map_err(|e| format!("write: {e}"))?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Reads once (at least one byte) into the buffer.
    pub(super) async fn fill(&mut self) -> Res<()> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(0) => Err("server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// The next complete frame already buffered: its header and body.
    pub(super) fn next_frame(&mut self) -> Res<Option<(ReplyHeader, Bytes)>> {
        let Some(frame) = decode_frame(&mut self.rbuf, DEFAULT_MAX_PACKET).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let mut r = Reader::new(frame, "reply");
        let header = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
        Ok(Some((header, r.rest())))
    }

    /// Waits for the next frame.
    async fn recv(&mut self) -> Res<(ReplyHeader, Bytes)> {
        loop {
            if let Some(frame) = self.next_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// Waits for the reply to `xid`, skipping pings and notifications.
    async fn reply(&mut self, want: i32) -> Res<ReplyHeader> {
        loop {
            let (header, _) = self.recv().await?;
            if header.xid == want {
                return Ok(header);
            }
            if header.xid >= 0 {
                return Err(format!("reply xid {} out of order (expected {want})", header.xid));
            }
        }
    }

    pub(super) async fn close(mut self) -> Res<()> {
        let xid = self.push(OpCode::CloseSession, None)?;
        self.flush().await?;
        tokio::time::timeout(Duration::from_secs(10), self.reply(xid))
            .await
            .map_err(|_| "no reply to closeSession".to_string())??;
        Ok(())
    }
}

/// Appends one request frame to `buf` with xid `*next` (then the next one); returns the xid.
fn push_frame(buf: &mut BytesMut, next: &mut i32, op: OpCode, body: Option<&dyn Encode>) -> Res<i32> {
    let xid = *next;
    *next += 1;
    encode_request(buf, xid, op, body, DEFAULT_MAX_PACKET).map_err(|e| e.to_string())?;
    Ok(xid)
}

/// Appends the frames of unit `seq` of session `session`; returns how many replies it awaits.
fn push_unit(conn: &mut RawConn, ctx: &Ctx, session: usize, seq: u64) -> Res<u32> {
    encode_unit(&mut conn.wbuf, &mut conn.next_xid, ctx, session, seq)
}

/// Encodes the frames of unit `seq` of session `session` into `buf`, numbered from `*xid`;
/// returns how many replies it awaits.
pub(super) fn encode_unit(buf: &mut BytesMut, xid: &mut i32, ctx: &Ctx, session: usize, seq: u64) -> Res<u32> {
    let mut conn = Frames { buf, xid };
    let conn = &mut conn;
    let spec = &ctx.spec;
    match spec.workload {
        Workload::Get => {
            let body = PathWatchRequest { path: Cow::Borrowed(ctx.key(session, seq)), watch: false };
            conn.push(OpCode::GetData, Some(&body))?;
            Ok(1)
        }
        Workload::Set => {
            let body = SetDataRequest {
                path: Cow::Borrowed(ctx.key(session, seq)),
                data: Some(Cow::Borrowed(&ctx.payload)),
                version: -1,
            };
            conn.push(OpCode::SetData, Some(&body))?;
            Ok(1)
        }
        Workload::Create | Workload::CreateDelete => {
            let path = ctx.eph_path(session, seq);
            let body = CreateRequest {
                path: Cow::Borrowed(&path),
                data: Some(Cow::Borrowed(&ctx.payload)),
                acl: Cow::Borrowed(&ctx.acl),
                mode: CreateMode::Ephemeral,
                ttl: 0,
            };
            conn.push(CreateMode::Ephemeral.opcode(), Some(&body))?;
            if spec.workload == Workload::Create {
                return Ok(1);
            }
            let del = PathVersionRequest { path: Cow::Borrowed(&path), version: -1 };
            conn.push(OpCode::Delete, Some(&del))?;
            Ok(2)
        }
        Workload::Children => {
            let body = PathWatchRequest { path: Cow::Borrowed(&spec.children_path), watch: false };
            conn.push(OpCode::GetChildren2, Some(&body))?;
            Ok(1)
        }
        Workload::Multi => {
            let ops = (0..spec.multi_ops as u64)
                .map(|j| {
                    MultiOp::SetData(SetDataRequest {
                        path: Cow::Borrowed(ctx.key(session, seq * spec.multi_ops as u64 + j)),
                        data: Some(Cow::Borrowed(&ctx.payload)),
                        version: -1,
                    })
                })
                .collect();
            conn.push(OpCode::Multi, Some(&MultiRequest { ops }))?;
            Ok(1)
        }
        other => Err(format!("{other} is not a pipelined workload")),
    }
}

/// Where [`encode_unit`] writes.
struct Frames<'a> {
    buf: &'a mut BytesMut,
    xid: &'a mut i32,
}

impl Frames<'_> {
    fn push(&mut self, op: OpCode, body: Option<&dyn Encode>) -> Res<i32> {
        push_frame(self.buf, self.xid, op, body)
    }
}

/// One session's closed loop: refill the window, one write, one read, every complete frame.
async fn session_loop(mut conn: RawConn, ctx: &Ctx, session: usize, n: usize, timing: Timing) -> Res<Recorder> {
    let mut rec = Recorder::new();
    // (start, replies still due, any failed) per unit, in wire order.
    let mut inflight: VecDeque<(Instant, u32, Option<i32>)> = VecDeque::with_capacity(n);
    let mut expected_xid = conn.next_xid;
    let mut seq = 0u64;
    loop {
        while inflight.len() < n && timing.issuing() {
            let start = Instant::now();
            let due = push_unit(&mut conn, ctx, session, seq)?;
            seq += 1;
            inflight.push_back((start, due, None));
        }
        conn.flush().await?;
        if inflight.is_empty() {
            break;
        }
        conn.fill().await?;
        let now = Instant::now();
        while let Some((header, _body)) = conn.next_frame()? {
            if header.xid < 0 {
                continue; // ping or notification
            }
            if header.xid != expected_xid {
                return Err(format!("reply xid {} out of order (expected {expected_xid})", header.xid));
            }
            expected_xid += 1;
            let Some(front) = inflight.front_mut() else {
                return Err(format!("reply xid {} with nothing in flight", header.xid));
            };
            front.1 -= 1;
            if header.err != 0 && front.2.is_none() {
                front.2 = Some(header.err);
            }
            if front.1 == 0 {
                if let Some((start, _, failed)) = inflight.pop_front() {
                    let result = match failed {
                        None => Ok(()),
                        Some(code) => Err(format!("server error {code}")),
                    };
                    rec.record(&timing, start, now, result);
                }
            }
        }
    }
    conn.close().await?;
    Ok(rec)
}

pub async fn run(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    match spec.workload {
        Workload::Watch => return watch(ctx).await,
        Workload::Connect => return connect(ctx).await,
        Workload::Memory => return Err("the memory workload is zk-dsl only".into()),
        _ => {}
    }
    let dialer = Dialer::for_spec(spec)?;
    let mut conns = Vec::with_capacity(spec.sessions);
    for _ in 0..spec.sessions {
        conns.push(RawConn::connect(&dialer, &spec.connect).await?);
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let loops =
        conns.into_iter().enumerate().map(|(i, conn)| session_loop(conn, ctx, i, spec.outstanding_of(i), timing));
    let results = futures_util::future::join_all(loops).await;
    let cpu = cpu.finish();
    let mut all = Recorder::new();
    for r in results {
        all.merge(r?);
    }
    Ok(all.into_report(&timing, cpu))
}

/// Watcher connection: getData with watch; setter connection: setData; time set → notification.
async fn watch(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let dialer = Dialer::for_spec(spec)?;
    let mut watcher = RawConn::connect(&dialer, &spec.connect).await?;
    let mut setter = RawConn::connect(&dialer, &spec.connect).await?;
    let path = ctx.key(0, 0);
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let xid = watcher.push(OpCode::GetData, Some(&PathWatchRequest { path: Cow::Borrowed(path), watch: true }))?;
        watcher.flush().await?;
        let header = watcher.reply(xid).await?;
        if header.err != 0 {
            rec.error(format!("getData error {}", header.err));
            continue;
        }
        let start = Instant::now();
        let set = SetDataRequest { path: Cow::Borrowed(path), data: Some(Cow::Borrowed(&ctx.payload)), version: -1 };
        let set_xid = setter.push(OpCode::SetData, Some(&set))?;
        setter.flush().await?;
        loop {
            let (header, _) = watcher.recv().await?;
            if header.xid == xid::NOTIFICATION {
                break;
            }
        }
        let done = Instant::now();
        let result = match setter.reply(set_xid).await?.err {
            0 => Ok(()),
            code => Err(format!("setData error {code}")),
        };
        rec.record(&timing, start, done, result);
    }
    let cpu = cpu.finish();
    watcher.close().await?;
    setter.close().await?;
    Ok(rec.into_report(&timing, cpu))
}

/// TCP connect + handshake, timed; the session is then closed (untimed).
async fn connect(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let dialer = Dialer::for_spec(spec)?;
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let start = Instant::now();
        match RawConn::connect(&dialer, &spec.connect).await {
            Ok(conn) => {
                rec.record::<String>(&timing, start, Instant::now(), Ok(()));
                if let Err(e) = conn.close().await {
                    rec.error(e);
                }
            }
            Err(e) => rec.error(e),
        }
    }
    let cpu = cpu.finish();
    Ok(rec.into_report(&timing, cpu))
}
