//! [`Cache`]: a subtree mirrored from one persistent recursive watch (see the module docs).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::client::call::check_path;
use crate::client::{Client, NodeData, Pending, ReadResult, SessionSource, WatchStream};
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::{EventType, KeeperState, Stat};
use crate::recipes::protected::child_path;
use crate::watch::WatchedEvent;

/// How many nodes one `multiRead` of the load covers (each node: its data, and its children
/// unless the depth limit stops there).
const BATCH: usize = 256;

type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type Nodes = Arc<RwLock<BTreeMap<String, CachedNode>>>;

/// A cached node: its data (`None` for null) and the Stat it was read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNode {
    /// The data; `None` for null.
    pub data: Option<Bytes>,
    /// The Stat it was read with.
    pub stat: Stat,
}

impl CachedNode {
    /// The bytes, empty for null.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// The data decoded as `T`; a failure is `Error::Codec` naming `path`.
    pub fn decode<T: ZNodeData>(&self, path: &str) -> Result<T, Error> {
        T::from_znode_bytes(self.bytes()).map_err(|e| e.with_path(path))
    }
}

impl From<NodeData> for CachedNode {
    fn from(node: NodeData) -> Self {
        CachedNode { data: node.data, stat: node.stat }
    }
}

/// What a [`CacheHandle`] reports, in the order it happened to the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// A node entered the cache (at the initial load, created, or found by a resync).
    Added {
        /// The node's path.
        path: String,
        /// The node as cached.
        node: CachedNode,
    },
    /// A cached node's data (or the node itself: deleted and created again) changed.
    Updated {
        /// The node's path.
        path: String,
        /// The node before.
        old: CachedNode,
        /// The node now.
        new: CachedNode,
    },
    /// A node left the cache.
    Removed {
        /// The node's path.
        path: String,
        /// The node as last cached.
        node: CachedNode,
    },
    /// The initial load is complete: every node present at start has been reported as `Added`.
    Initialized,
    /// The connection was lost: the cache may be stale until `Reconnected`. Also the last event
    /// before the stream ends with the session.
    Disconnected,
    /// Connected again and resynchronised: the differences found by re-reading the subtree
    /// were reported just before this. Also follows a new session, for a cache built from
    /// [`Sessions`](crate::client::Sessions): the cache then carries on across the expiry.
    Reconnected,
}

/// Which nodes a cache holds: the root, down to `depth` levels, those the filter accepts (with
/// every ancestor below the root).
#[derive(Clone)]
struct Scope {
    root: String,
    depth: Option<usize>,
    filter: Option<Filter>,
}

impl Scope {
    /// How many levels below the root `path` is; `None` outside the subtree.
    fn level(&self, path: &str) -> Option<usize> {
        if path == self.root {
            return Some(0);
        }
        let rest = if self.root == "/" {
            path.strip_prefix('/')?
        } else {
            path.strip_prefix(&self.root)?.strip_prefix('/')?
        };
        if rest.is_empty() {
            return None;
        }
        Some(rest.split('/').count())
    }

    /// Whether a node at `level` has its children cached.
    fn descends(&self, level: usize) -> bool {
        self.depth.map_or(true, |max| level < max)
    }

    fn accepts(&self, path: &str) -> bool {
        self.filter.as_ref().map_or(true, |f| f(path))
    }

    /// Whether `path` belongs in the cache.
    fn covers(&self, path: &str) -> bool {
        let Some(level) = self.level(path) else { return false };
        if self.depth.is_some_and(|max| level > max) {
            return false;
        }
        if level == 0 || self.filter.is_none() {
            return true;
        }
        // The node and each ancestor below the root must be accepted ('/' is ASCII, so the
        // slices fall on char boundaries).
        let start = if self.root == "/" { 1 } else { self.root.len() + 1 };
        path[start..].match_indices('/').all(|(i, _)| self.accepts(&path[..start + i])) && self.accepts(path)
    }
}

