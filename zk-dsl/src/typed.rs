//! Typed nodes: one node path bound to one Rust type.
//!
//! `#[derive(ZNodeData)]` with `#[znode(path = "/config/{service}")]` gives the type a
//! constructor, `Config::node(&client, service)`, returning a [`TypedNode`]; one can also be
//! made by hand with [`TypedNode::new`] for any [`ZNodeData`] type. Its operations are the
//! client's, with the encoding done for you:
//!
//! | method | does | returns |
//! |---|---|---|
//! | [`get`](TypedNode::get) | getData, decode | `(T, Stat)`; `NoNode` if missing |
//! | [`create`](TypedNode::create) | `client.create(path).data(&value)` | the builder: add `.persistent()` etc. (ephemeral by default, as `create`) |
//! | [`set`](TypedNode::set) | `client.set_data(path, &value)` | the builder: add `.version(v)` |
//! | [`delete`](TypedNode::delete) | `client.delete(path)` | the builder: add `.version(v)` |
//! | [`update`](TypedNode::update) | read, change, write back if the version is unchanged, else retry | the value written and its Stat |
//! | [`watch`](TypedNode::watch) | a stream of the node's values | [`NodeWatch`] |
//!
//! ```no_run
//! # #[cfg(feature = "json")]
//! # mod demo {
//! use serde::{Deserialize, Serialize};
//! use zk_dsl::ZNodeData;
//!
//! #[derive(Serialize, Deserialize, ZNodeData, Default)]
//! #[znode(codec = json, path = "/config/{service}")]
//! struct Config {
//!     replicas: u32,
//! }
//!
//! async fn scale(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
//!     let node = Config::node(client, "billing");
//!     node.create(&Config::default()).persistent().await?;
//!     let (config, stat) = node.update(|c| c.replicas += 1).await?; // no lost updates
//!     println!("{} replicas at version {}", config.replicas, stat.version);
//!     Ok(())
//! }
//! # }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::client::{Call, CreateOp, DeleteOp, SetDataOp};
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::{EventType, KeeperState, OpCode, Stat};
use crate::{Client, SessionState, WatchFuture};

/// The node at one path, read and written as `T`. Cheap: a client handle (a clone, so the
/// node can move into a spawned task) and the path.
pub struct TypedNode<T> {
    client: Client,
    path: String,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for TypedNode<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedNode").field("path", &self.path).field("type", &std::any::type_name::<T>()).finish()
    }
}

impl<T> Clone for TypedNode<T> {
    fn clone(&self) -> Self {
        TypedNode { client: self.client.clone(), path: self.path.clone(), _type: PhantomData }
    }
}

impl<T: ZNodeData> TypedNode<T> {
    /// The node at `path`, as `T`.
    pub fn new(client: &Client, path: impl Into<String>) -> Self {
        TypedNode { client: client.clone(), path: path.into(), _type: PhantomData }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The client the node is read and written through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The node's value and Stat. `NoNode` if it does not exist (`.absent_ok()` makes that
    /// `None`); `Error::Codec` naming the path and the type if the data is not a `T`.
    pub async fn get(&self) -> Result<(T, Stat), Error> {
        let node = self.client.get_data(self.path.as_str()).await?;
        Ok((node.decode()?, node.stat))
    }

    /// Creates the node holding `value`: the `create` builder with the data set, so every
    /// create option applies (`.persistent()`, `.acl(…)`, …). Ephemeral unless told otherwise,
    /// as `create` is.
    pub fn create(&self, value: &T) -> Call<'_, CreateOp> {
        self.client.create(self.path.as_str()).data(value)
    }

    /// Stores `value`: the `set_data` builder; add `.version(v)` to make it conditional.
    pub fn set(&self, value: &T) -> Call<'_, SetDataOp> {
        self.client.set_data(self.path.as_str(), value)
    }

    /// Deletes the node: the `delete` builder; add `.version(v)` to make it conditional.
    pub fn delete(&self) -> Call<'_, DeleteOp> {
        self.client.delete(self.path.as_str())
    }

    /// Changes the value with `change`, without losing concurrent updates: reads the value and
    /// its version, applies `change`, and writes back only if the version is still the one
    /// read; if another client wrote in between, it reads again and re-applies `change` to the
    /// new value. Resolves to the value written and its Stat.
    ///
    /// Retries are unbounded: each retry means another writer's update succeeded, so the
    /// system as a whole always progresses, but one updater can be delayed under sustained
    /// contention. Use [`try_update`](Self::try_update) to bound it. `change` may run several
    /// times, so it should only compute the new value.
    pub async fn update(&self, change: impl FnMut(&mut T)) -> Result<(T, Stat), Error> {
        self.try_update(usize::MAX, change).await
    }

    /// [`update`](Self::update) with at most `max_retries` retries after a concurrent write;
    /// then it fails with `BadVersion`.
    pub async fn try_update(&self, max_retries: usize, mut change: impl FnMut(&mut T)) -> Result<(T, Stat), Error> {
        let mut retries = 0;
        loop {
            let (mut value, stat) = self.get().await?;
            change(&mut value);
            match self.set(&value).version(stat.version).await {
                Ok(stat) => return Ok((value, stat)),
                Err(Error::BadVersion { .. }) if retries < max_retries => retries += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<T: ZNodeData + Send + 'static> TypedNode<T> {
    /// The node's values as they change: a stream that yields the current value first, then
    /// each new one.
    ///
    /// Items are `Ok(Some((value, stat)))` while the node exists, `Ok(None)` when it does not
    /// (at first, or after a delete; it yields the value again once the node is re-created).
    /// The stream re-arms a one-shot watch after every event (getData with a watch, or exists
    /// with a watch while the node is missing), so changes made between two events are seen
    /// as their latest value, never skipped past the last write. A value that does not decode
    /// is yielded as `Err(Error::Codec)` and the stream goes on; a lost connection is yielded
    /// as its error and the stream reads again once the session has reconnected; any other
    /// error, and the end of the session, is yielded once and ends the stream.
    pub fn watch(&self) -> NodeWatch<T> {
        let cursor = Cursor {
            client: self.client.clone(),
            path: self.path.clone(),
            watch: None,
            last: Seen::Nothing,
            done: false,
            reconnect: false,
        };
        NodeWatch { cursor: Some(cursor), step: None, _type: PhantomData }
    }
}

/// One item of a [`NodeWatch`].
pub type NodeValue<T> = Result<Option<(T, Stat)>, Error>;

/// What the stream last yielded, so an event that changed nothing yields nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Nothing,
    Absent,
    /// The node at this modification zxid.
    Present(i64),
}

struct Cursor {
    client: Client,
    path: String,
    watch: Option<WatchFuture>,
    last: Seen,
    done: bool,
    /// The last read failed with a lost connection: wait for the session to reconnect first.
    reconnect: bool,
}

type Step<T> = Pin<Box<dyn Future<Output = (Cursor, Option<NodeValue<T>>)> + Send>>;

/// The stream of [`TypedNode::watch`]. Use [`next`](NodeWatch::next), or the `futures`
/// `Stream` trait it implements.
#[must_use = "a watch stream does nothing unless polled"]
pub struct NodeWatch<T> {
    cursor: Option<Cursor>,
    step: Option<Step<T>>,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for NodeWatch<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.cursor.as_ref().map(|c| c.path.as_str());
        f.debug_struct("NodeWatch").field("path", &path).finish()
    }
}

