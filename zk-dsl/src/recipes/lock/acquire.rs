//! The acquire builder every lock-like recipe hands out.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::driver::{self, Attempt};
use super::guard::{LockGuard, LossPolicy};
use crate::client::Client;
use crate::error::Error;

/// An acquisition about to start: set a [`timeout`](Self::timeout), then await it for a
/// [`LockGuard`]. Dropping the future before it resolves abandons the attempt and removes its
/// node (in the background), so a cancelled waiter never blocks anyone.
#[must_use = "nothing is acquired until it is awaited"]
#[derive(Debug)]
pub struct Acquire<'a> {
    pub(crate) client: &'a Client,
    pub(crate) attempt: Attempt,
    pub(crate) policy: LossPolicy,
    pub(crate) timeout: Option<Duration>,
}

impl Acquire<'_> {
    /// Gives up with [`Error::Timeout`] after `d` (the node is removed); `Duration::ZERO` makes
    /// it a try-lock.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Waits as long as it takes (the default).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }
}

impl<'a> IntoFuture for Acquire<'a> {
    type Output = Result<LockGuard, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let deadline = self.timeout.map(|d| Instant::now() + d);
            let node = driver::acquire(self.client, &self.attempt, deadline).await?;
            Ok(LockGuard::new(self.client, node, self.policy))
        })
    }
}

/// The default participant id written into contender nodes (Curator writes the local address):
/// `<host name>:<pid>`, so `participants()` on any client says who is waiting.
pub(crate) fn default_participant_id() -> Vec<u8> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id()).into_bytes()
}

/// Turns a try-lock's timeout into "not acquired".
pub(crate) fn none_on_timeout(result: Result<LockGuard, Error>) -> Result<Option<LockGuard>, Error> {
    match result {
        Ok(guard) => Ok(Some(guard)),
        Err(Error::Timeout { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
