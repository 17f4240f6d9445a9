//! [`ReadWriteLock`]: many readers or one writer, in Curator's `InterProcessReadWriteLock`
//! layout.

use super::acquire::{default_participant_id, Acquire};
use super::driver::{self, Attempt, BlockedBy};
use super::participants::{participants, Participant};
use crate::client::Client;
use crate::error::Error;
use crate::recipes::options::{recipe_options, RecipeOptions};

/// A distributed read/write lock on a directory node: writers create `_c_<uuid>-__WRIT__<seq>`,
/// readers `_c_<uuid>-__READ__<seq>` (Curator's names). A writer holds the lock when it is the
/// first contender; a reader holds it when no writer comes before it, and waits only for the
/// nearest earlier writer, so readers that arrive together share and nobody is woken for a
/// reader's release. Fair: everyone is served in arrival order. kazoo's `WriteLock`/`ReadLock`
/// nodes (`__lock__`, `__rlock__`) are ordered with ours (kazoo itself only sees Curator-style
/// nodes through `extra_lock_patterns`).
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::ReadWriteLock;
///
/// let lock = ReadWriteLock::new(client, "/locks/catalog");
/// let reading = lock.read().await?;
/// // ... read the catalog; other readers may be in here too ...
/// reading.release().await?;
/// let writing = lock.write().await?;
/// writing.set_data("/catalog", "v2", -1).await?;
/// writing.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReadWriteLock {
    client: Client,
    dir: String,
    options: RecipeOptions,
}

recipe_options!(ReadWriteLock, options);

impl ReadWriteLock {
    /// A read/write lock on `path` (created, as a container, on first use).
    pub fn new(client: &Client, path: impl Into<String>) -> ReadWriteLock {
        ReadWriteLock {
            client: client.clone(),
            dir: path.into(),
            options: RecipeOptions::new(default_participant_id()),
        }
    }

    /// Waits for a shared (read) hold.
    pub fn read(&self) -> Acquire<'_> {
        self.acquire("__READ__", driver::reader)
    }

    /// Waits for the exclusive (write) hold.
    pub fn write(&self) -> Acquire<'_> {
        self.acquire("__WRIT__", driver::exclusive)
    }

    fn acquire(&self, marker: &'static str, blocked_by: BlockedBy) -> Acquire<'_> {
        Acquire {
            client: &self.client,
            attempt: Attempt {
                dir: self.dir.clone(),
                marker,
                data: self.options.id.clone(),
                blocked_by,
                retry: self.options.retry,
            },
            policy: self.options.policy,
            timeout: None,
        }
    }

    /// Everyone holding or waiting, in order; `holds` is true for each current holder (several
    /// readers may hold at once).
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.client, &self.dir, |ordered, index| match ordered.get(index).map(|c| c.kind) {
            Some(crate::recipes::ContenderKind::Reader) => driver::reader(ordered, index),
            _ => driver::exclusive(ordered, index),
        })
        .await
    }
}
