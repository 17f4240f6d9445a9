// Curator DistributedDoubleBarrier member. Usage:
//   CuratorDoubleBarrier --connect CS --path P --id ID --members N [--rounds R]
//                        [--session-timeout-ms MS] [--gate]
// Round r uses the barrier path `<P>/round-<r>` (a fresh DistributedDoubleBarrier each round, so
// a round's `ready` node never meets the next round's members). For each round it prints
//   JOINED <id> <r> <micros>    before enter() starts
//   ENTERED <id> <r> <micros>   after enter() returned
//   LEAVING <id> <r> <micros>   before leave() starts
//   LEFT <id> <r> <micros>      after leave() returned
// then DONE <id> after the last round. Without --gate it runs rounds 0..R-1 back to back (with
// 1-3 ms of work inside). With --gate it prints READY <id> and takes the rounds from stdin:
// `join <r>` enters round r, and after ENTERED it waits for `leave` (`--rounds` is ignored).
//
// `die` on stdin (at any moment, also while blocked in enter() or leave()) kills the member:
// it prints DYING <id> <r> <micros>, closes the CuratorFramework (the session is closed, so the
// member's ephemeral node is gone at once, as when a crash is noticed), prints DIED <id> <r>
// <micros> and halts with status 3 without leaving. (Halting without the close would leave the
// node until the session expires, which only makes the others wait longer.)
// `quit` or end of input closes the client, prints BYE <id> and exits 0.

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.Set;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;

public final class CuratorDoubleBarrier {
    /** Set by `die` before the client is closed: the main thread's failure is then expected. */
    private static volatile boolean dying;

    public static void main(String[] args) throws InterruptedException {
        PeerSupport p = PeerSupport.start("CuratorDoubleBarrier", args);
        try {
            run(p);
        } catch (Throwable e) {
            if (dying) {
                // enter()/leave() failing on the closed client: the stdin thread halts us.
                Thread.sleep(Long.MAX_VALUE);
            }
            p.fail(e);
        }
        System.exit(0);
    }

    private static void run(PeerSupport p) throws Exception {
        String path = p.require("path");
        int members = p.getInt("members", 2);
        int rounds = p.getInt("rounds", 1);
        boolean gated = p.flag("gate");
        CuratorFramework client = p.newClient();
        AtomicInteger round = new AtomicInteger(-1);
        p.onQuit(client::close);
        p.readStdin(c -> {
            dying = true;
            PeerSupport.out("DYING " + p.id + " " + round.get() + " " + PeerSupport.micros());
            client.close();
            PeerSupport.out("DIED " + p.id + " " + round.get() + " " + PeerSupport.micros());
            Runtime.getRuntime().halt(3);
        }, Set.of("die"));
        PeerSupport.out("READY " + p.id);
        for (int i = 0; gated || i < rounds; i++) {
            int r = i;
            if (gated) {
                String c = p.commands.take();
                if (!c.startsWith("join ")) {
                    throw new IllegalStateException("expected `join <round>`, got " + c);
                }
                r = Integer.parseInt(c.substring(5).trim());
            }
            round.set(r);
            DistributedDoubleBarrier barrier = new DistributedDoubleBarrier(client, path + "/round-" + r, members);
            PeerSupport.out("JOINED " + p.id + " " + r + " " + PeerSupport.micros());
            if (!barrier.enter(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("round " + r + ": enter timed out");
            }
            PeerSupport.out("ENTERED " + p.id + " " + r + " " + PeerSupport.micros());
            if (gated) {
                p.awaitCommand("leave");
            } else {
                PeerSupport.briefWork();
            }
            PeerSupport.out("LEAVING " + p.id + " " + r + " " + PeerSupport.micros());
            if (!barrier.leave(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("round " + r + ": leave timed out");
            }
            PeerSupport.out("LEFT " + p.id + " " + r + " " + PeerSupport.micros());
        }
        PeerSupport.out("DONE " + p.id);
        client.close();
    }
}
