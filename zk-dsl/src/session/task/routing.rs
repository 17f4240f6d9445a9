//! Watch routing: the registry's changes on replies and notifications, connection-state events
//! to every watcher, and dropped streams.

use super::*;
use crate::session::chroot::{CONFIG_NODE, CONFIG_WATCH_KEY};

impl SessionTask {
    /// A connection-state change reaches every watcher — default, callbacks, watch futures and
    /// streams — in order with the node events around it, so whoever relies on a watch learns
    /// it may have missed changes (and re-reads after `SyncConnected`).
    pub(super) fn tell_watchers(&mut self, state: KeeperState) {
        let watchers = self.watches.connection_watchers();
        deliver(&self.dispatcher, &WatchedEvent::session(state), watchers);
    }

    /// A watch stream on `path` was dropped. When it was the session's last watch there, the
    /// server's watch goes too (`removeWatches` of any type: ZooKeeper 3.8 removes persistent
    /// watches no other way), so the server stops sending events nobody wants. While another
    /// watch remains on the path the server's stays: removing "any" would take that one too.
    pub(super) fn forget_watch(&mut self, conn: &mut Conn, path: String) {
        let before = self.watch_count();
        self.watches.prune();
        crate::session::metrics::watches_changed(before, self.watch_count());
        if self.watches.has_any(&path) {
            return;
        }
        let server_path = self.cfg.chroot.watch_to_server(&path);
        let request = proto::WatchesRequest { path: server_path, kind: proto::WatcherType::Any };
        let xid = self.xids.next();
        if encode_request(&mut conn.wbuf, xid, OpCode::RemoveWatches, Some(&request), self.cfg.max_write_packet).is_ok()
        {
            // The reply (NoWatcher if the server had already dropped it) interests nobody.
            let (tx, _) = tokio::sync::oneshot::channel();
            let completion = Completion::Future(tx);
            conn.inflight.push(Pending::internal(xid, OpCode::RemoveWatches, completion));
        }
    }

    /// Watchers registered, for the metrics' gauge (not counted without the feature).
    pub(super) fn watch_count(&self) -> usize {
        if cfg!(feature = "metrics") {
            self.watches.len()
        } else {
            0
        }
    }

    pub(super) fn apply_watch_action(&mut self, action: WatchAction, err: i32) {
        let before = self.watch_count();
        self.apply_watch_action_counted(action, err);
        crate::session::metrics::watches_changed(before, self.watch_count());
    }

    pub(super) fn apply_watch_action_counted(&mut self, action: WatchAction, err: i32) {
        match action {
            WatchAction::Register { kind, path, watcher } if err == 0 => self.watches.add(kind, &path, watcher),
            WatchAction::RegisterExists { path, watcher } => {
                if err == 0 {
                    self.watches.add(WatchKind::Data, &path, watcher);
                } else if err == ErrorCode::NoNode.code() {
                    self.watches.add(WatchKind::Exist, &path, watcher);
                }
            }
            WatchAction::Remove { path, kind, check_only: false } if err == 0 => {
                for (watcher, event_type) in self.watches.remove(&path, kind) {
                    let event = WatchedEvent::node(event_type, path.clone());
                    deliver(&self.dispatcher, &event, vec![watcher]);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_notification(&mut self, event: WatcherEvent) {
        if event.event_type == EventType::None {
            // Servers do not send session events as notifications; ignore rather than guess.
            tracing::debug!(?event, "ignoring a session-level notification");
            return;
        }
        let path = self.cfg.chroot.to_client(&event.path);
        let before = self.watch_count();
        let watchers = self.watches.trigger(event.event_type, &path);
        // `get_config`'s watches are kept under their own key (see `CONFIG_WATCH_KEY`).
        let config_watchers = if event.path == CONFIG_NODE {
            self.watches.trigger(event.event_type, CONFIG_WATCH_KEY)
        } else {
            Vec::new()
        };
        crate::session::metrics::watches_changed(before, self.watch_count());
        let (event_type, keeper_state) = (event.event_type, event.state);
        if !config_watchers.is_empty() {
            let config_event = WatchedEvent { event_type, keeper_state, path: Some(CONFIG_NODE.to_owned()) };
            deliver(&self.dispatcher, &config_event, config_watchers);
        }
        let event = WatchedEvent { event_type, keeper_state, path: Some(path) };
        deliver(&self.dispatcher, &event, watchers);
    }
}
