#!/usr/bin/env bash
# The seed README's tour (examples/tour.rs) against a real ZooKeeper. With no argument (and no
# ZK_CONNECT) the tour starts a throwaway server of its own, so this installs ZooKeeper first when
# it is missing; with a connection string it uses that server and installs nothing.
# Usage: scripts/tour.sh [host:port[,host:port...][/chroot]]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -eq 0 ] && [ -z "${ZK_CONNECT:-}" ]; then
    scripts/ensure-zookeeper.sh
fi
exec cargo run --example tour -- "$@"
