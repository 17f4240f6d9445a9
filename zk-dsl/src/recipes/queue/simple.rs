//! [`SimpleQueue`]: a FIFO of typed items, shared with Curator's `SimpleDistributedQueue`.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ensure_dir, sequence_of};
use crate::client::Client;
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::recipes::barrier::wait_event;
use crate::recipes::protected::child_path;

/// A distributed FIFO queue on a directory, in the layout of Curator's `SimpleDistributedQueue`
/// (and ZooKeeper's own `DistributedQueue` recipe): each item is a persistent-sequential
/// `qn-<seq>` node holding the item's bytes. Items are typed through [`ZNodeData`] (`Vec<u8>`
/// for Curator's raw bytes).
///
/// An item is taken by reading the head and deleting it: only the consumer whose delete
/// succeeds has it, so with many consumers every item is delivered exactly once (a consumer
/// that crashes after its delete loses the item: use [`LockingQueue`](super::LockingQueue) for
/// at-least-once). [`take`](Self::take) waits on a child watch, never polls.
///
/// A consumer lists the queue once and then works through that listing, in order, before it
/// lists again (clones of one `SimpleQueue` share it), so taking `n` queued items costs one
/// listing instead of `n` (Curator's and ZooKeeper's recipe list the whole directory for every
/// item, which makes draining a long queue quadratic). Items offered meanwhile have higher
/// sequence numbers, so they still come after the listed ones: the order stays FIFO.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::SimpleQueue;
///
/// let jobs: SimpleQueue<String> = SimpleQueue::new(client, "/queues/jobs");
/// jobs.offer(&"resize 42.png".to_string()).await?;
/// let job = jobs.take().await?; // waits for an item
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SimpleQueue<T> {
    client: Client,
    dir: String,
    /// Item names from the last listing not yet tried, in queue order.
    listed: Arc<Mutex<VecDeque<String>>>,
    item: PhantomData<fn() -> T>,
}

impl<T: ZNodeData> SimpleQueue<T> {
    /// The queue on `path` (created, as a container, by the first offer).
    pub fn new(client: &Client, path: impl Into<String>) -> SimpleQueue<T> {
        SimpleQueue { client: client.clone(), dir: path.into(), listed: Arc::default(), item: PhantomData }
    }

    fn next_listed(&self) -> Option<String> {
        self.listed.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    /// Appends an item; resolves to its node's path.
    pub async fn offer(&self, item: &T) -> Result<String, Error> {
        let bytes = item.to_znode_bytes().map_err(|e| e.with_path(&self.dir))?;
        let node = child_path(&self.dir, "qn-");
        for _ in 0..2 {
            match self.client.create(node.as_str()).persistent().sequential().bytes(bytes.clone()).await {
                Err(Error::NoNode { .. }) => ensure_dir(&self.client, &self.dir).await?,
                other => return other,
            }
        }
        Err(Error::NoNode { op: crate::proto::OpCode::Create, path: self.dir.clone() })
    }

    /// Takes the head item, if there is one.
    pub async fn poll(&self) -> Result<Option<T>, Error> {
        Ok(self.take_head().await?.map(|(item, _)| item))
    }

    /// The head item without taking it, if there is one.
    pub async fn peek(&self) -> Result<Option<T>, Error> {
        for name in self.items().await? {
            match self.client.get_data(child_path(&self.dir, &name)).await {
                Ok(node) => return node.decode().map(Some),
                // Taken meanwhile: the next one is the head now.
                Err(Error::NoNode { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Takes the head item, waiting (on a watch) until there is one.
    pub async fn take(&self) -> Result<T, Error> {
        self.take_until(None).await
    }

    /// Takes the head item, waiting at most `timeout` ([`Error::Timeout`]).
    pub async fn take_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.take_until(Some(Instant::now() + timeout)).await
    }

    /// The number of items now.
    pub async fn len(&self) -> Result<usize, Error> {
        Ok(self.items().await?.len())
    }

    /// Whether the queue is empty now.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    async fn take_until(&self, deadline: Option<Instant>) -> Result<T, Error> {
        loop {
            if let Some((item, _)) = self.take_head().await? {
                return Ok(item);
            }
            // Empty: wait for a child to arrive (the watch is set by this listing, so an item
            // offered after the listing wakes us).
            match self.client.children(self.dir.as_str()).with_watch().await {
                Ok((children, changed)) => {
                    if children.iter().any(|c| c.starts_with("qn-")) {
                        continue;
                    }
                    wait_event(changed, deadline, &self.dir).await?;
                }
                Err(Error::NoNode { .. }) => {
                    // Not created yet: watch for its creation.
                    let (stat, created) = self.client.exists(self.dir.as_str()).with_watch().await?;
                    if stat.is_none() {
                        wait_event(created, deadline, &self.dir).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads and deletes the first item this consumer wins, in queue order: the next one of the
    /// last listing, or of a fresh listing once that is used up.
    async fn take_head(&self) -> Result<Option<(T, String)>, Error> {
        let mut relisted = false;
        loop {
            let name = match self.next_listed() {
                Some(name) => name,
                // A fresh listing that was used up (others took its items): empty for now.
                None if relisted => return Ok(None),
                None => {
                    let items = self.items().await?;
                    if items.is_empty() {
                        return Ok(None);
                    }
                    *self.listed.lock().unwrap_or_else(|p| p.into_inner()) = items.into();
                    relisted = true;
                    continue;
                }
            };
            let path = child_path(&self.dir, &name);
            let node = match self.client.get_data(path.as_str()).await {
                Ok(node) => node,
                Err(Error::NoNode { .. }) => continue,
                Err(e) => return Err(e),
            };
            match self.client.delete(path.as_str()).await {
                // Ours: nobody else's delete can succeed now.
                Ok(()) => return node.decode().map(|item| Some((item, path))),
                // Another consumer took it first.
                Err(Error::NoNode { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The item names in queue order.
    async fn items(&self) -> Result<Vec<String>, Error> {
        let children = match self.client.children(self.dir.as_str()).await {
            Ok(children) => children,
            Err(Error::NoNode { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut items: Vec<(i64, String)> = children
            .into_iter()
            .filter(|c| c.starts_with("qn-"))
            .filter_map(|c| sequence_of(&c).map(|seq| (seq, c)))
            .collect();
        items.sort();
        Ok(items.into_iter().map(|(_, name)| name).collect())
    }
}
