//! A work queue whose items survive a crashed worker: producers put jobs into a `LockingQueue`
//! (kazoo's `LockingQueue` layout, so kazoo producers and consumers can share it), workers take
//! one, work on it and only then consume it. A worker that dies mid-job (its session ends)
//! leaves the job to the next worker: every job is done at least once, and exactly once unless a
//! worker dies between finishing a job and consuming it.
//!
//! ```sh
//! cargo run --example work_queue -- produce [CONNECT [QUEUE [COUNT [PRIORITY]]]]
//! cargo run --example work_queue -- consume [CONNECT [QUEUE [NAME [WORK_MS]]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `QUEUE` to `/example-work`;
//! `COUNT` to 10 jobs `job-<i>`; `PRIORITY` to 100 (0–999, lower first); `NAME` to
//! `worker-<pid>`; `WORK_MS` (how long each job takes) to 500. Pass `-` to keep a default. A
//! worker runs until the end of standard input; kill one mid-job (Ctrl-\) and another picks the
//! job up once the dead one's session has timed out (5 s).
//!
//! Output: the producer prints `PUT <job>` per job and `DONE`; a worker prints `TAKEN <name>
//! <job>` when it starts a job, `FINISHED <name> <job>` once the job is consumed, and `STOPPED
//! <name>` at the end.

mod common;

use common::{arg, exit, stdin_closed};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::recipes::LockingQueue;
use zk_dsl::Client;

const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("work_queue", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let role = arg(1).ok_or("usage: work_queue produce|consume [CONNECT [QUEUE [...]]]")?;
    let connect_string = arg(2).or_else(|| std::env::var("ZK_CONNECT").ok()).unwrap_or("127.0.0.1:2181".into());
    let path = arg(3).unwrap_or("/example-work".into());
    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let queue: LockingQueue<String> = LockingQueue::new(&client, path.as_str());
    match role.as_str() {
        "produce" => {
            let count: usize = arg(4).map(|c| c.parse()).transpose()?.unwrap_or(10);
            let priority: u16 = arg(5).map(|p| p.parse()).transpose()?.unwrap_or(100);
            for i in 0..count {
                let job = format!("job-{i}");
                queue.put(&job, priority).await?;
                println!("PUT {job}");
            }
            println!("DONE");
        }
        "consume" => {
            let me = arg(4).unwrap_or_else(|| format!("worker-{}", std::process::id()));
            let work = Duration::from_millis(arg(5).map(|w| w.parse()).transpose()?.unwrap_or(500));
            let mut stdin_open = stdin_closed();
            loop {
                let taken = tokio::select! {
                    taken = queue.get() => taken?,
                    _ = &mut stdin_open => break,
                };
                println!("TAKEN {me} {}", taken.item());
                // The work: if we die here, our marker goes with our session and the job with it
                // back to the queue.
                tokio::time::sleep(work).await;
                let job = taken.consume().await?;
                println!("FINISHED {me} {job}");
            }
            println!("STOPPED {me}");
        }
        other => return Err(format!("unknown role {other:?}: produce or consume").into()),
    }
    client.close().await?;
    Ok(())
}