/// A local mirror of the subtree at a path, from one persistent recursive watch (ZooKeeper
/// 3.6+) and a pipelined load: Curator's `CuratorCache`, with `TreeCache`'s depth limit and a
/// filter. Configure it, then [`start`](Self::start) it.
///
/// ```no_run
/// # async fn demo(client: &zk_dsl::Client) -> zk_dsl::Result<()> {
/// use zk_dsl::recipes::{Cache, CacheEvent};
///
/// let mut services = Cache::new(client, "/services").depth(1).start().await?;
/// println!("{:?}", services.children("/services"));
/// while let Some(event) = services.next().await {
///     if let CacheEvent::Added { path, node } = event {
///         println!("{path}: {} bytes", node.bytes().len());
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Cache {
    source: SessionSource,
    scope: Scope,
    events: bool,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("root", &self.scope.root)
            .field("depth", &self.scope.depth)
            .field("filter", &self.scope.filter.is_some())
            .finish()
    }
}

impl Cache {
    /// A cache of the node at `path` and everything below it. The node need not exist yet.
    ///
    /// `source` is a `&Client` (the cache's stream ends with that session, after a last
    /// `Disconnected`) or [`&Sessions`](crate::client::Sessions) (after an expiry the cache
    /// reloads in the new session and reports the differences, then `Reconnected`).
    pub fn new(source: impl Into<SessionSource>, path: impl Into<String>) -> Cache {
        Cache { source: source.into(), scope: Scope { root: path.into(), depth: None, filter: None }, events: true }
    }

    /// Caches `levels` levels below the root: 0 is the node alone (Curator's `NodeCache`), 1 the
    /// node and its children (`PathChildrenCache`); the default has no limit.
    pub fn depth(mut self, levels: usize) -> Self {
        self.scope.depth = Some(levels);
        self
    }

    /// Caches only the nodes below the root whose full path `keep` accepts; a refused node's
    /// subtree is not cached either (nor read). The root is always cached.
    pub fn filter(mut self, keep: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.scope.filter = Some(Arc::new(keep));
        self
    }

    /// Whether to queue [`CacheEvent`]s (default yes). A cache used only for point reads should
    /// say no, so unread events do not accumulate.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Sets the watch, loads the subtree and returns the running cache. Its event stream starts
    /// with an `Added` per node found, then `Initialized`.
    pub async fn start(self) -> Result<CacheHandle, Error> {
        let Cache { source, scope, events } = self;
        check_path(&scope.root, false)?;
        let client = source.client();
        // The watch first: whatever changes during the load is reported after it.
        let stream = client.watch(scope.root.as_str()).recursive().await?;
        let tree = load(&client, &scope).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = events.then_some(tx);
        if let Some(tx) = &tx {
            for (path, node) in &tree {
                let _ = tx.send(CacheEvent::Added { path: path.clone(), node: node.clone() });
            }
            let _ = tx.send(CacheEvent::Initialized);
        }
        let nodes: Nodes = Arc::new(RwLock::new(tree));
        let mirror = Mirror {
            source,
            client: client.clone(),
            scope: scope.clone(),
            nodes: nodes.clone(),
            events: tx,
            steps: VecDeque::new(),
            resyncs_queued: 0,
            disconnected: false,
        };
        let task = client.inner.runtime.spawn(mirror.run(stream));
        Ok(CacheHandle { nodes, events: rx, root: scope.root, task })
    }
}

/// A running [`Cache`]: point reads, a snapshot, and the stream of [`CacheEvent`]s (via
/// [`next`](Self::next) or the `futures` `Stream` trait). Dropping it removes the watch.
#[derive(Debug)]
pub struct CacheHandle {
    nodes: Nodes,
    events: mpsc::UnboundedReceiver<CacheEvent>,
    root: String,
    task: tokio::task::JoinHandle<()>,
}

impl CacheHandle {
    /// The cached root path.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The cached node at `path`.
    pub fn get(&self, path: &str) -> Option<CachedNode> {
        self.read().get(path).cloned()
    }

    /// The cached node at `path`, its data decoded as `T`; `Ok(None)` if not cached.
    pub fn get_as<T: ZNodeData>(&self, path: &str) -> Result<Option<T>, Error> {
        self.read().get(path).map(|node| node.decode(path)).transpose()
    }

