//! The floors of the calling patterns: `raw`'s frames, under the patterns zk-dsl offers.
//!
//! One task owns each connection: it takes every frame queued on its channel, writes them with
//! one `write_all`, reads, and completes the oldest waiters with each reply's error code (only
//! reply headers are looked at, as in `raw`). What waits differs:
//!
//! * `raw-tasks`: N tasks per session, each queues a request with a `oneshot` and awaits it;
//! * `raw-callbacks`: N chains per session; the connection's task hands each read's replies to
//!   one callback thread in one batch, where each callback records its unit and queues the next;
//! * `raw-blocking`: N threads per session, each queues a request and blocks on its `oneshot`.
//!
//! This is the least any client must do to let a caller wait in that way (a channel in, a
//! completion out, a task or thread woken per reply), without anything a real client adds: path
//! checks, typed results, watches, deadlines, reconnection. zk-dsl's patterns are measured
//! against these to tell the client's cost from the pattern's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot};
use zk_dsl_proto as proto;

use super::raw::{encode_unit, Dialer, RawConn};
use super::Ctx;
use crate::measure::{CpuSampler, Recorder, Timing};
use crate::spec::{RunReport, Workload};

type Res<T> = Result<T, String>;

/// How callers wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Tasks,
    Callbacks,
    Blocking,
}

/// A callback with its reply's error code.
type Callback = Box<dyn FnOnce(i32) + Send>;

/// Who is told a reply's code.
enum Done {
    /// A task or thread waiting on a `oneshot`.
    Wake(oneshot::Sender<i32>),
    /// A callback, run on the callback thread.
    Call(Callback),
}

/// One request on its way to the connection's task: its frame (xid still 0) and who awaits it.
struct Submit {
    frame: BytesMut,
    done: Done,
}

type Queue = mpsc::UnboundedSender<Submit>;

/// What every caller of a session shares.
struct Session {
    queue: Queue,
    ctx: Arc<Ctx>,
    session: usize,
    stride: u64,
    timing: Timing,
    rec: Mutex<Recorder>,
}

impl Session {
    fn record(&self, start: Instant, result: Res<()>) {
        let done = Instant::now();
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).record(&self.timing, start, done, result);
    }

    /// Queues unit `seq`, told to `done`.
    fn submit(&self, seq: u64, done: Done) -> Res<()> {
        let mut frame = BytesMut::with_capacity(64);
        encode_unit(&mut frame, &mut 0, &self.ctx, self.session, seq)?;
        self.queue.send(Submit { frame, done }).map_err(|_| "the connection's task is gone".to_string())
    }

    /// Queues unit `seq` and hands back what to wait on.
    fn call(&self, seq: u64) -> Res<oneshot::Receiver<i32>> {
        let (done, reply) = oneshot::channel();
        self.submit(seq, Done::Wake(done))?;
        Ok(reply)
    }

    /// A callback chain's link: queues unit `seq`, whose callback records it and queues the
    /// next, until the window closes; then `ended` hears of it.
    fn chain(self: Arc<Session>, seq: u64, ended: mpsc::UnboundedSender<()>) {
        if !self.timing.issuing() {
            let _ = ended.send(());
            return;
        }
        let start = Instant::now();
        let me = self.clone();
        let next = move |code: i32| {
            me.record(start, outcome(Ok(code)));
            let stride = me.stride;
            me.chain(seq + stride, ended);
        };
        if let Err(e) = self.submit(seq, Done::Call(Box::new(next))) {
            self.record(start, Err(e));
        }
    }
}

/// A reply's code as a unit's result.
fn outcome(code: Result<i32, oneshot::error::RecvError>) -> Res<()> {
    match code {
        Ok(0) => Ok(()),
        Ok(code) => Err(format!("server error {code}")),
        Err(_) => Err("the connection's task dropped the request".into()),
    }
}

pub async fn run(ctx: &Ctx, pattern: Pattern) -> Res<RunReport> {
    let spec = &ctx.spec;
    if !matches!(spec.workload, Workload::Get | Workload::Set | Workload::Create) {
        return Err(format!("the raw patterns run get, set and create, not {}", spec.workload));
    }
    let dialer = Dialer::for_spec(spec)?;
    let mut conns = Vec::with_capacity(spec.sessions);
    for _ in 0..spec.sessions {
        conns.push(RawConn::connect(&dialer, &spec.connect).await?);
    }
    // Callers need 'static data: share a copy of the context.
    let shared = Arc::new(Ctx::new(spec.clone()));
    let callbacks = (pattern == Pattern::Callbacks).then(callback_thread);
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut sockets = Vec::new();
    let mut sessions = Vec::new();
    for (session, conn) in conns.into_iter().enumerate() {
        let (queue, rx) = mpsc::unbounded_channel();
        let to_callbacks = callbacks.as_ref().map(|(tx, _)| tx.clone());
        sockets.push(tokio::spawn(connection(conn, rx, to_callbacks)));
        let stride = spec.outstanding_of(session).max(1) as u64;
        let rec = Mutex::new(Recorder::new());
        sessions.push(Arc::new(Session { queue, ctx: shared.clone(), session, stride, timing, rec }));
    }
    let mut all = Recorder::new();
    let failures = match pattern {
        Pattern::Tasks => tasks(&sessions).await,
        Pattern::Callbacks => chains(&sessions).await,
        Pattern::Blocking => threads(&sessions).await,
    };
    for e in failures {
        all.error(e);
    }
    // Every unit is recorded by now (a chain records its last unit before it says it ended).
    let recorders: Vec<Recorder> =
        sessions.iter().map(|s| std::mem::take(&mut *s.rec.lock().unwrap_or_else(|e| e.into_inner()))).collect();
    // The senders go with the sessions (a callback may hold one a moment longer): each
    // connection's task then closes its session and ends.
    drop(sessions);
    for socket in join_all(sockets).await {
        match socket {
            Ok(Ok(())) => {}
            Ok(Err(e)) => all.error(e),
            Err(e) => all.error(format!("connection task failed: {e}")),
        }
    }
    let cpu = cpu.finish();
    if let Some((tx, thread)) = callbacks {
        drop(tx);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    for rec in recorders {
        all.merge(rec);
    }
    Ok(all.into_report(&timing, cpu))
}

/// N tasks per session, each awaiting one call at a time; the failures.
async fn tasks(sessions: &[Arc<Session>]) -> Vec<String> {
    let mut handles = Vec::new();
    for s in sessions {
        for t in 0..s.stride {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut seq = t;
                while s.timing.issuing() {
                    let start = Instant::now();
                    let result = match s.call(seq) {
                        Ok(reply) => outcome(reply.await),
                        Err(e) => Err(e),
                    };
                    s.record(start, result);
                    seq += s.stride;
                }
            }));
        }
    }
    join_all(handles).await.into_iter().filter_map(|h| h.err().map(|e| format!("task failed: {e}"))).collect()
}

