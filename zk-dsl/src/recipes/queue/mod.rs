//! Queues: [`SimpleQueue`] (Curator's `SimpleDistributedQueue` layout) and [`LockingQueue`]
//! (kazoo's `LockingQueue` layout, for consumers that may crash mid-item).

mod locking;
mod simple;

pub use locking::{LockingQueue, Taken};
pub use simple::SimpleQueue;

use crate::client::Client;
use crate::error::Error;
use crate::recipes::lock::driver::make_containers;

/// Makes `dir` (and its parents) as containers if missing.
pub(crate) async fn ensure_dir(client: &Client, dir: &str) -> Result<(), Error> {
    match client.exists(dir).await? {
        Some(_) => Ok(()),
        None => make_containers(client, dir).await,
    }
}

/// `name`'s sequence number: the digits after the last `-` (ZooKeeper's ten-digit suffix, or a
/// negative one after the counter wrapped).
pub(crate) fn sequence_of(name: &str) -> Option<i64> {
    let (_, digits) = name.rsplit_once('-')?;
    if digits.len() >= 10 {
        return digits.parse().ok();
    }
    // "-000000005": the sign is the '-' the split consumed.
    let (head, _) = name.rsplit_once('-')?;
    head.ends_with('-').then(|| digits.parse::<i64>().ok().map(|d| -d)).flatten()
}
