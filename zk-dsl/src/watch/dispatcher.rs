//! The dispatcher: one thread per client that runs user callbacks — watch callbacks, the
//! default watcher and reply callbacks — one at a time, in the order the session task handed
//! them over (which is wire order).
//!
//! It is a plain thread, like the Java client's event thread, rather than a tokio task: a
//! callback that blocks then stalls only later callbacks, never the connection, the caller's
//! runtime or any future, and the blocking facade needs no runtime of the caller's at all.
//!
//! # Ordering
//!
//! * Callbacks (watch callbacks, the default watcher, `.callback(f)` replies) run in wire order
//!   among themselves: a callback for an event runs before the callback of a reply that
//!   followed the event on the wire.
//! * Futures, watch futures and watch streams are completed by the session task itself, in
//!   wire order among themselves: the future of a reply resolves after every watch future and
//!   stream has been handed the events that came before it.
//! * Between the two there is no promise: a future may resolve while a callback for an earlier
//!   event is still queued here. That is what lets a callback block on a request
//!   (`.wait()`), as the Java client's event thread allows its synchronous calls, and why a
//!   slow callback never delays a future.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::event::WatchedEvent;
use super::registry::{WatchFn, Watcher};
use crate::error::Error;
use crate::session::request::{RawReply, ReplyFn};

enum Job {
    /// Tell these watchers (default or callbacks) about an event.
    Event(WatchedEvent, Vec<Watcher>),
    /// Run a reply callback with its reply: the callback is boxed already, so handing both
    /// over saves the allocation a closure around them would cost (one per reply).
    Reply(ReplyFn, Result<RawReply, Error>),
    /// Replace the session's default watcher (`register-watcher`).
    SetDefault(Option<WatchFn>),
    /// Jobs gathered while the session task handled one read (see [`Dispatcher::batch`]).
    Batch(Vec<Job>),
}

