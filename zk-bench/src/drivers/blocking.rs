//! zk-dsl's blocking facade: each outstanding request is a thread calling `.wait()`, or
//! (`zk-dsl-blocking-window`) one thread per session keeping N `.send()` handles and
//! `.wait()`-ing the oldest, a synchronous program's pipeline.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zk_dsl::blocking::Client;
use zk_dsl::Error;

use super::Ctx;
use crate::measure::{CpuSampler, Recorder, Timing};
use crate::spec::{RunReport, Workload};

type Res<T> = Result<T, String>;

/// Thread stacks: the calls need little, and 1,000 threads should not cost 2 GiB of address space.
const STACK: usize = 256 << 10;

fn connect(addr: &str) -> Res<Client> {
    zk_dsl::Client::connect(addr)
        .session_timeout(Duration::from_secs(10))
        .blocking()
        .map_err(|e| format!("connect {addr}: {e}"))
}

fn one_call(c: &Client, ctx: &Ctx, session: usize, seq: u64) -> Result<(), Error> {
    match ctx.spec.workload {
        Workload::Get => c.get_data(ctx.key(session, seq)).wait().map(drop),
        Workload::Set => c.set_data(ctx.key(session, seq), &ctx.payload[..]).wait().map(drop),
        Workload::Create => c.create(ctx.eph_path(session, seq)).bytes(ctx.payload.clone()).wait().map(drop),
        Workload::CreateDelete => {
            let path = ctx.eph_path(session, seq);
            let create = c.create(path.as_str()).bytes(ctx.payload.clone()).send();
            let delete = c.delete(path).send();
            let created = create.wait();
            created.and(delete.wait())
        }
        Workload::Children => c.children(ctx.spec.children_path.as_str()).wait().map(drop),
        Workload::Multi => {
            let m = ctx.spec.multi_ops as u64;
            let mut txn = c.transaction();
            for j in 0..m {
                txn = txn.set_data(ctx.key(session, seq * m + j), &ctx.payload[..], -1);
            }
            txn.wait().map(drop)
        }
        other => Err(Error::invalid_argument(None, None, format!("{other} is not a pipelined workload"))),
    }
}

pub fn run(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    match spec.workload {
        Workload::Watch => return watch(ctx),
        Workload::Connect => return connect_loop(ctx),
        Workload::Memory => return Err("the memory workload runs with zk-dsl".into()),
        _ => {}
    }
    let clients = (0..spec.sessions).map(|_| connect(&spec.connect)).collect::<Res<Vec<_>>>()?;
    let recorders: Vec<Mutex<Recorder>> = clients.iter().map(|_| Mutex::new(Recorder::new())).collect();
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let spawned = std::thread::scope(|scope| {
        for (session, client) in clients.iter().enumerate() {
            let n = spec.outstanding_of(session);
            for t in 0..n {
                let rec = &recorders[session];
                let body = move || {
                    let mut seq = t as u64;
                    while timing.issuing() {
                        let start = Instant::now();
                        let result = one_call(client, ctx, session, seq);
                        let done = Instant::now();
                        seq += n as u64;
                        rec.lock().unwrap_or_else(|e| e.into_inner()).record(&timing, start, done, result);
                    }
                };
                std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn_scoped(scope, body)
                    .map_err(|e| format!("spawning a caller thread: {e}"))?;
            }
        }
        Ok::<(), String>(())
    });
    let cpu = cpu.finish();
    spawned?;
    for c in &clients {
        let _ = c.close().wait();
    }
    let mut all = Recorder::new();
    for r in recorders {
        all.merge(r.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    Ok(all.into_report(&timing, cpu))
}

/// Unit `seq` of `session`, sent now; the closure waits for its result.
type Sent = Box<dyn FnOnce() -> Result<(), Error>>;

fn send_one(c: &Client, ctx: &Ctx, session: usize, seq: u64) -> Result<Sent, String> {
    Ok(match ctx.spec.workload {
        Workload::Get => {
            let sent = c.get_data(ctx.key(session, seq)).send();
            Box::new(move || sent.wait().map(drop))
        }
        Workload::Set => {
            let sent = c.set_data(ctx.key(session, seq), &ctx.payload[..]).send();
            Box::new(move || sent.wait().map(drop))
        }
        Workload::Create => {
            let sent = c.create(ctx.eph_path(session, seq)).bytes(ctx.payload.clone()).send();
            Box::new(move || sent.wait().map(drop))
        }
        other => return Err(format!("zk-dsl-blocking-window runs get, set and create, not {other}")),
    })
}

/// One thread per session: N `.send()` handles in a `VecDeque`, the oldest `.wait()`-ed, then
/// the next sent.
pub fn run_window(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let clients = (0..spec.sessions).map(|_| connect(&spec.connect)).collect::<Res<Vec<_>>>()?;
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let recorders = std::thread::scope(|scope| {
        let threads: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(session, client)| {
                let n = spec.outstanding_of(session);
                scope.spawn(move || {
                    let mut rec = Recorder::new();
                    let mut window: VecDeque<(Instant, Sent)> = VecDeque::with_capacity(n);
                    let mut seq = 0u64;
                    loop {
                        while window.len() < n && timing.issuing() {
                            let start = Instant::now();
                            match send_one(client, ctx, session, seq) {
                                Ok(sent) => window.push_back((start, sent)),
                                Err(e) => {
                                    rec.error(e);
                                    return rec;
                                }
                            }
                            seq += 1;
                        }
                        let Some((start, sent)) = window.pop_front() else { return rec };
                        let result = sent();
                        rec.record(&timing, start, Instant::now(), result);
                    }
                })
            })
            .collect();
        let joined = threads.into_iter().map(|t| {
            t.join().unwrap_or_else(|_| {
                let mut rec = Recorder::new();
                rec.error("a caller thread panicked");
                rec
            })
        });
        joined.collect::<Vec<_>>()
    });
    let cpu = cpu.finish();
    for c in &clients {
        let _ = c.close().wait();
    }
    let mut all = Recorder::new();
    for r in recorders {
        all.merge(r);
    }
    Ok(all.into_report(&timing, cpu))
}

fn watch(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let watcher = connect(&spec.connect)?;
    let setter = connect(&spec.connect)?;
    let path = ctx.key(0, 0);
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let fired = match watcher.get_data(path).with_watch().wait() {
            Ok((_, fired)) => fired,
            Err(e) => {
                rec.error(e);
                continue;
            }
        };
        let start = Instant::now();
        let set = setter.set_data(path, &ctx.payload[..]).send();
        let event = fired.wait();
        let done = Instant::now();
        let result = match set.wait() {
            Ok(_) if event.path.is_some() => Ok(()),
            Ok(_) => Err(format!("unexpected event {event:?}")),
            Err(e) => Err(e.to_string()),
        };
        rec.record(&timing, start, done, result);
    }
    let cpu = cpu.finish();
    let _ = watcher.close().wait();
    let _ = setter.close().wait();
    Ok(rec.into_report(&timing, cpu))
}

fn connect_loop(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let start = Instant::now();
        match connect(&spec.connect) {
            Ok(client) => {
                rec.record::<String>(&timing, start, Instant::now(), Ok(()));
                if let Err(e) = client.close().wait() {
                    rec.error(e);
                }
            }
            Err(e) => rec.error(e),
        }
    }
    let cpu = cpu.finish();
    Ok(rec.into_report(&timing, cpu))
}
