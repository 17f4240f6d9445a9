"""kazoo Counter contender: the same protocol as tests/peers/java/CuratorCounter.java.

Usage:
  kazoo_counter.py --connect CS --path NODE --id ID [--iterations N]
                   [--session-timeout-ms MS] [--connection-timeout-ms MS] [--gate]

Uses kazoo.recipe.counter.Counter(path, support_curator=True): a 4-byte big-endian int, the
format of Curator's SharedCount and zk-dsl's SharedCount; each `counter += 1` is a get and a
set at the read version, retried by the client's command retry policy on BadVersion (kazoo raises
ForceRetryError). That policy is configured here as the README advises for contended counters:
unlimited tries, 2 ms first delay doubling to at most 100 ms (kazoo's default starts at 100 ms).

Prints READY <id>; then N increments by one, each printing VALUE <id> <new value>; then DONE <id>.
--gate waits for `go` on stdin after READY. `quit` or end of stdin closes the client, prints
BYE <id> and exits 0. Errors print ERROR <id> <message> and exit 1.
"""

from kazoo.retry import KazooRetry

from kazoo_lock import Commands, base_parser, out, run, start_client


def parse_args(argv):
    p = base_parser("kazoo_counter.py")
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--gate", action="store_true")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    zk = start_client(args, KazooRetry(max_tries=-1, delay=0.002, backoff=2, max_delay=0.1))
    commands = Commands(args.id)
    commands.on_quit = lambda: (zk.stop(), zk.close())
    counter = zk.Counter(args.path, support_curator=True)
    out("READY " + args.id)
    if args.gate:
        commands.await_command("go")
    for _ in range(args.iterations):
        counter += 1
        out("VALUE %s %d" % (args.id, counter.post_value))
    out("DONE " + args.id)
    zk.stop()
    zk.close()


if __name__ == "__main__":
    run(main)
