// zk-bench's Curator worker: the recipe cells with Apache Curator (Debian's 5.4 jars),
// InterProcessMutex for the lock handoff, LeaderLatch for the leader failover,
// DistributedAtomicLong for the counter, DistributedAtomicValue for the atom,
// SimpleDistributedQueue for the queue and CuratorCache for the cache cells. It speaks the
// same protocol as ZkBench (one run spec per stdin line, one JSON report per stdout line) and
// shares its Spec, Timing, Rec, Cpu and report code: zk-bench compiles the two files together.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicValue;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;

public final class ZkBenchCurator {
    static final int SESSION_TIMEOUT_MS = 10_000;
    static final int CONNECTION_TIMEOUT_MS = 15_000;
    /** How long one acquisition or failover may take before the run is broken. */
    static final long PATIENCE_S = 30;

    static CuratorFramework connect(String cs) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(cs)
                .sessionTimeoutMs(SESSION_TIMEOUT_MS)
                .connectionTimeoutMs(CONNECTION_TIMEOUT_MS)
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            c.close();
            throw new IllegalStateException("no session within 30 s");
        }
        return c;
    }

    // ----- lock handoff ------------------------------------------------------------------------

    /**
     * `outstanding` contenders, each a CuratorFramework (one session) with its InterProcessMutex
     * on one lock path, acquire and release in a loop without holding. A unit is an acquisition;
     * its latency the handoff: the previous holder's release → this acquire returning.
     */
    static ZkBench.Rec lock(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        int contenders = Math.max(1, (int) spec.n("outstanding"));
        String path = spec.s("eph_root") + "/" + spec.s("tag") + "-lock";
        List<CuratorFramework> clients = new ArrayList<>();
        for (int i = 0; i < contenders; i++) {
            clients.add(connect(spec.s("connect")));
        }
        ZkBench.Timing t = new ZkBench.Timing(spec);
        timing[0] = t;
        ZkBench.Cpu sampler = new ZkBench.Cpu(t);
        sampler.start();
        ZkBench.Rec rec = new ZkBench.Rec();
        // When the last holder started releasing (0: nobody), taken by the next holder.
        AtomicLong lastRelease = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (CuratorFramework client : clients) {
            InterProcessMutex mutex = new InterProcessMutex(client, path);
            Thread th = new Thread(() -> contend(mutex, t, rec, lastRelease));
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) {
            th.join();
        }
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        for (CuratorFramework c : clients) {
            c.close();
        }
        return rec;
    }

    static void contend(InterProcessMutex mutex, ZkBench.Timing t, ZkBench.Rec rec, AtomicLong lastRelease) {
        while (t.issuing()) {
            try {
                if (!mutex.acquire(PATIENCE_S, TimeUnit.SECONDS)) {
                    rec.error("no lock within " + PATIENCE_S + " s");
                    continue;
                }
            } catch (Exception e) {
                rec.error(e.toString());
                pause();
                continue;
            }
            long acquired = System.nanoTime();
            long released = lastRelease.getAndSet(0);
            if (released != 0) {
                rec.done(t, released, acquired, null);
            } else {
                rec.count(t, acquired);
            }
            lastRelease.set(System.nanoTime());
            try {
                mutex.release();
            } catch (Exception e) {
                lastRelease.set(0); // no handoff follows a failed release
                rec.error(e.toString());
            }
        }
    }

    static void pause() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ----- leader failover ---------------------------------------------------------------------

    /** One latch participant: its own CuratorFramework (session) and LeaderLatch. */
    static final class Participant {
        final int gen;
        final CuratorFramework client;
        final LeaderLatch latch;

        Participant(int gen, String cs, String path, LinkedBlockingQueue<long[]> leaders) throws Exception {
            this.gen = gen;
            client = connect(cs);
            latch = new LeaderLatch(client, path, "zk-bench-" + gen);
            latch.addListener(new LeaderLatchListener() {
                @Override
                public void isLeader() {
                    leaders.add(new long[] {gen, System.nanoTime()});
                }

                @Override
                public void notLeader() {
                }
            });
            latch.start();
            // In line once its node exists (start() creates it in the background).
            long deadline = System.nanoTime() + PATIENCE_S * 1_000_000_000L;
            while (latch.getOurPath() == null) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the latch node was not created");
                }
                Thread.sleep(1);
            }
        }
    }

    /**
     * `sessions` participants on one latch. Each unit: close the leader's CuratorFramework (its
     * session ends, the server deletes its latch node; the LeaderLatch itself is not closed, so it
     * relinquishes nothing), time until another participant's isLeader() runs; then a fresh
     * participant joins, untimed.
     */
    static ZkBench.Rec failover(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        int count = Math.max(2, (int) spec.n("sessions"));
        String cs = spec.s("connect");
        String path = spec.s("eph_root") + "/" + spec.s("tag") + "-latch";
        LinkedBlockingQueue<long[]> leaders = new LinkedBlockingQueue<>();
        Participant[] parts = new Participant[count];
        int gen = 0;
        for (int i = 0; i < count; i++) {
            parts[i] = new Participant(gen++, cs, path, leaders);
        }
        ZkBench.Timing t = new ZkBench.Timing(spec);
        timing[0] = t;
        ZkBench.Cpu sampler = new ZkBench.Cpu(t);
        sampler.start();
        ZkBench.Rec rec = new ZkBench.Rec();
        try {
            while (t.issuing()) {
                int leader = awaitLeader(parts);
                int closed = parts[leader].gen;
                long start = System.nanoTime();
                parts[leader].client.close();
                long[] event;
                do {
                    event = leaders.poll(PATIENCE_S, TimeUnit.SECONDS);
                    if (event == null) {
                        throw new IllegalStateException("no new leader within " + PATIENCE_S + " s");
                    }
                } while (event[0] == closed);
                rec.done(t, start, event[1], null);
                parts[leader] = new Participant(gen++, cs, path, leaders);
            }
        } finally {
            sampler.join();
            cpu[0] = sampler.ticks;
            cpu[1] = sampler.rssKb;
            for (Participant p : parts) {
                if (p != null) {
                    p.latch.close();
                    p.client.close();
                }
            }
        }
        return rec;
    }

    /** The participant that leads, waiting for one. */
    static int awaitLeader(Participant[] parts) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE_S * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < parts.length; i++) {
                if (parts[i].latch.hasLeadership()) {
                    return i;
                }
            }
            Thread.sleep(1);
        }
        throw new IllegalStateException("no leader within " + PATIENCE_S + " s");
    }

    // ----- counter, atom, queue -----------------------------------------------------------------

    /** One contender's unit of work: true when it succeeded. */
    interface Unit {
        boolean run() throws Exception;
    }

    /** Makes contender i's unit, on its own CuratorFramework (session). */
    interface UnitFactory {
        Unit make(CuratorFramework client, int i) throws Exception;
    }

    /**
     * `outstanding` contenders, each a CuratorFramework (one session) with its own recipe object,
     * run their unit in a loop: one unit per success, its latency the call → its return.
     */
    static ZkBench.Rec contend(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu, UnitFactory factory, String gaveUp)
            throws Exception {
        int contenders = Math.max(1, (int) spec.n("outstanding"));
        List<CuratorFramework> clients = new ArrayList<>();
        List<Unit> units = new ArrayList<>();
        for (int i = 0; i < contenders; i++) {
            CuratorFramework c = connect(spec.s("connect"));
            clients.add(c);
            units.add(factory.make(c, i));
        }
        ZkBench.Timing t = new ZkBench.Timing(spec);
        timing[0] = t;
        ZkBench.Cpu sampler = new ZkBench.Cpu(t);
        sampler.start();
        ZkBench.Rec rec = new ZkBench.Rec();
        List<Thread> threads = new ArrayList<>();
        for (Unit unit : units) {
            Thread th = new Thread(() -> {
                while (t.issuing()) {
                    long start = System.nanoTime();
                    try {
                        boolean ok = unit.run();
                        rec.done(t, start, System.nanoTime(), ok ? null : gaveUp);
                    } catch (Exception e) {
                        rec.error(e.toString());
                        pause();
                    }
                }
            });
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) {
            th.join();
        }
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        for (CuratorFramework c : clients) {
            c.close();
        }
        return rec;
    }

    /**
     * Contenders increment one DistributedAtomicLong (optimistic, RetryNTimes(1000, 1 ms) as in
     * the interop tests); an increment that gives up (succeeded() false) is an error.
     */
    static ZkBench.Rec counter(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        String path = spec.s("eph_root") + "/" + spec.s("tag") + "-counter";
        return contend(spec, timing, cpu, (client, i) -> {
            DistributedAtomicLong value = new DistributedAtomicLong(client, path, new RetryNTimes(1_000, 1));
            return () -> value.increment().succeeded();
        }, "DistributedAtomicLong.increment gave up");
    }

    /** The atom cell's value: count (8 bytes) and last writer (4 bytes), big-endian. */
    static byte[] tally(long count, int writer) {
        return ByteBuffer.allocate(12).putLong(count).putInt(writer).array();
    }

    /**
     * Contenders swap one DistributedAtomicValue holding a 12-byte tally (count + 1, themselves
     * as the last writer). Curator has no swap(f): a user reads with get() and writes with
     * compareAndSet(read, new) (which reads again and sets at that version if the bytes are
     * unchanged), in a loop until it succeeds; 1,000 failed attempts in a row are an error.
     */
    static ZkBench.Rec atom(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        String path = spec.s("eph_root") + "/" + spec.s("tag") + "-atom";
        return contend(spec, timing, cpu, (client, i) -> {
            DistributedAtomicValue value = new DistributedAtomicValue(client, path, new RetryNTimes(1_000, 1));
            value.initialize(tally(0, -1)); // false if another contender created it first
            return () -> {
                for (int attempt = 0; attempt < 1_000; attempt++) {
                    byte[] pre = value.get().postValue();
                    long count = pre.length >= 8 ? ByteBuffer.wrap(pre).getLong() : 0;
                    if (value.compareAndSet(pre, tally(count + 1, i)).succeeded()) {
                        return true;
                    }
                }
                return false;
            };
        }, "1,000 failed compareAndSet attempts");
    }

    /** How long the consumer waits for an item before looking at the clock again. */
    static final long TAKE_PATIENCE_MS = 500;

    /**
     * One producer and one consumer CuratorFramework on one SimpleDistributedQueue: the producer
     * offers `payload`-byte items while fewer than `outstanding` are offered and not yet taken;
     * the consumer polls. An item carries the nanoTime its offer was issued (first 8 bytes), so a
     * unit's latency is offer issued → poll returned.
     */
    static ZkBench.Rec queue(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        String path = spec.s("eph_root") + "/" + spec.s("tag") + "-queue";
        int size = Math.max(8, (int) spec.n("payload"));
        CuratorFramework pc = connect(spec.s("connect"));
        CuratorFramework cc = connect(spec.s("connect"));
        SimpleDistributedQueue producerQueue = new SimpleDistributedQueue(pc, path);
        SimpleDistributedQueue consumerQueue = new SimpleDistributedQueue(cc, path);
        Semaphore window = new Semaphore(Math.max(1, (int) spec.n("outstanding")));
        ZkBench.Timing t = new ZkBench.Timing(spec);
        timing[0] = t;
        ZkBench.Cpu sampler = new ZkBench.Cpu(t);
        sampler.start();
        ZkBench.Rec rec = new ZkBench.Rec();
        Thread producer = new Thread(() -> {
            byte[] item = new byte[size];
            for (int i = 8; i < size; i++) {
                item[i] = (byte) ('a' + i % 26);
            }
            while (t.issuing()) {
                try {
                    if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                    ByteBuffer.wrap(item).putLong(0, System.nanoTime());
                    producerQueue.offer(item);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (Exception e) {
                    window.release();
                    rec.error(e.toString());
                    pause();
                }
            }
        });
        Thread consumer = new Thread(() -> {
            while (t.issuing()) {
                try {
                    byte[] item = consumerQueue.poll(TAKE_PATIENCE_MS, TimeUnit.MILLISECONDS);
                    long done = System.nanoTime();
                    if (item == null) {
                        if (t.issuing()) {
                            rec.error("no item within " + TAKE_PATIENCE_MS + " ms");
                        }
                        continue;
                    }
                    window.release();
                    if (item.length < 8) {
                        rec.error("an item of " + item.length + " bytes");
                        continue;
                    }
                    rec.done(t, ByteBuffer.wrap(item).getLong(0), done, null);
                } catch (Exception e) {
                    rec.error(e.toString());
                    pause();
                }
            }
        });
        producer.start();
        consumer.start();
        producer.join();
        consumer.join();
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        pc.close();
        cc.close();
        return rec;
    }

    // ----- caches ------------------------------------------------------------------------------

    /** Heap bytes in use after a full collection (three, with pauses, so the number settles). */
    static long heapUsedAfterGc() throws InterruptedException {
        Runtime r = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return r.totalMemory() - r.freeMemory();
    }

    /** Starts a CuratorCache on `root` and waits for its initialized() callback. */
    static CuratorCache startCache(CuratorFramework client, String root, CuratorCacheListener listener)
            throws Exception {
        CuratorCache cache = CuratorCache.build(client, root);
        CountDownLatch initialized = new CountDownLatch(1);
        cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(initialized::countDown).build());
        if (listener != null) {
            cache.listenable().addListener(listener);
        }
        cache.start();
        if (!initialized.await(PATIENCE_S * 10, TimeUnit.SECONDS)) {
            cache.close();
            throw new IllegalStateException("the cache did not initialize within " + PATIENCE_S * 10 + " s");
        }
        return cache;
    }

    /**
     * One initial load of the tree at `children_path` (zk-bench starts a fresh worker for it):
     * CuratorCache.start() → its initialized() callback. Memory per cached node two ways: the heap
     * in use after a full GC (the fair number for a JVM) and the process's RSS delta.
     */
    static String cacheLoad(ZkBench.Spec spec) throws Exception {
        String root = spec.s("children_path");
        CuratorFramework client = connect(spec.s("connect"));
        client.getData().forPath(root);
        long heapBefore = heapUsedAfterGc();
        long rssBefore = ZkBench.rssKb();
        long cpuBefore = ZkBench.cpuTicks();
        long startUnixMs = System.currentTimeMillis();
        long start = System.nanoTime();
        CuratorCache cache = startCache(client, root, null);
        long loaded = System.nanoTime() - start;
        long cpu = ZkBench.cpuTicks() - cpuBefore;
        long nodes = cache.size();
        long heapAfter = heapUsedAfterGc();
        long rssAfter = ZkBench.rssKb();
        double per = Math.max(1, nodes);
        String json = "{\"ok\":true,\"ops\":1,\"errors\":0,\"elapsed_s\":" + loaded / 1e9
                + ",\"window_start_unix_ms\":" + startUnixMs + ",\"cpu_ticks\":" + cpu + ",\"rss_kb\":" + rssAfter
                + ",\"lat_ns\":[[" + ZkBench.round3(loaded) + ",1]],\"extra\":{\"nodes\":" + nodes
                + ",\"rss_before_kb\":" + rssBefore + ",\"rss_after_kb\":" + rssAfter
                + ",\"bytes_per_node\":" + (rssAfter - rssBefore) * 1024.0 / per
                + ",\"heap_bytes_per_node\":" + (heapAfter - heapBefore) / per + "}}";
        cache.close();
        client.close();
        return json;
    }

    /**
     * A CuratorCache of the tree at `children_path` on one CuratorFramework; another sets the
     * tree's nodes one after another (round robin, `payload` bytes whose first 8 are the set's
     * number). A unit is one set; its latency the set issued → the cache listener's changed()
     * callback for that number.
     */
    static ZkBench.Rec cacheUpdate(ZkBench.Spec spec, ZkBench.Timing[] timing, long[] cpu) throws Exception {
        String root = spec.s("children_path");
        CuratorFramework cached = connect(spec.s("connect"));
        CuratorFramework setter = connect(spec.s("connect"));
        // (number, nanoTime) of each change the cache reports.
        LinkedBlockingQueue<long[]> seen = new LinkedBlockingQueue<>();
        CuratorCacheListener listener = CuratorCacheListener.builder().forChanges((old, node) -> {
            byte[] d = node.getData();
            if (d != null && d.length >= 8) {
                seen.add(new long[] {ByteBuffer.wrap(d).getLong(0), System.nanoTime()});
            }
        }).build();
        CuratorCache cache = startCache(cached, root, listener);
        List<String> paths = new ArrayList<>();
        cache.stream().forEach(d -> {
            if (!d.getPath().equals(root)) {
                paths.add(d.getPath());
            }
        });
        paths.sort(null);
        byte[] data = new byte[Math.max(8, (int) spec.n("payload"))];
        for (int i = 8; i < data.length; i++) {
            data[i] = (byte) ('a' + i % 26);
        }
        ZkBench.Timing t = new ZkBench.Timing(spec);
        timing[0] = t;
        ZkBench.Cpu sampler = new ZkBench.Cpu(t);
        sampler.start();
        ZkBench.Rec rec = new ZkBench.Rec();
        long seq = 0;
        while (t.issuing()) {
            String path = paths.get((int) (seq % paths.size()));
            ByteBuffer.wrap(data).putLong(0, seq);
            long start = System.nanoTime();
            try {
                setter.setData().forPath(path, data);
                long[] event;
                do {
                    event = seen.poll(PATIENCE_S, TimeUnit.SECONDS);
                } while (event != null && event[0] != seq);
                if (event == null) {
                    rec.error("no event for " + path + " within " + PATIENCE_S + " s");
                } else {
                    rec.done(t, start, event[1], null);
                }
            } catch (Exception e) {
                rec.error(e.toString());
                pause();
            }
            seq++;
        }
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        cache.close();
        cached.close();
        setter.close();
        return rec;
    }

    // ----- the protocol ------------------------------------------------------------------------

    static String run(ZkBench.Spec spec) throws Exception {
        ZkBench.Timing[] timing = new ZkBench.Timing[1];
        long[] cpu = new long[2];
        ZkBench.Rec rec;
        switch (spec.s("workload")) {
            case "lock":
                rec = lock(spec, timing, cpu);
                break;
            case "failover":
                rec = failover(spec, timing, cpu);
                break;
            case "counter":
                rec = counter(spec, timing, cpu);
                break;
            case "atom":
                rec = atom(spec, timing, cpu);
                break;
            case "queue":
                rec = queue(spec, timing, cpu);
                break;
            case "cache-load":
                return cacheLoad(spec);
            case "cache-update":
                rec = cacheUpdate(spec, timing, cpu);
                break;
            default:
                throw new IllegalArgumentException("the Curator worker runs lock, failover, counter, atom, queue, "
                        + "cache-load and cache-update, not " + spec.s("workload"));
        }
        return ZkBench.json(rec, timing[0], cpu);
    }

    /** Curator's version, from its jar's Maven properties (Debian's jars have no Implementation-Version). */
    static String curatorVersion() {
        String v = CuratorFramework.class.getPackage().getImplementationVersion();
        if (v != null && !v.isBlank()) {
            return v;
        }
        String pom = "/META-INF/maven/org.apache.curator/curator-framework/pom.properties";
        try (java.io.InputStream in = CuratorFramework.class.getResourceAsStream(pom)) {
            if (in != null) {
                java.util.Properties props = new java.util.Properties();
                props.load(in);
                return props.getProperty("version", "?");
            }
        } catch (java.io.IOException e) {
            // fall through
        }
        return "?";
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        // Keep stdout for the protocol: anything else (logging) goes to stderr.
        System.setOut(System.err);
        String zk = org.apache.zookeeper.Version.getFullVersion().split("[ ,-]")[0];
        out.println("{\"hello\":" + ZkBench.quote("Curator " + curatorVersion()
                + " (InterProcessMutex, LeaderLatch, DistributedAtomicLong, DistributedAtomicValue, SimpleDistributedQueue, CuratorCache), java client "
                + zk + ", JDK " + System.getProperty("java.version")) + "}");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String json;
            try {
                json = run(new ZkBench.Spec(line));
            } catch (Throwable e) {
                json = "{\"ok\":false,\"error\":" + ZkBench.quote(e.toString()) + "}";
            }
            out.println(json);
        }
        System.exit(0);
    }
}
