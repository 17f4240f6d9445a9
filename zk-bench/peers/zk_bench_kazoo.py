"""zk-bench's kazoo worker: kazoo's *_async API, N requests outstanding per session through a
Semaphore, kazoo's Lock recipe in the lock-handoff cell and its Counter (support_curator=True, the
SharedCount layout zk-dsl's SharedCount shares; the client's default command retry) in the counter
cell, its TreeCache in the cache cells. zk-bench runs it in a venv of its own and talks to it through stdin (one run spec per
line, `key=value` words) and stdout (one JSON line per run); everything else goes to stderr."""

import json
import resource
import sys
import threading
import time

from kazoo.version import __version__ as KAZOO_VERSION
from kazoo.client import KazooClient

PROTOCOL_OUT = sys.stdout
# Keep stdout for the protocol: anything else (logging, warnings) goes to stderr.
sys.stdout = sys.stderr


def now():
    return time.monotonic_ns()


class Spec:
    def __init__(self, line):
        self.m = dict(w.split("=", 1) for w in line.split() if "=" in w)

    def s(self, k):
        if k not in self.m:
            raise ValueError("spec lacks " + k)
        return self.m[k]

    def n(self, k):
        return int(self.s(k))

    def outstanding_of(self, session):
        sessions = max(1, self.n("sessions"))
        total = self.n("outstanding")
        return total // sessions + (1 if session < total % sessions else 0)

    def key(self, session, seq):
        keys = max(1, self.n("keys"))
        stride = keys // max(1, self.n("sessions"))
        return "%s/k%05d" % (self.s("data_root"), (seq + session * stride) % keys)

    def eph_path(self, session, seq):
        return "%s/%s-s%d-%d" % (self.s("eph_root"), self.s("tag"), session, seq)


class Timing:
    def __init__(self, spec):
        t = now()
        self.warm_end = t + spec.n("warmup_ms") * 1_000_000
        self.end = self.warm_end + spec.n("measure_ms") * 1_000_000
        self.warm_end_unix_ms = time.time() * 1000.0 + spec.n("warmup_ms")

    def issuing(self):
        return now() < self.end

    def in_window(self, t):
        return self.warm_end <= t < self.end


class Rec:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []
        self.ops = 0
        self.errors = 0
        self.first_error = None

    def done(self, timing, start, done, error):
        with self.lock:
            if error is not None:
                self.errors += 1
                if self.first_error is None:
                    self.first_error = error
            elif timing.in_window(done):
                self.ops += 1
                self.lat.append(done - start)

    def count(self, timing, done):
        """A unit done at `done` with no latency to keep (a lock's first, unhanded acquisition)."""
        with self.lock:
            if timing.in_window(done):
                self.ops += 1


