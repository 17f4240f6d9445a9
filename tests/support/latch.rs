//! A `LeaderLatch` participant for tests: its own session, its terms as leader recorded into a
//! `HolderLog` on the shared clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;
use zk_dsl::recipes::LeaderLatch;
use zk_dsl::Client;

use crate::peers::{now_micros, HolderLog};

/// A participant; [`resign`](Self::resign) ends its term before its node goes.
pub struct Participant {
    pub id: String,
    pub client: Client,
    /// Whether it says it leads, now.
    pub leading: Arc<AtomicBool>,
    resign: Option<oneshot::Sender<()>>,
    follower: tokio::task::JoinHandle<()>,
}

impl Participant {
    /// Joins the election at `path` on a new session to `connect`.
    pub async fn join(connect: &str, path: &str, id: &str, log: &HolderLog) -> Participant {
        let client = crate::connect(connect).await;
        let mut latch = LeaderLatch::new(&client, path).id(id).start().await.expect("join the election");
        let leading = Arc::new(AtomicBool::new(false));
        let (flag, log, who) = (leading.clone(), log.clone(), id.to_owned());
        let (resign, mut resigned) = oneshot::channel::<()>();
        let follower = tokio::spawn(async move {
            let mut since = None;
            let end = |since: &mut Option<u64>| {
                // Off the flag first: whoever sees a term end sees it ended.
                flag.store(false, Ordering::SeqCst);
                if let Some(from) = since.take() {
                    log.record(&who, from, now_micros());
                }
            };
            loop {
                tokio::select! {
                    _ = &mut resigned => {
                        // The term ends here, before the node goes: a clean handover.
                        end(&mut since);
                        latch.close().await.expect("close the latch");
                        return;
                    }
                    change = latch.leadership_changed() => match change {
                        Some(true) => {
                            since = Some(now_micros());
                            flag.store(true, Ordering::SeqCst);
                        }
                        Some(false) => end(&mut since),
                        None => return end(&mut since),
                    },
                }
            }
        });
        Participant { id: id.to_owned(), client, leading, resign: Some(resign), follower }
    }

    /// Withdraws (recording the end of a term first), then ends the session.
    pub async fn resign(mut self) {
        if let Some(resign) = self.resign.take() {
            let _ = resign.send(());
        }
        crate::within("the participant's withdrawal", &mut self.follower).await.expect("the follower task");
        self.client.close().await.expect("close");
    }
}
