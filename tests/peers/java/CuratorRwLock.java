// Curator InterProcessReadWriteLock contender. Usage:
//   CuratorRwLock --connect CS --path LOCK --id ID --mode read|write [--iterations N]
//                 [--counter PATH] [--session-timeout-ms MS] [--gate] [--hold]
// Prints READY <id>; then N times: ACQUIRED <id> <micros> <mode>, the work, RELEASING <id> <micros>
// <mode>, release; then DONE <id>. A writer does the non-atomic counter increment; a reader reads
// the counter twice with 2 ms between and prints READ_CONSISTENT <id> <value> or READ_TORN <id>
// <first> <second>. Lock node data is the participant id.

import java.nio.charset.StandardCharsets;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;

public final class CuratorRwLock {
    public static void main(String[] args) {
        PeerSupport.main("CuratorRwLock", args, CuratorRwLock::run);
    }

    private static void run(PeerSupport p) throws Exception {
        String path = p.require("path");
        String mode = p.require("mode");
        if (!mode.equals("read") && !mode.equals("write")) {
            throw new IllegalArgumentException("--mode must be read or write, not " + mode);
        }
        String counter = p.get("counter", null);
        int iterations = p.getInt("iterations", 1);
        boolean hold = p.flag("hold");
        CuratorFramework client = p.newClient();
        p.onQuit(client::close);
        p.readStdin();
        if (counter != null) {
            PeerSupport.ensureCounter(client, counter);
        }
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path, p.id.getBytes(StandardCharsets.UTF_8));
        InterProcessMutex lock = mode.equals("read") ? rw.readLock() : rw.writeLock();
        PeerSupport.out("READY " + p.id);
        p.gate();
        for (int i = 0; i < iterations; i++) {
            lock.acquire();
            PeerSupport.out("ACQUIRED " + p.id + " " + PeerSupport.micros() + " " + mode);
            if (hold) {
                p.awaitCommand("release");
            }
            if (counter == null) {
                PeerSupport.briefWork();
            } else if (mode.equals("write")) {
                PeerSupport.incrementCounter(client, counter);
            } else {
                long first = PeerSupport.readCounter(client, counter);
                Thread.sleep(2);
                long second = PeerSupport.readCounter(client, counter);
                PeerSupport.out(first == second
                        ? "READ_CONSISTENT " + p.id + " " + first
                        : "READ_TORN " + p.id + " " + first + " " + second);
            }
            PeerSupport.out("RELEASING " + p.id + " " + PeerSupport.micros() + " " + mode);
            lock.release();
        }
        PeerSupport.out("DONE " + p.id);
        client.close();
    }
}