impl<T: ZNodeData + Send + 'static> NodeWatch<T> {
    /// The next value; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<NodeValue<T>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl<T: ZNodeData + Send + 'static> futures_core::Stream for NodeWatch<T> {
    type Item = NodeValue<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeValue<T>>> {
        let this = self.get_mut();
        if this.step.is_none() {
            let Some(cursor) = this.cursor.take() else { return Poll::Ready(None) };
            this.step = Some(Box::pin(step::<T>(cursor)));
        }
        let Some(step) = this.step.as_mut() else { return Poll::Ready(None) };
        match step.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((cursor, item)) => {
                this.step = None;
                if item.is_some() {
                    this.cursor = Some(cursor);
                }
                Poll::Ready(item)
            }
        }
    }
}

/// Waits for the next change worth yielding (or the first read), and yields it.
async fn step<T: ZNodeData>(mut cursor: Cursor) -> (Cursor, Option<NodeValue<T>>) {
    loop {
        if cursor.done {
            return (cursor, None);
        }
        if std::mem::take(&mut cursor.reconnect) {
            if let Err(e) = cursor.client.wait_connected().await {
                cursor.done = true;
                return (cursor, Some(Err(e)));
            }
        }
        if let Some(watch) = cursor.watch.take() {
            let event = watch.await;
            if event.event_type == EventType::None {
                // One-shot watches only hear the session's end.
                cursor.done = true;
                let error = ended(event.keeper_state, &cursor.path);
                return (cursor, Some(Err(error)));
            }
        }
        let read = cursor.client.get_data(cursor.path.as_str()).with_watch().await;
        match read {
            Ok((node, watch)) => {
                cursor.watch = Some(watch);
                if cursor.last == Seen::Present(node.stat.mzxid) {
                    continue;
                }
                cursor.last = Seen::Present(node.stat.mzxid);
                let value = node.decode::<T>().map(|v| Some((v, node.stat)));
                return (cursor, Some(value));
            }
            Err(Error::NoNode { .. }) => {}
            Err(e) => return failed(cursor, e),
        }
        // Missing: watch for its creation.
        match cursor.client.exists(cursor.path.as_str()).with_watch().await {
            // Created in between: read it (the exists watch is dropped).
            Ok((Some(_), _)) => continue,
            Ok((None, watch)) => {
                cursor.watch = Some(watch);
                if cursor.last == Seen::Absent {
                    continue;
                }
                cursor.last = Seen::Absent;
                return (cursor, Some(Ok(None)));
            }
            Err(e) => return failed(cursor, e),
        }
    }
}

fn failed<T>(mut cursor: Cursor, error: Error) -> (Cursor, Option<NodeValue<T>>) {
    if error.is_retryable() {
        cursor.reconnect = true;
    } else {
        cursor.done = true;
    }
    (cursor, Some(Err(error)))
}

fn ended(state: KeeperState, path: &str) -> Error {
    let state = match state {
        KeeperState::Expired => SessionState::Expired,
        KeeperState::AuthFailed => SessionState::AuthFailed,
        _ => SessionState::Closed,
    };
    Error::session_over(state, Some(OpCode::GetData), Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Typed nodes, their watch streams and `create_all` own a client handle, so they can move
    /// into `tokio::spawn` (`Send + 'static`). A compile-time check.
    #[allow(dead_code)]
    fn spawnable(client: &Client) {
        fn check<T: Send + 'static>(_: T) {}
        check(TypedNode::<String>::new(client, "/a"));
        check(TypedNode::<String>::new(client, "/a").watch());
        check(client.create_all("/a/b").persistent());
    }
}
