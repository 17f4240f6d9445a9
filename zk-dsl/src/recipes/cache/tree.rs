//! [`Cache`]: a subtree mirrored from one persistent recursive watch (see the module docs).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::client::call::check_path;
use crate::client::{Client, NodeData, Pending, ReadResult, SessionSource, WatchStream};
use crate::codec::ZNodeData;
use crate::error::Error;
use crate::proto::{EventType, KeeperState, Stat};
use crate::recipes::protected::child_path;
use crate::recipes::retry::RetryPolicy;
use crate::watch::WatchedEvent;

/// How many nodes one `multiRead` of the load covers (each node: its data, and its children
/// unless the depth limit stops there).
const BATCH: usize = 256;
/// How many of a level's batches a load keeps in flight: enough to keep the server busy, few
/// enough that the replies (and requests) of a wide level never pile up in memory (4 × 256
/// nodes; 16 loaded no faster, within this machine's noise, and left 40 more bytes of live heap
/// per node of a 10,000-node load behind, in the session's grown write buffer).
const WINDOW: usize = 4;

type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;
/// The cached nodes by key: a node's path below the root (see [`key_of`]), so a key is a few
/// bytes rather than the whole path. Boxed nodes keep a B-tree slot at 24 bytes, not 128.
type Tree = BTreeMap<Box<str>, Box<CachedNode>>;

/// The map key of `path`: its part below `root` (`a/b` for `<root>/a/b`, `""` for the root
/// itself); `None` outside the subtree. Keys sort as their paths do.
fn key_of<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    if path == root {
        return Some("");
    }
    let rest = if root == "/" { path.strip_prefix('/')? } else { path.strip_prefix(root)?.strip_prefix('/')? };
    (!rest.is_empty()).then_some(rest)
}

/// The path of the map key `key` (see [`key_of`]).
fn path_of(root: &str, key: &str) -> String {
    match (key.is_empty(), root == "/") {
        (true, _) => root.to_owned(),
        (false, true) => format!("/{key}"),
        (false, false) => format!("{root}/{key}"),
    }
}

type Shared = Arc<RwLock<State>>;

/// What the mirror task and the handle share.
#[derive(Debug)]
struct State {
    nodes: Tree,
    replay: Replay,
}

/// How far the handle has reported the initial load. The load's nodes are reported from the
/// map itself, in path order, as the handle's first events — not queued as events up front,
/// which for a 100,000-node tree would hold 100,000 copies of every path and Stat in the channel
/// until they are read.
#[derive(Debug)]
enum Replay {
    /// Reported up to this key (`None`: nothing yet). A change to a later node sends no event:
    /// the replay reports that node as it is when it gets there (a node deleted before then,
    /// never).
    Until(Option<Box<str>>),
    /// `Initialized` was reported: every change is sent.
    Done,
}

impl Replay {
    /// Whether a change to the node at `key` is sent as an event: the replay is over or has
    /// reported it.
    fn reported(&self, key: &str) -> bool {
        match self {
            Replay::Done => true,
            Replay::Until(Some(last)) => key <= &**last,
            Replay::Until(None) => false,
        }
    }
}

