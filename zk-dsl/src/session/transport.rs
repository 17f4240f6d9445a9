//! The connection's byte stream: plain TCP, TLS over TCP (feature `tls`), or any stream a
//! [`Connect::connector`](crate::Connect::connector) opened.
//!
//! The session task drives the stream by readiness ([`Transport::ready`], then non-blocking
//! reads and writes), which lets one loop read and write without either blocking the other.
//! The client's own sockets fit that shape directly: TCP by tokio's readiness, and TLS as
//! rustls's sans-IO connection, ciphertext moving between the socket and rustls with
//! non-blocking calls. A caller's stream is only `AsyncRead + AsyncWrite`, so it is polled into
//! small staging buffers instead (see [`StreamTransport`]): one copy more per byte, on that path
//! alone. The plain path costs what it cost before the other two existed.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use super::connector::ServerStream;

/// One connection's stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsTransport>),
    Stream(Box<StreamTransport>),
}

/// What a stream is ready for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// Reading may find bytes (or the end of the stream).
    pub readable: bool,
    /// Writing may take bytes.
    pub writable: bool,
}

impl Transport {
    /// Waits until the stream may have something to read, or (with `want_write`) may take more
    /// bytes.
    pub(crate) async fn ready(&mut self, want_write: bool) -> io::Result<Ready> {
        let interest = if want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
        let tcp = match self {
            Transport::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => &tls.tcp,
            Transport::Stream(stream) => return poll_fn(|cx| stream.poll_ready(cx, want_write)).await,
        };
        let ready = tcp.ready(interest).await?;
        // An error or a hang-up wakes the reader, whose read then reports it.
        let readable = ready.is_readable() || ready.is_read_closed() || ready.is_error();
        Ok(Ready { readable, writable: ready.is_writable() || ready.is_write_closed() })
    }

    /// Whether bytes are waiting below the caller's buffer (TLS records not yet on the wire,
    /// staged bytes of a caller's stream).
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.conn.wants_write(),
            Transport::Stream(stream) => stream.wants_write(),
        }
    }

    /// Takes as much of `buf` as it can now without blocking (`WouldBlock`: nothing).
    pub(crate) fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.try_write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.try_write(buf),
            Transport::Stream(stream) => stream.stage(buf),
        }
    }

    /// Pushes out what is waiting below the caller's buffer (TLS records; a caller's stream
    /// moves its staged bytes in [`ready`](Transport::ready), where it can be woken).
    pub(crate) fn try_flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) | Transport::Stream(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.send_records(),
        }
    }

    /// Reads what is available into `rbuf` (`Ok(0)`: the server closed the connection;
    /// `WouldBlock`: nothing yet).
    pub(crate) fn read_some(&mut self, rbuf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => read_plain(stream, rbuf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.read_some(rbuf),
            Transport::Stream(stream) => stream.take_read(rbuf),
        }
    }
}

/// A caller's `AsyncRead + AsyncWrite` stream, polled for readiness: `ready` reads into a
/// staging buffer (readable: it holds bytes, or the stream ended) and writes out what was
/// staged (writable: all of it is out, so the next bytes can be staged), flushing the stream once
/// the stage is empty,
/// for streams that buffer (TLS, `BufWriter`). Both stages are bounded, so a slow stream paces
/// the session task like a full socket does.
pub(crate) struct StreamTransport {
    stream: Box<dyn ServerStream>,
    read_stage: Box<[u8]>,
    /// Bytes of `read_stage` read and not yet taken.
    read_len: usize,
    /// The stream ended (or failed: the error, kept for the next read).
    read_end: Option<io::Result<()>>,
    write_stage: BytesMut,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

/// How much a caller's stream may hold in each staging buffer.
const STAGE: usize = 64 * 1024;

impl StreamTransport {
    pub(crate) fn new(stream: Box<dyn ServerStream>) -> StreamTransport {
        StreamTransport {
            stream,
            read_stage: vec![0; STAGE].into_boxed_slice(),
            read_len: 0,
            read_end: None,
            write_stage: BytesMut::with_capacity(STAGE),
            unflushed: false,
        }
    }

    fn wants_write(&self) -> bool {
        !self.write_stage.is_empty() || self.unflushed
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>, want_write: bool) -> Poll<io::Result<Ready>> {
        if self.read_len == 0 && self.read_end.is_none() {
            self.poll_fill(cx);
        }
        let readable = self.read_len > 0 || self.read_end.is_some();
        let mut writable = false;
        if want_write {
            if let Err(e) = self.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            // Only an empty stage takes more: reporting room while bytes wait for a full stream
            // would have the session loop spin instead of waiting for the stream to wake it.
            writable = self.write_stage.is_empty() && !self.unflushed;
        }
        if readable || writable {
            Poll::Ready(Ok(Ready { readable, writable }))
        } else {
            Poll::Pending
        }
    }

