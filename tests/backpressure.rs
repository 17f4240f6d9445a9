//! Backpressure (issue 10): `Connect::max_pending` bounds the requests queued plus in flight.
//! Calls beyond it wait, in the order they were made, for earlier ones to complete; a
//! fire-and-forget `.send()` loop far faster than the network keeps memory flat instead of
//! queueing every frame. Measured with a counting global allocator, so this binary holds one
//! test.
//!
//! `ZK_DSL_BACKPRESSURE_SENDS` sets the loop's length (default 1,000,000; the 10,000,000
//! is a measured run: `ZK_DSL_BACKPRESSURE_SENDS=10000000 cargo test --release --all-features
//! --test backpressure`).

use std::sync::atomic::Ordering;

use suite::alloc::{Counting, LIVE};
use suite::{patience, within, TestEnv};
use zk_dsl::Client;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Requests queued or in flight at most.
const BOUND: usize = 256;

fn sends() -> usize {
    std::env::var("ZK_DSL_BACKPRESSURE_SENDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_bound_wait_in_order_and_a_send_loop_keeps_memory_flat() {
    let env = TestEnv::new().await;
    let client = Client::connect(env.connect_string.as_str())
        .max_pending(BOUND)
        .connect_timeout(patience())
        .await
        .expect("connect");

    // Three times the bound, sent at once and awaited afterwards: every call goes out, in the
    // order made (the sequence numbers the server gives follow it).
    let handles: Vec<_> = (0..3 * BOUND).map(|_| client.create("/seq-").persistent().sequential().send()).collect();
    let mut last = None;
    for handle in handles {
        let path = within("a call over the bound", handle).await.expect("create");
        let seq = zk_dsl::util::extract_id(&path).expect("a sequence number");
        assert!(last < Some(seq), "{path} went out of order");
        last = Some(seq);
    }

    // Fire and forget, far faster than any network: live heap stays flat (calls over the bound
    // are withdrawn with their dropped handles, instead of every frame waiting in a queue).
    client.create("/k").persistent().await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    let mut peak = 0;
    for i in 0..sends() {
        drop(client.set_data("/k", "value").send());
        if i % 4096 == 0 {
            peak = peak.max(LIVE.load(Ordering::Relaxed) - before);
        }
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    println!("{} sends: live heap peak +{peak} bytes, at the end +{grown} bytes", sends());
    // The bound's worth of requests (frames, completions) and the connection's buffers: a few
    // MiB at most, whatever the number of sends.
    assert!(peak < 8 << 20, "live heap grew by {peak} bytes over {} sends", sends());
    // The session is fine and every call still completes.
    let node = within("a read after the loop", client.get_data("/k")).await.unwrap();
    assert_eq!(node.bytes(), b"value");
    client.close().await.unwrap();
}
