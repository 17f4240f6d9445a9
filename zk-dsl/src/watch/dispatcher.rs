//! The dispatcher: one thread per client that runs user callbacks — watch callbacks, the
//! default watcher and reply callbacks — one at a time, in the order the session task handed
//! them over (which is wire order).
//!
//! It is a plain thread, like the Java client's event thread, rather than a tokio task: a
//! callback that blocks then stalls only other callbacks, never the connection or the caller's
//! runtime, and the blocking facade needs no runtime of the caller's at all.
//!
//! Ordering with futures: a reply normally completes its future straight from the session task.
//! While callbacks are still queued here (the backlog is non-zero), the session task routes
//! replies through this queue too, so a callback for an event always runs before the future of
//! a reply that followed the event on the wire resolves.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::event::WatchedEvent;
use super::registry::{WatchFn, Watcher};

enum Job {
    /// Tell these watchers (default or callbacks) about an event.
    Event(WatchedEvent, Vec<Watcher>),
    /// Run a closure (a reply callback, or a reply completion kept in order).
    Run(Box<dyn FnOnce() + Send>),
    /// Replace the session's default watcher (`register-watcher`).
    SetDefault(Option<WatchFn>),
}

/// Handle to the dispatcher thread. Cheap to clone; the thread ends when every handle is gone
/// and the queue is drained.
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::UnboundedSender<Job>,
    backlog: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("backlog", &self.backlog.load(Ordering::Relaxed)).finish()
    }
}

impl Dispatcher {
    /// Starts the thread with the session's default watcher.
    pub fn spawn(name: &str, default: Option<WatchFn>) -> std::io::Result<Dispatcher> {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let thread_backlog = backlog.clone();
        std::thread::Builder::new().name(name.to_owned()).spawn(move || run(rx, thread_backlog, default))?;
        Ok(Dispatcher { tx, backlog })
    }

    /// Whether callbacks are queued or running; replies must then queue behind them.
    pub fn is_busy(&self) -> bool {
        self.backlog.load(Ordering::Acquire) > 0
    }

    fn push(&self, job: Job) {
        self.backlog.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(job).is_err() {
            // The thread is gone only if it could not be started; nothing can run the job.
            self.backlog.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Queues an event for default and callback watchers.
    pub fn event(&self, event: WatchedEvent, watchers: Vec<Watcher>) {
        if !watchers.is_empty() {
            self.push(Job::Event(event, watchers));
        }
    }

    /// Queues a closure.
    pub fn run(&self, f: impl FnOnce() + Send + 'static) {
        self.push(Job::Run(Box::new(f)));
    }

    /// Replaces the default watcher; events queued before this still go to the old one.
    pub fn set_default(&self, watcher: Option<WatchFn>) {
        self.push(Job::SetDefault(watcher));
    }
}

fn run(mut rx: mpsc::UnboundedReceiver<Job>, backlog: Arc<AtomicUsize>, mut default: Option<WatchFn>) {
    while let Some(job) = rx.blocking_recv() {
        match job {
            Job::Event(event, watchers) => {
                for w in watchers {
                    let f = match w {
                        Watcher::Default => default.clone(),
                        Watcher::Callback(f) => Some(f),
                        // Futures and streams are completed by the session task directly.
                        Watcher::Oneshot(_) | Watcher::Stream(_) => None,
                    };
                    if let Some(f) = f {
                        guarded("watch callback", || f(event.clone()));
                    }
                }
            }
            Job::Run(f) => guarded("callback", f),
            Job::SetDefault(w) => default = w,
        }
        backlog.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A panicking user callback must not take the dispatcher (and every later callback) with it.
fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a {what} panicked; the dispatcher carries on");
    }
}

/// Delivers an event: futures and streams right away, callbacks through the dispatcher.
pub fn deliver(dispatcher: &Dispatcher, event: &WatchedEvent, watchers: Vec<Watcher>) {
    let mut queued = Vec::new();
    for w in watchers {
        match w {
            Watcher::Oneshot(tx) => {
                let _ = tx.send(event.clone());
            }
            Watcher::Stream(tx) => {
                let _ = tx.send(event.clone());
            }
            other => queued.push(other),
        }
    }
    dispatcher.event(event.clone(), queued);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::EventType;
    use std::sync::Mutex;

    #[test]
    fn runs_jobs_in_order_and_survives_panics() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let default: WatchFn = Arc::new(move |e: WatchedEvent| s.lock().unwrap().push(e.path.unwrap_or_default()));
        let d = Dispatcher::spawn("test-dispatch", Some(default)).unwrap();
        d.run(|| panic!("user bug"));
        d.event(WatchedEvent::node(EventType::NodeCreated, "/1"), vec![Watcher::Default]);
        let s = seen.clone();
        d.run(move || s.lock().unwrap().push("/2".into()));
        let (tx, rx) = std::sync::mpsc::channel();
        d.run(move || tx.send(()).unwrap());
        rx.recv().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["/1".to_string(), "/2".to_string()]);
        assert!(!d.is_busy() || d.backlog.load(Ordering::Acquire) <= 1);
    }
}
