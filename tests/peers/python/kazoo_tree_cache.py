"""kazoo TreeCache mirror: the same protocol as tests/peers/java/CuratorCacheMirror.java.

Usage:
  kazoo_tree_cache.py --connect CS --path ROOT --id ID [--session-timeout-ms MS]
                      [--connection-timeout-ms MS] [--dump-timeout-ms MS]

Builds a kazoo.recipe.cache.TreeCache on ROOT and prints READY <id> once it is initialized.
Commands on stdin: `dump <marker>` waits until the cache holds the node <marker> (up to
--dump-timeout-ms, default 60000), then prints NODE <path> <version> <hex data, - when empty>
per cached node, sorted by path, then END <id> <count>. `quit` or end of stdin closes the client,
prints BYE <id> and exits 0. Errors print ERROR <id> <message> and exit 1.
"""

import threading
import time

from kazoo.recipe.cache import TreeCache, TreeEvent

from peer_support import Commands, arg_parser, connect, out, run


def parse_args(argv):
    p = arg_parser("kazoo_tree_cache.py")
    p.add_argument("--dump-timeout-ms", type=int, default=60000)
    return p.parse_args(argv)


def walk(cache, path, nodes):
    """Every cached node under `path` (TreeCache has no flat view): (path, version, data)."""
    data = cache.get_data(path)
    if data is None:
        return
    nodes.append((path, data.stat.version if data.stat is not None else -1, data.data))
    for name in cache.get_children(path) or ():
        walk(cache, path.rstrip("/") + "/" + name, nodes)


def main(argv):
    args = parse_args(argv)
    zk = connect(args)
    cache = TreeCache(zk, args.path)
    initialized = threading.Event()

    def on_event(event):
        if event.event_type == TreeEvent.INITIALIZED:
            initialized.set()

    cache.listen(on_event)
    cache.start()
    timeout = args.dump_timeout_ms / 1000.0
    if not initialized.wait(timeout):
        raise RuntimeError("the cache did not initialize within %.0f s" % timeout)
    commands = Commands(args.id)
    commands.on_quit = lambda: (cache.close(), zk.stop(), zk.close())
    out("READY " + args.id)
    while True:
        command = commands.queue.get()
        if not command.startswith("dump "):
            raise RuntimeError("unknown command " + command)
        marker = command[5:].strip()
        deadline = time.monotonic() + timeout
        while cache.get_data(marker) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the cache never saw " + marker)
            time.sleep(0.005)
        nodes = []
        walk(cache, args.path, nodes)
        nodes.sort()
        lines = ["NODE %s %d %s" % (p, v, d.hex() if d else "-") for p, v, d in nodes]
        lines.append("END %s %d" % (args.id, len(nodes)))
        out("\n".join(lines))


if __name__ == "__main__":
    run(main)