def cpu_ticks():
    with open("/proc/self/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def context_switches():
    """Voluntary and involuntary context switches of the whole process (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw, usage.ru_nivcsw


class CpuSampler(threading.Thread):
    def __init__(self, timing):
        super().__init__(daemon=True)
        self.timing = timing
        self.ticks = 0
        self.rss_kb = 0
        self.switches = None

    def run(self):
        sleep_until(self.timing.warm_end)
        before = cpu_ticks()
        switches_before = context_switches()
        sleep_until(self.timing.end)
        self.ticks = cpu_ticks() - before
        after = context_switches()
        self.switches = (after[0] - switches_before[0], after[1] - switches_before[1])
        self.rss_kb = rss_kb()


def sleep_until(t):
    left = t - now()
    if left > 0:
        time.sleep(left / 1e9)


def connect(cs):
    zk = KazooClient(hosts=cs, timeout=10.0)
    zk.start(timeout=30)
    return zk


def close(zk):
    zk.stop()
    zk.close()


def error_of(result):
    """None if the async result holds a value, else a description of its exception."""
    if result.successful():
        value = result.value
        if isinstance(value, list):  # a transaction: failed ops come back as exceptions
            for r in value:
                if isinstance(r, Exception):
                    return "server error " + type(r).__name__
        return None
    return "error " + type(result.exception).__name__


def issue(zk, spec, payload, session, seq, workload, release, rec, timing):
    start = now()

    def finish(result, error=None):
        rec.done(timing, start, now(), error if error is not None else error_of(result))
        release()

    if workload == "get":
        zk.get_async(spec.key(session, seq)).rawlink(finish)
    elif workload == "set":
        zk.set_async(spec.key(session, seq), payload).rawlink(finish)
    elif workload == "create":
        zk.create_async(spec.eph_path(session, seq), payload, ephemeral=True, include_data=True).rawlink(finish)
    elif workload == "create-delete":
        path = spec.eph_path(session, seq)
        created = zk.create_async(path, payload, ephemeral=True, include_data=True)
        deleted = zk.delete_async(path)

        def both(result):
            # The create completes first (one session, FIFO); report its error if any.
            finish(result, error_of(created) if created.ready() else "create not complete")

        deleted.rawlink(both)
    elif workload == "children":
        zk.get_children_async(spec.s("children_path"), include_data=True).rawlink(finish)
    elif workload == "multi":
        m = spec.n("multi_ops")
        tx = zk.transaction()
        for j in range(m):
            tx.set_data(spec.key(session, seq * m + j), payload)
        tx.commit_async().rawlink(finish)
    else:
        raise ValueError(workload + " is not a pipelined workload")


def session_loop(zk, spec, payload, session, rec, timing, failures):
    try:
        n = spec.outstanding_of(session)
        window = threading.Semaphore(n)
        workload = spec.s("workload")
        seq = 0
        while timing.issuing():
            window.acquire()
            if not timing.issuing():
                window.release()
                break
            issue(zk, spec, payload, session, seq, workload, window.release, rec, timing)
            seq += 1
        for _ in range(n):  # the stragglers
            window.acquire()
    except Exception as e:  # noqa: BLE001 - reported to zk-bench
        failures.append(e)


def pipelined(spec, payload):
    zks = [connect(spec.s("connect")) for _ in range(spec.n("sessions"))]
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    failures = []
    threads = [
        threading.Thread(target=session_loop, args=(zk, spec, payload, i, rec, timing, failures))
        for i, zk in enumerate(zks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sampler.join()
    for zk in zks:
        close(zk)
    if failures:
        raise failures[0]
    return rec, timing, sampler


def watch(spec, payload):
    watcher = connect(spec.s("connect"))
    setter = connect(spec.s("connect"))
    path = spec.key(0, 0)
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    while timing.issuing():
        fired = threading.Event()
        fired_at = [0]

        def on_event(_event, fired=fired, fired_at=fired_at):
            fired_at[0] = now()
            fired.set()

        try:
            watcher.get_async(path, watch=on_event).get(timeout=30)
        except Exception as e:  # noqa: BLE001
            rec.done(timing, 0, 0, "error " + type(e).__name__)
            continue
        start = now()
        set_result = setter.set_async(path, payload)
        if not fired.wait(30):
            raise RuntimeError("no notification within 30 s")
        set_result.wait(30)
        rec.done(timing, start, fired_at[0], error_of(set_result))
    sampler.join()
    close(watcher)
    close(setter)
    return rec, timing, sampler


def connect_loop(spec):
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    while timing.issuing():
        start = now()
        try:
            zk = connect(spec.s("connect"))
            rec.done(timing, start, now(), None)
            close(zk)
        except Exception as e:  # noqa: BLE001
            rec.done(timing, 0, 0, "error " + type(e).__name__)
    sampler.join()
    return rec, timing, sampler


LOCK_PATIENCE_S = 30


def lock_contender(lock, rec, timing, last, last_lock):
    while timing.issuing():
        try:
            if not lock.acquire(timeout=LOCK_PATIENCE_S):
                rec.done(timing, 0, 0, "no lock within %d s" % LOCK_PATIENCE_S)
                continue
        except Exception as e:  # noqa: BLE001 - counted, reported to zk-bench
            rec.done(timing, 0, 0, "error " + type(e).__name__)
            time.sleep(0.01)
            continue
        acquired = now()
        with last_lock:
            released, last[0] = last[0], 0
        if released:
            rec.done(timing, released, acquired, None)
        else:
            rec.count(timing, acquired)
        with last_lock:
            last[0] = now()
        try:
            lock.release()
        except Exception as e:  # noqa: BLE001
            with last_lock:
                last[0] = 0  # no handoff follows a failed release
            rec.done(timing, 0, 0, "error " + type(e).__name__)


def lock_handoff(spec):
    """`outstanding` contenders, each a KazooClient (one session) with its own kazoo Lock on one
    path, acquire and release in a loop without holding. A unit is an acquisition; its latency the
    handoff: the previous holder's release -> this acquire returning."""
    contenders = max(1, spec.n("outstanding"))
    path = "%s/%s-lock" % (spec.s("eph_root"), spec.s("tag"))
    zks = [connect(spec.s("connect")) for _ in range(contenders)]
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    last = [0]  # when the last holder started releasing (0: nobody), taken by the next holder
    last_lock = threading.Lock()
    threads = [
        threading.Thread(target=lock_contender, args=(zk.Lock(path, "zk-bench-%d" % i), rec, timing, last, last_lock))
        for i, zk in enumerate(zks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sampler.join()
    for zk in zks:
        close(zk)
    return rec, timing, sampler


def counter_contender(counter, rec, timing):
    while timing.issuing():
        start = now()
        try:
            counter += 1  # noqa: PLW2901 - Counter.__add__ returns the counter itself
        except Exception as e:  # noqa: BLE001 - counted, reported to zk-bench
            rec.done(timing, 0, 0, "error " + type(e).__name__)
            time.sleep(0.01)
            continue
        rec.done(timing, start, now(), None)


def counter_cell(spec):
    """`outstanding` contenders, each a KazooClient (one session) with its own
    Counter(support_curator=True) on one path, `counter += 1` in a loop. kazoo retries a lost
    compare-and-set with the client's command retry (KazooRetry: unlimited tries, 0.1 s doubling
    delay with jitter, the default)."""
    contenders = max(1, spec.n("outstanding"))
    path = "%s/%s-counter" % (spec.s("eph_root"), spec.s("tag"))
    zks = [connect(spec.s("connect")) for _ in range(contenders)]
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    threads = [
        threading.Thread(target=counter_contender, args=(zk.Counter(path, support_curator=True), rec, timing))
        for zk in zks
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sampler.join()
    for zk in zks:
        close(zk)
    return rec, timing, sampler


def start_tree_cache(zk, root, listener=None):
    """A TreeCache on `root`, started, once its INITIALIZED event has come."""
    from kazoo.recipe.cache import TreeCache, TreeEvent

    cache = TreeCache(zk, root)
    initialized = threading.Event()

    def on_event(event):
        if event.event_type == TreeEvent.INITIALIZED:
            initialized.set()
        elif listener is not None:
            listener(event)

    cache.listen(on_event)
    cache.start()
    if not initialized.wait(300):
        cache.close()
        raise RuntimeError("the TreeCache did not initialize within 300 s")
    return cache


def cached_paths(cache, path, out):
    """Every path a TreeCache holds under `path` (it has no flat view)."""
    if cache.get_data(path) is None:
        return
    out.append(path)
    for name in cache.get_children(path) or ():
        cached_paths(cache, path.rstrip("/") + "/" + name, out)


def cache_load(spec):
    """One initial load of the tree at `children_path` (zk-bench starts a fresh worker for it):
    TreeCache.start() -> its INITIALIZED event. Memory per cached node: the process's RSS delta
    (after gc.collect())."""
    import gc

    root = spec.s("children_path")
    zk = connect(spec.s("connect"))
    zk.get(root)
    gc.collect()
    rss_before = rss_kb()
    cpu_before = cpu_ticks()
    start_unix_ms = time.time() * 1000.0
    start = now()
    cache = start_tree_cache(zk, root)
    loaded = now() - start
    cpu = cpu_ticks() - cpu_before
    paths = []
    cached_paths(cache, root, paths)
    gc.collect()
    rss_after = rss_kb()
    nodes = max(1, len(paths))
    report = {
        "ok": True,
        "ops": 1,
        "errors": 0,
        "elapsed_s": loaded / 1e9,
        "window_start_unix_ms": start_unix_ms,
        "cpu_ticks": cpu,
        "rss_kb": rss_after,
        "lat_ns": [(round3(loaded), 1)],
        "extra": {
            "nodes": len(paths),
            "rss_before_kb": rss_before,
            "rss_after_kb": rss_after,
            "bytes_per_node": (rss_after - rss_before) * 1024.0 / nodes,
        },
    }
    cache.close()
    close(zk)
    return report


def cache_update(spec, payload):
    """A TreeCache of the tree at `children_path` on one KazooClient; another sets the tree's
    nodes one after another (round robin, `payload` bytes whose first 8 are the set's number). A
    unit is one set; its latency the set issued -> the cache's NODE_UPDATED event for it."""
    import queue
    import struct

    from kazoo.recipe.cache import TreeEvent

    root = spec.s("children_path")
    cached = connect(spec.s("connect"))
    setter = connect(spec.s("connect"))
    seen = queue.Queue()

    def on_event(event):
        if event.event_type == TreeEvent.NODE_UPDATED and event.event_data is not None:
            data = event.event_data.data
            if data is not None and len(data) >= 8:
                seen.put((struct.unpack(">q", data[:8])[0], now()))

    cache = start_tree_cache(cached, root, on_event)
    paths = []
    cached_paths(cache, root, paths)
    paths = sorted(p for p in paths if p != root)
    data = bytearray(payload if len(payload) >= 8 else payload + b"-" * (8 - len(payload)))
    timing = Timing(spec)
    sampler = CpuSampler(timing)
    sampler.start()
    rec = Rec()
    seq = 0
    while timing.issuing():
        path = paths[seq % len(paths)]
        data[:8] = struct.pack(">q", seq)
        start = now()
        try:
            setter.set(path, bytes(data))
            while True:
                number, at = seen.get(timeout=30)
                if number == seq:
                    break
            rec.done(timing, start, at, None)
        except queue.Empty:
            rec.done(timing, 0, 0, "no event for %s within 30 s" % path)
        except Exception as e:  # noqa: BLE001 - counted, reported to zk-bench
            rec.done(timing, 0, 0, "error " + type(e).__name__)
        seq += 1
    sampler.join()
    cache.close()
    close(cached)
    close(setter)
    return rec, timing, sampler


def round3(v):
    scale = 1
    while v // scale >= 2048:
        scale *= 2
    return (v // scale) * scale


def run(spec):
    size = spec.n("payload")
    payload = bytes(ord("a") + i % 26 for i in range(size))
    workload = spec.s("workload")
    if workload == "watch":
        rec, timing, sampler = watch(spec, payload)
    elif workload == "connect":
        rec, timing, sampler = connect_loop(spec)
    elif workload == "lock":
        rec, timing, sampler = lock_handoff(spec)
    elif workload == "counter":
        rec, timing, sampler = counter_cell(spec)
    elif workload == "cache-load":
        return cache_load(spec)
    elif workload == "cache-update":
        rec, timing, sampler = cache_update(spec, payload)
    elif workload == "failover":
        raise ValueError("kazoo has no LeaderLatch (its Election is a lock): not in the failover cell")
    elif workload in ("atom", "queue"):
        raise ValueError("kazoo has no typed atom and no queue in Curator's layout: not in the %s cell" % workload)
    else:
        rec, timing, sampler = pipelined(spec, payload)
    hist = {}
    for v in rec.lat:
        r = round3(v)
        hist[r] = hist.get(r, 0) + 1
    report = {
        "ok": True,
        "ops": rec.ops,
        "errors": rec.errors,
        "first_error": rec.first_error,
        "elapsed_s": (timing.end - timing.warm_end) / 1e9,
        "window_start_unix_ms": timing.warm_end_unix_ms,
        "cpu_ticks": sampler.ticks,
        "rss_kb": sampler.rss_kb,
        "lat_ns": sorted(hist.items()),
    }
    if sampler.switches is not None:
        report["vcsw"], report["ivcsw"] = sampler.switches
    return report


def main():
    hello = "kazoo %s, Python %s" % (KAZOO_VERSION, sys.version.split()[0])
    PROTOCOL_OUT.write(json.dumps({"hello": hello}) + "\n")
    PROTOCOL_OUT.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            report = run(Spec(line))
        except Exception as e:  # noqa: BLE001 - reported to zk-bench
            report = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        PROTOCOL_OUT.write(json.dumps(report) + "\n")
        PROTOCOL_OUT.flush()


if __name__ == "__main__":
    main()
