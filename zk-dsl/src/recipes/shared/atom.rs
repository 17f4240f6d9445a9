//! [`Atom`]: a typed value in one node, changed by optimistic compare-and-set.

use std::sync::Arc;

use tokio::sync::watch;

use crate::client::Client;
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::split_path;
use crate::recipes::retry::RetryPolicy;
use crate::watch::WatchedEvent;

/// A value and the node version it was read at (`-1`: the node does not exist yet, and the
/// value is the atom's initial one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The node's data version it was read at (what a compare-and-set expects).
    pub version: i32,
}

type Validator<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// Avout's `zk-atom`, the Rust way: a [`ZNodeData`] value in one node, updated with
/// compare-and-set on the node's version instead of under a lock.
///
/// [`swap`](Self::swap) reads the value, applies the function and writes the result only if the
/// node is still at the version it read, retrying (bounded, with jittered backoff) when another
/// writer got there first. Compared with Avout's lock-based atom this is safer — no lock to be
/// left held by a process that died or was partitioned mid-update, and an update is one atomic
/// `setData`, so a crash leaves either the old or the new value — and faster: one read and one
/// conditional write per update, against Avout's lock node create, children listing, read,
/// write and lock delete, and no waiting behind a holder.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::Atom;
///
/// let hits: Atom<i64> = Atom::new(client, "/stats/hits", 0).validator(|v| *v >= 0);
/// let after = hits.swap(|n| n + 1).await?;
/// println!("{} hits (version {})", after.value, after.version);
/// # Ok(()) }
/// ```
pub struct Atom<T> {
    client: Client,
    path: String,
    initial: T,
    validator: Option<Validator<T>>,
    retry: RetryPolicy,
    /// A node with no data holds `initial` (counters: kazoo's `Counter` creates its node empty).
    empty_is_initial: bool,
}

impl<T: Clone> Clone for Atom<T> {
    fn clone(&self) -> Self {
        Atom {
            client: self.client.clone(),
            path: self.path.clone(),
            initial: self.initial.clone(),
            validator: self.validator.clone(),
            retry: self.retry,
            empty_is_initial: self.empty_is_initial,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Atom<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Atom").field("path", &self.path).field("initial", &self.initial).finish_non_exhaustive()
    }
}

/// How contended compare-and-set loops back off: quickly, many times.
pub(crate) fn cas_policy() -> RetryPolicy {
    RetryPolicy::exponential(std::time::Duration::from_millis(2))
        .max_sleep(std::time::Duration::from_millis(100))
        .max_attempts(200)
        .max_elapsed(std::time::Duration::from_secs(60))
}

impl<T: ZNodeData + Clone + Send + Sync + 'static> Atom<T> {
    /// The atom at `path`; `initial` is its value until the node is first written (the node,
    /// and missing parents as containers, are created then).
    pub fn new(client: &Client, path: impl Into<String>, initial: T) -> Atom<T> {
        Atom {
            client: client.clone(),
            path: path.into(),
            initial,
            validator: None,
            retry: cas_policy(),
            empty_is_initial: false,
        }
    }

    /// Refuses writes of values `valid` rejects (Avout's validators): the write fails with
    /// [`Error::InvalidArgument`] and nothing is sent.
    pub fn validator(mut self, valid: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.validator = Some(Arc::new(valid));
        self
    }

    /// How many times, and how patiently, a contended [`swap`](Self::swap) tries again.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value a missing node counts as.
    pub(crate) fn initial(mut self, initial: T) -> Self {
        self.initial = initial;
        self
    }

    /// A node without data holds the initial value (instead of failing to decode).
    pub(crate) fn empty_is_initial(mut self) -> Self {
        self.empty_is_initial = true;
        self
    }

    /// The value on the server now, with its version.
    pub async fn get(&self) -> Result<Versioned<T>, Error> {
        match self.client.get_data(self.path.as_str()).await {
            Ok(node) if self.empty_is_initial && node.bytes().is_empty() => {
                Ok(Versioned { value: self.initial.clone(), version: node.stat.version })
            }
            Ok(node) => Ok(Versioned { value: node.decode()?, version: node.stat.version }),
            Err(Error::NoNode { .. }) => Ok(Versioned { value: self.initial.clone(), version: -1 }),
            Err(e) => Err(e),
        }
    }

    /// Sets the value whatever it was (Avout's `reset!!`).
    pub async fn reset(&self, value: T) -> Result<Versioned<T>, Error> {
        self.check(&value)?;
        match self.client.set_data(self.path.as_str(), &value).await {
            Ok(stat) => Ok(Versioned { value, version: stat.version }),
            Err(Error::NoNode { .. }) => match self.write(-1, &value).await? {
                Some(version) => Ok(Versioned { value, version }),
                // Created meanwhile by someone else: overwrite, as a reset does.
                None => Box::pin(self.reset(value)).await,
            },
            Err(e) => Err(e),
        }
    }

