// Curator SimpleDistributedQueue producer or consumer. Usage:
//   CuratorQueue --connect CS --path QUEUE --id ID --role produce|consume [--iterations N]
//                [--session-timeout-ms MS] [--gate]
// Prints READY <id>. A producer offers N items `<id>-<i>` (i = 0..N-1), printing PRODUCED <id>
// <item> after each; a consumer takes N items (blocking), printing CONSUMED <id> <item>. Then DONE <id>.

import java.nio.charset.StandardCharsets;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;

public final class CuratorQueue {
    public static void main(String[] args) {
        PeerSupport.main("CuratorQueue", args, CuratorQueue::run);
    }

    private static void run(PeerSupport p) throws Exception {
        String role = p.require("role");
        int iterations = p.getInt("iterations", 1);
        CuratorFramework client = p.newClient();
        p.onQuit(client::close);
        p.readStdin();
        SimpleDistributedQueue queue = new SimpleDistributedQueue(client, p.require("path"));
        PeerSupport.out("READY " + p.id);
        p.gate();
        for (int i = 0; i < iterations; i++) {
            if (role.equals("produce")) {
                String item = p.id + "-" + i;
                if (!queue.offer(item.getBytes(StandardCharsets.UTF_8))) {
                    throw new IllegalStateException("offer failed");
                }
                PeerSupport.out("PRODUCED " + p.id + " " + item);
            } else if (role.equals("consume")) {
                byte[] item = queue.take();
                PeerSupport.out("CONSUMED " + p.id + " " + new String(item, StandardCharsets.UTF_8));
            } else {
                throw new IllegalArgumentException("--role must be produce or consume, not " + role);
            }
        }
        PeerSupport.out("DONE " + p.id);
        client.close();
    }
}
