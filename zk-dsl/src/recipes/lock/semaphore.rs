//! [`Semaphore`] and [`SemaphoreMutex`]: up to N holders, in Curator's
//! `InterProcessSemaphoreV2` layout.

use std::time::{Duration, Instant};

use super::acquire::{default_participant_id, none_on_timeout};
use super::driver::{self, Attempt, Cleanup};
use super::guard::LockGuard;
use super::participants::{participants, Participant};
use super::Mutex;
use crate::client::Client;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::options::{recipe_options, RecipeOptions};
use crate::recipes::protected::{child_path, new_protected_id};

/// A counting semaphore on a directory node, in Curator's `InterProcessSemaphoreV2` layout:
/// `<path>/locks` is a [`Mutex`] that admits one acquirer at a time, and each holder owns an
/// ephemeral-sequential lease `<path>/leases/_c_<uuid>-lease-<seq>` holding its participant id.
/// The admitted acquirer creates its lease and, while still holding the admission mutex, waits
/// (one child watch on `leases`) until at most `max_leases` leases exist; then it lets the next
/// acquirer in. So only one waiter ever watches the lease list (no herd), and a Curator
/// semaphore on the same path with the same `maxLeases` shares the leases.
///
/// Every participant must use the same `max_leases` (as in Curator: it is a convention, not
/// stored on the server).
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::Semaphore;
///
/// let downloads = Semaphore::new(client, "/limits/downloads", 3);
/// let lease = downloads.acquire().await?; // at most 3 holders at a time
/// // ... download ...
/// lease.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    dir: String,
    max_leases: usize,
    pub(crate) options: RecipeOptions,
}

recipe_options!(Semaphore, options);

impl Semaphore {
    /// A semaphore of `max_leases` (at least 1) on `path`.
    pub fn new(client: &Client, path: impl Into<String>, max_leases: usize) -> Semaphore {
        Semaphore {
            client: client.clone(),
            dir: path.into(),
            max_leases: max_leases.max(1),
            options: RecipeOptions::new(default_participant_id()),
        }
    }

    /// Waits for a lease. Dropping the future gives up and removes what it created.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        self.acquire_until(None).await
    }

    /// Waits at most `timeout` for a lease ([`Error::Timeout`] after).
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// A lease if one is free now, without waiting.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>, Error> {
        none_on_timeout(self.acquire_timeout(Duration::ZERO).await)
    }

    /// The lease holders, in order.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.client, &self.leases(), |_, _| None).await
    }

    fn leases(&self) -> String {
        child_path(&self.dir, "leases")
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<LockGuard, Error> {
        let client = &self.client;
        let admission =
            Mutex::new(client, child_path(&self.dir, "locks")).id(self.options.id.clone()).retry(self.options.retry);
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let admitted = match remaining {
            Some(left) => admission.acquire().timeout(left).await?,
            None => admission.acquire().await?,
        };
        let leases = self.leases();
        let attempt = Attempt {
            dir: leases.clone(),
            marker: "lease-",
            data: self.options.id.clone(),
            blocked_by: driver::exclusive,
            retry: self.options.retry,
        };
        let id = new_protected_id();
        let mut cleanup = Cleanup::new(client, &leases, &id);
        let lease = driver::create_node(client, &attempt, &id).await?;
        cleanup.found(&lease.path);
        loop {
            let (children, changed) = client.children(leases.as_str()).with_watch().await?;
            if !children.contains(&lease.name) {
                return Err(Error::NoNode { op: OpCode::GetChildren2, path: lease.path.clone() });
            }
            if children.len() <= self.max_leases {
                break;
            }
            match deadline {
                None => drop(changed.await),
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline.into(), changed).await.is_err() {
                        return Err(Error::Timeout { op: OpCode::Create, path: self.dir.clone() });
                    }
                }
            }
        }
        cleanup.disarm();
        // Let the next acquirer in; the lease is ours whatever happens to the admission node.
        if let Err(e) = admitted.release().await {
            tracing::warn!(error = %e, "could not release the semaphore's admission lock; it goes with the session");
        }
        Ok(LockGuard::new(client, lease, self.options.policy))
    }
}

/// A mutex that is a one-lease [`Semaphore`] (Curator's `InterProcessSemaphoreMutex`): not
/// re-entrant, and its guard may be released from any task.
#[derive(Debug, Clone)]
pub struct SemaphoreMutex {
    semaphore: Semaphore,
}

recipe_options!(SemaphoreMutex, semaphore.options);

impl SemaphoreMutex {
    /// A semaphore mutex on `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> SemaphoreMutex {
        SemaphoreMutex { semaphore: Semaphore::new(client, path, 1) }
    }

    /// Waits for the lock.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        self.semaphore.acquire().await
    }

    /// Waits at most `timeout` for the lock.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard, Error> {
        self.semaphore.acquire_timeout(timeout).await
    }

    /// The lock if it is free now.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>, Error> {
        self.semaphore.try_acquire().await
    }
}