    /// The names of `path`'s cached children, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let nodes = self.read();
        let prefix = if path == "/" { "/".to_owned() } else { format!("{path}/") };
        let mut names = Vec::new();
        let mut from = Bound::Included(prefix.clone());
        loop {
            let bound = match &from {
                Bound::Included(s) => Bound::Included(s.as_str()),
                Bound::Excluded(s) => Bound::Excluded(s.as_str()),
                Bound::Unbounded => Bound::Unbounded,
            };
            let Some((key, _)) = nodes.range::<str, _>((bound, Bound::Unbounded)).next() else { break };
            let Some(rest) = key.strip_prefix(&prefix) else { break };
            match rest.find('/') {
                // A grandchild: skip the rest of that child's subtree ('0' follows '/').
                Some(i) => from = Bound::Included(format!("{prefix}{}0", &rest[..i])),
                None => {
                    if !rest.is_empty() {
                        names.push(rest.to_owned());
                    }
                    from = Bound::Excluded(key.clone());
                }
            }
        }
        names
    }

    /// Every cached node, by path.
    pub fn snapshot(&self) -> BTreeMap<String, CachedNode> {
        self.read().clone()
    }

    /// How many nodes are cached.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no node is cached.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The next event; `None` once the session has ended (or events are off).
    pub async fn next(&mut self) -> Option<CacheEvent> {
        self.events.recv().await
    }

    /// An event if one is already waiting.
    pub fn try_next(&mut self) -> Option<CacheEvent> {
        self.events.try_recv().ok()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, CachedNode>> {
        self.nodes.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl futures_core::Stream for CacheHandle {
    type Item = CacheEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CacheEvent>> {
        self.get_mut().events.poll_recv(cx)
    }
}

impl Drop for CacheHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One thing for the mirror to do, in the order the watch reported it.
enum Step {
    /// Read a created or changed node. The read is sent when the event arrives (pipelined),
    /// unless a resync is queued before it: then it is sent after the resync's reads, so that
    /// reads are always applied in the order they were sent.
    Read {
        path: String,
        read: Option<Pending<NodeData>>,
    },
    Delete(String),
    Disconnected,
    Resync,
}

/// The background task: applies the watch's events to the shared map.
struct Mirror {
    source: SessionSource,
    /// The current session's client.
    client: Client,
    scope: Scope,
    nodes: Nodes,
    events: Option<mpsc::UnboundedSender<CacheEvent>>,
    steps: VecDeque<Step>,
    /// Resync steps in `steps`.
    resyncs_queued: usize,
    /// The last connection marker emitted was `Disconnected`.
    disconnected: bool,
}

impl Mirror {
    /// Mirrors in each session the source gives, until the last one ends.
    async fn run(mut self, mut stream: WatchStream) {
        loop {
            self.follow(&mut stream).await;
            if !self.disconnected {
                self.disconnected = true;
                self.emit(CacheEvent::Disconnected);
            }
            match self.next_session().await {
                Some(next) => stream = next,
                None => return,
            }
            // Whatever happened between the sessions is found by reloading.
            self.steps.push_back(Step::Resync);
            self.resyncs_queued += 1;
        }
    }

    /// The watch of the next session (the client switched to it); `None` when there is none.
    async fn next_session(&mut self) -> Option<WatchStream> {
        loop {
            self.client = self.source.next_session(&self.client).await?;
            loop {
                match self.client.watch(self.scope.root.as_str()).recursive().await {
                    Ok(stream) => return Some(stream),
                    Err(e) if e.is_session_terminal() => break,
                    Err(e) => {
                        tracing::debug!(root = %self.scope.root, error = %e, "cache watch failed; trying again");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }

    /// Applies one session's events until its watch ends.
    async fn follow(&mut self, stream: &mut WatchStream) {
        loop {
            // Take in every event already there, so their reads leave together.
            let mut ended = false;
            while let Some(event) = stream.try_next() {
                if !self.on_event(event) {
                    ended = true;
                    break;
                }
            }
            if ended {
                break;
            }
            match self.steps.pop_front() {
                Some(step) => self.apply(step).await,
                None => match stream.next().await {
                    Some(event) => {
                        if !self.on_event(event) {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        // The session is over (or the watch was removed): apply what was already reported.
        while let Some(step) = self.steps.pop_front() {
            if !matches!(step, Step::Resync) {
                self.apply(step).await;
            }
        }
        self.resyncs_queued = 0;
    }

    /// Queues what `event` asks for; `false` when the stream is ending.
    fn on_event(&mut self, event: WatchedEvent) -> bool {
        if event.is_session_event() {
            match event.keeper_state {
                KeeperState::Disconnected => self.steps.push_back(Step::Disconnected),
                KeeperState::SyncConnected | KeeperState::ConnectedReadOnly => {
                    self.steps.push_back(Step::Resync);
                    self.resyncs_queued += 1;
                }
                KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed => return false,
                _ => {}
            }
            return true;
        }
        let Some(path) = event.path else { return true };
        if !self.scope.covers(&path) {
            return true;
        }
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                let read = (self.resyncs_queued == 0).then(|| self.client.get_data(path.as_str()).send());
                self.steps.push_back(Step::Read { path, read });
            }
            EventType::NodeDeleted => self.steps.push_back(Step::Delete(path)),
            EventType::PersistentWatchRemoved => return false,
            _ => {}
        }
        true
    }

    async fn apply(&mut self, step: Step) {
        match step {
            Step::Read { path, read } => {
                let read = match read {
                    Some(read) => read,
                    None => self.client.get_data(path.as_str()).send(),
                };
                match read.await {
                    Ok(node) => self.upsert(path, CachedNode::from(node)),
                    // Deleted before the read: never added, or gone now (its delete event follows).
                    Err(Error::NoNode { .. }) => self.remove(&path),
                    // A lost connection is followed by a resync; other failures leave the node
                    // as it was.
                    Err(e) => tracing::debug!(path = %path, error = %e, "cache read failed"),
                }
            }
            Step::Delete(path) => self.remove(&path),
            Step::Disconnected => {
                if !self.disconnected {
                    self.disconnected = true;
                    self.emit(CacheEvent::Disconnected);
                }
            }
            Step::Resync => {
                self.resyncs_queued = self.resyncs_queued.saturating_sub(1);
                match load(&self.client, &self.scope).await {
                    Ok(fresh) => {
                        self.replace(fresh);
                        self.disconnected = false;
                        self.emit(CacheEvent::Reconnected);
                        self.send_deferred();
                    }
                    Err(e) if e.is_session_terminal() => {}
                    Err(e) => {
                        tracing::debug!(root = %self.scope.root, error = %e, "cache resync failed; trying again");
                        if self.resyncs_queued == 0 {
                            // Give the connection a moment, then try again (before later reads).
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            self.steps.push_front(Step::Resync);
                            self.resyncs_queued += 1;
                        }
                    }
                }
            }
        }
    }

    /// Sends the reads queued behind a finished resync (up to the next one), all at once.
    fn send_deferred(&mut self) {
        for step in self.steps.iter_mut() {
            match step {
                Step::Resync => break,
                Step::Read { path, read } if read.is_none() => {
                    *read = Some(self.client.get_data(path.as_str()).send());
                }
                _ => {}
            }
        }
    }

    fn upsert(&mut self, path: String, node: CachedNode) {
        let event = {
            let mut nodes = self.nodes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            match nodes.get(&path) {
                // Never let an older read overwrite a newer one.
                Some(old) if node.stat.mzxid <= old.stat.mzxid => None,
                Some(old) => {
                    let old = old.clone();
                    nodes.insert(path.clone(), node.clone());
                    Some(CacheEvent::Updated { path, old, new: node })
                }
                None => {
                    nodes.insert(path.clone(), node.clone());
                    Some(CacheEvent::Added { path, node })
                }
            }
        };
        if let Some(event) = event {
            self.emit(event);
        }
    }

    fn remove(&mut self, path: &str) {
        let removed = self.nodes.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(path);
        if let Some(node) = removed {
            self.emit(CacheEvent::Removed { path: path.to_owned(), node });
        }
    }

    /// Installs a fresh load and reports exactly the differences: removals deepest first, then
    /// additions and updates parents first.
    fn replace(&mut self, fresh: BTreeMap<String, CachedNode>) {
        let mut events = Vec::new();
        {
            let mut nodes = self.nodes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let old = std::mem::replace(&mut *nodes, fresh);
            for (path, node) in old.iter().rev() {
                if !nodes.contains_key(path) {
                    events.push(CacheEvent::Removed { path: path.clone(), node: node.clone() });
                }
            }
            for (path, new) in nodes.iter() {
                match old.get(path) {
                    None => events.push(CacheEvent::Added { path: path.clone(), node: new.clone() }),
                    Some(old)
                        if old.stat.mzxid != new.stat.mzxid
                            || old.stat.czxid != new.stat.czxid
                            || old.data != new.data =>
                    {
                        events.push(CacheEvent::Updated { path: path.clone(), old: old.clone(), new: new.clone() })
                    }
                    Some(_) => {}
                }
            }
        }
        for event in events {
            self.emit(event);
        }
    }

    fn emit(&self, event: CacheEvent) {
        if let Some(tx) = &self.events {
            // The handle is gone only when this task is being aborted.
            let _ = tx.send(event);
        }
    }
}

/// Reads the scope's subtree: level by level, each level's reads in `multiRead` batches that
/// all leave before the first reply is awaited.
async fn load(client: &Client, scope: &Scope) -> Result<BTreeMap<String, CachedNode>, Error> {
    let mut tree = BTreeMap::new();
    let mut level = vec![scope.root.clone()];
    let mut depth = 0;
    while !level.is_empty() {
        let list = scope.descends(depth);
        let pending: Vec<_> = level
            .chunks(BATCH)
            .map(|batch| {
                let read = batch.iter().fold(client.multi_read(), |read, path| {
                    let read = read.get_data(path.as_str());
                    if list {
                        read.get_children(path.as_str())
                    } else {
                        read
                    }
                });
                (batch, read.send())
            })
            .collect();
        let mut next = Vec::new();
        for (batch, read) in pending {
            let results = match read.await {
                Ok(results) => results,
                // Too much data for one reply: read this batch node by node (still pipelined).
                Err(Error::ReplyTooLarge { .. }) => read_each(client, batch, list).await,
                Err(e) => return Err(e),
            };
            let mut results = results.into_iter();
            for path in batch {
                let data = results.next();
                let children = if list { results.next() } else { None };
                match data {
                    Some(ReadResult::Data(node)) => {
                        tree.insert(path.clone(), CachedNode::from(node));
                    }
                    Some(ReadResult::Error(e)) if e.is_retryable() || e.is_session_terminal() => return Err(e),
                    // Gone meanwhile (NoNode), or unreadable: not cached.
                    _ => continue,
                }
                if let Some(ReadResult::Children(names)) = children {
                    next.extend(names.iter().map(|name| child_path(path, name)).filter(|p| scope.accepts(p)));
                }
            }
        }
        level = next;
        depth += 1;
    }
    Ok(tree)
}

/// The reads of one load batch as single requests, in the batch's result layout.
async fn read_each(client: &Client, batch: &[String], list: bool) -> Vec<ReadResult> {
    let pending: Vec<_> = batch
        .iter()
        .map(|path| {
            let data = client.get_data(path.as_str()).send();
            let children = list.then(|| client.children(path.as_str()).send());
            (data, children)
        })
        .collect();
    let mut results = Vec::with_capacity(batch.len() * 2);
    for (data, children) in pending {
        results.push(match data.await {
            Ok(node) => ReadResult::Data(node),
            Err(e) => ReadResult::Error(e),
        });
        if let Some(children) = children {
            results.push(match children.await {
                Ok(names) => ReadResult::Children(names),
                Err(e) => ReadResult::Error(e),
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(root: &str, depth: Option<usize>, filter: Option<Filter>) -> Scope {
        Scope { root: root.into(), depth, filter }
    }

    #[test]
    fn scope_levels_depth_and_filter() {
        let s = scope("/a", Some(1), None);
        assert_eq!(s.level("/a"), Some(0));
        assert_eq!(s.level("/a/b/c"), Some(2));
        assert_eq!(s.level("/ab"), None);
        assert!(s.covers("/a/b") && !s.covers("/a/b/c"));
        let root = scope("/", None, None);
        assert_eq!(root.level("/x/y"), Some(2));
        let f = scope("/a", None, Some(Arc::new(|p: &str| !p.ends_with("skip"))));
        assert!(f.covers("/a/b/c"));
        assert!(!f.covers("/a/skip") && !f.covers("/a/skip/c"));
    }
}
