#!/usr/bin/env bash
# The split against one process, side by side in one run on this machine: the same
# `orderflow load` against one process, then against the README's three services on one
# devbroker (all processes and the load generator on the same cores, fresh databases,
# --durability full). Prints each load's summary and the CPU seconds each process spent during
# the load and its drain (from /proc), and CPU per settled order.
#
# usage: docs/measure-split.sh [LOAD FLAGS...]   (default: --clients 64 --duration 15s)
#
# With PROFILE=DIR, every process serves Go's profiler and a CPU profile of
# each is taken over the first 10 s of its load (DIR/one.pprof, DIR/api.pprof,
# DIR/inventory.pprof, DIR/checks.pprof, DIR/broker.pprof; read them with
# `go tool pprof -top BIN DIR/api.pprof`, BIN is copied to DIR/orderflow).
#
# SERVICE_FLAGS are added to the three services' flags (e.g.
# SERVICE_FLAGS="--kafka-fetch-linger 30ms"); the one process runs without them.
set -euo pipefail
FLAGS=("$@")
[ ${#FLAGS[@]} -gt 0 ] || FLAGS=(--clients 64 --duration 15s)
BIN=$(mktemp -d)/orderflow
go build -o "$BIN" "$(dirname "$0")/.."
W=$(mktemp -d)
PROF=()
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"; cp "$BIN" "$PROFILE/orderflow"; PROF=(--pprof)
fi
profile() { # name url: a CPU profile of the next 10 s, in the background
  [ -n "${PROFILE:-}" ] || return 0
  curl -sf -o "$PROFILE/$1.pprof" "$2/debug/pprof/profile?seconds=10" &
}
trap 'pkill -f "$W" || true' EXIT
tick=$(getconf CLK_TCK)
cpu() { awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$1/stat"; }
waitready() { # url pid log: waits for the process to be ready, or stops the run if it exited
  until curl -sf -o /dev/null "$1/readyz"; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "measure-split: the process for $1 exited before it was ready; its log ($3):" >&2
      tail -5 "$3" >&2
      exit 1
    fi
    sleep 0.1
  done
}
run_load() { # name pids... ; runs the load against :38080 and prints CPU per process
  local name=$1; shift
  declare -A before
  for p in "$@"; do before[$p]=$(cpu "$p"); done
  "$BIN" load --target http://127.0.0.1:38080 "${FLAGS[@]}" > "$W/$name.load" 2>&1
  grep -E "^(orders/s settled|placeOrder latency ms|placed.*VALIDATED ms|PENDING):" "$W/$name.load" | sed "s/^/  $name: /"
  local total=0 settled
  settled=$(awk '/orders\/s settled/{gsub(/[(]/,"",$4); print $4}' "$W/$name.load")
  for p in "$@"; do
    local d; d=$(echo "$(cpu "$p") - ${before[$p]}" | bc)
    total=$(echo "$total + $d" | bc)
    echo "  $name: CPU $(tr '\0' ' ' < /proc/$p/cmdline | grep -oE -- '--contexts [^ ]+|devbroker' | head -1 || echo 'all contexts'): ${d} s"
  done
  echo "  $name: CPU in all ${total} s for ${settled} settled orders: $(echo "scale=2; 1000 * $total / $settled" | bc) ms per order"
  # How long placeOrder waited for validation to catch up (admission), how
  # much group commit shared each synced commit and how long the log's
  # writer was busy (since the start), in the API's process.
  curl -sf http://127.0.0.1:38080/metrics | awk -v n="$name" '
    /^orderflow_admission_wait_seconds_(count|sum) /{a[$1]=$2}
    /^orderflow_writer_(commits|writes|busy_seconds)_total /{a[$1]=$2}
    END{printf "  %s: API admission waits %d, %.1f s in all; writer %d commits, %.1f writes per commit, busy %.1f s\n", n,
      a["orderflow_admission_wait_seconds_count"], a["orderflow_admission_wait_seconds_sum"],
      a["orderflow_writer_commits_total"], a["orderflow_writer_writes_total"]/(a["orderflow_writer_commits_total"]+1e-9),
      a["orderflow_writer_busy_seconds_total"]}' || true
}

echo "one process:"
"$BIN" --db "$W/one.db" --addr 127.0.0.1:38080 "${PROF[@]}" > "$W/one.log" 2>&1 &
one=$!
waitready http://127.0.0.1:38080 "$one" "$W/one.log"
profile one http://127.0.0.1:38080
run_load one "$one"
kill "$one"; wait "$one" || true

echo "split (api / inventory / checks / devbroker):"
B=127.0.0.1:39092
BPROF=()
[ -z "${PROFILE:-}" ] || BPROF=(--pprof 127.0.0.1:38083)
"$BIN" devbroker --addr $B --data "$W/broker" "${BPROF[@]}" > "$W/broker.log" 2>&1 &
broker=$!
sleep 1
K="--transport kafka --kafka-brokers $B ${PROF[*]} ${SERVICE_FLAGS:-}"
"$BIN" $K --contexts api,orders,catalog,customers,payments --db "$W/api.db" --addr 127.0.0.1:38080 > "$W/api.log" 2>&1 &
api=$!
"$BIN" $K --contexts inventory --db "$W/inv.db" --addr 127.0.0.1:38081 > "$W/inv.log" 2>&1 &
inv=$!
"$BIN" $K --contexts fraud,customercheck,notifications --db "$W/checks.db" --addr 127.0.0.1:38082 > "$W/checks.log" 2>&1 &
checks=$!
waitready http://127.0.0.1:38080 "$api" "$W/api.log"
waitready http://127.0.0.1:38081 "$inv" "$W/inv.log"
waitready http://127.0.0.1:38082 "$checks" "$W/checks.log"
profile api http://127.0.0.1:38080; profile inventory http://127.0.0.1:38081
profile checks http://127.0.0.1:38082; profile broker http://127.0.0.1:38083
run_load split "$api" "$inv" "$checks" "$broker"
