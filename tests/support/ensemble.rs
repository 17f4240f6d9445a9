//! 3-member ensembles for tests that kill members: started off the runtime's workers, one at a
//! time per test process (three member JVMs are plenty for a 2-core box), with a session
//! timeout long enough for an election.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zk_dsl::testing::{scaled, Ensemble, ZkServer};
use zk_dsl::{Client, SessionState};

use crate::{eventually, patience};

/// The session timeout of ensemble tests: room for an election and a member's JVM start on a
/// loaded two-core machine. [`start`] configures the members to grant it.
pub fn session_timeout() -> Duration {
    scaled(Duration::from_secs(15))
}

/// Runs blocking harness calls (JVM starts and stops, four-letter words) off the runtime's
/// workers, so the clients' session tasks keep running meanwhile.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("a blocking harness call panicked")
}

/// Hold the guard for the whole test: one ensemble at a time in this process.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Starts a 3-member ensemble whose members grant sessions up to a minute.
pub async fn start() -> Arc<Ensemble> {
    let members = ZkServer::builder().max_session_timeout(scaled(Duration::from_secs(60)));
    let ensemble = blocking(move || Ensemble::builder().member_options(members).start()).await;
    Arc::new(ensemble.unwrap_or_else(|e| panic!("cannot start a ZooKeeper ensemble: {e}")))
}

/// Connects with `session_timeout` (use [`session_timeout`] unless testing expiry).
pub async fn connect(connect_string: &str, session_timeout: Duration) -> Client {
    let client = Client::connect(connect_string).session_timeout(session_timeout).connect_timeout(patience()).await;
    client.unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// The member serving `session` now (from each member's `cons`).
pub async fn member_of(ensemble: &Arc<Ensemble>, session: i64) -> usize {
    let e = ensemble.clone();
    blocking(move || e.find_member_by_session(session))
        .await
        .unwrap_or_else(|| panic!("no member lists session {session:#x}"))
}

/// Kills member `index` (SIGKILL) and reaps it.
pub async fn kill(ensemble: &Arc<Ensemble>, index: usize) {
    let e = ensemble.clone();
    blocking(move || e.kill(index)).await.expect("kill a member");
}

/// Waits until every client is connected again, and returns where each is. A request answered
/// on each client proves its session task has taken every command sent before (a new server
/// list, say) and is connected after any move that caused.
pub async fn settled(clients: &[Client]) -> Vec<SocketAddr> {
    for c in clients {
        crate::within("a request answered after the move", async {
            while let Err(e) = c.exists("/").await {
                assert!(e.is_retryable(), "{e}");
            }
        })
        .await;
    }
    eventually("every client connected", || async {
        clients
            .iter()
            .map(|c| (c.state() == SessionState::Connected).then(|| c.status().server).flatten())
            .collect::<Option<Vec<_>>>()
    })
    .await
}
