//! Session states and the connection-state stream recipes rely on.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// The session's current state (the seed's `state`: `:CONNECTING`, `:CONNECTED`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Looking for a server (at start, or after a connection dropped).
    Connecting,
    /// Connected; requests flow.
    Connected,
    /// Connected to a server cut off from its quorum that serves reads only (the client asked
    /// for it with [`Connect::can_be_read_only`](crate::Connect::can_be_read_only)): writes fail
    /// with [`Error::NotReadOnly`](crate::Error::NotReadOnly) while the client looks for a
    /// read-write server.
    ConnectedReadOnly,
    /// The session expired; terminal.
    Expired,
    /// Authentication failed; terminal.
    AuthFailed,
    /// Closed by this client; terminal.
    Closed,
}

impl SessionState {
    /// Whether the session can never be used again.
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::Expired | SessionState::AuthFailed | SessionState::Closed)
    }

    /// Whether requests can be sent now (reads only, when read-only).
    pub fn is_connected(self) -> bool {
        matches!(self, SessionState::Connected | SessionState::ConnectedReadOnly)
    }

    /// The Java client's `ZooKeeper.States` name, which the seed returns as a keyword. Java
    /// reports an expired session as `CLOSED` too; [`SessionState::Expired`] keeps it distinct.
    pub fn java_name(self) -> &'static str {
        match self {
            SessionState::Connecting => "CONNECTING",
            SessionState::Connected => "CONNECTED",
            SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
            SessionState::Expired | SessionState::Closed => "CLOSED",
            SessionState::AuthFailed => "AUTH_FAILED",
        }
    }
}

/// A change of connection state, as recipes need to see them (Curator's
/// `ConnectionStateListener` vocabulary in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The session was established (CONNECTED).
    Connected,
    /// The connection dropped; the session may still be alive on the servers. Locks and
    /// leadership must be treated as uncertain until `Reconnected` (SUSPENDED).
    Disconnected,
    /// Connected again with the same session: ephemeral nodes and watches survived (RECONNECTED).
    Reconnected,
    /// Connected to a read-only server (READ_ONLY): reads work, writes fail until a
    /// read-write server is found, which is reported as `Connected` (a session made by a
    /// read-only server is replaced by a real one then; watches are carried over).
    ConnectedReadOnly,
    /// The session is gone: ephemeral nodes deleted, watches lost (LOST). Terminal.
    Expired,
    /// Authentication failed; the session is unusable. Terminal.
    AuthFailed,
    /// Closed by this client. Terminal.
    Closed,
}

/// What the session task publishes about itself.
///
/// Its `Debug` leaves the password out: the id and the password are all it takes to take the
/// session over ([`Connect::resume`](crate::Connect::resume)), and statuses end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionStatus {
    /// Where the session is.
    pub state: SessionState,
    /// The session id (0 before the first handshake).
    pub session_id: i64,
    /// The session's password (a secret: with the id it resumes the session from anywhere).
    pub password: Vec<u8>,
    /// The timeout the server granted (zero before the first connection).
    pub negotiated_timeout: Duration,
    /// The server the session is connected to, while connected.
    pub server: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStatus")
            .field("state", &self.state)
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("password", &crate::proto::Redacted(&self.password))
            .field("negotiated_timeout", &self.negotiated_timeout)
            .field("server", &self.server)
            .finish()
    }
}

impl SessionEvent {
    /// Whether this is the session's last event (Expired, AuthFailed, Closed).
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionEvent::Expired | SessionEvent::AuthFailed | SessionEvent::Closed)
    }
}

/// The shared half of the session's state: a watch channel for the current status and the
/// subscribers of the event stream (`None` once the terminal event went out: streams end there).
#[derive(Debug)]
pub struct StateHub {
    status: watch::Sender<SessionStatus>,
    listeners: Mutex<Option<Vec<mpsc::UnboundedSender<SessionEvent>>>>,
    /// How the last connection attempt failed, until one succeeds (for `NoServer`).
    last_failure: Mutex<Option<String>>,
}

impl StateHub {
    pub fn new() -> StateHub {
        let (status, _) = watch::channel(SessionStatus {
            state: SessionState::Connecting,
            session_id: 0,
            password: Vec::new(),
            negotiated_timeout: Duration::ZERO,
            server: None,
        });
        super::metrics::state_changed(None, SessionState::Connecting);
        StateHub { status, listeners: Mutex::new(Some(Vec::new())), last_failure: Mutex::new(None) }
    }

    pub fn status(&self) -> SessionStatus {
        self.status.borrow().clone()
    }

    /// Records how a connection attempt failed (`None`: one succeeded).
    pub fn set_last_failure(&self, failure: Option<String>) {
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// How the last connection attempt failed, unless one has succeeded since.
    pub fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn state(&self) -> SessionState {
        self.status.borrow().state
    }

    pub fn watch(&self) -> watch::Receiver<SessionStatus> {
        self.status.subscribe()
    }

    pub fn update(&self, f: impl FnOnce(&mut SessionStatus)) {
        self.status.send_modify(|s| Self::counted(s, f));
    }

    /// Applies `f`, counting a change of state in the metrics (the one place states change).
    fn counted(status: &mut SessionStatus, f: impl FnOnce(&mut SessionStatus)) {
        let before = status.state;
        f(status);
        super::metrics::state_changed(Some(before), status.state);
    }

    /// Updates the status and emits `event` as one step: whoever subscribes after seeing the new
    /// status does not get the event, and whoever gets the event sees the new status.
    pub fn transition(&self, f: impl FnOnce(&mut SessionStatus), event: SessionEvent) {
        let mut slot = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        self.status.send_modify(|s| Self::counted(s, f));
        Self::send(&mut slot, event);
    }

    /// The events from now on. After the session's terminal event the stream is empty and ended.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SessionEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        // A poisoned lock only means a subscriber panicked mid-push; the list is still valid.
        if let Some(listeners) = self.listeners.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            listeners.push(tx);
        }
        rx
    }

    /// Sends `event` to every subscriber; a terminal event is the last one, and ends the streams.
    pub fn emit(&self, event: SessionEvent) {
        let mut slot = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        Self::send(&mut slot, event);
    }

    fn send(slot: &mut Option<Vec<mpsc::UnboundedSender<SessionEvent>>>, event: SessionEvent) {
        if let Some(listeners) = slot.as_mut() {
            listeners.retain(|l| l.send(event).is_ok());
        }
        if event.is_terminal() {
            // Dropping the senders ends every stream after the event they already hold.
            *slot = None;
        }
    }
}

impl Default for StateHub {
    fn default() -> Self {
        StateHub::new()
    }
}
