//! [`Ref`]s and [`Transaction`]s: Avout's `dosync` over several typed nodes, committed as one
//! ZooKeeper multi.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use super::atom::cas_policy;
use crate::client::Client;
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::{child_path, split_path};
use crate::recipes::retry::RetryPolicy;
use crate::ReadResult;

/// A typed node that transactions read and write (Avout's `zk-ref`). A missing node holds
/// `initial`; the first transaction that writes it creates it (and missing parents, as
/// containers).
#[derive(Debug, Clone)]
pub struct Ref<T> {
    path: String,
    initial: T,
}

impl<T: ZNodeData + Clone> Ref<T> {
    /// The ref at `path`, `initial` until first written.
    pub fn new(path: impl Into<String>, initial: T) -> Ref<T> {
        Ref { path: path.into(), initial }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Runs transactions over [`Ref`]s: the body reads refs and writes new values through a
/// [`Txn`]; the commit is one multi with a version check for every ref read and a versioned
/// `setData` (or a create) for every ref written, so it applies only if nothing it read has
/// changed — otherwise the body runs again on fresh values (bounded by the retry policy).
///
/// Reads are consistent: every ref an attempt reads comes from one `multiRead` together with all
/// the refs it read before, and an attempt whose earlier reads have changed stops at once
/// (the body sees a `BadVersion` error it should pass on with `?`) and starts over, so a body
/// never computes on a mix of old and new values. The body may run several times: keep it free
/// of other side effects.
///
/// Reads lost with the connection just rerun the attempt. A commit whose reply is lost with the
/// connection is resolved, not guessed: each commit also
/// creates a marker node, and after a `ConnectionLoss` the transaction looks for it (after a
/// `sync`), so an `Ok` means applied exactly once and a rerun never applies a transaction twice.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::{Ref, Transaction};
///
/// let (alice, bob) = (Ref::new("/bank/alice", 100i64), Ref::new("/bank/bob", 100i64));
/// Transaction::new(client)
///     .run(|tx| {
///         let (alice, bob) = (alice.clone(), bob.clone());
///         async move {
///             let from = tx.get(&alice).await?;
///             if from < 30 {
///                 let multi = Some(zk_dsl::proto::OpCode::Multi);
///                 return Err(zk_dsl::Error::invalid_argument(multi, Some(alice.path()), "insufficient funds"));
///             }
///             tx.set(&alice, &(from - 30)).await?;
///             tx.alter(&bob, |b| b + 30).await?;
///             Ok(())
///         }
///     })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Transaction {
    client: Client,
    retry: RetryPolicy,
    markers: String,
}

impl Transaction {
    /// Transactions on `client`'s session. Commit markers live under `/zk-dsl-txn` (a container)
    /// unless [`markers`](Self::markers) says otherwise.
    pub fn new(client: &Client) -> Transaction {
        Transaction { client: client.clone(), retry: cas_policy(), markers: "/zk-dsl-txn".into() }
    }

    /// How many conflicting attempts to rerun, and how patiently.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Where commit markers are created (each lives only until its commit is confirmed).
    pub fn markers(mut self, dir: impl Into<String>) -> Self {
        self.markers = dir.into();
        self
    }

