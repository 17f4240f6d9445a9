//! [`FaultProxy`]: a TCP proxy between a client and a server that can cut, stall or slow the traffic.
//!
//! The proxy runs on its own thread with its own single-threaded tokio runtime, so it works the same
//! from synchronous tests and from any async runtime, and it cannot be starved by the test's runtime.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::timeouts::scaled;

/// Bytes moved per read; also the unit that [`FaultProxy::delay`] delays.
const CHUNK: usize = 16 * 1024;
/// How long [`FaultProxy::drop_connections`] waits for the connections to be gone.
const DROP_WAIT: Duration = Duration::from_secs(2);

/// The faults applied to traffic, changed from the test thread and watched by every connection.
#[derive(Debug, Clone, Copy)]
struct Faults {
    target: SocketAddr,
    blackhole: bool,
    delay: Duration,
}

#[derive(Debug)]
struct Shared {
    faults: watch::Sender<Faults>,
    /// Bumped by `drop_connections`; a connection ends when this exceeds the value it started with.
    generation: watch::Sender<u64>,
    accepted: AtomicU64,
    next_id: AtomicU64,
    /// Open connections: id → the generation they were accepted in.
    live: Mutex<HashMap<u64, u64>>,
}

impl Shared {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, u64>> {
        // The map stays consistent even if a holder panicked.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes a connection from the live set however its task ends (including runtime shutdown).
struct LiveGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.shared.live().remove(&self.id);
    }
}

