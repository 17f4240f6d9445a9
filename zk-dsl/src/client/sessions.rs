//! [`Sessions`]: a client that starts a new session whenever its session expires, and
//! [`SessionSource`], which lets a long-lived recipe carry on in the next session.
//!
//! A [`Client`] is one session (see [`reconnect`](super::reconnect) for why). Code that wants
//! "a connection to ZooKeeper for as long as the program runs" — Curator's `CuratorFramework`,
//! which quietly makes a new ZooKeeper handle after an expiry — wants a [`Sessions`]: it holds
//! the current client, and when that session expires it connects again (retrying with backoff
//! until a server answers) and publishes the new client.
//!
//! Recipes that keep something up for the life of a program (a
//! [`PersistentNode`](crate::recipes::PersistentNode), a [`Cache`](crate::recipes::Cache), a
//! group membership) take a [`SessionSource`]: given a `&Client` they end with its session, given
//! a `&Sessions` they rebuild on each new one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::reconnect::session_end;
use super::{Client, Connect};
use crate::error::Error;

type ConnectFn = dyn Fn() -> Connect + Send + Sync;

/// The first delay before connecting again after a failed attempt; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One session after another: a handle to the current [`Client`], replaced by a new one each
/// time the session expires. Clones share the sessions; renewing stops when the last clone is
/// dropped or at [`close`](Self::close).
///
/// ```no_run
/// use zk_dsl::client::Sessions;
/// use zk_dsl::recipes::PersistentNode;
/// use zk_dsl::Client;
///
/// # async fn demo() -> zk_dsl::Result<()> {
/// let zk = Sessions::connect(|| Client::connect("zk1:2181,zk2:2181/app")).await?;
/// // Present for as long as the program runs, expiries included.
/// let _me = PersistentNode::new(&zk, "/workers/w-1").data("10.0.0.7").start().await?;
/// zk.client().create("/jobs/j-").persistent().sequential().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

struct Shared {
    current: watch::Receiver<Generation>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// The client of the moment, and whether another session will follow when it ends.
#[derive(Clone)]
struct Generation {
    client: Client,
    /// Sessions started before this one.
    renewals: u64,
    renewing: bool,
}

impl Sessions {
    /// Connects the first session (failing like `connect()` does when no server answers) and
    /// starts a new session, from `connect()` again, each time one expires. A session that ends
    /// any other way (closed, authentication failed) ends the renewing.
    pub async fn connect(connect: impl Fn() -> Connect + Send + Sync + 'static) -> Result<Sessions, Error> {
        let connect: Arc<ConnectFn> = Arc::new(connect);
        let client = connect().await?;
        let (tx, current) = watch::channel(Generation { client, renewals: 0, renewing: true });
        let renewer = tokio::spawn(renew(connect, tx));
        Ok(Sessions { shared: Arc::new(Shared { current, renewer }) })
    }

    /// The current session's client. Between an expiry and the next session it is the expired
    /// one (its calls fail with `SessionExpired`); [`next_session`](Self::next_session) waits.
    pub fn client(&self) -> Client {
        self.shared.current.borrow().client.clone()
    }

    /// How many times a new session has replaced an expired one.
    pub fn renewals(&self) -> u64 {
        self.shared.current.borrow().renewals
    }

    /// Waits for a session other than `ended`'s; `None` when no other will come (renewing has
    /// stopped).
    pub async fn next_session(&self, ended: &Client) -> Option<Client> {
        let mut current = self.shared.current.clone();
        loop {
            {
                let generation = current.borrow_and_update();
                if !generation.client.same_session_handle(ended) {
                    return Some(generation.client.clone());
                }
                if !generation.renewing {
                    return None;
                }
            }
            current.changed().await.ok()?;
        }
    }

    /// Stops renewing and closes the current session.
    pub async fn close(&self) -> Result<(), Error> {
        self.shared.renewer.abort();
        self.client().close().await
    }
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.shared.current.borrow();
        f.debug_struct("Sessions")
            .field("session_id", &format_args!("{:#x}", generation.client.session_id()))
            .field("renewals", &generation.renewals)
            .field("renewing", &generation.renewing)
            .finish()
    }
}

/// The renewing task: waits for the current session to end, and after an expiry connects again.
async fn renew(connect: Arc<ConnectFn>, tx: watch::Sender<Generation>) {
    loop {
        let client = tx.borrow().client.clone();
        let end = session_end(&client).await;
        drop(client);
        if !matches!(end, Error::SessionExpired { .. }) {
            tx.send_modify(|generation| generation.renewing = false);
            return;
        }
        let mut backoff = FIRST_BACKOFF;
        let client = loop {
            match connect().await {
                Ok(client) => break client,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "starting a new session failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!(session = format_args!("{:#x}", client.session_id()), "session expired; a new one started");
        tx.send_modify(|generation| {
            generation.client = client;
            generation.renewals += 1;
        });
    }
}

/// Where a long-lived recipe gets its sessions: one [`Client`] (the recipe ends with its
/// session) or [`Sessions`] (the recipe starts again in each new session). Built from `&Client`
/// or `&Sessions`, so recipe constructors take either.
#[derive(Clone, Debug)]
pub enum SessionSource {
    /// One session: the recipe stops when it ends.
    Client(Client),
    /// Session after session.
    Sessions(Sessions),
}

impl SessionSource {
    /// The client to use now.
    pub fn client(&self) -> Client {
        match self {
            SessionSource::Client(client) => client.clone(),
            SessionSource::Sessions(sessions) => sessions.client(),
        }
    }

    /// The session after `ended`'s, when there will be one.
    pub async fn next_session(&self, ended: &Client) -> Option<Client> {
        match self {
            SessionSource::Client(_) => None,
            SessionSource::Sessions(sessions) => sessions.next_session(ended).await,
        }
    }
}

impl From<&Client> for SessionSource {
    fn from(client: &Client) -> Self {
        SessionSource::Client(client.clone())
    }
}

impl From<Client> for SessionSource {
    fn from(client: Client) -> Self {
        SessionSource::Client(client)
    }
}

impl From<&Sessions> for SessionSource {
    fn from(sessions: &Sessions) -> Self {
        SessionSource::Sessions(sessions.clone())
    }
}

impl From<Sessions> for SessionSource {
    fn from(sessions: Sessions) -> Self {
        SessionSource::Sessions(sessions)
    }
}

impl From<&SessionSource> for SessionSource {
    fn from(source: &SessionSource) -> Self {
        source.clone()
    }
}
