// Curator LeaderLatch participant. Usage:
//   CuratorLatch --connect CS --path LATCH --id ID [--session-timeout-ms MS] [--connection-timeout-ms MS]
// Prints READY <id> once the latch's node exists, then LEADER <id> <micros> / NOT_LEADER <id> <micros>
// on every change (LeaderLatchListener; NOT_LEADER is also printed just before a bounce or quit
// closes a latch that leads). Commands on stdin:
//   who     -> PARTICIPANTS <id,id,...> (latch order), HAS_LEADERSHIP <id> true|false,
//              LEADER_IS <id> (or LEADER_IS - when there is none), in that order
//   bounce  -> closes the latch and the CuratorFramework, starts fresh ones, prints BOUNCED <id>
//              once the new latch node exists
//   quit    -> closes them, prints BYE <id>, exits 0 (also on end of input)

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.Participant;

public final class CuratorLatch {
    private static PeerSupport p;
    private static String path;
    // Only the main thread (before stdin is read) and the stdin thread touch these two.
    private static volatile CuratorFramework client;
    private static volatile LeaderLatch latch;
    /**
     * Guards the two below. Never held while calling into Curator: LeaderLatch calls its
     * listeners holding its own monitor, and close() takes that monitor.
     */
    private static final Object LEADERSHIP = new Object();
    /** Bumped on every close: a listener of an older latch is ignored. */
    private static int generation;
    private static boolean leader;

    public static void main(String[] args) {
        p = PeerSupport.start("CuratorLatch", args);
        try {
            path = p.require("path");
            p.onQuit(CuratorLatch::closeAll);
            startFresh();
            p.readStdin(CuratorLatch::command, Set.of("who", "bounce"));
            PeerSupport.out("READY " + p.id);
            Thread.currentThread().join();
        } catch (Throwable e) {
            p.fail(e);
        }
    }

    private static void setLeader(int gen, boolean on) {
        synchronized (LEADERSHIP) {
            if (gen != generation || on == leader) {
                return;
            }
            leader = on;
            PeerSupport.out((on ? "LEADER " : "NOT_LEADER ") + p.id + " " + PeerSupport.micros());
        }
    }

    private static void startFresh() throws Exception {
        int gen;
        synchronized (LEADERSHIP) {
            gen = generation;
        }
        client = p.newClient();
        latch = new LeaderLatch(client, path, p.id);
        latch.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                setLeader(gen, true);
            }

            @Override
            public void notLeader() {
                setLeader(gen, false);
            }
        });
        latch.start();
        // READY and BOUNCED mean the participant's node exists (start() creates it in the background).
        long deadline = System.nanoTime() + p.getInt("connection-timeout-ms", 15_000) * 1_000_000L;
        while (latch.getOurPath() == null) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the latch node was not created");
            }
            Thread.sleep(2);
        }
    }

    private static void closeAll() {
        synchronized (LEADERSHIP) {
            setLeader(generation, false);
            generation++;
        }
        try {
            latch.close();
        } catch (Exception e) {
            e.printStackTrace();
        }
        client.close();
    }

    private static void command(String c) {
        try {
            if (c.equals("bounce")) {
                closeAll();
                startFresh();
                PeerSupport.out("BOUNCED " + p.id);
            } else {
                List<String> ids = new ArrayList<>();
                for (Participant part : latch.getParticipants()) {
                    ids.add(part.getId());
                }
                String current = latch.getLeader().getId();
                PeerSupport.out("PARTICIPANTS " + String.join(",", ids));
                PeerSupport.out("HAS_LEADERSHIP " + p.id + " " + latch.hasLeadership());
                PeerSupport.out("LEADER_IS " + (current.isEmpty() ? "-" : current));
            }
        } catch (Throwable e) {
            p.fail(e);
        }
    }
}
