//! Waiting for a future on the current thread, without a runtime of the caller's.
//!
//! The client's futures complete through channels fed by the session task (which runs on its
//! own runtime), so any thread can wait for them by parking until woken.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread, blocking it.
///
/// On a multi-thread tokio runtime's thread it first hands the worker's other tasks to another
/// thread (`block_in_place`), so waiting there cannot starve the runtime (or a session task on
/// it). On a current-thread runtime nothing can take over: if the future needs that runtime to
/// make progress, it never completes — the client's own `.wait()` methods check for that and
/// refuse with [`Error::WouldDeadlock`](crate::Error::WouldDeadlock) instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| park_on(future))
        }
        _ => park_on(future),
    }
}

thread_local! {
    /// This thread's waker, made once: a blocking client calls `park_on` once per request.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Polls `future`, parking the thread between wake-ups.
fn park_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    // A clone of the cached waker only counts a reference. (While the thread is being torn
    // down the cache is gone; a fresh waker does the same job.)
    let waker =
        THREAD_WAKER.try_with(Waker::clone).unwrap_or_else(|_| Waker::from(Arc::new(ThreadWaker(thread::current()))));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            // Spurious wake-ups just poll again.
            Poll::Pending => thread::park(),
        }
    }
}
