// Curator CuratorCache mirror of a subtree. Usage:
//   CuratorCacheMirror --connect CS --path ROOT --id ID [--session-timeout-ms MS] [--dump-timeout-ms MS]
// Builds a CuratorCache on ROOT and prints READY <id> once it is initialized. Commands on stdin:
//   dump <marker>  waits until the cache holds the node <marker> (up to --dump-timeout-ms, default
//                  60000), then prints NODE <path> <version> <hex data, - when empty> per cached
//                  node, sorted by path, then END <id> <count>.

import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;

public final class CuratorCacheMirror {
    public static void main(String[] args) {
        PeerSupport p = PeerSupport.start("CuratorCacheMirror", args);
        try {
            run(p);
        } catch (Throwable e) {
            p.fail(e);
        }
        System.exit(0);
    }

    static String hex(byte[] data) {
        if (data == null || data.length == 0) {
            return "-";
        }
        StringBuilder sb = new StringBuilder(data.length * 2);
        for (byte b : data) {
            sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return sb.toString();
    }

    private static void run(PeerSupport p) throws Exception {
        String root = p.require("path");
        long dumpTimeoutMs = p.getInt("dump-timeout-ms", 60_000);
        CuratorFramework client = p.newClient();
        CuratorCache cache = CuratorCache.build(client, root);
        p.onQuit(() -> {
            cache.close();
            client.close();
        });
        CountDownLatch initialized = new CountDownLatch(1);
        cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(initialized::countDown).build());
        cache.start();
        if (!initialized.await(dumpTimeoutMs, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("the cache did not initialize within " + dumpTimeoutMs + " ms");
        }
        p.readStdin();
        PeerSupport.out("READY " + p.id);
        while (true) {
            String command = p.commands.take();
            if (!command.startsWith("dump ")) {
                throw new IllegalArgumentException("unknown command " + command);
            }
            String marker = command.substring(5).trim();
            long deadline = System.nanoTime() + dumpTimeoutMs * 1_000_000L;
            while (cache.get(marker).isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the cache never saw " + marker);
                }
                Thread.sleep(5);
            }
            List<ChildData> nodes =
                    cache.stream().sorted(Comparator.comparing(ChildData::getPath)).collect(Collectors.toList());
            StringBuilder sb = new StringBuilder(nodes.size() * 64);
            for (ChildData d : nodes) {
                int version = d.getStat() == null ? -1 : d.getStat().getVersion();
                sb.append("NODE ").append(d.getPath()).append(' ').append(version).append(' ')
                        .append(hex(d.getData())).append('\n');
            }
            sb.append("END ").append(p.id).append(' ').append(nodes.size());
            PeerSupport.out(sb.toString());
        }
    }
}
