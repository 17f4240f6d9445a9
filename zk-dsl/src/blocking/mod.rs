//! The same client without async, for scripts, tools and REPL-style programs (the seed's
//! style). It needs no runtime of the caller's: each blocking client runs its session on a
//! small runtime of its own (one I/O thread), and works from any thread, including a plain
//! thread inside a tokio program.
//!
//! One rule: **every verb is the async client's — same builders, same options — finished with
//! `.wait()`**. Single requests (`create`, `get_data`, …), `create_all`, the compound verbs
//! (`delete_all`, `delete_children`, `compare_and_set_data`, the filters), `add_auth`, `close`
//! and `wait_connected` alike; a handle from `.send()` and a watch future `.wait()` too. Only
//! `connect` returns its `Result` directly, since there is nothing to finish yet. (There used to
//! be blocking twins of some verbs returning a `Result`; one rule is easier to remember than a
//! list of exceptions, and a blocking client then works in `zk!` unchanged.)
//!
//! ```no_run
//! use zk_dsl::blocking;
//!
//! # fn main() -> zk_dsl::Result<()> {
//! let client = blocking::Client::connect("127.0.0.1:2181")?;
//! client.create("/config").persistent().data("v1").wait()?;
//! let node = client.get_data("/config").wait()?;
//! assert_eq!(node.bytes(), b"v1");
//! client.compare_and_set_data("/config", "v1", "v2", 3).wait()?;
//! client.delete_all("/config").wait()?;
//! client.close().wait()?;
//! # Ok(()) }
//! ```
//!
//! `.wait()` blocks the calling thread; on an async runtime's worker thread use `.await`.

mod block_on;

use std::future::IntoFuture;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub use block_on::block_on;

use crate::client::call::{Call, Op};
use crate::error::Error;
use crate::Connect;

/// How long dropping the last handle lets the session close gracefully (so its ephemeral nodes
/// go at once) before the I/O thread is stopped. It happens on a thread of its own; the drop
/// itself never blocks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Owns the runtime; shuts it down off the dropping thread (dropping a runtime inside an async
/// context would panic).
struct RuntimeGuard(Option<tokio::runtime::Runtime>);

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            let stopper = std::thread::Builder::new()
                .name("zk-dsl-shutdown".into())
                .spawn(move || runtime.shutdown_timeout(SHUTDOWN_GRACE));
            if let Err(e) = stopper {
                tracing::warn!(error = %e, "could not stop the blocking client's runtime cleanly");
            }
        }
    }
}

/// A blocking handle to one session. Dereferences to the async [`crate::Client`], so every verb
/// and option is available; finish calls with `.wait()`. Clones share the session.
#[derive(Clone)]
pub struct Client {
    // Field order matters: the session handle goes before the runtime it runs on.
    client: crate::Client,
    /// Held, never read: the session's runtime lives as long as any handle.
    _runtime: Arc<RuntimeGuard>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::Client").field(&self.client).finish()
    }
}

impl Deref for Client {
    type Target = crate::Client;

    fn deref(&self) -> &crate::Client {
        &self.client
    }
}

impl Client {
    /// Connects with default options and waits until the session is established.
    pub fn connect(connect_string: impl Into<String>) -> Result<Client, Error> {
        crate::Client::connect(connect_string).blocking()
    }

    /// Connects with the options of an async [`Connect`] builder:
    /// `zk_dsl::Client::connect(cs).session_timeout(t).blocking()` does the same.
    pub fn connect_with(options: Connect) -> Result<Client, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zk-dsl-io")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the blocking client's runtime", e))?;
        let joined = block_on(runtime.spawn(options.connect()));
        let guard = Arc::new(RuntimeGuard(Some(runtime)));
        match joined {
            Ok(Ok(client)) => Ok(Client { client, _runtime: guard }),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(Error::Protocol {
                reason: "the connect task failed".into(),
                source: Some(std::sync::Arc::new(join)),
            }),
        }
    }

    /// The async client this one wraps (for code that mixes both styles). It stops working
    /// once every blocking handle is dropped.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }
}

impl<O: Op> Call<'_, O> {
    /// Sends the request and blocks the current thread until its result arrives: the blocking
    /// client's way to finish a call, and fine inside watch and reply callbacks (futures never
    /// wait for callbacks). On an async runtime prefer `.await`; a wait that could never end
    /// (on the thread driving the session's current-thread runtime) fails at once with
    /// [`Error::WouldDeadlock`].
    pub fn wait(self) -> Result<O::Output, Error> {
        self.send().wait()
    }
}

impl<T> crate::Pending<T> {
    /// Blocks until the result arrives (see [`Call::wait`]). Waiting for a `.callback(..)`
    /// handle inside a callback of the same client is refused with [`Error::WouldDeadlock`]:
    /// that result only exists after the current callback returns.
    pub fn wait(self) -> Result<T, Error> {
        self.check_can_block()?;
        block_on(self)
    }
}

impl crate::client::CreateAll {
    /// Creates the node and its ancestors, blocking (see [`crate::Client::create_all`]).
    pub fn wait(self) -> Result<String, Error> {
        block_on(self.into_future())
    }
}

impl<T> crate::client::Compound<'_, T> {
    /// Runs the compound verb (`delete_all`, `compare_and_set_data`, a filter, `close`, …)
    /// and blocks until it is done (see [`Call::wait`]).
    pub fn wait(self) -> Result<T, Error> {
        block_on(self)
    }
}

impl crate::WatchFuture {
    /// Blocks until the watch fires (or the session ends).
    pub fn wait(self) -> crate::WatchedEvent {
        block_on(self)
    }
}

impl Connect {
    /// Connects with these options and returns a [`blocking::Client`](Client).
    pub fn blocking(self) -> Result<Client, Error> {
        Client::connect_with(self)
    }
}