/// A fault-injecting TCP proxy on `127.0.0.1`, in front of one server address.
///
/// Point a client at [`connect_string`](Self::connect_string) instead of the server, then:
/// - pass-through is the default (and what [`reset`](Self::reset) returns to);
/// - [`drop_connections`](Self::drop_connections) closes every open connection (new ones are accepted);
/// - [`blackhole`](Self::blackhole) keeps the sockets open but moves no bytes either way, and new
///   connections are accepted but not forwarded, so a client's session really expires on the server
///   (a network partition); bytes held back are delivered in order once it is turned off, as TCP would;
/// - [`delay`](Self::delay) adds latency to every chunk in both directions;
/// - [`set_target`](Self::set_target) sends new connections elsewhere.
///
/// Dropping the proxy closes the listener and every connection, and joins its thread.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a pass-through proxy to `target` on a free loopback port. Needs no tokio runtime, and
    /// may be called from inside one: the proxy's runtime lives entirely on its own thread.
    pub fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let address = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: watch::Sender::new(Faults { target, blackhole: false, delay: Duration::ZERO }),
            generation: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("zk-fault-proxy-{}", address.port()))
            .spawn(move || run(std_listener, thread_shared, shutdown_rx, ready_tx))?;
        let ready =
            ready_rx.recv().unwrap_or_else(|_| Err(io::Error::other("the fault proxy thread died while starting")));
        if let Err(e) = ready {
            let _ = thread.join();
            return Err(e);
        }
        tracing::debug!(%address, %target, "fault proxy started");
        Ok(FaultProxy { address, shared, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// The proxy's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The connect string for clients, `"127.0.0.1:port"`.
    pub fn connect_string(&self) -> String {
        self.address.to_string()
    }

    /// Where new connections go.
    pub fn target(&self) -> SocketAddr {
        self.shared.faults.borrow().target
    }

    /// Sends new connections to `target`; open ones keep their server.
    pub fn set_target(&self, target: SocketAddr) {
        self.shared.faults.send_modify(|f| f.target = target);
    }

    /// Turns the blackhole on or off (see the type's docs).
    pub fn blackhole(&self, on: bool) {
        self.shared.faults.send_modify(|f| f.blackhole = on);
    }

    /// Whether the blackhole is on.
    pub fn is_blackholed(&self) -> bool {
        self.shared.faults.borrow().blackhole
    }

    /// Adds `delay` before forwarding each chunk read, in both directions; `Duration::ZERO` removes it.
    pub fn delay(&self, delay: Duration) {
        self.shared.faults.send_modify(|f| f.delay = delay);
    }

    /// Back to pass-through: no blackhole, no delay (the target stays).
    pub fn reset(&self) {
        self.shared.faults.send_modify(|f| {
            f.blackhole = false;
            f.delay = Duration::ZERO;
        });
    }

    /// Closes every connection open now, and returns once they are closed (or after a short timeout).
    /// New connections are accepted as usual.
    pub fn drop_connections(&self) {
        let mut generation = 0;
        self.shared.generation.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        let deadline = Instant::now() + scaled(DROP_WAIT);
        while self.shared.live().values().any(|&g| g < generation) {
            if Instant::now() >= deadline {
                tracing::warn!(proxy = %self.address, "connections still open after drop_connections");
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Connections accepted since the proxy started.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections open right now.
    pub fn active_connections(&self) -> usize {
        self.shared.live().len()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!(proxy = %self.address, "the fault proxy thread panicked");
            }
        }
    }
}

/// The proxy thread. The runtime is built and dropped here, so a caller inside an async runtime is
/// never the one dropping a runtime (which tokio forbids). Dropping it ends every connection task.
fn run(
    std_listener: std::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // `from_std` must run inside the runtime, to register the socket with its reactor.
    let listener = match runtime.block_on(async { TcpListener::from_std(std_listener) }) {
        Ok(listener) => listener,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    runtime.block_on(accept_loop(listener, shared, shutdown));
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
                    let generation = *shared.generation.borrow();
                    shared.live().insert(id, generation);
                    let guard = LiveGuard { shared: Arc::clone(&shared), id };
                    tracing::trace!(%peer, id, "proxy accepted a connection");
                    tokio::spawn(serve(client, guard, generation));
                }
                Err(e) => {
                    // Typically out of file descriptors; back off instead of spinning.
                    tracing::warn!(error = %e, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Waits while the blackhole is on.
async fn open(faults: &mut watch::Receiver<Faults>) -> io::Result<()> {
    match faults.wait_for(|f| !f.blackhole).await {
        Ok(_) => Ok(()),
        Err(_) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "fault proxy shut down")),
    }
}

async fn serve(client: TcpStream, guard: LiveGuard, generation: u64) {
    let shared = Arc::clone(&guard.shared);
    let mut dropped = shared.generation.subscribe();
    let mut faults = shared.faults.subscribe();
    let work = async move {
        // Accept but stall: the client is connected, yet nothing reaches the server.
        open(&mut faults).await?;
        let target = faults.borrow().target;
        let server = TcpStream::connect(target).await?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::try_join!(
            pump(client_read, server_write, faults.clone()),
            pump(server_read, client_write, faults.clone())
        )?;
        Ok::<_, io::Error>(())
    };
    tokio::select! {
        result = work => {
            if let Err(e) = result {
                tracing::trace!(id = guard.id, error = %e, "proxied connection ended");
            }
        }
        _ = dropped.wait_for(|g| *g > generation) => {
            tracing::trace!(id = guard.id, "proxied connection dropped on request");
        }
    }
    // Both sockets are closed here as the futures owning them are dropped; then the guard unregisters.
    drop(guard);
}

/// Copies one direction, honouring blackhole and delay. At end of input it shuts down the output
/// (a half-close), so the other direction keeps flowing.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut faults: watch::Receiver<Faults>) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        open(&mut faults).await?;
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        let delay = faults.borrow().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // The blackhole may have started while this chunk was read: hold it back until it ends.
        open(&mut faults).await?;
        to.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server on a thread: echoes every connection until it closes.
    fn echo_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(stream: &mut std::net::TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
        stream.write_all(msg)?;
        let mut reply = vec![0u8; msg.len()];
        stream.read_exact(&mut reply)?;
        Ok(reply)
    }

    #[test]
    fn forwards_delays_and_holds_back_in_a_blackhole() {
        let proxy = FaultProxy::start(echo_server()).unwrap();
        let mut stream = std::net::TcpStream::connect(proxy.address()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(roundtrip(&mut stream, b"hello").unwrap(), b"hello");
        assert_eq!(proxy.connections_accepted(), 1);
        assert_eq!(proxy.active_connections(), 1);

        proxy.delay(Duration::from_millis(100));
        let started = Instant::now();
        assert_eq!(roundtrip(&mut stream, b"slow").unwrap(), b"slow");
        assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
        proxy.reset();

        proxy.blackhole(true);
        stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let err = roundtrip(&mut stream, b"lost?").unwrap_err();
        assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{err}");
        proxy.blackhole(false);
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut held = [0u8; 5];
        stream.read_exact(&mut held).unwrap();
        assert_eq!(&held, b"lost?");

        proxy.drop_connections();
        assert_eq!(proxy.active_connections(), 0);
        let mut buf = [0u8; 1];
        assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
    }

    #[tokio::test]
    async fn works_inside_a_runtime() {
        let proxy = FaultProxy::start(echo_server()).unwrap();
        let mut stream = tokio::net::TcpStream::connect(proxy.address()).await.unwrap();
        stream.write_all(b"async").await.unwrap();
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"async");
        proxy.drop_connections();
        assert_eq!(stream.read(&mut reply).await.unwrap_or(0), 0);
        drop(proxy);
    }

    #[test]
    fn drop_stops_the_proxy() {
        let proxy = FaultProxy::start(echo_server()).unwrap();
        let addr = proxy.address();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(roundtrip(&mut stream, b"x").unwrap(), b"x");
        drop(proxy);
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
