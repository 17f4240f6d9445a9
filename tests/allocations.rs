//! Heap allocations per request, counted with a counting global allocator (so this test has a
//! binary of its own and one test in it: every allocation of the process counts, the session
//! task's and the runtime's included).
//!
//! What a plain read costs today, on a chrooted client with the `metrics` feature on (as the
//! suite builds zk-dsl): the path the caller hands over as a `String`, the path under the chroot
//! (none without one), the encoded frame, the reply's completion (a oneshot), the reply frame
//! copied out of the read buffer, and the reply's data split off it. It once cost five more: a
//! copy of the path for the reply's context, another for a watch the read did not set, another
//! for the result, a second allocation for the chroot and one for the latency metric's label.
//! A reply callback's closure was boxed twice and its path copied twice (now once), and the
//! blocking facade made a waker per wait.
//! The bounds below keep all of that out.

use std::collections::VecDeque;

use suite::alloc::{Counting, ALLOCATIONS};
use suite::TestEnv;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROUNDS: usize = 4_000;

fn count() -> isize {
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Allocations per round of `round`, run `ROUNDS` times.
async fn per_request<F: std::future::Future<Output = ()>>(mut round: impl FnMut() -> F) -> f64 {
    let before = count();
    for _ in 0..ROUNDS {
        round().await;
    }
    (count() - before) as f64 / ROUNDS as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocations_per_request() {
    let env = TestEnv::new().await;
    let c = &env.client;
    c.create("/k").persistent().data(&[7u8; 100][..]).await.unwrap();
    // Warm up: buffers and queues reach their working size.
    per_request(|| async { drop(c.get_data("/k").await.unwrap()) }).await;

    let get = per_request(|| async { drop(c.get_data("/k").await.unwrap()) }).await;
    let exists = per_request(|| async { assert!(c.exists("/k").await.unwrap().is_some()) }).await;
    let set = per_request(|| async { assert!(c.set_data("/k", &[1u8; 100][..]).await.unwrap().version > 0) }).await;

    // A window of 100 `.send()` handles, the oldest awaited: the same per request.
    let before = count();
    let mut window: VecDeque<zk_dsl::Pending<_>> = VecDeque::new();
    for _ in 0..ROUNDS {
        if window.len() == 100 {
            window.pop_front().unwrap().await.unwrap();
        }
        window.push_back(c.get_data("/k").send());
    }
    for pending in window {
        pending.await.unwrap();
    }
    let windowed = (count() - before) as f64 / ROUNDS as f64;

    // Reply callbacks, chained: each callback sends the next get until ROUNDS have run.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let before = count();
    chain(c.clone(), ROUNDS, std::sync::Arc::new(std::sync::Mutex::new(Some(done_tx))));
    done_rx.await.unwrap();
    let callbacks = (count() - before) as f64 / ROUNDS as f64;

    // The blocking facade, from a thread of its own.
    let before = count();
    let blocking_client = c.clone();
    tokio::task::spawn_blocking(move || {
        for _ in 0..ROUNDS {
            blocking_client.get_data("/k").wait().unwrap();
        }
    })
    .await
    .unwrap();
    let blocking = (count() - before) as f64 / ROUNDS as f64;

    println!(
        "allocations per request: get {get:.2}, exists {exists:.2}, set {set:.2}, get in a window {windowed:.2}, \
         get with a callback {callbacks:.2}, blocking get {blocking:.2}"
    );
    // The data set is the caller's slice, copied into a Vec by `set_data`: one more than exists.
    // A get with a callback adds the boxed callback and the handle's own oneshot (it resolves to
    // the same result), and copies the path once more, for that handle's errors (the reply's
    // context takes the op's own, as a future's does).
    let bounds = [
        ("get", get, 6.2),
        ("exists", exists, 5.2),
        ("set", set, 6.2),
        ("windowed get", windowed, 6.2),
        ("get with a callback", callbacks, 8.2),
        ("blocking get", blocking, 6.2),
    ];
    for (what, measured, bound) in bounds {
        assert!(measured <= bound, "{what}: {measured:.2} allocations per request, more than {bound}");
    }
}

/// Gets `/k` with a reply callback that sends the next one, `left` times, then says so.
fn chain(
    c: zk_dsl::Client,
    left: usize,
    done: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
) {
    if left == 0 {
        if let Some(tx) = done.lock().unwrap().take() {
            tx.send(()).unwrap();
        }
        return;
    }
    let next = c.clone();
    drop(c.get_data("/k").callback(move |result| {
        assert!(result.is_ok(), "{result:?}");
        chain(next, left - 1, done);
    }));
}
