//! zk-dsl's [`Cache`] against a big tree, as a user runs it: the initial load (start → the
//! `Initialized` event, taking every `Added` on the way; the process's RSS and live heap before
//! and after, per cached node) and update propagation (another session sets a node → the
//! cache's `Updated` event for it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zk_dsl::recipes::{Cache, CacheEvent, CacheHandle};
use zk_dsl::Client;

use super::Ctx;
use crate::heap::Counting;
use crate::measure::{CpuSampler, Recorder, Timing};
use crate::procfs;
use crate::spec::RunReport;

type Res<T> = Result<T, String>;

/// How long one event may take before the run counts it as an error.
const EVENT_PATIENCE: Duration = Duration::from_secs(30);

async fn connect(addr: &str) -> Res<Client> {
    Client::connect(addr).session_timeout(Duration::from_secs(10)).await.map_err(|e| format!("connect {addr}: {e}"))
}

/// Lets the session task and the allocator settle before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Takes events until `Initialized`.
async fn initialized(cache: &mut CacheHandle) -> Res<()> {
    loop {
        match tokio::time::timeout(EVENT_PATIENCE * 10, cache.next()).await {
            Ok(Some(CacheEvent::Initialized)) => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the cache's events ended before Initialized".into()),
            Err(_) => return Err("no Initialized event".into()),
        }
    }
}

/// One initial load of the tree at `children_path`, in a fresh worker process: its time, the
/// client CPU it took, and RSS and live heap bytes per cached node.
pub async fn cache_load(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let root = spec.children_path.as_str();
    let client = connect(&spec.connect).await?;
    // Warm the session, then take the baseline.
    client.get_data(root).await.map_err(|e| format!("{root}: {e}"))?;
    settle().await;
    let heap = Counting::start();
    let (rss_before, heap_before) = (procfs::rss_kb(), heap.live());
    let cpu_before = procfs::cpu_ticks("self").unwrap_or(0);
    let window_start_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0;
    let start = Instant::now();
    let mut cache = Cache::new(&client, root).start().await.map_err(|e| format!("starting the cache: {e}"))?;
    initialized(&mut cache).await?;
    let loaded = start.elapsed();
    let cpu_ticks = procfs::cpu_ticks("self").unwrap_or(0).saturating_sub(cpu_before);
    settle().await;
    let nodes = cache.len();
    let (rss_after, heap_after) = (procfs::rss_kb(), heap.live());
    drop(heap);
    let mut extra = BTreeMap::new();
    extra.insert("nodes".to_string(), nodes as f64);
    extra.insert("rss_before_kb".to_string(), rss_before as f64);
    extra.insert("rss_after_kb".to_string(), rss_after as f64);
    extra.insert("bytes_per_node".to_string(), (rss_after as f64 - rss_before as f64) * 1024.0 / nodes.max(1) as f64);
    extra.insert("heap_bytes_per_node".to_string(), (heap_after - heap_before) as f64 / nodes.max(1) as f64);
    let mut rec = Recorder::new();
    rec.latency(loaded);
    drop(cache);
    let _ = client.close().await;
    Ok(RunReport {
        ok: true,
        error: None,
        ops: 1,
        errors: 0,
        first_error: None,
        elapsed_s: loaded.as_secs_f64(),
        window_start_unix_ms,
        cpu_ticks,
        rss_kb: rss_after,
        lat_ns: rec.latencies(),
        extra,
        ..RunReport::default()
    })
}

/// A cache of the tree at `children_path` on one session; another session sets the tree's nodes
/// one after another (round robin, `payload` bytes whose first 8 are the set's number). A unit is
/// one set; its latency the set issued → the cache's `Updated` event carrying that number.
pub async fn cache_update(ctx: &Ctx) -> Res<RunReport> {
    let spec = &ctx.spec;
    let root = spec.children_path.as_str();
    let (cached, setter) = (connect(&spec.connect).await?, connect(&spec.connect).await?);
    let mut cache = Cache::new(&cached, root).start().await.map_err(|e| format!("starting the cache: {e}"))?;
    initialized(&mut cache).await?;
    let paths: Vec<String> = cache.snapshot().into_keys().filter(|p| p != root).collect();
    if paths.is_empty() {
        return Err(format!("{root} has no nodes to set"));
    }
    let mut data = ctx.payload.to_vec();
    data.resize(data.len().max(8), b'-');
    let timing = Timing::start(spec);
    let cpu = CpuSampler::start(timing);
    let mut rec = Recorder::new();
    let mut seq = 0u64;
    while timing.issuing() {
        let path = paths[seq as usize % paths.len()].as_str();
        let stamp = seq.to_be_bytes();
        data[..8].copy_from_slice(&stamp);
        seq += 1;
        let start = Instant::now();
        let set = setter.set_data(path, &data[..]).send();
        let seen = async {
            loop {
                match cache.next().await {
                    Some(CacheEvent::Updated { path: p, new, .. })
                        if p == path && new.bytes().get(..8) == Some(&stamp) =>
                    {
                        return Ok(Instant::now());
                    }
                    Some(_) => {}
                    None => return Err("the cache's events ended".to_string()),
                }
            }
        };
        let result = match tokio::time::timeout(EVENT_PATIENCE, seen).await {
            Ok(Ok(at)) => set.await.map(|_| at).map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no event for {path} within {EVENT_PATIENCE:?}")),
        };
        match result {
            Ok(at) => rec.record(&timing, start, at, Ok::<(), String>(())),
            Err(e) => rec.error(e),
        }
    }
    let cpu = cpu.finish();
    drop(cache);
    for c in [&cached, &setter] {
        let _ = c.close().await;
    }
    Ok(rec.into_report(&timing, cpu))
}