fn read(state: &Shared) -> std::sync::RwLockReadGuard<'_, State> {
    state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(state: &Shared) -> std::sync::RwLockWriteGuard<'_, State> {
    state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
    /// Copies the data out of the reply it arrived in, so a node kept for long never pins the
    /// reply's buffer.
    fn from(node: NodeData) -> Self {
        CachedNode { data: node.data.map(|d| Bytes::copy_from_slice(&d)), stat: node.stat }
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
    /// The initial load has been reported: every node it found came as an `Added` before this,
    /// in path order, as it was when reported (a node deleted meanwhile is left out; changes to
    /// nodes already reported follow as events of their own).
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
        let key = key_of(&self.root, path)?;
        Some(if key.is_empty() { 0 } else { key.split('/').count() })
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

    /// Sets the watch, loads the subtree (again after a lost connection, by the default
    /// [`RetryPolicy`]) and returns the running cache. Its event stream starts with an `Added`
    /// per node loaded, in path order, then `Initialized` (these are read from the cache as they
    /// are taken, so a big tree's load never waits in the event channel).
    pub async fn start(self) -> Result<CacheHandle, Error> {
        let Cache { source, scope, events } = self;
        check_path(&scope.root, false)?;
        let client = source.client();
        // The watch first: whatever changes during the load is reported after it.
        let stream = client.watch(scope.root.as_str()).recursive().await?;
        // A connection lost during the load fails only that attempt: the session (and with it
        // the watch) survives, so the load is read again once it is back.
        let tree = RetryPolicy::default().run(|| load(&client, &scope)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let tx = events.then_some(tx);
        let replay = if events { Replay::Until(None) } else { Replay::Done };
        let state: Shared = Arc::new(RwLock::new(State { nodes: tree, replay }));
        let mirror = Mirror {
            source,
            client: client.clone(),
            scope: scope.clone(),
            state: state.clone(),
            events: tx,
            steps: VecDeque::new(),
            resyncs_queued: 0,
            disconnected: false,
        };
        let task = client.inner.runtime.spawn(mirror.run(stream));
        Ok(CacheHandle { state, events: rx, replayed: !events, root: scope.root, task })
    }
}

/// A running [`Cache`]: point reads, a snapshot, and the stream of [`CacheEvent`]s (via
/// [`next`](Self::next) or the `futures` `Stream` trait). Dropping it removes the watch.
#[derive(Debug)]
pub struct CacheHandle {
    state: Shared,
    events: mpsc::UnboundedReceiver<CacheEvent>,
    /// The initial load has been reported (or events are off): events come from the channel.
    replayed: bool,
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
        read(&self.state).nodes.get(key_of(&self.root, path)?).map(|node| (**node).clone())
    }

    /// The cached node at `path`, its data decoded as `T`; `Ok(None)` if not cached.
    pub fn get_as<T: ZNodeData>(&self, path: &str) -> Result<Option<T>, Error> {
        let Some(key) = key_of(&self.root, path) else { return Ok(None) };
        read(&self.state).nodes.get(key).map(|node| node.decode(path)).transpose()
    }

    /// The names of `path`'s cached children, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let state = read(&self.state);
        let nodes = &state.nodes;
        let prefix = match key_of(&self.root, path) {
            Some("") => String::new(),
            Some(key) => format!("{key}/"),
            None => {
                // An ancestor of the root: the root's next name is its one cached child.
                let below = if path == "/" {
                    self.root.strip_prefix('/')
                } else {
                    self.root.strip_prefix(path).and_then(|rest| rest.strip_prefix('/'))
                };
                return match below {
                    Some(rest) if !rest.is_empty() && nodes.contains_key("") => {
                        vec![rest.split('/').next().unwrap_or(rest).to_owned()]
                    }
                    _ => Vec::new(),
                };
            }
        };
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
                    from = Bound::Excluded(key.to_string());
                }
            }
        }
        names
    }

    /// Every cached node, by path.
    pub fn snapshot(&self) -> BTreeMap<String, CachedNode> {
        read(&self.state).nodes.iter().map(|(key, node)| (path_of(&self.root, key), (**node).clone())).collect()
    }

    /// How many nodes are cached.
    pub fn len(&self) -> usize {
        read(&self.state).nodes.len()
    }

    /// Whether no node is cached.
    pub fn is_empty(&self) -> bool {
        read(&self.state).nodes.is_empty()
    }

    /// The next event; `None` once the session has ended (or events are off).
    pub async fn next(&mut self) -> Option<CacheEvent> {
        if let Some(event) = self.replay_next() {
            return Some(event);
        }
        self.events.recv().await
    }

    /// An event if one is already waiting.
    pub fn try_next(&mut self) -> Option<CacheEvent> {
        self.replay_next().or_else(|| self.events.try_recv().ok())
    }

    /// The initial load's next `Added` (the first node after the last one reported), then
    /// `Initialized`; `None` once that was reported.
    fn replay_next(&mut self) -> Option<CacheEvent> {
        if self.replayed {
            return None;
        }
        let mut state = write(&self.state);
        let next = match &state.replay {
            Replay::Done => None,
            Replay::Until(None) => state.nodes.iter().next(),
            Replay::Until(Some(last)) => {
                state.nodes.range::<str, _>((Bound::Excluded(&**last), Bound::Unbounded)).next()
            }
        }
        .map(|(key, node)| (key.clone(), (**node).clone()));
        match next {
            Some((key, node)) => {
                let path = path_of(&self.root, &key);
                state.replay = Replay::Until(Some(key));
                Some(CacheEvent::Added { path, node })
            }
            None => {
                self.replayed = true;
                let initialized = matches!(state.replay, Replay::Until(_));
                state.replay = Replay::Done;
                initialized.then_some(CacheEvent::Initialized)
            }
        }
    }
}

