// Curator shared counters. Usage:
//   CuratorCounter --connect CS --path NODE --id ID --kind shared-count|atomic-long [--iterations N]
//                  [--session-timeout-ms MS] [--gate]
// Prints READY <id>; then N increments by one, each printing VALUE <id> <new value>; then DONE <id>.
// shared-count: SharedCount (4-byte big-endian int) with trySetCount retried on a version conflict.
// atomic-long: DistributedAtomicLong (8-byte big-endian long, optimistic with RetryNTimes).

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.retry.RetryNTimes;

public final class CuratorCounter {
    public static void main(String[] args) {
        PeerSupport.main("CuratorCounter", args, CuratorCounter::run);
    }

    private static void run(PeerSupport p) throws Exception {
        String path = p.require("path");
        String kind = p.require("kind");
        int iterations = p.getInt("iterations", 1);
        CuratorFramework client = p.newClient();
        p.onQuit(client::close);
        p.readStdin();
        if (kind.equals("shared-count")) {
            SharedCount count = new SharedCount(client, path, 0);
            count.start();
            PeerSupport.out("READY " + p.id);
            p.gate();
            for (int i = 0; i < iterations; i++) {
                while (true) {
                    VersionedValue<Integer> v = count.getVersionedValue();
                    if (count.trySetCount(v, v.getValue() + 1)) {
                        PeerSupport.out("VALUE " + p.id + " " + (v.getValue() + 1));
                        break;
                    }
                }
            }
            count.close();
        } else if (kind.equals("atomic-long")) {
            DistributedAtomicLong value = new DistributedAtomicLong(client, path, new RetryNTimes(1_000, 1));
            PeerSupport.out("READY " + p.id);
            p.gate();
            for (int i = 0; i < iterations; i++) {
                AtomicValue<Long> r = value.increment();
                if (!r.succeeded()) {
                    throw new IllegalStateException("DistributedAtomicLong.increment gave up");
                }
                PeerSupport.out("VALUE " + p.id + " " + r.postValue());
            }
        } else {
            throw new IllegalArgumentException("--kind must be shared-count or atomic-long, not " + kind);
        }
        PeerSupport.out("DONE " + p.id);
        client.close();
    }
}
