// Curator LeaderSelector participant (autoRequeue). Usage:
//   CuratorSelector --connect CS --path PATH --id ID [--session-timeout-ms MS] [--connection-timeout-ms MS]
// Prints READY <id>, then LEADER <id> <micros> when takeLeadership starts and NOT_LEADER <id>
// <micros> when it ends. Leadership is held until `yield` on stdin (or until Curator cancels it on
// SUSPENDED/LOST); the selector then requeues. Commands: who (as CuratorLatch: PARTICIPANTS,
// HAS_LEADERSHIP, LEADER_IS), yield, quit (also end of input).

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Semaphore;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;

public final class CuratorSelector {
    public static void main(String[] args) {
        PeerSupport p = PeerSupport.start("CuratorSelector", args);
        try {
            run(p);
        } catch (Throwable e) {
            p.fail(e);
        }
    }

    private static void run(PeerSupport p) throws Exception {
        CuratorFramework client = p.newClient();
        Semaphore yields = new Semaphore(0);
        LeaderSelector selector = new LeaderSelector(client, p.require("path"), new LeaderSelectorListenerAdapter() {
            @Override
            public void takeLeadership(CuratorFramework c) throws Exception {
                yields.drainPermits();
                PeerSupport.out("LEADER " + p.id + " " + PeerSupport.micros());
                try {
                    yields.acquire();
                } finally {
                    PeerSupport.out("NOT_LEADER " + p.id + " " + PeerSupport.micros());
                }
            }
        });
        selector.setId(p.id);
        selector.autoRequeue();
        p.onQuit(() -> {
            selector.close();
            client.close();
        });
        p.readStdin(c -> {
            try {
                if (c.equals("yield")) {
                    yields.release();
                } else {
                    List<String> ids = new ArrayList<>();
                    for (Participant part : selector.getParticipants()) {
                        ids.add(part.getId());
                    }
                    String current = selector.getLeader().getId();
                    PeerSupport.out("PARTICIPANTS " + String.join(",", ids));
                    PeerSupport.out("HAS_LEADERSHIP " + p.id + " " + selector.hasLeadership());
                    PeerSupport.out("LEADER_IS " + (current.isEmpty() ? "-" : current));
                }
            } catch (Throwable e) {
                p.fail(e);
            }
        }, Set.of("who", "yield"));
        selector.start();
        PeerSupport.out("READY " + p.id);
        Thread.currentThread().join();
    }
}
