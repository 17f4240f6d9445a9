//! The connection's byte stream: plain TCP, or TLS over TCP (feature `tls`).
//!
//! The session task drives the socket by readiness (`readable`/`writable`, then non-blocking
//! reads and writes), which lets one loop read and write without either blocking the other.
//! TLS fits that shape as rustls's sans-IO connection: ciphertext moves between the socket and
//! rustls with non-blocking calls, and plaintext between rustls and the session's buffers. The
//! plain path is untouched: it costs what it cost before TLS existed.

use std::io;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// One connection's stream.
pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsTransport>),
}

impl Transport {
    /// Waits until the socket may have something to read.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.readable().await,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.tcp.readable().await,
        }
    }

    /// Waits until the socket may take more bytes.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.writable().await,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.tcp.writable().await,
        }
    }

    /// Whether bytes are waiting below the caller's buffer (TLS records not yet on the wire).
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.conn.wants_write(),
        }
    }

    /// Takes as much of `buf` as it can now without blocking (`WouldBlock`: nothing).
    pub(crate) fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.try_write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.try_write(buf),
        }
    }

    /// Pushes out what is waiting below the caller's buffer (TLS records).
    pub(crate) fn try_flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
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
        }
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