thread_local! {
    /// The id of the dispatcher whose thread this is (0 on every other thread).
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// Handle to the dispatcher thread. Cheap to clone. The thread is started by the first job (a
/// client that never registers a callback never has one) and ends when every handle is gone
/// and the queue is drained.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

struct Shared {
    id: u64,
    name: String,
    queue: Mutex<Queue>,
    /// The thread runs (read without the lock: a client without callbacks opens no batches).
    started: AtomicBool,
}

struct Queue {
    /// `Err` holds what the thread starts with until it is started; `Ok` the live queue.
    sender: Result<mpsc::UnboundedSender<Job>, Option<WatchFn>>,
    /// Open batches (see [`Dispatcher::batch`]) and the jobs pushed meanwhile.
    batches: usize,
    gathered: Vec<Job>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("id", &self.shared.id).finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher with the session's default watcher; its thread starts with the first job.
    pub fn new(name: &str, default: Option<WatchFn>) -> Dispatcher {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let queue = Queue { sender: Err(default), batches: 0, gathered: Vec::new() };
        let started = AtomicBool::new(false);
        Dispatcher { shared: Arc::new(Shared { id, name: name.to_owned(), queue: Mutex::new(queue), started }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A poisoned lock only means a push panicked halfway; the queue is still a valid state.
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the calling thread is this dispatcher's: waiting there for something only this
    /// dispatcher can deliver would wait forever.
    pub fn is_current_thread(&self) -> bool {
        CURRENT.with(|c| c.get() == self.shared.id)
    }

    fn push(&self, job: Job) {
        let mut queue = self.lock();
        if queue.batches > 0 {
            queue.gathered.push(job);
            return;
        }
        queue.send(&self.shared, job);
    }

    /// Gathers every job pushed until the returned guard is dropped and hands them to the
    /// thread as one. The session task holds a batch while it handles one read: a read that
    /// brings many replies with callbacks then wakes the thread once, not once per reply
    /// (each wake-up is a futex wake for the session task and a futex wait for the thread,
    /// which otherwise keeps pace and parks between replies). Jobs keep their order. `None`
    /// while no callback has ever been queued: there is no thread to wake yet, and a client
    /// that uses only futures pays nothing for batches.
    pub fn batch(&self) -> Option<Batch> {
        if !self.shared.started.load(Ordering::Acquire) {
            return None;
        }
        self.lock().batches += 1;
        Some(Batch { dispatcher: self.clone() })
    }

    /// Queues an event for default and callback watchers.
    pub fn event(&self, event: WatchedEvent, watchers: Vec<Watcher>) {
        if watchers.is_empty() || (watchers.iter().all(|w| matches!(w, Watcher::Default)) && !self.has_default()) {
            return;
        }
        self.push(Job::Event(event, watchers));
    }

    /// Whether a default watcher may be listening: always once the thread runs (it owns the
    /// watcher then), else whether one was given.
    fn has_default(&self) -> bool {
        !matches!(&self.lock().sender, Err(None))
    }

    /// Queues a reply callback with its reply.
    pub fn reply(&self, f: ReplyFn, result: Result<RawReply, Error>) {
        self.push(Job::Reply(f, result));
    }

    /// Replaces the default watcher; events queued before this still go to the old one.
    pub fn set_default(&self, watcher: Option<WatchFn>) {
        let mut queue = self.lock();
        match &mut queue.sender {
            // Not started: nothing is queued, so the new watcher simply replaces the old.
            Err(default) => *default = watcher,
            Ok(_) => {
                drop(queue);
                self.push(Job::SetDefault(watcher));
            }
        }
    }
}

/// An open batch of [`Dispatcher::batch`]; dropping it hands the gathered jobs over.
pub struct Batch {
    dispatcher: Dispatcher,
}

impl Drop for Batch {
    fn drop(&mut self) {
        let mut queue = self.dispatcher.lock();
        queue.batches -= 1;
        if queue.batches > 0 || queue.gathered.is_empty() {
            return;
        }
        // One job goes alone and the buffer stays for the next batch; several go in it, and
        // the next batch starts with room for as many (one allocation per batch, no regrowth).
        let n = queue.gathered.len();
        let job = if n == 1 {
            queue.gathered.pop()
        } else {
            Some(Job::Batch(std::mem::replace(&mut queue.gathered, Vec::with_capacity(n))))
        };
        if let Some(job) = job {
            queue.send(&self.dispatcher.shared, job);
        }
    }
}

impl Queue {
    /// Hands a job to the thread, starting it with the first.
    fn send(&mut self, shared: &Shared, job: Job) {
        if let Err(default) = &mut self.sender {
            let (tx, rx) = mpsc::unbounded_channel();
            let (id, default) = (shared.id, default.take());
            let started = std::thread::Builder::new().name(shared.name.clone()).spawn(move || run(id, rx, default));
            if let Err(e) = started {
                // Nothing can run callbacks; say so rather than lose them silently.
                tracing::error!(error = %e, "could not start the callback dispatcher thread; callbacks are dropped");
                return;
            }
            self.sender = Ok(tx);
            shared.started.store(true, Ordering::Release);
        }
        if let Ok(tx) = &self.sender {
            // The thread only stops when every sender is gone, and this queue holds one.
            let _ = tx.send(job);
        }
    }
}

fn run(id: u64, mut rx: mpsc::UnboundedReceiver<Job>, mut default: Option<WatchFn>) {
    CURRENT.with(|c| c.set(id));
    while let Some(job) = rx.blocking_recv() {
        run_job(job, &mut default);
    }
}

fn run_job(job: Job, default: &mut Option<WatchFn>) {
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
        Job::Reply(f, result) => guarded("callback", move || f(result)),
        Job::SetDefault(w) => *default = w,
        Job::Batch(jobs) => {
            for job in jobs {
                run_job(job, default);
            }
        }
    }
}

/// A panicking user callback must not take the dispatcher (and every later callback) with it.
pub(crate) fn guarded(what: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a {what} panicked; the dispatcher carries on");
    }
}

/// Delivers an event: futures and streams right away, callbacks through the dispatcher.
pub fn deliver(dispatcher: &Dispatcher, event: &WatchedEvent, watchers: Vec<Watcher>) {
    let mut queued = Vec::new();
    for w in watchers {
        match w {
            Watcher::Oneshot(tx) | Watcher::Stream(tx) => {
                // A dropped receiver means nobody listens any more; the registry forgets it.
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

    /// Runs `f` on the dispatcher as a reply callback (the reply is ignored).
    fn run(d: &Dispatcher, f: impl FnOnce() + Send + 'static) {
        d.reply(Box::new(move |_| f()), Err(Error::Closed { op: None, path: None }));
    }

    #[test]
    fn runs_jobs_in_order_and_survives_panics() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let default: WatchFn = Arc::new(move |e: WatchedEvent| s.lock().unwrap().push(e.path.unwrap_or_default()));
        let d = Dispatcher::new("test-dispatch", Some(default));
        run(&d, || panic!("user bug"));
        d.event(WatchedEvent::node(EventType::NodeCreated, "/1"), vec![Watcher::Default]);
        let s = seen.clone();
        run(&d, move || s.lock().unwrap().push("/2".into()));
        let (tx, rx) = std::sync::mpsc::channel();
        let d2 = d.clone();
        run(&d, move || tx.send(d2.is_current_thread()).unwrap());
        assert!(rx.recv().unwrap(), "jobs run on the dispatcher's own thread");
        assert!(!d.is_current_thread());
        assert_eq!(*seen.lock().unwrap(), vec!["/1".to_string(), "/2".to_string()]);
    }

    #[test]
    fn a_batch_hands_its_jobs_over_at_once_and_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let d = Dispatcher::new("test-batch", None);
        assert!(d.batch().is_none(), "no batch before the thread runs");
        let (tx, rx) = std::sync::mpsc::channel();
        run(&d, move || tx.send(()).unwrap());
        rx.recv().unwrap();
        let outer = d.batch().expect("the thread runs");
        for i in 0..3 {
            let s = seen.clone();
            run(&d, move || s.lock().unwrap().push(i));
        }
        let inner = d.batch();
        let s = seen.clone();
        run(&d, move || s.lock().unwrap().push(3));
        drop(inner);
        assert_eq!(d.lock().gathered.len(), 4, "nothing reaches the thread while a batch is open");
        drop(outer);
        let (tx, rx) = std::sync::mpsc::channel();
        run(&d, move || tx.send(()).unwrap());
        rx.recv().unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3]);
        assert!(d.lock().gathered.is_empty());
    }

    #[test]
    fn the_thread_starts_with_the_first_job() {
        let d = Dispatcher::new("test-lazy", None);
        assert!(d.lock().sender.is_err(), "no thread before a callback exists");
        d.set_default(None);
        assert!(d.lock().sender.is_err(), "replacing the default watcher starts nothing");
        let (tx, rx) = std::sync::mpsc::channel();
        run(&d, move || tx.send(()).unwrap());
        rx.recv().unwrap();
        assert!(d.lock().sender.is_ok());
    }
}