impl futures_core::Stream for CacheHandle {
    type Item = CacheEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CacheEvent>> {
        let this = self.get_mut();
        if let Some(event) = this.replay_next() {
            return Poll::Ready(Some(event));
        }
        this.events.poll_recv(cx)
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
    state: Shared,
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
        let events = self.events.is_some();
        let Some(key) = key_of(&self.scope.root, &path) else { return };
        let event = {
            let mut state = write(&self.state);
            let send = events && state.replay.reported(key);
            match state.nodes.get_mut(key) {
                // Never let an older read overwrite a newer one.
                Some(old) if node.stat.mzxid <= old.stat.mzxid => None,
                Some(old) if send => {
                    let old = std::mem::replace(&mut **old, node.clone());
                    Some(CacheEvent::Updated { path, old, new: node })
                }
                Some(old) => {
                    **old = node;
                    None
                }
                None => {
                    state.nodes.insert(key.into(), Box::new(node.clone()));
                    send.then_some(CacheEvent::Added { path, node })
                }
            }
        };
        if let Some(event) = event {
            self.emit(event);
        }
    }

    fn remove(&mut self, path: &str) {
        let Some(key) = key_of(&self.scope.root, path) else { return };
        let removed = {
            let mut state = write(&self.state);
            let removed = state.nodes.remove(key);
            removed.filter(|_| state.replay.reported(key))
        };
        if let Some(node) = removed {
            self.emit(CacheEvent::Removed { path: path.to_owned(), node: *node });
        }
    }