    /// Writes `value` only if the node is still at `expected_version` (`-1`: only if it does
    /// not exist yet). `None` if it had moved on.
    pub async fn compare_and_set(&self, expected_version: i32, value: T) -> Result<Option<Versioned<T>>, Error> {
        self.check(&value)?;
        Ok(self.write(expected_version, &value).await?.map(|version| Versioned { value, version }))
    }

    /// Replaces the value with `f(value)` atomically (Avout's `swap!!`): read, apply, write if
    /// unchanged, else again with the newer value. `f` may run several times. Fails with
    /// `BadVersion` if the retry policy runs out under contention. Reads are retried through
    /// connection loss; a write whose reply was lost with the connection is reported as
    /// `ConnectionLoss` (it may have been applied: a counter must not guess, since another
    /// writer may have written the very same value), so the caller decides. For updates that
    /// must apply exactly once through connection loss, use a [`Transaction`](super::Transaction),
    /// which resolves a lost commit with a marker.
    pub async fn swap(&self, mut f: impl FnMut(&T) -> T) -> Result<Versioned<T>, Error> {
        let started = std::time::Instant::now();
        let mut attempt = 1;
        loop {
            // Reads are safe to repeat after a lost connection; the write below is not.
            let current = RetryPolicy::default().run(|| self.get()).await?;
            let next = f(&current.value);
            self.check(&next)?;
            if let Some(version) = self.write(current.version, &next).await? {
                return Ok(Versioned { value: next, version });
            }
            match self.retry.pause(attempt, started) {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(Error::BadVersion { op: OpCode::SetData, path: self.path.clone() }),
            }
            attempt += 1;
        }
    }

    /// A local copy kept current by a watch (Avout's cached `deref`).
    pub async fn watch(&self) -> Result<AtomWatch<T>, Error> {
        AtomWatch::start(self.clone()).await
    }

    fn check(&self, value: &T) -> Result<(), Error> {
        match &self.validator {
            Some(valid) if !valid(value) => Err(Error::invalid_argument(
                Some(OpCode::SetData),
                Some(&self.path),
                "the atom's validator refused the value",
            )),
            _ => Ok(()),
        }
    }

    /// The conditional write: `setData` at `version`, or a create for `-1`. `None` when the
    /// node had moved on (BadVersion, or NodeExists for a create).
    async fn write(&self, version: i32, value: &T) -> Result<Option<i32>, Error> {
        if version >= 0 {
            return match self.client.set_data(self.path.as_str(), value).version(version).await {
                Ok(stat) => Ok(Some(stat.version)),
                Err(Error::BadVersion { .. } | Error::NoNode { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        for _ in 0..2 {
            match self.client.create(self.path.as_str()).persistent().data(value).await {
                Ok(_) => return Ok(Some(0)),
                Err(Error::NodeExists { .. }) => return Ok(None),
                Err(Error::NoNode { .. }) => {
                    let (parent, _) = split_path(&self.path)?;
                    if parent != "/" {
                        make_containers(&self.client, parent).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// A local copy of an [`Atom`]'s value, kept current by a persistent watch on its node and
/// re-read after every reconnection (persistent watches miss what changed meanwhile). Dropping
/// it stops the watch.
#[derive(Debug)]
pub struct AtomWatch<T> {
    value: watch::Receiver<Versioned<T>>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: ZNodeData + Clone + Send + Sync + 'static> AtomWatch<T> {
    async fn start(atom: Atom<T>) -> Result<AtomWatch<T>, Error> {
        let mut events = atom.client.watch(atom.path.as_str()).await?;
        let (tx, value) = watch::channel(atom.get().await?);
        let runtime = atom.client.inner.runtime.clone();
        let task = runtime.spawn(async move {
            while let Some(event) = events.next().await {
                if is_end(&event) {
                    break;
                }
                if event.keeper_state == crate::KeeperState::Disconnected {
                    continue;
                }
                // A change, or back after a disconnection: read the value as it is now.
                match atom.get().await {
                    // Reads run one at a time, in event order, so each is newer than the last.
                    Ok(now) => {
                        tx.send_if_modified(|v| {
                            let moved = now.version != v.version;
                            if moved {
                                *v = now;
                            }
                            moved
                        });
                    }
                    Err(e) if e.is_session_terminal() => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "re-reading a watched atom failed; the next event tries again")
                    }
                }
            }
        });
        Ok(AtomWatch { value, task })
    }

    /// The latest value seen (Avout's `deref`).
    pub fn get(&self) -> Versioned<T> {
        self.value.borrow().clone()
    }

    /// Waits for the next change and returns the new value; `None` once the session ended.
    pub async fn changed(&mut self) -> Option<Versioned<T>> {
        self.value.changed().await.ok()?;
        Some(self.value.borrow_and_update().clone())
    }
}

impl<T> Drop for AtomWatch<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The session ended (the watch stream's last event).
fn is_end(event: &WatchedEvent) -> bool {
    event.is_session_event() && !event.is_connection_change()
}
