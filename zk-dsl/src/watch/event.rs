//! The event a watcher receives.

use std::fmt;

use crate::proto::{EventType, KeeperState};

/// A watch notification or a session state change, as the seed's event map:
/// `{:event-type :NodeDataChanged, :keeper-state :SyncConnected, :path "/a"}`.
///
/// Session events (`event_type == EventType::None`) have no path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedEvent {
    /// What happened (`None` for session events).
    pub event_type: EventType,
    /// The session's state when the event was sent.
    pub keeper_state: KeeperState,
    /// The node's path as the client sees it (chroot stripped); `None` for session events.
    pub path: Option<String>,
}

impl WatchedEvent {
    /// A session state event (no path).
    pub fn session(state: KeeperState) -> WatchedEvent {
        WatchedEvent { event_type: EventType::None, keeper_state: state, path: None }
    }

    /// A node event in the connected state.
    pub fn node(event_type: EventType, path: impl Into<String>) -> WatchedEvent {
        WatchedEvent { event_type, keeper_state: KeeperState::SyncConnected, path: Some(path.into()) }
    }

    /// Whether this is a session state change rather than a node event.
    pub fn is_session_event(&self) -> bool {
        self.event_type == EventType::None
    }

    /// Whether this is a connection-state change the session lives on through (Disconnected,
    /// SyncConnected, ...), as opposed to a node event or the session's end (Expired, Closed,
    /// AuthFailed). Every watcher hears these; a watch stays registered across them.
    pub fn is_connection_change(&self) -> bool {
        self.is_session_event()
            && !matches!(self.keeper_state, KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed)
    }
}

impl fmt::Display for WatchedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{} {} ({})", self.event_type, p, self.keeper_state),
            // A session event: the state is the news.
            None => write!(f, "{}", self.keeper_state),
        }
    }
}
