//! [`Mutex`]: an exclusive lock shared with Curator's `InterProcessMutex` and kazoo's `Lock`.

use super::acquire::{default_participant_id, none_on_timeout, Acquire};
use super::driver::{self, Attempt};
use super::guard::LockGuard;
use super::participants::{participants, Participant};
use crate::client::Client;
use crate::error::Error;
use crate::recipes::options::{recipe_options, RecipeOptions};

/// A distributed mutex on a directory node, in Curator's `InterProcessMutex` layout: each
/// contender is an ephemeral-sequential `_c_<uuid>-lock-<seq>` holding its participant id; the
/// lowest sequence holds the lock, each other contender watches only the one before it.
///
/// It shares a lock with Curator (`InterProcessMutex`, `LeaderSelector`), go-zookeeper, and
/// kazoo's `Lock` configured with `extra_lock_patterns=["-lock-"]` (kazoo's own `__lock__`
/// nodes are recognised here without configuration). See the README's "Locks" section for what
/// does not interoperate.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use std::time::Duration;
/// use zk_dsl::recipes::Mutex;
///
/// let mutex = Mutex::new(client, "/locks/reports");
/// let guard = mutex.acquire().timeout(Duration::from_secs(5)).await?;
/// // Writes that land only while the lock is held:
/// guard.set_data("/reports/latest", "…", -1).await?;
/// guard.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Mutex {
    client: Client,
    dir: String,
    pub(crate) options: RecipeOptions,
}

recipe_options!(Mutex, options);

impl Mutex {
    /// A mutex on `path` (created, as a container, on first use).
    pub fn new(client: &Client, path: impl Into<String>) -> Mutex {
        Mutex { client: client.clone(), dir: path.into(), options: RecipeOptions::new(default_participant_id()) }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        &self.dir
    }

    /// Waits for the lock until `cancel` resolves; then removes our node before returning
    /// `None` (for callers that must know it is gone, like a stopping selector).
    pub(crate) async fn acquire_or_cancel(
        &self,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<Option<LockGuard>, Error> {
        let attempt = self.acquire().attempt;
        let node = driver::acquire_or_cancel(&self.client, &attempt, cancel).await?;
        Ok(node.map(|node| LockGuard::new(&self.client, node, self.options.policy)))
    }

    /// Waits for the lock (add `.timeout(d)`).
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            client: &self.client,
            attempt: Attempt {
                dir: self.dir.clone(),
                marker: "lock-",
                data: self.options.id.clone(),
                blocked_by: driver::exclusive,
                retry: self.options.retry,
            },
            policy: self.options.policy,
            timeout: None,
        }
    }

    /// Takes the lock if nobody holds or waits for it, without waiting.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>, Error> {
        none_on_timeout(self.acquire().timeout(std::time::Duration::ZERO).await)
    }

    /// Everyone holding or waiting, in lock order (the holder first), with their ids.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.client, &self.dir, driver::exclusive).await
    }
}
