//! [`LockingQueue`]: at-least-once delivery to consumers that may crash, in kazoo's
//! `LockingQueue` layout.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::ensure_dir;
use crate::client::Client;
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::OpCode;
use crate::recipes::protected::child_path;

/// A priority queue whose items stay in the queue until a consumer says it is done with them,
/// in kazoo's `LockingQueue` layout: items are persistent-sequential
/// `<path>/entries/entry-<priority, 3 digits>-<seq>`, and a consumer working on one holds an
/// ephemeral `<path>/taken/<entry name>` marker (holding its instance id). [`Taken::consume`]
/// deletes the item and its marker in one multi; a consumer that crashes (its session ends)
/// loses its markers, so its items are taken again by another — at-least-once, as kazoo's.
/// Lower priority numbers come first, then arrival order.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::LockingQueue;
///
/// let work: LockingQueue<String> = LockingQueue::new(client, "/queues/work");
/// work.put(&"reindex".to_string(), 100).await?;
/// let item = work.get().await?; // marked as ours; others skip it
/// println!("{}", item.item());
/// item.consume().await?; // gone for good (release() would put it back)
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LockingQueue<T> {
    client: Client,
    dir: String,
    id: String,
    item: PhantomData<fn() -> T>,
}

impl<T: ZNodeData> LockingQueue<T> {
    /// The queue on `path`.
    pub fn new(client: &Client, path: impl Into<String>) -> LockingQueue<T> {
        LockingQueue {
            client: client.clone(),
            dir: path.into(),
            id: uuid::Uuid::new_v4().simple().to_string(),
            item: PhantomData,
        }
    }

    fn entries(&self) -> String {
        child_path(&self.dir, "entries")
    }

    fn taken(&self) -> String {
        child_path(&self.dir, "taken")
    }

    /// Adds an item with `priority` (0–999, lower first).
    pub async fn put(&self, item: &T, priority: u16) -> Result<String, Error> {
        self.put_all(std::slice::from_ref(item), priority)
            .await?
            .pop()
            .ok_or_else(|| Error::protocol("a transaction of one create answered nothing"))
    }

    /// Adds several items with one `priority`, atomically (one multi).
    pub async fn put_all(&self, items: &[T], priority: u16) -> Result<Vec<String>, Error> {
        if priority > 999 {
            return Err(Error::invalid_argument(
                Some(OpCode::Create),
                Some(&self.dir),
                format!("priority {priority} is outside 0..=999"),
            ));
        }
        let node = child_path(&self.entries(), &format!("entry-{priority:03}-"));
        let mut encoded = Vec::with_capacity(items.len());
        for item in items {
            encoded.push(item.to_znode_bytes().map_err(|e| e.with_path(&self.dir))?);
        }
        for _ in 0..2 {
            let txn = encoded.iter().fold(self.client.transaction(), |t, bytes| {
                t.create_with(node.as_str(), |c| c.persistent().sequential().bytes(bytes.clone()))
            });
            match txn.await {
                Ok(results) => {
                    return Ok(results
                        .into_iter()
                        .filter_map(|r| match r {
                            crate::OpResult::Created { path, .. } => Some(path),
                            _ => None,
                        })
                        .collect())
                }
                Err(Error::TransactionFailed { source, .. }) if matches!(*source, Error::NoNode { .. }) => {
                    ensure_dir(&self.client, &self.entries()).await?;
                    ensure_dir(&self.client, &self.taken()).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::NoNode { op: OpCode::Create, path: self.entries() })
    }

    /// Takes the first item nobody holds, waiting (on watches) until there is one.
    pub async fn get(&self) -> Result<Taken<T>, Error> {
        self.get_until(None).await
    }

    /// Like [`get`](Self::get), waiting at most `timeout` ([`Error::Timeout`]).
    pub async fn get_timeout(&self, timeout: Duration) -> Result<Taken<T>, Error> {
        self.get_until(Some(Instant::now() + timeout)).await
    }

    /// The number of items, held or not.
    pub async fn len(&self) -> Result<usize, Error> {
        match self.client.children(self.entries()).await {
            Ok(children) => Ok(children.len()),
            Err(Error::NoNode { .. }) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Whether there are no items at all.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    async fn get_until(&self, deadline: Option<Instant>) -> Result<Taken<T>, Error> {
        let (entries, taken) = (self.entries(), self.taken());
        ensure_dir(&self.client, &entries).await?;
        ensure_dir(&self.client, &taken).await?;
        loop {
            // Watch both lists: a new item, or a marker going (a consumer released or died).
            let (mut names, new_item) = self.client.children(entries.as_str()).with_watch().await?;
            let (held, released) = self.client.children(taken.as_str()).with_watch().await?;
            // "entry-<ppp>-<seq>": the name's order is priority, then arrival.
            names.sort();
            for name in names.into_iter().filter(|n| !held.contains(n)) {
                let marker = child_path(&taken, &name);
                match self.client.create(marker.as_str()).data(self.id.as_str()).await {
                    Ok(_) => {}
                    // Someone else got it first.
                    Err(Error::NodeExists { .. }) => continue,
                    Err(e) => return Err(e),
                }
                match self.client.get_data(child_path(&entries, &name)).await {
                    Ok(node) => {
                        let entry = child_path(&entries, &name);
                        return match node.decode() {
                            Ok(item) => Ok(Taken { client: self.client.clone(), entry, marker, item }),
                            Err(e) => {
                                // Not ours to judge: put it back for a consumer that can read it.
                                match self.client.delete(marker.as_str()).await {
                                    Ok(()) | Err(Error::NoNode { .. }) => Err(e),
                                    Err(release) => Err(release),
                                }
                            }
                        };
                    }
                    // Consumed between the listing and our marker.
                    Err(Error::NoNode { .. }) => {
                        let _ = self.client.delete(marker.as_str()).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            tokio::select! {
                r = crate::recipes::barrier::wait_event(new_item, deadline, &entries) => r?,
                r = crate::recipes::barrier::wait_event(released, deadline, &taken) => r?,
            }
        }
    }
}

/// An item taken from a [`LockingQueue`]: [`consume`](Self::consume) it when done, or
/// [`release`](Self::release) it back. Dropping it without either leaves the marker until the
/// session ends.
#[derive(Debug)]
#[must_use = "consume or release the item"]
pub struct Taken<T> {
    client: Client,
    entry: String,
    marker: String,
    item: T,
}

impl<T> Taken<T> {
    /// The item.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// The item's node.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// Removes the item for good (item and marker in one multi), and hands it over.
    pub async fn consume(self) -> Result<T, Error> {
        let Taken { client, entry, marker, item } = self;
        client.transaction().delete(entry.as_str(), -1).delete(marker.as_str(), -1).await?;
        Ok(item)
    }

    /// Puts the item back for another consumer.
    pub async fn release(self) -> Result<(), Error> {
        match self.client.delete(self.marker.as_str()).await {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
