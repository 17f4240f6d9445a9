#!/usr/bin/env bash
# User-space instructions per request of each Rust client, counted by valgrind's callgrind:
# repeatable whatever else the machine is doing, unlike CPU time (the kernel's share, the same
# system calls for every client that batches alike, is not counted).
#
#   zk-bench/scripts/instructions.sh [CLIENT...]      (default: raw zk-dsl zk-dsl-deque zk-dsl-tasks)
#
# A CLIENT may be BINARY:CLIENT, to compare two builds against one server, alternating:
#   zk-bench/scripts/instructions.sh /tmp/old:zk-dsl-deque target/release/zk-bench:zk-dsl-deque ...
#
# Starts the benchmark's own server (an orchestrator run of the raw client, whose worker is then
# paused so the server is idle), then runs each client's worker under callgrind for 4 s of
# `get 100B n=100` (or N) with no warm-up, and prints total instructions / requests. BIN picks the
# zk-bench binary (default: target/release/zk-bench, built first); KEEP=DIR keeps each run's
# callgrind output there (DIR/<n>-<client>.out) for callgrind_annotate; N=1 (or any) sets the
# requests outstanding (default 100).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v valgrind > /dev/null || { echo "needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  cargo build -q -p zk-bench --release
  BIN=target/release/zk-bench
fi
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(raw zk-dsl zk-dsl-deque zk-dsl-tasks)
work=$(mktemp -d)
"$BIN" --only 'get 100B n=100' --clients raw --rounds 1 --warmup 1 --measure 900 --no-memory \
  --out "$work/server-run" > "$work/server-run.log" 2>&1 &
orchestrator=$!
worker=""
# The paused worker is killed outright (a stopped process would hold a pending TERM forever).
trap 'kill -9 $worker 2> /dev/null; kill $orchestrator 2> /dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  worker=$(pgrep -f " worker raw( |\$)" | head -1 || true)
  [ -n "$worker" ] && break
  sleep 0.2
done
[ -n "$worker" ] || { cat "$work/server-run.log" >&2; echo "no server came up" >&2; exit 1; }
sleep 2
kill -STOP "$worker"
# The server's port: the far end of the paused worker's connection (other servers may be running).
port=$(ss -tnp | awk -v me="pid=$worker," 'index($0, me) { n = split($5, a, ":"); print a[n]; exit }')
[ -n "$port" ] || { echo "cannot find the server's port" >&2; exit 1; }
spec="workload=get connect=127.0.0.1:$port payload=100 outstanding=${N:-100} sessions=1 warmup_ms=0 measure_ms=4000"
spec+=" data_root=/zkb/data-100 keys=1000 children_path=/zkb/children-10 eph_root=/zkb/eph tag=cg multi_ops=1 count=100"
printf '%-40s %14s %10s %16s\n' client instructions requests instr/request
run=0
for entry in "${clients[@]}"; do
  bin=$BIN client=$entry
  if [[ $entry == *:* ]]; then bin=${entry%:*} client=${entry##*:}; fi
  out="$work/callgrind.out"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; out="$KEEP/$((++run))-${client}.out"; fi
  ops=$(echo "$spec" | valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" worker "$client" 2> /dev/null |
    tail -1 | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["ops"])')
  total=$(callgrind_annotate "$out" 2> /dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-40s %14s %10s %16s\n' "$entry" "$total" "$ops" "$((total / ops))"
done
