//! Connections the caller makes: [`Connect::connector`](crate::Connect::connector) replaces the
//! client's own TCP connect with any byte stream (a SOCKS or HTTP proxy, an SSH tunnel, a
//! socket with options of the caller's choosing, an in-memory network in a test).
//!
//! The client still resolves the connection string's names (with the system resolver or
//! [`Connect::resolver`](crate::Connect::resolver)) and hands the connector one address at a
//! time; everything above the byte stream (TLS when configured, the handshake, SASL, pipelining,
//! reconnects, read-only probes) is the same as over its own sockets.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a ZooKeeper server, as a [`Connect::connector`](crate::Connect::connector)
/// makes it: anything tokio can read and write, such as a `TcpStream`, a
/// `tokio::io::DuplexStream`, or a TLS stream the caller set up itself.
pub trait ServerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ServerStream for T {}

/// A stream being opened.
pub(crate) type Opening = Pin<Box<dyn Future<Output = std::io::Result<Box<dyn ServerStream>>> + Send>>;

/// Opens a stream to one server address (see [`Connect::connector`](crate::Connect::connector)).
pub(crate) type Connector = Arc<dyn Fn(SocketAddr) -> Opening + Send + Sync>;

/// Wraps the caller's function as a [`Connector`].
pub(crate) fn connector<F, Fut, S>(open: F) -> Connector
where
    F: Fn(SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<S>> + Send + 'static,
    S: ServerStream,
{
    Arc::new(move |addr| {
        let opening = open(addr);
        Box::pin(async move { opening.await.map(|stream| Box::new(stream) as Box<dyn ServerStream>) })
    })
}
