"""kazoo Party / ShallowParty member.

Usage:
  kazoo_party.py --connect CS --path PARTY --id ID [--shallow]
                 [--session-timeout-ms MS] [--connection-timeout-ms MS]

Joins zk.Party(path, identifier=id) (node <uuid hex>__party__ holding the identifier) or, with
--shallow, zk.ShallowParty (node <uuid hex>-<identifier>), prints READY <id>, then answers on stdin:
  who    -> MEMBERS <id> <identifier,...> (list(party), sorted)
  leave  -> party.leave(), prints LEFT <id>
`quit` or end of stdin closes the client, prints BYE <id> and exits 0. Errors print
ERROR <id> <message> and exit 1.
"""

from peer_support import Commands, arg_parser, connect, out, run


def parse_args(argv):
    p = arg_parser("kazoo_party.py")
    p.add_argument("--shallow", action="store_true")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    zk = connect(args)
    commands = Commands(args.id)
    commands.on_quit = lambda: (zk.stop(), zk.close())
    if args.shallow:
        party = zk.ShallowParty(args.path, identifier=args.id)
    else:
        party = zk.Party(args.path, identifier=args.id)
    party.join()
    out("READY " + args.id)
    while True:
        command = commands.queue.get()
        if command == "who":
            out("MEMBERS %s %s" % (args.id, ",".join(sorted(party))))
        elif command == "leave":
            party.leave()
            out("LEFT " + args.id)
        else:
            raise RuntimeError("unknown command %s" % command)


if __name__ == "__main__":
    run(main)
