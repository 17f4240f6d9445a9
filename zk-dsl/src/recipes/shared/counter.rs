//! [`SharedCount`] and [`AtomicLong`]: counters Curator and kazoo read and write too.

use super::atom::{Atom, AtomWatch, Versioned};
use crate::client::Client;
use crate::error::Error;

/// A 32-bit counter in Curator's `SharedCount` format (the node holds a 4-byte big-endian
/// signed integer), which kazoo's `Counter(path, support_curator=True)` also reads and writes.
pub type SharedCount = Counter<i32>;

/// A 64-bit counter in the format of Curator's `DistributedAtomicLong` value node (an 8-byte
/// big-endian signed integer).
pub type AtomicLong = Counter<i64>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
}

/// The integer types a [`Counter`] can hold (`i32`, `i64`).
pub trait CounterValue:
    crate::ZNodeData + Copy + Default + Send + Sync + std::fmt::Debug + sealed::Sealed + 'static
{
    /// `self + delta`, or `None` on overflow.
    fn checked_add(self, delta: Self) -> Option<Self>;
}

impl CounterValue for i32 {
    fn checked_add(self, delta: i32) -> Option<i32> {
        i32::checked_add(self, delta)
    }
}

impl CounterValue for i64 {
    fn checked_add(self, delta: i64) -> Option<i64> {
        i64::checked_add(self, delta)
    }
}

/// A counter node updated by compare-and-set on its version (an [`Atom`] of an integer). A
/// missing node counts as 0 (or the [`seed`](Self::seed)) and is created by the first write; so
/// does a node without data, as kazoo's `Counter` creates it (`ensure_path`) and as Curator's
/// `DistributedAtomicLong` reads it.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::SharedCount;
///
/// let jobs = SharedCount::new(client, "/counters/jobs");
/// let now = jobs.add(1).await?; // Curator's SharedCount and kazoo's Counter(support_curator=True) see it
/// println!("job #{now}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Counter<N: CounterValue> {
    atom: Atom<N>,
}

impl<N: CounterValue> Counter<N> {
    /// The counter at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Counter<N> {
        Counter { atom: Atom::new(client, path, N::default()).empty_is_initial() }
    }

    /// The value a missing node counts as (Curator's `seedValue`; default 0).
    pub fn seed(self, seed: N) -> Counter<N> {
        Counter { atom: self.atom.initial(seed) }
    }

    /// How a contended [`add`](Self::add) backs off and when it gives up (see
    /// [`Atom::retry`]); the default backs off from 2 ms up to 100 ms, at most 200 attempts.
    pub fn retry(self, policy: crate::recipes::RetryPolicy) -> Counter<N> {
        Counter { atom: self.atom.retry(policy) }
    }

    /// The value and its version.
    pub async fn get(&self) -> Result<Versioned<N>, Error> {
        self.atom.get().await
    }

    /// Sets the value unconditionally.
    pub async fn set(&self, value: N) -> Result<Versioned<N>, Error> {
        self.atom.reset(value).await
    }

    /// Adds `delta` (negative to subtract) atomically; resolves to the new value. Fails with
    /// `InvalidArgument` instead of wrapping around on overflow.
    pub async fn add(&self, delta: N) -> Result<N, Error> {
        let mut overflow = false;
        let result = self
            .atom
            .swap(|v| {
                // Decided afresh on every attempt: only the last one's outcome counts.
                let sum = v.checked_add(delta);
                overflow = sum.is_none();
                sum.unwrap_or(*v)
            })
            .await;
        if overflow {
            return Err(Error::invalid_argument(
                Some(crate::proto::OpCode::SetData),
                Some(self.atom.path()),
                format!("adding {delta:?} overflows the counter"),
            ));
        }
        result.map(|v| v.value)
    }

    /// Sets `value` only if the node is still at `expected_version` (Curator's `trySetCount`);
    /// `false` if someone changed it first.
    pub async fn compare_and_set(&self, expected_version: i32, value: N) -> Result<bool, Error> {
        Ok(self.atom.compare_and_set(expected_version, value).await?.is_some())
    }

    /// The value, kept current by a watch; [`AtomWatch::changed`] is the stream of changes.
    pub async fn watch(&self) -> Result<AtomWatch<N>, Error> {
        self.atom.watch().await
    }
}
