//! ZooKeeper's four-letter-word admin commands (`ruok`, `srvr`, `cons`, `mntr`, `wchc`, ...).
//!
//! The protocol: connect, send the four ASCII bytes, read until the server closes. The test servers
//! whitelist every command (`4lw.commands.whitelist=*`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::timeouts::{scaled, BASE_TIMEOUT};

/// Replies larger than this are cut off (`dump` or `wchp` on a huge tree); tests never need more.
const MAX_REPLY: u64 = 64 * 1024 * 1024;

fn check_command(cmd: &str) -> io::Result<()> {
    if cmd.len() == 4 && cmd.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{cmd:?} is not a four-letter word")))
    }
}

fn timed_out(cmd: &str, timeout: Duration) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("four-letter word {cmd:?} timed out after {timeout:?}"))
}

fn remaining(deadline: Instant, cmd: &str, timeout: Duration) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out(cmd, timeout))
    } else {
        Ok(left)
    }
}

/// Sends `cmd` to the server at `addr` and returns its reply, within [`BASE_TIMEOUT`] (scaled).
///
/// Blocking; from async code prefer [`four_letter_async`] (or `spawn_blocking`).
pub fn four_letter<A: ToSocketAddrs>(addr: A, cmd: &str) -> io::Result<String> {
    four_letter_with_timeout(addr, cmd, scaled(BASE_TIMEOUT))
}

/// Like [`four_letter`] with an explicit overall `timeout` (connect, send and read). A timeout is an
/// error of kind [`io::ErrorKind::TimedOut`].
pub fn four_letter_with_timeout<A: ToSocketAddrs>(addr: A, cmd: &str, timeout: Duration) -> io::Result<String> {
    check_command(cmd)?;
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last_error = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline, cmd, timeout)?) {
            Ok(stream) => return exchange(stream, cmd, deadline, timeout),
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                last_error = timed_out(cmd, timeout)
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn exchange(mut stream: TcpStream, cmd: &str, deadline: Instant, timeout: Duration) -> io::Result<String> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(remaining(deadline, cmd, timeout)?))?;
    stream.write_all(cmd.as_bytes()).map_err(|e| map_timeout(e, cmd, timeout))?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        stream.set_read_timeout(Some(remaining(deadline, cmd, timeout)?))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&chunk[..n]);
                if reply.len() as u64 >= MAX_REPLY {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(map_timeout(e, cmd, timeout)),
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn map_timeout(e: io::Error, cmd: &str, timeout: Duration) -> io::Error {
    // Socket timeouts surface as WouldBlock on Unix.
    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        timed_out(cmd, timeout)
    } else {
        e
    }
}

/// The async twin of [`four_letter_with_timeout`], for use inside a tokio runtime.
pub async fn four_letter_async<A: tokio::net::ToSocketAddrs>(
    addr: A,
    cmd: &str,
    timeout: Duration,
) -> io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    check_command(cmd)?;
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(cmd.as_bytes()).await?;
        let mut reply = Vec::new();
        (&mut stream).take(MAX_REPLY).read_to_end(&mut reply).await?;
        Ok::<_, io::Error>(String::from_utf8_lossy(&reply).into_owned())
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| timed_out(cmd, timeout))?
}

/// The session ids in a `cons` reply: each client line carries `sid=0x<hex>` once its session exists
/// (connections still handshaking, and four-letter-word connections, have none).
pub fn session_ids_from_cons(reply: &str) -> Vec<i64> {
    reply
        .split("sid=0x")
        .skip(1)
        .filter_map(|rest| {
            let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            // Session ids are signed 64-bit in the protocol; the server prints them unsigned.
            u64::from_str_radix(&hex, 16).ok().map(|id| id as i64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn rejects_non_commands() {
        for bad in ["", "ruo", "ruokk", "RUOK", "ru k", "é"] {
            let err = four_letter_with_timeout("127.0.0.1:1", bad, Duration::from_secs(1)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn reads_until_close_and_times_out_on_silence() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // First connection: answer. Second: read the command and say nothing.
            let (mut s, _) = listener.accept().unwrap();
            let mut cmd = [0u8; 4];
            s.read_exact(&mut cmd).unwrap();
            assert_eq!(&cmd, b"ruok");
            s.write_all(b"imok").unwrap();
            drop(s);
            let (mut s, _) = listener.accept().unwrap();
            s.read_exact(&mut cmd).unwrap();
            std::thread::sleep(Duration::from_millis(800));
        });
        assert_eq!(four_letter_with_timeout(addr, "ruok", Duration::from_secs(5)).unwrap(), "imok");
        let started = Instant::now();
        let err = four_letter_with_timeout(addr, "ruok", Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_millis(700));
        server.join().unwrap();
    }

    #[test]
    fn parses_session_ids_from_cons() {
        let reply = " /127.0.0.1:50000[1](queued=0,recved=3,sent=3,sid=0x100000a2b3c0000,lop=PING,est=1)\n \
                     /127.0.0.1:50002[1](queued=0,recved=1,sent=1,sid=0xff00000000000001,lop=NA)\n \
                     /127.0.0.1:50004[0](queued=0,recved=1,sent=0)\n";
        assert_eq!(session_ids_from_cons(reply), vec![0x100000a2b3c0000, 0xff00000000000001u64 as i64]);
        assert!(session_ids_from_cons("").is_empty());
        assert!(session_ids_from_cons("sid=0xzz").is_empty());
    }

    #[tokio::test]
    async fn async_variant_reads_the_reply() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut cmd = [0u8; 4];
            s.read_exact(&mut cmd).await.unwrap();
            s.write_all(b"Mode: standalone\n").await.unwrap();
        });
        let reply = four_letter_async(addr, "srvr", Duration::from_secs(5)).await.unwrap();
        assert_eq!(reply, "Mode: standalone\n");
    }
}
