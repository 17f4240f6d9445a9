//! Barriers: [`Barrier`] (wait until a node is gone) and [`DoubleBarrier`] (enter together,
//! leave together), in Curator's layouts.

mod double;

pub use double::{DoubleBarrier, Member};

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::lock::driver::make_containers;
use crate::recipes::protected::split_path;

/// A barrier that is up while its node exists (Curator's `DistributedBarrier`, kazoo's
/// `Barrier`): one process [`set`](Self::set)s it, any number [`wait`](Self::wait) for it to be
/// [`remove`](Self::remove)d.
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// The barrier at `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> Barrier {
        Barrier { client: client.clone(), path: path.into() }
    }

    /// Raises the barrier (creates its node, and missing parents as containers); raising a
    /// raised barrier is fine.
    pub async fn set(&self) -> Result<(), Error> {
        for _ in 0..2 {
            match self.client.create(self.path.as_str()).persistent().await {
                Ok(_) | Err(Error::NodeExists { .. }) => return Ok(()),
                Err(Error::NoNode { .. }) => make_containers(&self.client, split_path(&self.path)?.0).await?,
                Err(e) => return Err(e),
            }
        }
        Err(Error::NoNode { op: OpCode::Create, path: self.path.clone() })
    }

    /// Lowers the barrier: everyone waiting goes on.
    pub async fn remove(&self) -> Result<(), Error> {
        match self.client.delete(self.path.as_str()).await {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until the barrier is down (at once if it is not up).
    pub async fn wait(&self) -> Result<(), Error> {
        self.wait_until(None).await
    }

    /// Waits at most `timeout`; [`Error::Timeout`] if it is still up.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.wait_until(Some(Instant::now() + timeout)).await
    }

    async fn wait_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        loop {
            let (stat, changed) = self.client.exists(self.path.as_str()).with_watch().await?;
            if stat.is_none() {
                return Ok(());
            }
            wait_event(changed, deadline, &self.path).await?;
        }
    }
}

/// Waits for a watch to fire, or fails with `Timeout` at the deadline. A session that ended
/// is reported by the next request.
pub(crate) async fn wait_event(watch: crate::WatchFuture, deadline: Option<Instant>, path: &str) -> Result<(), Error> {
    match deadline {
        None => drop(watch.await),
        Some(deadline) => {
            if tokio::time::timeout_at(deadline.into(), watch).await.is_err() {
                return Err(Error::Timeout { op: OpCode::Exists, path: path.to_owned() });
            }
        }
    }
    Ok(())
}