/// N callback chains per session; waits until every chain has ended.
async fn chains(sessions: &[Arc<Session>]) -> Vec<String> {
    let (ended, mut all_ended) = mpsc::unbounded_channel();
    let mut chains = 0;
    for s in sessions {
        for t in 0..s.stride {
            s.clone().chain(t, ended.clone());
            chains += 1;
        }
    }
    drop(ended);
    for _ in 0..chains {
        if all_ended.recv().await.is_none() {
            return vec!["a callback chain was dropped".into()];
        }
    }
    Vec::new()
}

/// N threads per session, each blocking on one call at a time.
async fn threads(sessions: &[Arc<Session>]) -> Vec<String> {
    let mut handles = Vec::new();
    for s in sessions {
        for t in 0..s.stride {
            let s = s.clone();
            let body = move || {
                let mut seq = t;
                while s.timing.issuing() {
                    let start = Instant::now();
                    let result = match s.call(seq) {
                        Ok(reply) => outcome(reply.blocking_recv()),
                        Err(e) => Err(e),
                    };
                    s.record(start, result);
                    seq += s.stride;
                }
            };
            match std::thread::Builder::new().stack_size(256 << 10).spawn(body) {
                Ok(h) => handles.push(h),
                Err(e) => return vec![format!("spawning a caller thread: {e}")],
            }
        }
    }
    let joined =
        tokio::task::spawn_blocking(move || handles.into_iter().map(|h| h.join()).filter(Result::is_err).count()).await;
    match joined {
        Ok(0) => Vec::new(),
        Ok(n) => vec![format!("{n} caller threads panicked")],
        Err(e) => vec![format!("joining the caller threads: {e}")],
    }
}

/// The callback thread: runs each batch of callbacks in order.
fn callback_thread() -> (std::sync::mpsc::Sender<Vec<(Callback, i32)>>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<(Callback, i32)>>();
    let thread = std::thread::spawn(move || {
        for batch in rx {
            for (f, code) in batch {
                f(code);
            }
        }
    });
    (tx, thread)
}

/// The connection's task: everything queued out in one write, every reply to the oldest waiter;
/// the callbacks of one read go to the callback thread together.
async fn connection(
    mut conn: RawConn,
    mut rx: mpsc::UnboundedReceiver<Submit>,
    callbacks: Option<std::sync::mpsc::Sender<Vec<(Callback, i32)>>>,
) -> Res<()> {
    let mut waiting: VecDeque<Done> = VecDeque::new();
    let mut open = true;
    loop {
        while open {
            match rx.try_recv() {
                Ok(submit) => queue(&mut conn, &mut waiting, submit),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        conn.flush().await?;
        if !open && waiting.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            read = conn.fill(), if !waiting.is_empty() => {
                read?;
                let mut batch = Vec::new();
                while let Some((header, _body)) = conn.next_frame()? {
                    if header.xid < 0 {
                        continue; // ping or notification
                    }
                    match waiting.pop_front() {
                        // The waiter may have stopped waiting (the window closed).
                        Some(Done::Wake(done)) => drop(done.send(header.err)),
                        Some(Done::Call(f)) => batch.push((f, header.err)),
                        None => return Err(format!("reply xid {} unasked", header.xid)),
                    }
                }
                if let (false, Some(callbacks)) = (batch.is_empty(), &callbacks) {
                    callbacks.send(batch).map_err(|_| "the callback thread is gone".to_string())?;
                }
            }
            submit = rx.recv(), if open => match submit {
                Some(submit) => queue(&mut conn, &mut waiting, submit),
                None => open = false,
            },
        }
    }
    conn.close().await
}

/// Stamps the next xid on a queued frame and appends it to the write buffer.
fn queue(conn: &mut RawConn, waiting: &mut VecDeque<Done>, submit: Submit) {
    let at = conn.wbuf.len();
    conn.wbuf.extend_from_slice(&submit.frame);
    proto::frame::set_xid(&mut conn.wbuf[at..], conn.next_xid);
    conn.next_xid += 1;
    waiting.push_back(submit.done);
}
