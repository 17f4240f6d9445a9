//! Which watchers an event triggers.
//!
//! The rules are ZooKeeper's (Programmer's Guide, "ZooKeeper Watches"):
//!
//! | event | consumes one-shot | also notifies |
//! |---|---|---|
//! | NodeCreated, NodeDataChanged | data and exist watches on the path | persistent on the path, recursive on the path and its ancestors |
//! | NodeChildrenChanged | child watches on the path | persistent on the path (recursive watches never see it) |
//! | NodeDeleted | data, exist and child watches on the path | persistent on the path, recursive on the path and its ancestors |
//!
//! A one-shot watch is registered only when its request succeeds — except `exists` on a missing
//! node, which leaves an exist watch that fires on creation. Persistent watches stay until
//! removed. Every watcher is notified at most once per event, even if it was registered in
//! several tables (the session's default watcher, say, as both a data and a child watch).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::event::WatchedEvent;
use crate::proto::{EventType, SetWatches, WatcherType};

/// A callback watcher, shared so it can be registered on several paths and deduplicated.
pub type WatchFn = Arc<dyn Fn(WatchedEvent) + Send + Sync>;

/// Who is told when a watch fires.
pub enum Watcher {
    /// The session's default watcher (the seed's `:watch? true`).
    Default,
    /// A callback, run on the dispatcher thread (the seed's `:watcher f`).
    Callback(WatchFn),
    /// A one-shot watch you `.await` ([`WatchFuture`](crate::WatchFuture)). It is a channel
    /// rather than a oneshot because connection-state events reach it before the node event
    /// that consumes the watch.
    Oneshot(mpsc::UnboundedSender<WatchedEvent>),
    /// A stream of events (persistent watches).
    Stream(mpsc::UnboundedSender<WatchedEvent>),
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Watcher::Default => "Watcher::Default",
            Watcher::Callback(_) => "Watcher::Callback",
            Watcher::Oneshot(_) => "Watcher::Oneshot",
            Watcher::Stream(_) => "Watcher::Stream",
        })
    }
}

/// Every watcher is a shared callback or a channel end, so copies notify the same listener
/// (the registry tells each listener once per event).
impl Clone for Watcher {
    fn clone(&self) -> Self {
        match self {
            Watcher::Default => Watcher::Default,
            Watcher::Callback(f) => Watcher::Callback(f.clone()),
            Watcher::Oneshot(tx) => Watcher::Oneshot(tx.clone()),
            Watcher::Stream(tx) => Watcher::Stream(tx.clone()),
        }
    }
}

impl Watcher {
    /// A copy for a persistent watch, which fires many times. One-shot senders cannot be copied
    /// and are never registered as persistent.
    fn share(&self) -> Option<Watcher> {
        match self {
            Watcher::Default => Some(Watcher::Default),
            Watcher::Callback(f) => Some(Watcher::Callback(f.clone())),
            Watcher::Stream(s) => Some(Watcher::Stream(s.clone())),
            Watcher::Oneshot(_) => None,
        }
    }

    fn same_as(&self, other: &Watcher) -> bool {
        match (self, other) {
            (Watcher::Default, Watcher::Default) => true,
            (Watcher::Callback(a), Watcher::Callback(b)) => Arc::ptr_eq(a, b),
            (Watcher::Stream(a), Watcher::Stream(b)) | (Watcher::Oneshot(a), Watcher::Oneshot(b)) => a.same_channel(b),
            _ => false,
        }
    }

    /// Whether nobody is listening any more (a dropped future or stream).
    pub fn is_closed(&self) -> bool {
        match self {
            Watcher::Oneshot(s) | Watcher::Stream(s) => s.is_closed(),
            _ => false,
        }
    }
}

/// The table a watch lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// Set by getData, or by exists on an existing node.
    Data,
    /// Set by exists on a missing node.
    Exist,
    /// Set by getChildren.
    Child,
    /// addWatch, persistent.
    Persistent,
    /// addWatch, persistent and recursive.
    PersistentRecursive,
}

impl WatchKind {
    pub const ALL: [WatchKind; 5] =
        [WatchKind::Data, WatchKind::Exist, WatchKind::Child, WatchKind::Persistent, WatchKind::PersistentRecursive];

