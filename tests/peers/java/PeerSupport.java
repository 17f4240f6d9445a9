// Shared plumbing of the Curator contenders (see tests/peers/README.md for the protocol):
// `--key value` arguments, the stdout line protocol, the stdin command reader, the Curator client
// and the counter node's non-atomic increment.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;

final class PeerSupport {
    private final Map<String, String> opts = new HashMap<>();
    private final Set<String> flags = new HashSet<>();
    final String id;
    /** Commands from stdin that the main thread waits for (`go`, `release`, `yield`, ...). */
    final BlockingQueue<String> commands = new LinkedBlockingQueue<>();
    /** Called (on the stdin thread) before the process exits on `quit` or end of input. */
    private volatile Runnable onQuit = () -> { };

    private PeerSupport(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + a);
            }
            String key = a.substring(2);
            int eq = key.indexOf('=');
            if (eq >= 0) {
                opts.put(key.substring(0, eq), key.substring(eq + 1));
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                opts.put(key, args[++i]);
            } else {
                flags.add(key);
            }
        }
        id = require("id");
    }

    /** Parses the arguments; a usage error prints `ERROR` and exits with status 2. */
    static PeerSupport start(String program, String[] args) {
        try {
            return new PeerSupport(args);
        } catch (RuntimeException e) {
            System.out.println("ERROR - " + program + ": " + e.getMessage());
            System.out.flush();
            System.exit(2);
            throw e;
        }
    }

    /** A contender's body, run by {@link #main}. */
    interface Body {
        void run(PeerSupport p) throws Exception;
    }

    /**
     * The usual `main`: parses the arguments, runs `body`, reports a failure as `ERROR` (exit
     * 1) and exits 0 when `body` returns.
     */
    static void main(String program, String[] args, Body body) {
        PeerSupport p = start(program, args);
        try {
            body.run(p);
        } catch (Throwable e) {
            p.fail(e);
        }
        System.exit(0);
    }

    String require(String key) {
        String v = opts.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing --" + key);
        }
        return v;
    }

    String get(String key, String dflt) {
        return opts.getOrDefault(key, dflt);
    }

    int getInt(String key, int dflt) {
        return Integer.parseInt(get(key, Integer.toString(dflt)));
    }

    boolean flag(String key) {
        return flags.contains(key);
    }

    static long micros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    void fail(Throwable e) {
        e.printStackTrace();
        out("ERROR " + id + " " + e.toString().replace('\n', ' '));
        System.exit(1);
    }

    void onQuit(Runnable r) {
        onQuit = r;
    }

    /**
     * Reads stdin on a daemon thread. `quit` and end of input run the quit action, print
     * `BYE <id>` and exit 0 (so a contender never outlives its test); lines `immediate` accepts
     * are handled on that thread; everything else is queued for {@link #awaitCommand}.
     */
    void readStdin(Consumer<String> immediate, Set<String> immediateCommands) {
        Thread t = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    line = line.trim();
                    if (line.equals("quit")) {
                        break;
                    } else if (immediateCommands.contains(line)) {
                        immediate.accept(line);
                    } else if (!line.isEmpty()) {
                        commands.add(line);
                    }
                }
            } catch (Throwable e) {
                e.printStackTrace();
            }
            try {
                onQuit.run();
            } catch (Throwable e) {
                e.printStackTrace();
            }
            out("BYE " + id);
            System.exit(0);
        }, "stdin");
        t.setDaemon(true);
        t.start();
    }

    void readStdin() {
        readStdin(c -> { }, Set.of());
    }

    /** Blocks until the command `expected` arrives on stdin (others are errors). */
    void awaitCommand(String expected) throws InterruptedException {
        String c = commands.take();
        if (!c.equals(expected)) {
            throw new IllegalStateException("expected command " + expected + ", got " + c);
        }
    }

    /** With `--gate`: prints nothing more and waits for `go` (after the caller printed READY). */
    void gate() throws InterruptedException {
        if (flag("gate")) {
            awaitCommand("go");
        }
    }

    /** A started, connected Curator client with an exponential-backoff retry policy. */
    CuratorFramework newClient() throws InterruptedException {
        int sessionMs = getInt("session-timeout-ms", 10_000);
        int connectMs = getInt("connection-timeout-ms", 15_000);
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(require("connect"))
                .sessionTimeoutMs(sessionMs)
                .connectionTimeoutMs(connectMs)
                .retryPolicy(new ExponentialBackoffRetry(50, 10, 1_000))
                .build();
        c.start();
        if (!c.blockUntilConnected(connectMs, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("not connected to " + require("connect") + " after " + connectMs + " ms");
        }
        return c;
    }

    /** Creates the counter node with "0" unless it exists. */
    static void ensureCounter(CuratorFramework c, String path) throws Exception {
        try {
            c.create().creatingParentsIfNeeded().forPath(path, "0".getBytes(StandardCharsets.US_ASCII));
        } catch (KeeperException.NodeExistsException e) {
            // another contender made it
        }
    }

    static long readCounter(CuratorFramework c, String path) throws Exception {
        String s = new String(c.getData().forPath(path), StandardCharsets.US_ASCII).trim();
        return s.isEmpty() ? 0 : Long.parseLong(s);
    }

    /** The deliberately non-atomic increment: read, sleep 1-3 ms, write unconditionally. */
    static void incrementCounter(CuratorFramework c, String path) throws Exception {
        long v = readCounter(c, path);
        Thread.sleep(1 + ThreadLocalRandom.current().nextInt(3));
        c.setData().forPath(path, Long.toString(v + 1).getBytes(StandardCharsets.US_ASCII));
    }

    /** Sleeps 1-3 ms, the stand-in for work when there is no counter. */
    static void briefWork() throws InterruptedException {
        Thread.sleep(1 + ThreadLocalRandom.current().nextInt(3));
    }
}
