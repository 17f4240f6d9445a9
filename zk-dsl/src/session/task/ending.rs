//! Ending the session: every watcher and waiter told, with the one terminal error.

use super::*;

impl SessionTask {
    /// The error every remaining waiter gets once the session is over.
    pub(super) fn terminal_error(state: SessionState) -> Error {
        Error::session_over(state, None, None)
    }

    /// Tells everyone the session is over and fails whatever is still waiting.
    pub(super) async fn finish(mut self, state: SessionState) {
        tracing::debug!(session = format_args!("{:#x}", self.session_id), ?state, "session ended");
        self.hub.update(|s| {
            s.state = state;
            s.server = None;
        });
        let (event, keeper_state) = match state {
            SessionState::Expired => (SessionEvent::Expired, KeeperState::Expired),
            SessionState::AuthFailed => (SessionEvent::AuthFailed, KeeperState::AuthFailed),
            _ => (SessionEvent::Closed, KeeperState::Closed),
        };
        let ended = WatchedEvent::session(keeper_state);
        // The default watcher hears it once; every other watcher is told its watch is gone.
        let before = self.watch_count();
        let mut watchers: Vec<Watcher> =
            self.watches.drain().into_iter().filter(|w| !matches!(w, Watcher::Default)).collect();
        crate::session::metrics::watches_changed(before, self.watch_count());
        watchers.push(Watcher::Default);
        deliver(&self.dispatcher, &ended, watchers);
        self.rx.close();
        while let Some(cmd) = self.queued.pop_front() {
            cmd.fail(Self::terminal_error(state), &self.dispatcher);
        }
        while let Some(cmd) = self.rx.recv().await {
            cmd.fail(Self::terminal_error(state), &self.dispatcher);
        }
        self.hub.emit(event);
    }
}
