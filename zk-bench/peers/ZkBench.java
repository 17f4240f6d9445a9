// zk-bench's Java worker: the ZooKeeper Java client's async API, N requests outstanding per
// session through a Semaphore. zk-bench compiles this file with javac at run time and talks to it
// through stdin (one run spec per line, `key=value` words) and stdout (one JSON line per run).
// Everything else the JVM or ZooKeeper prints goes to stderr.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public final class ZkBench {
    static final int SESSION_TIMEOUT_MS = 10_000;

    static final class Spec {
        final Map<String, String> m = new HashMap<>();

        Spec(String line) {
            for (String word : line.trim().split("\\s+")) {
                int eq = word.indexOf('=');
                if (eq > 0) {
                    m.put(word.substring(0, eq), word.substring(eq + 1));
                }
            }
        }

        String s(String k) {
            String v = m.get(k);
            if (v == null) {
                throw new IllegalArgumentException("spec lacks " + k);
            }
            return v;
        }

        long n(String k) {
            return Long.parseLong(s(k));
        }

        int outstandingOf(int session) {
            int sessions = Math.max(1, (int) n("sessions"));
            int total = (int) n("outstanding");
            return total / sessions + (session < total % sessions ? 1 : 0);
        }

        String key(int session, long seq) {
            int keys = Math.max(1, (int) n("keys"));
            long stride = keys / Math.max(1, (int) n("sessions"));
            long i = (seq + session * stride) % keys;
            return String.format("%s/k%05d", s("data_root"), i);
        }

        String ephPath(int session, long seq) {
            return s("eph_root") + "/" + s("tag") + "-s" + session + "-" + seq;
        }
    }

    static final class Timing {
        final long warmEnd;
        final long end;
        final long warmEndUnixMs;

        Timing(Spec spec) {
            long now = System.nanoTime();
            warmEnd = now + spec.n("warmup_ms") * 1_000_000L;
            end = warmEnd + spec.n("measure_ms") * 1_000_000L;
            warmEndUnixMs = System.currentTimeMillis() + spec.n("warmup_ms");
        }

        boolean issuing() {
            return System.nanoTime() < end;
        }

        boolean inWindow(long t) {
            return t >= warmEnd && t < end;
        }
    }

    /** Counts and latencies; callbacks of one session run on its event thread, but guard anyway. */
    static final class Rec {
        long[] lat = new long[1 << 14];
        int n;
        long ops;
        long errors;
        String firstError;

        synchronized void done(Timing t, long start, long done, String error) {
            if (error != null) {
                errors++;
                if (firstError == null) {
                    firstError = error;
                }
                return;
            }
            if (t.inWindow(done)) {
                ops++;
                if (n == lat.length) {
                    lat = java.util.Arrays.copyOf(lat, n * 2);
                }
                lat[n++] = done - start;
            }
        }

        synchronized void error(String e) {
            done(null, 0, 0, e);
        }

        /** A unit done at `done` with no latency to keep (a lock's first, unhanded acquisition). */
        synchronized void count(Timing t, long done) {
            if (t.inWindow(done)) {
                ops++;
            }
        }
    }

    static final class Cpu extends Thread {
        /** Context switches (voluntary, involuntary) over the last window, or -1: see switches(). */
        static volatile long vcsw = -1;
        static volatile long ivcsw = -1;
        final Timing t;
        long ticks;
        long rssKb;

        Cpu(Timing t) {
            this.t = t;
            setDaemon(true);
            vcsw = -1;
            ivcsw = -1;
        }

        @Override
        public void run() {
            try {
                sleepUntil(t.warmEnd);
                long before = cpuTicks();
                long[] switchesBefore = switches();
                sleepUntil(t.end);
                ticks = cpuTicks() - before;
                long[] switchesAfter = switches();
                vcsw = switchesAfter[0] - switchesBefore[0];
                ivcsw = switchesAfter[1] - switchesBefore[1];
                rssKb = rssKb();
            } catch (Exception e) {
                ticks = 0;
            }
        }

        static void sleepUntil(long t) throws InterruptedException {
            long left = t - System.nanoTime();
            if (left > 0) {
                Thread.sleep(left / 1_000_000L, (int) (left % 1_000_000L));
            }
        }
    }

    static long cpuTicks() throws Exception {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /**
     * Voluntary and involuntary context switches summed over the JVM's live threads
     * (/proc/self/task/N/status; Java has no getrusage). Threads that exit during a window take
     * theirs with them; the client's threads live as long as its sessions.
     */
    static long[] switches() throws Exception {
        long v = 0;
        long i = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                try {
                    for (String line : Files.readAllLines(task.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:")) {
                            v += Long.parseLong(line.substring(24).trim());
                        } else if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                            i += Long.parseLong(line.substring(27).trim());
                        }
                    }
                } catch (IOException gone) {
                    // The thread exited between the listing and the read.
                }
            }
        }
        return new long[] {v, i};
    }

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
            }
        }
        return 0;
    }

    static ZooKeeper connect(String cs) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(cs, SESSION_TIMEOUT_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        if (!up.await(30, TimeUnit.SECONDS)) {
            zk.close();
            throw new IllegalStateException("no session within 30 s");
        }
        return zk;
    }

    static String code(int rc) {
        return rc == 0 ? null : "server error " + KeeperException.Code.get(rc);
    }

    /** Issues unit seq of a pipelined workload; `done` runs with the error (or null) when it completes. */
    static void issue(ZooKeeper zk, Spec spec, byte[] payload, int session, long seq, String workload, Runnable release,
            Rec rec, Timing t) {
        final long start = System.nanoTime();
        switch (workload) {
            case "get":
                zk.getData(spec.key(session, seq), false, (rc, p, c, data, stat) -> {
                    rec.done(t, start, System.nanoTime(), code(rc));
                    release.run();
                }, null);
                break;
            case "set":
                zk.setData(spec.key(session, seq), payload, -1, (AsyncCallback.StatCallback) (rc, p, c, stat) -> {
                    rec.done(t, start, System.nanoTime(), code(rc));
                    release.run();
                }, null);
                break;
            case "create":
                zk.create(spec.ephPath(session, seq), payload, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL,
                        (AsyncCallback.Create2Callback) (rc, p, c, name, stat) -> {
                            rec.done(t, start, System.nanoTime(), code(rc));
                            release.run();
                        }, null);
                break;
            case "create-delete": {
                final String path = spec.ephPath(session, seq);
                final int[] created = new int[1];
                zk.create(path, payload, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL,
                        (AsyncCallback.Create2Callback) (rc, p, c, name, stat) -> created[0] = rc, null);
                // Callbacks run in order on the event thread: the create's has run when this one does.
                zk.delete(path, -1, (rc, p, c) -> {
                    String e = code(created[0]);
                    rec.done(t, start, System.nanoTime(), e != null ? e : code(rc));
                    release.run();
                }, null);
                break;
            }
            case "children":
                zk.getChildren(spec.s("children_path"), false,
                        (AsyncCallback.Children2Callback) (rc, p, c, children, stat) -> {
                            rec.done(t, start, System.nanoTime(), code(rc));
                            release.run();
                        }, null);
                break;
            case "multi": {
                int m = (int) spec.n("multi_ops");
                List<Op> ops = new ArrayList<>(m);
                for (int j = 0; j < m; j++) {
                    ops.add(Op.setData(spec.key(session, seq * m + j), payload, -1));
                }
                zk.multi(ops, (rc, p, c, results) -> {
                    String e = code(rc);
                    if (e == null && results != null) {
                        for (OpResult r : results) {
                            if (r instanceof OpResult.ErrorResult) {
                                e = code(((OpResult.ErrorResult) r).getErr());
                                break;
                            }
                        }
                    }
                    rec.done(t, start, System.nanoTime(), e);
                    release.run();
                }, null);
                break;
            }
            default:
                throw new IllegalArgumentException(workload + " is not a pipelined workload");
        }
    }

    static void sessionLoop(ZooKeeper zk, Spec spec, byte[] payload, int session, Rec rec, Timing t)
            throws InterruptedException {
        int n = spec.outstandingOf(session);
        Semaphore window = new Semaphore(n);
        String workload = spec.s("workload");
        long seq = 0;
        while (t.issuing()) {
            window.acquire();
            if (!t.issuing()) {
                window.release();
                break;
            }
            issue(zk, spec, payload, session, seq++, workload, window::release, rec, t);
        }
        window.acquire(n); // the stragglers
    }

    static Rec pipelined(Spec spec, byte[] payload, Timing[] timing, long[] cpu) throws Exception {
        int sessions = (int) spec.n("sessions");
        List<ZooKeeper> zks = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            zks.add(connect(spec.s("connect")));
        }
        Timing t = new Timing(spec);
        timing[0] = t;
        Cpu sampler = new Cpu(t);
        sampler.start();
        Rec rec = new Rec();
        List<Thread> threads = new ArrayList<>();
        List<Exception> failures = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            final int session = i;
            final ZooKeeper zk = zks.get(i);
            Thread th = new Thread(() -> {
                try {
                    sessionLoop(zk, spec, payload, session, rec, t);
                } catch (Exception e) {
                    synchronized (failures) {
                        failures.add(e);
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
        for (ZooKeeper zk : zks) {
            zk.close();
        }
        if (!failures.isEmpty()) {
            throw failures.get(0);
        }
        return rec;
    }

    static Rec watch(Spec spec, byte[] payload, Timing[] timing, long[] cpu) throws Exception {
        ZooKeeper watcher = connect(spec.s("connect"));
        ZooKeeper setter = connect(spec.s("connect"));
        String path = spec.key(0, 0);
        Timing t = new Timing(spec);
        timing[0] = t;
        Cpu sampler = new Cpu(t);
        sampler.start();
        Rec rec = new Rec();
        while (t.issuing()) {
            CountDownLatch fired = new CountDownLatch(1);
            long[] firedAt = new long[1];
            try {
                watcher.getData(path, e -> {
                    firedAt[0] = System.nanoTime();
                    fired.countDown();
                }, null);
            } catch (KeeperException e) {
                rec.error(e.toString());
                continue;
            }
            long start = System.nanoTime();
            CountDownLatch setDone = new CountDownLatch(1);
            int[] setRc = new int[1];
            setter.setData(path, payload, -1, (AsyncCallback.StatCallback) (rc, p, c, stat) -> {
                setRc[0] = rc;
                setDone.countDown();
            }, null);
            if (!fired.await(30, TimeUnit.SECONDS) || !setDone.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no notification within 30 s");
            }
            rec.done(t, start, firedAt[0], code(setRc[0]));
        }
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        watcher.close();
        setter.close();
        return rec;
    }

    static Rec connectLoop(Spec spec, Timing[] timing, long[] cpu) throws Exception {
        Timing t = new Timing(spec);
        timing[0] = t;
        Cpu sampler = new Cpu(t);
        sampler.start();
        Rec rec = new Rec();
        while (t.issuing()) {
            long start = System.nanoTime();
            try {
                ZooKeeper zk = connect(spec.s("connect"));
                rec.done(t, start, System.nanoTime(), null);
                zk.close();
            } catch (Exception e) {
                rec.error(e.toString());
            }
        }
        sampler.join();
        cpu[0] = sampler.ticks;
        cpu[1] = sampler.rssKb;
        return rec;
    }

    static String run(Spec spec) throws Exception {
        byte[] payload = new byte[(int) spec.n("payload")];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) ('a' + i % 26);
        }
        Timing[] timing = new Timing[1];
        long[] cpu = new long[2];
        Rec rec;
        switch (spec.s("workload")) {
            case "watch":
                rec = watch(spec, payload, timing, cpu);
                break;
            case "connect":
                rec = connectLoop(spec, timing, cpu);
                break;
            default:
                rec = pipelined(spec, payload, timing, cpu);
        }
        return json(rec, timing[0], cpu);
    }

    /** The report line of a finished run (the Curator worker's too). */
    static String json(Rec rec, Timing t, long[] cpu) {
        // Latencies as (ns, count), rounded to 3 significant digits like an HDR histogram.
        TreeMap<Long, Long> hist = new TreeMap<>();
        for (int i = 0; i < rec.n; i++) {
            hist.merge(round3(rec.lat[i]), 1L, Long::sum);
        }
        StringBuilder sb = new StringBuilder(64 + hist.size() * 16);
        sb.append("{\"ok\":true,\"ops\":").append(rec.ops).append(",\"errors\":").append(rec.errors);
        if (rec.firstError != null) {
            sb.append(",\"first_error\":").append(quote(rec.firstError));
        }
        sb.append(",\"elapsed_s\":").append((t.end - t.warmEnd) / 1e9);
        sb.append(",\"cpu_ticks\":").append(cpu[0]).append(",\"rss_kb\":").append(cpu[1]);
        if (Cpu.vcsw >= 0 && Cpu.ivcsw >= 0) {
            sb.append(",\"vcsw\":").append(Cpu.vcsw).append(",\"ivcsw\":").append(Cpu.ivcsw);
        }
        sb.append(",\"window_start_unix_ms\":").append(t.warmEndUnixMs);
        sb.append(",\"lat_ns\":[");
        boolean first = true;
        for (Map.Entry<Long, Long> e : hist.entrySet()) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            sb.append('[').append(e.getKey()).append(',').append(e.getValue()).append(']');
        }
        sb.append("]}");
        return sb.toString();
    }

    static long round3(long v) {
        long scale = 1;
        while (v / scale >= 2048) {
            scale *= 2;
        }
        return (v / scale) * scale;
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        // Keep stdout for the protocol: anything else (logging) goes to stderr.
        System.setOut(System.err);
        String version = org.apache.zookeeper.Version.getFullVersion().split("[ ,-]")[0];
        // java-tls: zk-bench sets zookeeper.client.secure and the Netty socket on the command line.
        String tls = "true".equals(System.getProperty("zookeeper.client.secure"))
                ? ", over TLS (" + System.getProperty("zookeeper.clientCnxnSocket", "?").replaceAll(".*\\.", "") + ")"
                : "";
        out.println("{\"hello\":" + quote("java client " + version + ", JDK " + System.getProperty("java.version") + tls) + "}");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String json;
            try {
                json = run(new Spec(line));
            } catch (Throwable e) {
                json = "{\"ok\":false,\"error\":" + quote(e.toString()) + "}";
            }
            out.println(json);
        }
        System.exit(0);
    }
}
