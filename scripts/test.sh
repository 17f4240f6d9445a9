#!/usr/bin/env bash
# The whole test suite: installs ZooKeeper if missing, then runs every test of the workspace
# (unit, property, integration against real servers, doctests). Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-zookeeper.sh
exec cargo test --workspace --all-features "$@"
