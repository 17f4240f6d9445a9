"""kazoo Lock contender: the same protocol as tests/peers/java/CuratorMutex.java.

Usage:
  kazoo_lock.py --connect CS --path LOCK --id ID [--iterations N] [--counter PATH]
                [--session-timeout-ms MS] [--connection-timeout-ms MS] [--gate] [--hold]
                [--extra-lock-patterns=P1,P2] [--node-name=NAME]

Prints READY <id>; then N times: ACQUIRED <id> <micros>, the non-atomic counter increment (or
1-3 ms of sleep without --counter), RELEASING <id> <micros>, release; then DONE <id>.
--extra-lock-patterns (comma-separated, default "-lock-" so Curator's _c_<uuid>-lock-<seq> nodes
count as contenders; "" for kazoo's default of none) and --node-name (default kazoo's "__lock__";
"-lock-" makes nodes Curator can order) configure kazoo.recipe.lock.Lock. --gate waits for `go` on
stdin after READY; --hold waits for `release` after each ACQUIRED. `quit` or end of stdin closes
the client, prints BYE <id> and exits 0. Errors print ERROR <id> <message> and exit 1.
"""

import random
import time

from kazoo.exceptions import NodeExistsError
from kazoo.recipe.lock import Lock

from peer_support import Commands, arg_parser, connect, micros, out, run

__all__ = ["Commands", "out", "micros"]  # also imported from here by older contenders


def parse_args(argv):
    p = arg_parser("kazoo_lock.py")
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--counter")
    p.add_argument("--gate", action="store_true")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--extra-lock-patterns", default="-lock-")
    p.add_argument("--node-name", default="__lock__")
    return p.parse_args(argv)


def read_counter(zk, path):
    data, _ = zk.get(path)
    text = data.decode("ascii").strip()
    return int(text) if text else 0


def increment_counter(zk, path):
    value = read_counter(zk, path)
    time.sleep(random.randint(1, 3) / 1000.0)
    zk.set(path, str(value + 1).encode("ascii"))


def main(argv):
    args = parse_args(argv)
    patterns = [p for p in args.extra_lock_patterns.split(",") if p]
    zk = connect(args)
    commands = Commands(args.id)
    commands.on_quit = lambda: (zk.stop(), zk.close())
    if args.counter:
        try:
            zk.create(args.counter, b"0", makepath=True)
        except NodeExistsError:
            pass

    class ContenderLock(Lock):
        _NODE_NAME = args.node_name
        _EXCLUDE_NAMES = sorted({"__lock__", args.node_name})

    lock = ContenderLock(zk, args.path, identifier=args.id, extra_lock_patterns=patterns)
    out("READY " + args.id)
    if args.gate:
        commands.await_command("go")
    for _ in range(args.iterations):
        lock.acquire()
        out("ACQUIRED %s %d" % (args.id, micros()))
        if args.hold:
            commands.await_command("release")
        if args.counter:
            increment_counter(zk, args.counter)
        else:
            time.sleep(random.randint(1, 3) / 1000.0)
        out("RELEASING %s %d" % (args.id, micros()))
        lock.release()
    out("DONE " + args.id)
    zk.stop()
    zk.close()


if __name__ == "__main__":
    run(main)
