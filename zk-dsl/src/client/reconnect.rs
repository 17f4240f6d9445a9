//! Starting over after a session expires.
//!
//! A [`Client`] survives dropped connections and server failures by itself: it reconnects with
//! the same session, replays its identities and re-registers its watches. What it cannot survive
//! is the session's end. Once it is `Expired` (the ensemble gave up on it: its ephemeral nodes are
//! deleted and its watches are gone), every call fails with [`Error::SessionExpired`] and the only
//! way on is a new session: a new client, whose setup (ephemeral nodes, watches, identities)
//! the application does again.
//!
//! [`run_sessions`] does exactly that: it runs the application's session body with a fresh client,
//! and again with a new one whenever the body ends with `SessionExpired`. [`session_end`] lets a
//! body wait for (or race its work against) the end of its session.
//!
//! ```no_run
//! use zk_dsl::client::reconnect::{run_sessions, session_end};
//! use zk_dsl::Client;
//!
//! # async fn demo() -> zk_dsl::Result<()> {
//! run_sessions(
//!     || Client::connect("zk1:2181,zk2:2181,zk3:2181/app"),
//!     |client| async move {
//!         // Session-scoped setup, redone on every new session.
//!         client.create("/members/worker-1").data("up").await?;
//!         let mut config = client.watch("/config").await?;
//!         tokio::select! {
//!             // Ends with SessionExpired when the session expires: run_sessions starts over.
//!             end = session_end(&client) => Err(end),
//!             _ = async { while let Some(event) = config.next().await { println!("{event}") } } => Ok(()),
//!         }
//!     },
//! )
//! .await
//! # }
//! ```
//!
//! While the session lives, `Disconnected` on [`Client::session_events`] means "suspended": the
//! session may still be alive and nothing needs redoing; `Reconnected` means it was. Only
//! `Expired` calls for a new session.

use std::future::Future;

use super::{Client, Connect};
use crate::error::Error;

/// Waits until the session of `client` is over, and returns the error later calls on it get:
/// [`Error::SessionExpired`], [`Error::AuthFailed`] or [`Error::Closed`]. Connection losses
/// along the way (the session reconnecting) do not end it.
pub async fn session_end(client: &Client) -> Error {
    let mut status = client.inner.hub.watch();
    loop {
        let state = status.borrow_and_update().state;
        if state.is_terminal() {
            return Error::session_over(state, None, None);
        }
        if status.changed().await.is_err() {
            // The session task is gone, so the state it left is final.
            return Error::session_over(client.state(), None, None);
        }
    }
}

/// Runs `body` with a client from `connect()`, and again with a new session each time `body`
/// fails with [`Error::SessionExpired`]. Returns `body`'s result otherwise (success or any other
/// error), or the error of a failed `connect()` (say [`Error::Timeout`] when no server answers;
/// retrying that is the caller's choice).
///
/// `body` gets its own handle to the session; the session closes once the last handle is dropped
/// (so when `body` returns, unless it kept one).
pub async fn run_sessions<T, B, F>(connect: impl Fn() -> Connect, mut body: B) -> Result<T, Error>
where
    B: FnMut(Client) -> F,
    F: Future<Output = Result<T, Error>>,
{
    loop {
        let client = connect().await?;
        let session = client.session_id();
        match body(client).await {
            Err(Error::SessionExpired { .. }) => {
                tracing::info!(session = format_args!("{session:#x}"), "session expired; starting a new one");
            }
            other => return other,
        }
    }
}