    /// The event a watcher of this kind receives when its watch is removed.
    fn removed_event(self) -> EventType {
        match self {
            WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
            WatchKind::Child => EventType::ChildWatchRemoved,
            WatchKind::Persistent | WatchKind::PersistentRecursive => EventType::PersistentWatchRemoved,
        }
    }

    /// Whether `removeWatches` of `kind` acts on this table. On 3.8 servers `Any` is the only
    /// way to remove a persistent watch; 3.9 adds the two persistent kinds.
    fn removed_by(self, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Any => true,
            WatcherType::Data => matches!(self, WatchKind::Data | WatchKind::Exist),
            WatcherType::Children => self == WatchKind::Child,
            WatcherType::Persistent => self == WatchKind::Persistent,
            WatcherType::PersistentRecursive => self == WatchKind::PersistentRecursive,
            // A kind a later protocol version adds (the enum is non-exhaustive) names none of ours.
            _ => false,
        }
    }
}

/// Client-side record of every watch the session holds, keyed by client path (chroot stripped).
#[derive(Debug, Default)]
pub struct WatchRegistry {
    tables: [HashMap<String, Vec<Watcher>>; 5],
}

fn push_unique(list: &mut Vec<Watcher>, watcher: Watcher) {
    if !list.iter().any(|w| w.same_as(&watcher)) {
        list.push(watcher);
    }
}

impl WatchRegistry {
    fn table(&mut self, kind: WatchKind) -> &mut HashMap<String, Vec<Watcher>> {
        &mut self.tables[kind as usize]
    }

    /// Records a watch. The same callback or the default watcher registered twice on one path
    /// and table is kept once, as ZooKeeper's Java client keeps watchers in a set.
    pub fn add(&mut self, kind: WatchKind, path: &str, watcher: Watcher) {
        let list = self.table(kind).entry(path.to_owned()).or_default();
        list.retain(|w| !w.is_closed());
        push_unique(list, watcher);
    }

    /// Whether any watch of any kind exists on `path`.
    pub fn has_any(&self, path: &str) -> bool {
        self.tables.iter().any(|t| t.contains_key(path))
    }

    /// Whether a `removeWatches(path, kind)` would find something locally.
    pub fn has(&self, path: &str, kind: WatcherType) -> bool {
        WatchKind::ALL.iter().any(|k| k.removed_by(kind) && self.tables[*k as usize].contains_key(path))
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(HashMap::is_empty)
    }

