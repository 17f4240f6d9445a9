// Curator GroupMember. Usage:
//   CuratorGroupMember --connect CS --path GROUP --id ID [--payload TEXT] [--session-timeout-ms MS]
// Joins the group (ephemeral GROUP/ID holding the payload, UTF-8), prints READY <id>, then answers
// on stdin:
//   who    -> MEMBERS <id> <id=payload,...> (Curator's getCurrentMembers, sorted by id)
//   leave  -> closes the GroupMember (its node is deleted), prints LEFT <id>
// `quit` or end of input closes the client (the member's node goes with the session).

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.GroupMember;

public final class CuratorGroupMember {
    private static volatile GroupMember member;
    private static volatile String id;

    public static void main(String[] args) {
        PeerSupport p = PeerSupport.start("CuratorGroupMember", args);
        try {
            id = p.id;
            CuratorFramework client = p.newClient();
            p.onQuit(client::close);
            byte[] payload = p.get("payload", "").getBytes(StandardCharsets.UTF_8);
            member = new GroupMember(client, p.require("path"), p.id, payload);
            member.start();
            p.readStdin(CuratorGroupMember::command, Set.of("who", "leave"));
            PeerSupport.out("READY " + p.id);
            // Commands arrive on the stdin thread; `quit` exits from there.
            Thread.currentThread().join();
        } catch (Throwable e) {
            p.fail(e);
        }
    }

    private static void command(String c) {
        if (c.equals("who")) {
            Map<String, byte[]> members = new TreeMap<>(member.getCurrentMembers());
            StringBuilder line = new StringBuilder();
            for (Map.Entry<String, byte[]> e : members.entrySet()) {
                if (line.length() > 0) {
                    line.append(',');
                }
                line.append(e.getKey()).append('=').append(new String(e.getValue(), StandardCharsets.UTF_8));
            }
            PeerSupport.out("MEMBERS " + id + " " + line);
        } else if (c.equals("leave")) {
            member.close();
            PeerSupport.out("LEFT " + id);
        }
    }
}
