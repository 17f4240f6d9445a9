#!/usr/bin/env bash
# The whole test suite: installs ZooKeeper and the interop peers (Curator, kazoo) if missing, then
# runs every test of the workspace (unit, property, integration against real servers and real peer
# processes, doctests). Extra arguments go to cargo test.
set -euo pipefail
# One-shot build: without incremental caches a clean run needs about half the disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-zookeeper.sh
scripts/ensure-peers.sh
exec cargo test --workspace --all-features "$@"
