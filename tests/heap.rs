//! What a value kept from a reply costs in memory, measured with a counting global allocator (so
//! this test has a binary of its own, and one test in it: every allocation of the process counts).
//!
//! A reply's body used to be a slice of the connection's shared read buffer, so a 4-byte value
//! read next to large replies kept that whole buffer (64 KiB and more) alive. Now every frame owns
//! its allocation: small replies are copied out of the read buffer, large ones are read into a
//! buffer of their own.

use std::sync::atomic::Ordering;

use suite::alloc::{Counting, LIVE};
use suite::{within, TestEnv};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// 1,000 four-byte values, each read in the same pipeline as two 200 KB replies (and so arriving
/// in the same reads), then kept while the large ones are dropped: each kept value costs well
/// under 1 KiB of heap (its own small frame and bookkeeping), not the read buffer it arrived in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_small_value_costs_about_its_own_size() {
    const KEPT: usize = 1000;
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/big").persistent().data(&vec![7u8; 200_000][..]).await.unwrap();
    c.create("/small").persistent().data("abcd").await.unwrap();
    let mut kept = Vec::with_capacity(KEPT);
    // Warm up: the connection's buffers reach their working size.
    for _ in 0..3 {
        let (a, b) = (c.get_data("/big").send(), c.get_data("/small").send());
        a.await.unwrap();
        b.await.unwrap();
    }

    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..KEPT {
        let first = c.get_data("/big").send();
        let small = c.get_data("/small").send();
        let last = c.get_data("/big").send();
        assert_eq!(within("a large read", first).await.unwrap().stat.data_length, 200_000);
        kept.push(within("the small read", small).await.unwrap());
        assert_eq!(within("a large read", last).await.unwrap().stat.data_length, 200_000);
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    let per_value = grown / KEPT as isize;
    eprintln!("{KEPT} kept 4-byte values: {grown} bytes more live heap, {per_value} per value");
    assert!(kept.iter().all(|v| v.bytes() == b"abcd"));
    assert!(per_value < 1024, "each kept 4-byte value holds {per_value} bytes of heap");
    drop(kept);
}
