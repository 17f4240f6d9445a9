"""Shared plumbing of the kazoo contenders (protocol in tests/peers/README.md): the stdout line
protocol, the stdin command reader, the common arguments, the client, and the error exit."""

import argparse
import os
import queue
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
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


def arg_parser(prog):
    """The arguments every contender takes; callers add their own."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--connect", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--session-timeout-ms", type=int, default=10000)
    p.add_argument("--connection-timeout-ms", type=int, default=15000)
    return p


def connect(args, command_retry=None):
    """A started KazooClient: unlimited connection retries, and `command_retry` (default:
    unlimited tries up to 1 s apart) for commands."""
    zk = KazooClient(
        hosts=args.connect,
        timeout=args.session_timeout_ms / 1000.0,
        connection_retry=KazooRetry(max_tries=-1, max_delay=1.0),
        command_retry=command_retry or KazooRetry(max_tries=-1, max_delay=1.0),
    )
    zk.start(timeout=args.connection_timeout_ms / 1000.0)
    return zk


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


def run(main):
    """Runs main(argv); an exception prints ERROR <id> <message> and exits 1, else exit 0."""
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