    /// Reads once into the read stage (waking `cx` when there is something, if nothing yet).
    fn poll_fill(&mut self, cx: &mut Context<'_>) {
        let mut buf = ReadBuf::new(&mut self.read_stage);
        match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => self.read_end = Some(Ok(())),
            Poll::Ready(Ok(())) => self.read_len = buf.filled().len(),
            Poll::Ready(Err(e)) => self.read_end = Some(Err(e)),
            Poll::Pending => {}
        }
    }

    /// Writes the stage out until the stream would block, then flushes (waking `cx` when it
    /// can go on).
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while !self.write_stage.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.write_stage) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.write_stage.advance(n);
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(()),
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    fn stage(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(STAGE.saturating_sub(self.write_stage.len()));
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.write_stage.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn take_read(&mut self, rbuf: &mut BytesMut) -> io::Result<usize> {
        if self.read_len > 0 {
            let n = std::mem::take(&mut self.read_len);
            rbuf.extend_from_slice(self.read_stage.get(..n).unwrap_or_default());
            return Ok(n);
        }
        match self.read_end.replace(Ok(())) {
            // An error is reported once; the stream counts as ended after it.
            Some(Err(e)) => Err(e),
            Some(Ok(())) => Ok(0),
            None => {
                self.read_end = None;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }
}

/// How a freshly connected stream becomes the session's [`Transport`], in plain text or after
/// the TLS handshake: the client's own TCP socket is driven by readiness (rustls taken out of
/// its `TlsStream`), a caller's stream through [`StreamTransport`]'s staging.
pub(crate) trait IntoTransport: AsyncRead + AsyncWrite + Unpin + Send + Sized + 'static {
    /// Plain text.
    fn plain(self) -> Transport;
    /// After the TLS handshake.
    #[cfg(feature = "tls")]
    fn over_tls(stream: tokio_rustls::client::TlsStream<Self>) -> Transport;
}

impl IntoTransport for TcpStream {
    fn plain(self) -> Transport {
        Transport::Plain(self)
    }

    #[cfg(feature = "tls")]
    fn over_tls(stream: tokio_rustls::client::TlsStream<Self>) -> Transport {
        let (tcp, conn) = stream.into_inner();
        Transport::Tls(Box::new(TlsTransport::new(tcp, conn)))
    }
}

impl IntoTransport for Box<dyn ServerStream> {
    fn plain(self) -> Transport {
        Transport::Stream(Box::new(StreamTransport::new(self)))
    }

    #[cfg(feature = "tls")]
    fn over_tls(stream: tokio_rustls::client::TlsStream<Self>) -> Transport {
        Transport::Stream(Box::new(StreamTransport::new(Box::new(stream))))
    }
}

/// A read that leaves room in the buffer drained the socket, so its readiness is cleared then,
/// as tokio's own `poll_read` does; otherwise the next `readable()` would report the socket
/// ready again and cost a `read` that finds nothing.
fn read_plain(stream: &TcpStream, rbuf: &mut BytesMut) -> io::Result<usize> {
    let room = rbuf.capacity() - rbuf.len();
    let mut drained = None;
    let outcome = stream.try_io(tokio::io::Interest::READABLE, || {
        let n = stream.try_read_buf(rbuf)?;
        if n > 0 && n < room {
            drained = Some(n);
            // Tells try_io to clear the readiness it saw; the bytes are in the buffer.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    drained.map_or(outcome, Ok)
}

/// TLS over a TCP socket, driven without blocking.
#[cfg(feature = "tls")]
pub(crate) struct TlsTransport {
    tcp: TcpStream,
    conn: rustls::ClientConnection,
}

#[cfg(feature = "tls")]
impl TlsTransport {
    /// Takes over a connection whose TLS handshake is done (from `tokio_rustls`).
    pub(crate) fn new(tcp: TcpStream, conn: rustls::ClientConnection) -> TlsTransport {
        TlsTransport { tcp, conn }
    }

    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use std::io::Write;
        // rustls encrypts into its own bounded queue; send what it holds first, so the queue
        // has room and the bytes leave in order.
        self.send_records()?;
        let n = self.conn.writer().write(buf)?;
        self.send_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Writes queued TLS records to the socket until it would block.
    fn send_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SocketWriter(&self.tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_some(&mut self, rbuf: &mut BytesMut) -> io::Result<usize> {
        let mut total = 0;
        let mut closed = false;
        // One socket read at a time, its plaintext taken out before the next: rustls holds
        // only a bounded amount of received plaintext and refuses more records until it is read.
        loop {
            match self.conn.read_tls(&mut SocketReader(&self.tcp)) {
                Ok(0) => closed = true,
                Ok(_) => {
                    self.conn.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let (taken, eof) = self.take_plaintext(rbuf)?;
            total += taken;
            closed |= eof;
            // Nothing new decrypted: the socket is drained, or holds a partial record (its
            // readiness was not cleared, so the next `readable` comes at once).
            if closed || taken == 0 {
                break;
            }
        }
        // Alerts, key updates: whatever the records asked rustls to send.
        self.send_records()?;
        match (total, closed) {
            (0, true) => Ok(0),
            (0, false) => Err(io::ErrorKind::WouldBlock.into()),
            (n, _) => Ok(n),
        }
    }

    /// Moves the plaintext rustls holds into `rbuf`: bytes taken, and whether the peer ended
    /// the stream.
    fn take_plaintext(&mut self, rbuf: &mut BytesMut) -> io::Result<(usize, bool)> {
        use std::io::Read;
        let mut total = 0;
        loop {
            let start = rbuf.len();
            rbuf.resize(start + PLAINTEXT_CHUNK, 0);
            let read = self.conn.reader().read(&mut rbuf[start..]);
            rbuf.truncate(start + *read.as_ref().unwrap_or(&0));
            match read {
                // close_notify: a clean end.
                Ok(0) => return Ok((total, true)),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((total, false)),
                // The peer ended the stream without close_notify: a closed connection too.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((total, true)),
                Err(e) => return Err(e),
            }
        }
    }
}

/// How much plaintext one read takes from rustls at a time (one TLS record's worth).
#[cfg(feature = "tls")]
const PLAINTEXT_CHUNK: usize = 16 * 1024;

/// `std::io::Read` over the socket's non-blocking reads.
#[cfg(feature = "tls")]
struct SocketReader<'a>(&'a TcpStream);

#[cfg(feature = "tls")]
impl io::Read for SocketReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// `std::io::Write` over the socket's non-blocking writes.
#[cfg(feature = "tls")]
struct SocketWriter<'a>(&'a TcpStream);

#[cfg(feature = "tls")]
impl io::Write for SocketWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn over(stream: tokio::io::DuplexStream) -> Transport {
        Transport::Stream(Box::new(StreamTransport::new(Box::new(stream))))
    }

    #[tokio::test]
    async fn a_callers_stream_is_staged_drained_and_read_to_its_end() {
        let (client, mut server) = tokio::io::duplex(1000);
        let mut transport = over(client);
        // Nothing to read, nothing wanted to write: not ready.
        let idle = tokio::time::timeout(std::time::Duration::from_millis(20), transport.ready(false)).await;
        assert!(idle.is_err(), "ready with nothing to do: {idle:?}");

        // More than the stage takes: the rest waits until the stage has gone out.
        let data: Vec<u8> = (0..STAGE as u32 + 500).map(|i| i as u8).collect();
        let staged = transport.try_write(&data).unwrap();
        assert_eq!(staged, STAGE);
        assert!(transport.wants_write());
        assert_eq!(transport.try_write(&data[staged..]).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let reader = tokio::spawn(async move {
            let mut got = vec![0; STAGE];
            server.read_exact(&mut got).await.map(|_| (got, server))
        });
        let ready = transport.ready(true).await.unwrap();
        assert!(ready.writable && !transport.wants_write(), "drained: {ready:?}");
        let (got, mut server) = reader.await.unwrap().unwrap();
        assert_eq!(got, data[..STAGE]);

        server.write_all(b"reply").await.unwrap();
        drop(server);
        let mut rbuf = BytesMut::new();
        assert!(transport.ready(false).await.unwrap().readable);
        assert_eq!(transport.read_some(&mut rbuf).unwrap(), 5);
        assert_eq!(&rbuf[..], b"reply");
        assert!(transport.ready(false).await.unwrap().readable, "the end is readable");
        assert_eq!(transport.read_some(&mut rbuf).unwrap(), 0);
        assert_eq!(transport.read_some(&mut rbuf).unwrap(), 0, "and stays the end");
    }
}
