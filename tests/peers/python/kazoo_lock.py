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

import argparse
import os
import queue
import random
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.recipe.lock import Lock
from kazoo.retry import KazooRetry

PROTOCOL_OUT = sys.stdout
# Keep stdout for the protocol: anything else (logging, warnings) goes to stderr.
sys.stdout = sys.stderr
OUT_LOCK = threading.Lock()


def out(line):
    with OUT_LOCK:
        PROTOCOL_OUT.write(line + "\n")
        PROTOCOL_OUT.flush()


def micros():
    return time.time_ns() // 1000


def base_parser(prog):
    """The arguments every contender takes (tests/peers/README.md)."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--connect", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--session-timeout-ms", type=int, default=10000)
    p.add_argument("--connection-timeout-ms", type=int, default=15000)
    return p


def start_client(args, command_retry=None):
    """A started KazooClient on --connect: connection retries unlimited (at most 1 s apart), and
    `command_retry` (default: unlimited, at most 1 s apart)."""
    zk = KazooClient(
        hosts=args.connect,
        timeout=args.session_timeout_ms / 1000.0,
        connection_retry=KazooRetry(max_tries=-1, max_delay=1.0),
        command_retry=command_retry or KazooRetry(max_tries=-1, max_delay=1.0),
    )
    zk.start(timeout=args.connection_timeout_ms / 1000.0)
    return zk


def parse_args(argv):
    p = base_parser("kazoo_lock.py")
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--counter")
    p.add_argument("--gate", action="store_true")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--extra-lock-patterns", default="-lock-")
    p.add_argument("--node-name", default="__lock__")
    return p.parse_args(argv)


class Commands:
    """stdin: `quit`/EOF closes and exits; other lines are queued for await_command."""

    def __init__(self, ident):
        self.ident = ident
        self.queue = queue.Queue()
        self.on_quit = lambda: None
        t = threading.Thread(target=self._read, name="stdin", daemon=True)
        t.start()

    def _read(self):
        try:
            for line in sys.stdin:
                line = line.strip()
                if line == "quit":
                    break
                if line:
                    self.queue.put(line)
        except Exception:
            traceback.print_exc()
        try:
            self.on_quit()
        except Exception:
            traceback.print_exc()
        out("BYE " + self.ident)
        os._exit(0)

    def await_command(self, expected):
        got = self.queue.get()
        if got != expected:
            raise RuntimeError("expected command %s, got %s" % (expected, got))


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
    zk = start_client(args)
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


def run(main):
    """Runs a contender's main(argv): an exception prints ERROR <id> <message> and exits 1; a
    normal end exits 0 (os._exit: kazoo's threads never hold the process open)."""
    try:
        main(sys.argv[1:])
    except Exception as e:
        traceback.print_exc()
        ident = "-"
        if "--id" in sys.argv[:-1]:
            ident = sys.argv[sys.argv.index("--id") + 1]
        out("ERROR %s %s" % (ident, repr(e).replace("\n", " ")))
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    run(main)
