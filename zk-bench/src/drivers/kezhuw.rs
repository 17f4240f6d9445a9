//! kezhuw's `zookeeper-client` crate (tokio): a window of N futures per session, as for zk-dsl.
//! Its calls send the request when called (or, for create, on the first poll, which the window
//! does at once).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use zookeeper_client::{Acls, Client, CreateMode, EventType};

use super::Ctx;
use crate::measure::{merge_all, window, CpuSampler, Recorder, Timing};
use crate::spec::{RunReport, Workload};

type Res<T> = Result<T, String>;

async fn connect(addr: &str) -> Res<Client> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))
}

/// The crate closes the session when the last handle is dropped (in the background).
fn close_all(clients: Vec<Client>) {
    drop(clients);
}

pub async fn run(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    match spec.workload {
        Workload::Watch => return watch(ctx).await,
        Workload::Connect => return connect_loop(ctx).await,
        Workload::Memory => return Err("the memory workload is zk-dsl only".into()),
        _ => {}
    }
    let mut clients = Vec::with_capacity(spec.sessions);
    for _ in 0..spec.sessions {
        clients.push(connect(&spec.connect).await?);
    }
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let loops = clients.iter().enumerate().map(|(i, c)| session_window(c, ctx, i, spec.outstanding_of(i), timing));
    let rec = merge_all(join_all(loops).await);
    let cpu = cpu.finish();
    close_all(clients);
    Ok(rec.into_report(&timing, cpu))
}

async fn session_window(c: &Client, ctx: &Ctx, session: usize, n: usize, timing: Timing) -> Recorder {
    let options = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    let options = &options;
    match ctx.spec.workload {
        Workload::Get => {
            window(n, timing, |seq| {
                let call = c.get_data(ctx.key(session, seq));
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Set => {
            window(n, timing, |seq| {
                let call = c.set_data(ctx.key(session, seq), &ctx.payload, None);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Create => {
            window(n, timing, |seq| {
                let path = ctx.eph_path(session, seq);
                async move { c.create(&path, &ctx.payload, options).await.map(drop) }
            })
            .await
        }
        Workload::CreateDelete => {
            window(n, timing, |seq| {
                let path = ctx.eph_path(session, seq);
                async move {
                    let create = c.create(&path, &ctx.payload, options);
                    let delete = c.delete(&path, None);
                    let (created, deleted) = futures_util::future::join(create, delete).await;
                    created.map(drop).and(deleted)
                }
            })
            .await
        }
        Workload::Children => {
            window(n, timing, |_| {
                let call = c.get_children(&ctx.spec.children_path);
                async move { call.await.map(drop) }
            })
            .await
        }
        Workload::Multi => {
            let m = ctx.spec.multi_ops as u64;
            window(n, timing, |seq| {
                let mut writer = c.new_multi_writer();
                let mut added = Ok(());
                for j in 0..m {
                    if added.is_ok() {
                        added = writer.add_set_data(ctx.key(session, seq * m + j), &ctx.payload, None);
                    }
                }
                let call = added.map(|()| writer.commit());
                async move {
                    match call {
                        Ok(call) => call.await.map(drop).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            })
            .await
        }
        other => {
            let mut rec = Recorder::new();
            rec.error(format!("{other} is not a pipelined workload"));
            rec
        }
    }
}

async fn watch(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let watcher = connect(&spec.connect).await?;
    let setter = connect(&spec.connect).await?;
    let path = ctx.key(0, 0);
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let fired = match watcher.get_and_watch_data(path).await {
            Ok((_, _, fired)) => fired,
            Err(e) => {
                rec.error(e);
                continue;
            }
        };
        let start = Instant::now();
        let set = setter.set_data(path, &ctx.payload, None);
        let event = fired.changed().await;
        let done = Instant::now();
        let result = match set.await {
            Ok(_) if event.event_type == EventType::NodeDataChanged => Ok(()),
            Ok(_) => Err(format!("unexpected event {event:?}")),
            Err(e) => Err(e.to_string()),
        };
        rec.record(&timing, start, done, result);
    }
    let cpu = cpu.finish();
    close_all(vec![watcher, setter]);
    Ok(rec.into_report(&timing, cpu))
}

async fn connect_loop(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    while timing.issuing() {
        let start = Instant::now();
        match connect(&spec.connect).await {
            Ok(client) => {
                rec.record::<String>(&timing, start, Instant::now(), Ok(()));
                close_all(vec![client]);
            }
            Err(e) => rec.error(e),
        }
    }
    let cpu = cpu.finish();
    Ok(rec.into_report(&timing, cpu))
}