    /// Runs `body` until an attempt commits; resolves to that attempt's result. An error from
    /// the body (other than the conflict it was told about) ends the transaction unapplied.
    pub async fn run<R, F, Fut>(&self, mut body: F) -> Result<R, Error>
    where
        F: FnMut(Txn) -> Fut,
        Fut: Future<Output = Result<R, Error>>,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let txn = Txn { client: self.client.clone(), state: Arc::new(Mutex::new(State::default())) };
            let outcome = body(txn.clone()).await;
            let state = std::mem::take(&mut *txn.lock());
            let result = match outcome {
                Err(_) if state.conflict => None,
                // A read lost with the connection: nothing was written, so the attempt reruns.
                Err(e) if e.is_retryable() => None,
                Err(e) => return Err(e),
                Ok(result) => match self.commit(&state).await? {
                    true => Some(result),
                    false => None,
                },
            };
            if let Some(result) = result {
                return Ok(result);
            }
            match self.retry.pause(attempt, started) {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(Error::BadVersion { op: OpCode::Multi, path: state.first_path() }),
            }
            attempt += 1;
        }
    }

    /// One commit: `true` if applied, `false` on a conflict (rerun).
    async fn commit(&self, state: &State) -> Result<bool, Error> {
        if state.writes.is_empty() {
            // Read-only: the reads were one consistent snapshot already.
            return Ok(true);
        }
        let marker = child_path(&self.markers, &format!("commit-{}", uuid::Uuid::new_v4()));
        for _ in 0..3 {
            let mut t = self.client.transaction();
            for (path, read) in &state.reads {
                let write = state.writes.get(path);
                t = match (read.version, write) {
                    // Not there when read: creating it both writes it and proves it still is not.
                    (-1, Some(bytes)) => t.create_with(path.as_str(), |c| c.persistent().bytes(bytes.clone())),
                    (-1, None) => t.create_with(path.as_str(), |c| c.persistent()).delete(path.as_str(), -1),
                    (version, Some(bytes)) => t.set_data(path.as_str(), &bytes[..], version),
                    (version, None) => t.check(path.as_str(), version),
                };
            }
            t = t.create_with(marker.as_str(), |c| c.ephemeral());
            match t.await {
                Ok(_) => {
                    // Confirmed; the marker has done its job.
                    drop(self.client.delete(marker.as_str()).send());
                    return Ok(true);
                }
                Err(Error::TransactionFailed { source, .. }) => match *source {
                    Error::BadVersion { .. } | Error::NodeExists { .. } => return Ok(false),
                    Error::NoNode {
                        op: OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl,
                        path,
                    } => {
                        // A missing parent (of a new ref, or of the markers): make it, go again.
                        let (parent, _) = split_path(&path)?;
                        if parent != "/" {
                            match make_containers(&self.client, parent).await {
                                Ok(()) => {}
                                // Nothing of the commit was applied: rerun.
                                Err(e) if e.is_retryable() => return Ok(false),
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    // A ref read in this attempt was deleted since: rerun on fresh values.
                    Error::NoNode { .. } => return Ok(false),
                    other => return Err(other),
                },
                Err(e) if e.is_retryable() => return self.resolve(&marker).await,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// After a lost reply: was the commit applied? Its marker says (once the server we talk to
    /// has caught up with the leader).
    async fn resolve(&self, marker: &str) -> Result<bool, Error> {
        let (parent, _) = split_path(marker)?;
        let client = &self.client;
        RetryPolicy::default()
            .run(|| async {
                client.sync(parent).await?;
                match client.exists(marker).await? {
                    Some(_) => {
                        drop(client.delete(marker).send());
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })
            .await
    }
}

#[derive(Debug, Default)]
struct State {
    /// Every ref read in this attempt: its data and version (`-1`: missing).
    reads: BTreeMap<String, Read>,
    /// New data for refs written in this attempt.
    writes: BTreeMap<String, Bytes>,
    /// A read found an earlier read outdated: the attempt must start over.
    conflict: bool,
}

impl State {
    fn first_path(&self) -> String {
        self.reads.keys().next().cloned().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Read {
    data: Option<Bytes>,
    version: i32,
}

/// One attempt of a transaction, handed to the body (cheap to clone; clones are the same
/// attempt).
#[derive(Debug, Clone)]
pub struct Txn {
    client: Client,
    state: Arc<Mutex<State>>,
}

impl Txn {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a body panicked mid-update; the maps are still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ref's value in this attempt: what this attempt wrote, else its snapshot.
    pub async fn get<T: ZNodeData + Clone>(&self, r: &Ref<T>) -> Result<T, Error> {
        let known = {
            let state = self.lock();
            state
                .writes
                .get(&r.path)
                .map(|b| Some(b.clone()))
                .or_else(|| state.reads.get(&r.path).map(|read| read.data.clone()))
        };
        let data = match known {
            Some(data) => data,
            None => self.read(&r.path).await?,
        };
        match data {
            Some(bytes) => T::from_znode_bytes(&bytes).map_err(|e| e.with_path(&r.path)),
            None => Ok(r.initial.clone()),
        }
    }

    /// Writes `value` to the ref when the attempt commits (reading it first if this attempt has
    /// not, so the write is checked against the version it replaces).
    pub async fn set<T: ZNodeData + Clone>(&self, r: &Ref<T>, value: &T) -> Result<(), Error> {
        let bytes = value.to_znode_bytes().map_err(|e| e.with_path(&r.path))?;
        if !self.lock().reads.contains_key(&r.path) {
            self.read(&r.path).await?;
        }
        self.lock().writes.insert(r.path.clone(), Bytes::from(bytes));
        Ok(())
    }

    /// Replaces the ref's value with `f(value)` (Avout's `alter!!`); resolves to the new value.
    pub async fn alter<T: ZNodeData + Clone>(&self, r: &Ref<T>, f: impl FnOnce(T) -> T) -> Result<T, Error> {
        let next = f(self.get(r).await?);
        self.set(r, &next).await?;
        Ok(next)
    }

    /// Reads `path` together with every ref read so far, in one `multiRead`; if any of those has
    /// changed, the attempt is outdated: marked, and stopped with `BadVersion`.
    async fn read(&self, path: &str) -> Result<Option<Bytes>, Error> {
        let earlier: Vec<(String, i32)> = self.lock().reads.iter().map(|(p, r)| (p.clone(), r.version)).collect();
        let call = earlier.iter().fold(self.client.multi_read(), |m, (p, _)| m.get_data(p.as_str())).get_data(path);
        let results = call.await?;
        let mut now = results.into_iter().map(|r| match r {
            ReadResult::Data(node) => Ok(Read { data: node.data, version: node.stat.version }),
            ReadResult::Error(Error::NoNode { .. }) => Ok(Read { data: None, version: -1 }),
            ReadResult::Error(e) => Err(e),
            ReadResult::Children(_) => Err(Error::protocol("a getData in a multiRead answered children")),
        });
        for (p, version) in &earlier {
            let current = now.next().ok_or_else(|| Error::protocol("a multiRead answered too few reads"))??;
            if current.version != *version {
                self.lock().conflict = true;
                return Err(Error::BadVersion { op: OpCode::Check, path: p.clone() });
            }
        }
        let read = now.next().ok_or_else(|| Error::protocol("a multiRead answered too few reads"))??;
        let data = read.data.clone();
        self.lock().reads.insert(path.to_owned(), read);
        Ok(data)
    }
}
