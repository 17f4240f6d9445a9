//! [`Connect::follow_config`](crate::Connect::follow_config): a small task beside the session
//! task that reads `/zookeeper/config` with a watch and, after every change, gives the session
//! the new members' client addresses, as `update_servers` does (ZOOKEEPER-1355's rebalancing).
//!
//! The task holds only a weak reference to the client between reads, so it never keeps a
//! session open that every handle has let go of; it ends with the session. Its watch is an
//! ordinary one: restored by SetWatches on every reconnection (under its own registry key, so
//! the chroot never applies), and fired by the server for a change made while the client was
//! away. It never blocks the session task: the reads are requests like any other, and the
//! watch is a future (no callback, so no dispatcher thread).

use std::sync::{Arc, Weak};

use crate::client::ops::config::RawConfigOp;
use crate::client::{Call, Client, Inner, WatchFuture};
use crate::proto::EventType;
use crate::reconfig::EnsembleConfig;
use crate::session::request::Command;
use crate::session::HostPort;

/// Starts following the configuration of `client`'s ensemble.
pub(crate) fn spawn(client: &Client) {
    let weak = Arc::downgrade(&client.inner);
    client.inner.runtime.spawn(follow(weak));
}

/// The pause before reading again after a read went unanswered.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// What the loop does after a read.
enum Next {
    /// Wait for the watch to fire, then read again.
    AwaitChange(WatchFuture),
    /// Wait for a connection, then read again (the read was not answered, so no watch is set).
    AwaitConnection,
    /// The session is over, or the servers cannot say (no configuration node).
    Stop,
}

async fn follow(weak: Weak<Inner>) {
    let mut applied: Option<Vec<HostPort>> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let client = Client { inner };
        let read = Call::new(&client, RawConfigOp::default()).with_watch().await;
        let next = match read {
            Ok((reply, watch)) => {
                let text = String::from_utf8_lossy(reply.data.as_deref().unwrap_or_default());
                match EnsembleConfig::parse(&text) {
                    Ok(config) => apply(&client.inner, &config, &mut applied),
                    // Its watch is set all the same: the next version may be readable.
                    Err(e) => tracing::warn!(error = %e, "ignoring an ensemble configuration that cannot be read"),
                }
                Next::AwaitChange(watch)
            }
            Err(e) if e.is_session_terminal() => Next::Stop,
            Err(e) if e.is_retryable() => Next::AwaitConnection,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the ensemble configuration; keeping the server list");
                Next::Stop
            }
        };
        let mut status = client.inner.hub.watch();
        // No handle is held while waiting: the session closes when the application lets go.
        drop(client);
        match next {
            // A node event (the configuration changed): read again. A session event means the
            // session ended (the future skips Disconnected and SyncConnected: the watch stays
            // set across reconnections).
            Next::AwaitChange(watch) => {
                if watch.await.event_type == EventType::None {
                    return;
                }
            }
            Next::AwaitConnection => loop {
                // Not at once: a call can time out on a connection that stays up.
                tokio::time::sleep(RETRY_PAUSE).await;
                let state = status.borrow_and_update().state;
                if state.is_terminal() {
                    return;
                }
                if state.is_connected() {
                    break;
                }
                if status.changed().await.is_err() {
                    return;
                }
            },
            Next::Stop => return,
        }
    }
}

/// Gives the session the configuration's client addresses when [`new_list`] says so, and
/// records the configuration as followed.
fn apply(inner: &Inner, config: &EnsembleConfig, applied: &mut Option<Vec<HostPort>>) {
    let version = config.version;
    match new_list(config, applied.as_deref()) {
        Decision::Unchanged => {}
        Decision::NoClientAddress => {
            tracing::warn!(?version, "the ensemble configuration names no client address; keeping the server list");
            return;
        }
        Decision::Use(hosts) => {
            tracing::info!(?version, servers = hosts.len(), "following the ensemble configuration");
            applied.replace(hosts.clone());
            inner.submit(Command::UpdateServers { hosts });
        }
    }
    // After the command: whoever sees this version and then sends a request knows the session
    // task has the list.
    *inner.followed_config.lock().unwrap_or_else(|e| e.into_inner()) = Some(config.clone());
}

/// What a configuration means for the server list.
#[derive(Debug, PartialEq)]
enum Decision {
    /// The list the session was last given: nothing to send.
    Unchanged,
    /// No member names a client address: an empty list would leave the client nowhere to go
    /// (a static ensemble's configuration is like that), so the list stays.
    NoClientAddress,
    /// A new list: the client addresses of every member that names one.
    Use(Vec<HostPort>),
}

fn new_list(config: &EnsembleConfig, applied: Option<&[HostPort]>) -> Decision {
    let hosts = config.client_addresses();
    if hosts.is_empty() {
        Decision::NoClientAddress
    } else if applied == Some(hosts.as_slice()) {
        Decision::Unchanged
    } else {
        Decision::Use(hosts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_sent_once_per_change_and_never_empty() {
        let parse = |text: &str| EnsembleConfig::parse(text).unwrap();
        let three = parse("server.1=h:1:2;h:1\nserver.2=h:3:4;h:2\nserver.3=h:5:6:observer;h:3\nversion=1");
        let Decision::Use(hosts) = new_list(&three, None) else { panic!("the first list is used") };
        assert_eq!(hosts.iter().map(|h| h.port).collect::<Vec<_>>(), [1, 2, 3], "observers too");
        assert_eq!(new_list(&three, Some(&hosts)), Decision::Unchanged);
        // A static ensemble's configuration, or members that name no client port.
        let silent = parse("server.1=h:1:2\nserver.2=h:3:4\nversion=0");
        assert_eq!(new_list(&silent, Some(&hosts)), Decision::NoClientAddress);
        assert_eq!(new_list(&EnsembleConfig::default(), Some(&hosts)), Decision::NoClientAddress);
        // Members without a client address are left out of a list that has others.
        let partial = parse("server.1=h:1:2;h:1\nserver.4=h:7:8\nversion=2");
        assert_eq!(new_list(&partial, Some(&hosts)), Decision::Use(vec![HostPort { host: "h".into(), port: 1 }]));
    }
}
