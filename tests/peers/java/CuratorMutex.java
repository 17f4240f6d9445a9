// Curator InterProcessMutex contender. Usage:
//   CuratorMutex --connect CS --path LOCK --id ID [--iterations N] [--counter PATH]
//                [--session-timeout-ms MS] [--connection-timeout-ms MS] [--gate] [--hold]
// Prints READY <id>; then N times: ACQUIRED <id> <micros>, the non-atomic counter increment (or
// 1-3 ms of sleep without --counter), RELEASING <id> <micros>, release; then DONE <id>.
// --gate waits for `go` on stdin after READY; --hold waits for `release` on stdin after each
// ACQUIRED. The lock node's data is the participant id (as LeaderSelector does).

import java.nio.charset.StandardCharsets;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;

public final class CuratorMutex {
    public static void main(String[] args) {
        PeerSupport.main("CuratorMutex", args, CuratorMutex::run);
    }

    private static void run(PeerSupport p) throws Exception {
        String path = p.require("path");
        String counter = p.get("counter", null);
        int iterations = p.getInt("iterations", 1);
        boolean hold = p.flag("hold");
        CuratorFramework client = p.newClient();
        p.onQuit(client::close);
        p.readStdin();
        if (counter != null) {
            PeerSupport.ensureCounter(client, counter);
        }
        byte[] data = p.id.getBytes(StandardCharsets.UTF_8);
        InterProcessMutex mutex = new InterProcessMutex(client, path) {
            @Override
            protected byte[] getLockNodeBytes() {
                return data;
            }
        };
        PeerSupport.out("READY " + p.id);
        p.gate();
        for (int i = 0; i < iterations; i++) {
            mutex.acquire();
            PeerSupport.out("ACQUIRED " + p.id + " " + PeerSupport.micros());
            if (hold) {
                p.awaitCommand("release");
            }
            if (counter != null) {
                PeerSupport.incrementCounter(client, counter);
            } else {
                PeerSupport.briefWork();
            }
            PeerSupport.out("RELEASING " + p.id + " " + PeerSupport.micros());
            mutex.release();
        }
        PeerSupport.out("DONE " + p.id);
        client.close();
    }
}
