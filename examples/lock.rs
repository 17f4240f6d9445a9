//! A distributed lock shared by several processes (and by Curator services, and by kazoo
//! services configured with `extra_lock_patterns=["-lock-"]`): each round takes the lock, holds
//! it a while and lets it go; the holder's writes go through the lock's fence, so they land
//! only while it really holds.
//!
//! ```sh
//! cargo run --example lock -- [CONNECT [LOCK [NAME [ROUNDS [HOLD_MS]]]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `LOCK` to `/example-lock`; `NAME`
//! to `worker-<pid>`; `ROUNDS` to 0 (until the end of standard input); `HOLD_MS` to 1000. Pass
//! `-` to keep a default. Start it in several terminals: the `ACQUIRED` lines never overlap,
//! and each holder bumps `<LOCK>-counter` (a read-modify-write only the lock makes safe).
//! Kill a holder (Ctrl-C) and the next takes over once its session has timed out (5 s).
//!
//! Output, one line per event: `ACQUIRED <name> <epoch micros> token=<fencing token>`,
//! `RELEASING <name> <epoch micros>`, and `DONE <name>` after the last round.

mod common;

use common::{arg, connect_string, exit, stdin_closed};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zk_dsl::recipes::Mutex;
use zk_dsl::{Client, ResultExt};

const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("lock", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let lock = arg(2).unwrap_or("/example-lock".into());
    let me = arg(3).unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let rounds: u64 = arg(4).map(|r| r.parse()).transpose()?.unwrap_or(0);
    let hold = Duration::from_millis(arg(5).map(|h| h.parse()).transpose()?.unwrap_or(1000));

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let counter = format!("{lock}-counter");
    client.create(counter.as_str()).persistent().data("0").await.exists_ok()?;
    let mutex = Mutex::new(&client, lock.as_str()).id(me.as_str());
    let mut stdin_open = stdin_closed();

    let mut round = 0;
    while rounds == 0 || round < rounds {
        let guard = tokio::select! {
            guard = mutex.acquire() => guard?,
            _ = &mut stdin_open => break,
        };
        println!("ACQUIRED {me} {} token={}", micros(), guard.fencing_token());
        // Safe only under the lock; refused by the server if the lock was lost meanwhile.
        let seen = client.get_data(counter.as_str()).await?;
        let value: u64 = std::str::from_utf8(seen.bytes())?.trim().parse()?;
        tokio::time::sleep(hold).await;
        guard.set_data(&counter, (value + 1).to_string().as_bytes(), seen.stat.version).await?;
        println!("RELEASING {me} {}", micros());
        guard.release().await?;
        round += 1;
    }
    client.close().await?;
    println!("DONE {me}");
    Ok(())
}

fn micros() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or_default()
}