    /// Installs a fresh load and reports exactly the differences: removals deepest first, then
    /// additions and updates parents first.
    fn replace(&mut self, fresh: Tree) {
        let mut events = Vec::new();
        {
            let mut state = write(&self.state);
            let old = std::mem::replace(&mut state.nodes, fresh);
            if self.events.is_some() {
                let (nodes, replay, root) = (&state.nodes, &state.replay, self.scope.root.as_str());
                for (key, node) in old.iter().rev() {
                    if !nodes.contains_key(key) && replay.reported(key) {
                        events.push(CacheEvent::Removed { path: path_of(root, key), node: (**node).clone() });
                    }
                }
                for (key, new) in nodes.iter().filter(|(key, _)| replay.reported(key)) {
                    match old.get(key) {
                        None => events.push(CacheEvent::Added { path: path_of(root, key), node: (**new).clone() }),
                        Some(old)
                            if old.stat.mzxid != new.stat.mzxid
                                || old.stat.czxid != new.stat.czxid
                                || old.data != new.data =>
                        {
                            events.push(CacheEvent::Updated {
                                path: path_of(root, key),
                                old: (**old).clone(),
                                new: (**new).clone(),
                            })
                        }
                        Some(_) => {}
                    }
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

/// Reads the scope's subtree: level by level, each level's reads in `multiRead` batches, up to
/// `WINDOW` of them in flight.
async fn load(client: &Client, scope: &Scope) -> Result<Tree, Error> {
    let mut entries = Vec::new();
    let mut level = vec![scope.root.clone()];
    let mut depth = 0;
    while !level.is_empty() {
        let list = scope.descends(depth);
        let mut next = Vec::new();
        let mut paths = level.into_iter();
        let mut pending = VecDeque::with_capacity(WINDOW);
        loop {
            while pending.len() < WINDOW {
                let batch: Vec<String> = paths.by_ref().take(BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                let read = batch.iter().fold(client.multi_read(), |read, path| {
                    let read = read.get_data(path.as_str());
                    if list {
                        read.get_children(path.as_str())
                    } else {
                        read
                    }
                });
                pending.push_back((read.send(), batch));
            }
            let Some((read, batch)) = pending.pop_front() else { break };
            let results = match read.await {
                Ok(results) => results,
                // Too much data for one reply: read this batch node by node (still pipelined).
                Err(Error::ReplyTooLarge { .. }) => read_each(client, &batch, list).await,
                Err(e) => return Err(e),
            };
            let mut results = results.into_iter();
            let mut found = Vec::with_capacity(batch.len());
            for path in batch {
                let data = results.next();
                let children = if list { results.next() } else { None };
                match data {
                    Some(ReadResult::Data(node)) => {
                        if let Some(ReadResult::Children(names)) = children {
                            next.extend(names.iter().map(|name| child_path(&path, name)).filter(|p| scope.accepts(p)));
                        }
                        found.push((path, node));
                    }
                    Some(ReadResult::Error(e)) if e.is_retryable() || e.is_session_terminal() => return Err(e),
                    // Gone meanwhile (NoNode), or unreadable: not cached.
                    _ => {}
                }
            }
            for (path, node) in pack(found) {
                if let Some(key) = key_of(&scope.root, &path) {
                    entries.push((Box::<str>::from(key), Box::new(node)));
                }
            }
        }
        level = next;
        depth += 1;
    }
    // Built from sorted entries, the B-tree's nodes are full (inserted one by one in ZooKeeper's
    // child order, about two thirds full).
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries.into_iter().collect())
}

/// A load batch's nodes with their data copied into one buffer of exactly their total size,
/// each node's bytes a slice of it: a loaded node pins neither the reply it came in (with its
/// Stats and child lists) nor an allocation of its own. (The buffer lives while any node loaded
/// with it is cached unchanged: at most the loaded data's size.)
fn pack(found: Vec<(String, NodeData)>) -> Vec<(String, CachedNode)> {
    let total = found.iter().map(|(_, node)| node.data.as_ref().map_or(0, Bytes::len)).sum();
    let mut buf = BytesMut::with_capacity(total);
    for data in found.iter().filter_map(|(_, node)| node.data.as_ref()) {
        buf.extend_from_slice(data);
    }
    let buf = buf.freeze();
    let mut at = 0;
    found
        .into_iter()
        .map(|(path, node)| {
            let data = node.data.map(|d| {
                at += d.len();
                buf.slice(at - d.len()..at)
            });
            (path, CachedNode { data, stat: node.stat })
        })
        .collect()
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

    #[test]
    fn keys_are_paths_below_the_root_and_sort_as_paths_do() {
        for (root, path, key) in [("/a", "/a", ""), ("/a", "/a/b/c", "b/c"), ("/", "/", ""), ("/", "/x/y", "x/y")] {
            assert_eq!(key_of(root, path), Some(key));
            assert_eq!(path_of(root, key), path);
        }
        assert_eq!(key_of("/a", "/ab"), None);
        assert_eq!(key_of("/a", "/"), None);
        let paths = ["/a", "/a/b", "/a/b-c", "/a/b/c", "/a/b0"];
        let mut keys: Vec<&str> = paths.iter().map(|p| key_of("/a", p).unwrap()).collect();
        keys.sort_unstable();
        assert_eq!(keys.iter().map(|k| path_of("/a", k)).collect::<Vec<_>>(), paths);
    }
}