    /// Number of registered watchers across all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().flat_map(|t| t.values()).map(Vec::len).sum()
    }

    /// Takes the watchers an event on `path` triggers: one-shot watches are consumed,
    /// persistent ones are copied. Each watcher appears once.
    pub fn trigger(&mut self, event_type: EventType, path: &str) -> Vec<Watcher> {
        let mut out: Vec<Watcher> = Vec::new();
        let one_shot: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => &[WatchKind::Data, WatchKind::Exist],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            _ => &[],
        };
        for kind in one_shot {
            if let Some(list) = self.table(*kind).remove(path) {
                for w in list {
                    push_unique(&mut out, w);
                }
            }
        }
        if one_shot.is_empty() {
            return out;
        }
        self.share_matching(WatchKind::Persistent, path, &mut out);
        if event_type != EventType::NodeChildrenChanged {
            // The path itself and every ancestor, up to the root.
            let mut at = path;
            loop {
                self.share_matching(WatchKind::PersistentRecursive, at, &mut out);
                if at == "/" {
                    break;
                }
                at = match at.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &at[..i],
                    None => break,
                };
            }
        }
        out
    }

    fn share_matching(&mut self, kind: WatchKind, path: &str, out: &mut Vec<Watcher>) {
        let table = self.table(kind);
        if let Some(list) = table.get_mut(path) {
            // A persistent stream whose receiver was dropped is forgotten here.
            list.retain(|w| !w.is_closed());
            for w in list.iter().filter_map(Watcher::share) {
                push_unique(out, w);
            }
            if list.is_empty() {
                table.remove(path);
            }
        }
    }

    /// Removes the watches `removeWatches(path, kind)` acts on, returning each watcher with the
    /// "removed" event type it should be told.
    pub fn remove(&mut self, path: &str, kind: WatcherType) -> Vec<(Watcher, EventType)> {
        let mut out = Vec::new();
        for k in WatchKind::ALL {
            if k.removed_by(kind) {
                if let Some(list) = self.table(k).remove(path) {
                    out.extend(list.into_iter().map(|w| (w, k.removed_event())));
                }
            }
        }
        out
    }

    /// Every watcher, the default watcher included, for a connection-state event (Disconnected,
    /// SyncConnected after a reconnect): each is told once and every watch stays registered, as the Java client tells
    /// all its watchers of session events. Watches persist across reconnects (SetWatches), so a
    /// one-shot watch can still fire afterwards; a watcher that hears `Disconnected` knows it
    /// may miss changes (persistent watches are not replayed by the server) and can re-read on
    /// `SyncConnected`.
    pub fn connection_watchers(&mut self) -> Vec<Watcher> {
        self.prune();
        let mut out = vec![Watcher::Default];
        for table in &self.tables {
            for w in table.values().flatten() {
                push_unique(&mut out, w.clone());
            }
        }
        out
    }

    /// Takes every watcher (the session ended): each is told once.
    pub fn drain(&mut self) -> Vec<Watcher> {
        let mut out = Vec::new();
        for table in &mut self.tables {
            for (_, list) in table.drain() {
                for w in list {
                    push_unique(&mut out, w);
                }
            }
        }
        out
    }

    /// Forgets watchers nobody listens to any more (dropped futures and streams).
    pub fn prune(&mut self) {
        for table in &mut self.tables {
            table.retain(|_, list| {
                list.retain(|w| !w.is_closed());
                !list.is_empty()
            });
        }
    }

    /// Takes out every watch whose path, as the server sees it, is longer than `max_len` bytes:
    /// a SetWatches entry that long cannot fit in any frame the server accepts, and sending it
    /// would drop every new connection. Returns each watcher with the path and the
    /// `*WatchRemoved` event that tells it the watch is gone (the same event a `removeWatches`
    /// gives).
    pub fn take_unrestorable(
        &mut self,
        max_len: usize,
        to_server: impl Fn(&str) -> String,
    ) -> Vec<(String, Watcher, EventType)> {
        let mut out = Vec::new();
        for kind in WatchKind::ALL {
            let table = self.table(kind);
            let long: Vec<String> = table.keys().filter(|p| to_server(p).len() > max_len).cloned().collect();
            for path in long {
                for watcher in table.remove(&path).unwrap_or_default() {
                    out.push((path.clone(), watcher, kind.removed_event()));
                }
            }
        }
        out
    }

    /// The SetWatches batches that re-register everything on a new connection, each holding at
    /// most about `max_bytes` of path text (ZooKeeper's Java client uses 128 KiB) so that no
    /// batch approaches the packet limit. `to_server` applies the chroot.
    pub fn set_watches(
        &mut self,
        relative_zxid: i64,
        max_bytes: usize,
        to_server: impl Fn(&str) -> String,
    ) -> Vec<SetWatches> {
        self.prune();
        let mut batches = Vec::new();
        let mut current = SetWatches { relative_zxid, ..SetWatches::default() };
        let mut size = 0;
        for kind in WatchKind::ALL {
            let mut paths: Vec<&String> = self.tables[kind as usize].keys().collect();
            paths.sort();
            for path in paths {
                let server_path = to_server(path);
                if size > 0 && size + server_path.len() > max_bytes {
                    batches
                        .push(std::mem::replace(&mut current, SetWatches { relative_zxid, ..SetWatches::default() }));
                    size = 0;
                }
                size += server_path.len() + 4;
                let list = match kind {
                    WatchKind::Data => &mut current.data,
                    WatchKind::Exist => &mut current.exist,
                    WatchKind::Child => &mut current.child,
                    WatchKind::Persistent => &mut current.persistent,
                    WatchKind::PersistentRecursive => &mut current.persistent_recursive,
                };
                list.push(server_path);
            }
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(reg: &mut WatchRegistry, t: EventType, path: &str) -> usize {
        reg.trigger(t, path).len()
    }

    #[test]
    fn unrestorable_watches_are_taken_out_with_their_removal_event() {
        let mut reg = WatchRegistry::default();
        let long = format!("/{}", "x".repeat(100));
        reg.add(WatchKind::Data, &long, Watcher::Default);
        reg.add(WatchKind::Persistent, &long, Watcher::Default);
        reg.add(WatchKind::Child, "/short", Watcher::Default);
        let taken = reg.take_unrestorable(50, |p| p.to_owned());
        let events: Vec<_> = taken.iter().map(|(p, _, e)| (p.len(), *e)).collect();
        assert_eq!(events, vec![(101, EventType::DataWatchRemoved), (101, EventType::PersistentWatchRemoved)]);
        let batches = reg.set_watches(0, 1 << 10, |p| p.to_owned());
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].child, vec!["/short".to_string()]);
        assert!(batches[0].data.is_empty() && batches[0].persistent.is_empty());
    }

    #[test]
    fn one_shot_watches_fire_once_for_their_events() {
        let mut reg = WatchRegistry::default();
        reg.add(WatchKind::Data, "/a", Watcher::Default);
        assert_eq!(fired(&mut reg, EventType::NodeChildrenChanged, "/a"), 0);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/a"), 1);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/a"), 0);

        reg.add(WatchKind::Child, "/a", Watcher::Default);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/a"), 0);
        assert_eq!(fired(&mut reg, EventType::NodeDeleted, "/a"), 1);
        assert!(reg.is_empty());
    }

    #[test]
    fn default_watcher_is_told_once_per_event() {
        let mut reg = WatchRegistry::default();
        reg.add(WatchKind::Data, "/a", Watcher::Default);
        reg.add(WatchKind::Data, "/a", Watcher::Default);
        reg.add(WatchKind::Child, "/a", Watcher::Default);
        assert_eq!(reg.len(), 2);
        assert_eq!(fired(&mut reg, EventType::NodeDeleted, "/a"), 1);
    }

    #[test]
    fn recursive_watches_cover_descendants_but_not_child_events() {
        let mut reg = WatchRegistry::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        reg.add(WatchKind::PersistentRecursive, "/r", Watcher::Stream(tx));
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/r/a/b"), 1);
        assert_eq!(fired(&mut reg, EventType::NodeCreated, "/r"), 1);
        assert_eq!(fired(&mut reg, EventType::NodeChildrenChanged, "/r"), 0);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/rx"), 0);
        assert_eq!(reg.len(), 1, "persistent watches stay");
    }

    #[test]
    fn root_recursive_watch_sees_everything() {
        let mut reg = WatchRegistry::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        reg.add(WatchKind::PersistentRecursive, "/", Watcher::Stream(tx));
        assert_eq!(fired(&mut reg, EventType::NodeDeleted, "/x/y"), 1);
    }

    #[test]
    fn persistent_watch_sees_child_events() {
        let mut reg = WatchRegistry::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        reg.add(WatchKind::Persistent, "/p", Watcher::Stream(tx));
        assert_eq!(fired(&mut reg, EventType::NodeChildrenChanged, "/p"), 1);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/p/c"), 0);
    }

    #[test]
    fn dropped_streams_are_forgotten() {
        let mut reg = WatchRegistry::default();
        let (tx, rx) = mpsc::unbounded_channel();
        reg.add(WatchKind::Persistent, "/p", Watcher::Stream(tx));
        drop(rx);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/p"), 0);
        assert!(reg.is_empty());
    }

    #[test]
    fn remove_by_type() {
        let mut reg = WatchRegistry::default();
        reg.add(WatchKind::Data, "/a", Watcher::Default);
        reg.add(WatchKind::Exist, "/a", Watcher::Default);
        reg.add(WatchKind::Child, "/a", Watcher::Default);
        let removed = reg.remove("/a", WatcherType::Data);
        assert_eq!(removed.len(), 2);
        assert!(removed.iter().all(|(_, t)| *t == EventType::DataWatchRemoved));
        assert!(reg.has("/a", WatcherType::Children));
        assert!(!reg.has("/a", WatcherType::Data));
    }

    #[test]
    fn set_watches_batches_stay_under_the_limit() {
        let mut reg = WatchRegistry::default();
        for i in 0..100 {
            reg.add(WatchKind::Data, &format!("/node-{i:04}"), Watcher::Default);
        }
        let (tx, _rx) = mpsc::unbounded_channel();
        reg.add(WatchKind::Persistent, "/p", Watcher::Stream(tx));
        let batches = reg.set_watches(7, 200, |p| format!("/root{p}"));
        assert!(batches.len() > 1);
        let total: usize = batches.iter().map(|b| b.data.len() + b.persistent.len()).sum();
        assert_eq!(total, 101);
        assert!(batches.iter().all(|b| b.relative_zxid == 7));
        assert!(batches.iter().any(|b| b.persistent == vec!["/root/p".to_string()]));
    }
}
