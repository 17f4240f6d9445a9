//! Fencing: writes that only land while a lock, lease or leadership is still held.
//!
//! ZooKeeper cannot stop a former holder from acting — a long pause or a partition can outlast
//! its session while it still believes it holds (Curator TN10, CURATOR-689). What it can do is
//! refuse that holder's writes: every write through a [`Fence`] is a transaction that starts
//! with a check that the holder's own node still exists. The node is ephemeral and a new holder
//! always has a new node, so once the lock has passed on, the old holder's writes fail with
//! [`Error::LockLost`] and nothing of them is applied.

use crate::client::call::{Call, Op};
use crate::client::{Client, TransactionOp};
use crate::codec::ToZNodeBytes;
use crate::error::Error;
use crate::proto::{CreateMode, OpCode, Stat};
use crate::OpResult;

/// The right to write while holding: the holder's node and its fencing token. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fence {
    pub(crate) client: Client,
    pub(crate) node: String,
    pub(crate) token: i64,
}

impl Fence {
    /// The holder's node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// A number that grows with every new holder: the holder node's creation zxid. Hand it to
    /// a storage system that refuses writes carrying a lower token than it has seen, so a
    /// holder that lost without knowing cannot overwrite its successor's work outside
    /// ZooKeeper either.
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// A transaction that commits only while the holder's node exists: it starts with that
    /// check. Add the writes and await it; a lost hold fails it with
    /// `TransactionFailed { index: 0, .. }` and nothing is written ([`guarded`](Self::guarded)
    /// reports that as [`Error::LockLost`]).
    pub fn transaction(&self) -> Call<'_, TransactionOp> {
        self.client.transaction().check(self.node.as_str(), -1)
    }

    /// Runs a [`transaction`](Self::transaction) built by `build`; a lost hold is
    /// [`Error::LockLost`] naming the first of the caller's operations, and the results (and a
    /// failure's index) are those of the caller's operations, the check left out.
    pub async fn guarded(
        &self,
        build: impl FnOnce(Call<'_, TransactionOp>) -> Call<'_, TransactionOp>,
    ) -> Result<Vec<OpResult>, Error> {
        let call = build(self.transaction());
        let (op, path) = call.op.parts().into_iter().nth(1).unwrap_or((OpCode::Multi, String::new()));
        match call.await {
            Ok(mut results) => {
                // The check's own result comes first.
                if !results.is_empty() {
                    results.remove(0);
                }
                Ok(results)
            }
            Err(Error::TransactionFailed { index: 0, .. }) => {
                Err(Error::LockLost { op, path, lock: self.node.clone() })
            }
            Err(Error::TransactionFailed { index, source }) => {
                Err(Error::TransactionFailed { index: index.saturating_sub(1), source })
            }
            Err(e) => Err(e),
        }
    }

    /// Sets `path`'s data (if at `version`, -1 for any) only while holding.
    pub async fn set_data<T: ToZNodeBytes + ?Sized>(&self, path: &str, data: &T, version: i32) -> Result<Stat, Error> {
        match self.guarded(|t| t.set_data(path, data, version)).await?.into_iter().next() {
            Some(OpResult::DataSet { stat }) => Ok(stat),
            other => Err(Error::protocol(format!("a guarded setData answered {other:?}"))),
        }
    }

    /// Deletes `path` (if at `version`, -1 for any) only while holding.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), Error> {
        self.guarded(|t| t.delete(path, version)).await.map(drop)
    }

    /// Creates `path` with `data` in `mode` only while holding; resolves to the created path.
    pub async fn create<T: ToZNodeBytes + ?Sized>(
        &self,
        path: &str,
        data: &T,
        mode: CreateMode,
    ) -> Result<String, Error> {
        match self.guarded(|t| t.create(path, data, mode)).await?.into_iter().next() {
            Some(OpResult::Created { path, .. }) => Ok(path),
            other => Err(Error::protocol(format!("a guarded create answered {other:?}"))),
        }
    }
}
