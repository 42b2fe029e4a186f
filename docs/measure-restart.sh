#!/usr/bin/env bash
# Measures what a crash costs a member of a context that scales out: a devbroker and the README's
# three services on this machine, `orderflow load` for a while (the history), then the inventory
# service killed with SIGKILL and started again on its database. Prints the history's size, the
# time from the restart to /readyz and to the first order VALIDATED after it. Then a new member of
# inventory and one of the checks service join with empty databases: prints how long each took to
# restore from its context's changelog, to be ready (/readyz), and to take its share of the
# partitions over (their log's "took partitions over"), and how many events its log holds then.
# Last, a new member of the orders side and a new API replica, each ready after its first copy
# of the topics (--seed-from none), then a new API replica, a new checks service and a new
# orders-side member started as anyone would (--seed-from auto, the default): each finds a running
# service of its contexts on the members topic and starts from a backup of its database (the
# backup it fetches counted in its time).
#
# usage: docs/measure-restart.sh DURATION [CLIENTS]   (e.g. 2s for ~20k events, 150s 64 for ~1M)
set -euo pipefail
D=${1:?usage: docs/measure-restart.sh DURATION [CLIENTS]}
CLIENTS=${2:-64}
BIN=$(mktemp -d)/orderflow
go build -o "$BIN" "$(dirname "$0")/.."
W=$(mktemp -d)
trap 'pkill -f "$W" || true' EXIT
B=127.0.0.1:29092
"$BIN" devbroker --addr $B --data "$W/broker" > "$W/broker.log" 2>&1 &
sleep 1
K="--transport kafka --kafka-brokers $B"
"$BIN" $K --contexts api,orders,catalog,customers,payments --db "$W/api.db" --addr 127.0.0.1:28080 > "$W/api.log" 2>&1 &
"$BIN" $K --contexts inventory --db "$W/inv.db" --addr 127.0.0.1:28081 > "$W/inv.log" 2>&1 &
"$BIN" $K --contexts fraud,customercheck,notifications --db "$W/checks.db" --addr 127.0.0.1:28082 > "$W/checks.log" 2>&1 &
sleep 3
"$BIN" load --target http://127.0.0.1:28080 --clients "$CLIENTS" --duration "$D" --products 50 > "$W/load.log" 2>&1
echo "history: $(curl -s 127.0.0.1:28080/metrics | awk '/^orderflow_log_head_position /{print $2}') events in the api service's log"
gql() { curl -s 127.0.0.1:28080/graphql -H 'Content-Type: application/json' -d "$1"; }
gql '{"query":"mutation { registerCustomer(input: {id: \"m\", name: \"M\", email: \"m@example.com\", address: \"1 St\"}) { id } }"}' > /dev/null
gql '{"query":"mutation { upsertProduct(input: {id: \"mp\", name: \"MP\", priceCents: 100}) { id } }"}' > /dev/null
gql '{"query":"mutation { addStock(productId: \"mp\", quantity: 100) { onHand } }"}' > /dev/null
pkill -KILL -f "db $W/inv.db"
sleep 1
t0=$(date +%s.%N)
"$BIN" $K --contexts inventory --db "$W/inv.db" --addr 127.0.0.1:28081 > "$W/inv-restarted.log" 2>&1 &
until [ "$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:28081/readyz)" = 200 ]; do sleep 0.02; done
t1=$(date +%s.%N)
out=$(gql '{"query":"mutation { placeOrder(input: {id: \"after-restart\", customerId: \"m\", lines: [{productId: \"mp\", quantity: 1}]}, waitForValidation: true) { status } }"}')
t2=$(date +%s.%N)
echo "restart to /readyz: $(echo "$t1 - $t0" | bc) s; to the first order VALIDATED: $(echo "$t2 - $t0" | bc) s ($out)"

# New members, empty databases, one at a time: inventory and the checks restore from the
# changelogs and copy the topics from the watermarks on; a new member is ready (/readyz) once its
# first copy of the topics (what they held at its start) is in its log and its read models.
joined() { # NAME PORT T0: when it answered /readyz 200, its first copy, its log
  until [ "$(curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:$2/readyz)" = 200 ]; do sleep 0.02; done
  echo "new $1 ready after $(echo "$(date +%s.%N) - $3" | bc) s; first copy $(grep -o 'first copy of the topics done.*took=[0-9.a-zµ]*' "$W/$1.log" | grep -o 'took=.*'); its log $(curl -s 127.0.0.1:$2/metrics | awk '/^orderflow_log_head_position /{print $2}') events"
}
t0=$(date +%s.%N)
"$BIN" $K --contexts inventory --db "$W/inv-new.db" --addr 127.0.0.1:28083 > "$W/inv-new.log" 2>&1 &
joined inv-new 28083 "$t0"
t0=$(date +%s.%N)
"$BIN" $K --contexts fraud,customercheck,notifications --db "$W/checks-new.db" --addr 127.0.0.1:28084 --seed-from none > "$W/checks-new.log" 2>&1 &
joined checks-new 28084 "$t0"
# They take their partitions over when orders reach them.
"$BIN" load --target http://127.0.0.1:28080 --clients 8 --duration 2s --products 50 > "$W/load-after.log" 2>&1
for name in inv-new checks-new; do
  echo "$name: $(grep -o 'restored its state from the changelog.*' "$W/$name.log" | head -2 | tr '\n' ' ')"
  echo "$name: $(grep -o 'took partitions over.*' "$W/$name.log" | head -2 | tr '\n' ' ')"
done
echo "events in the new inventory member's log: $(curl -s 127.0.0.1:28083/metrics | awk '/^orderflow_log_head_position /{print $2}'), the old one's: $(curl -s 127.0.0.1:28081/metrics | awk '/^orderflow_log_head_position /{print $2}')"
# A new member is stopped once measured and its database removed: what it wrote leaves the page
# cache, as it would be on a machine of its own. (This VM backs memory it has not used before at
# about 400 MB/s, so a copy of hundreds of MB written into fresh memory takes seconds more.)
done_with() { pkill -TERM -f "db $W/$1.db" || true; sleep 1; rm -f "$W/$1.db" "$W/$1.db-wal" "$W/$1.db-shm"; }
done_with inv-new
done_with checks-new
# A new member of orders, payments, customers and catalog, then a new API replica: they copy
# their families whole (the replica every family, stage by stage, and replays its read models).
t0=$(date +%s.%N)
"$BIN" $K --contexts orders,catalog,customers,payments --db "$W/orders-new.db" --addr 127.0.0.1:28085 --seed-from none > "$W/orders-new.log" 2>&1 &
joined orders-new 28085 "$t0"
done_with orders-new
t0=$(date +%s.%N)
"$BIN" $K --contexts api --db "$W/api-new.db" --addr 127.0.0.1:28086 --seed-from none > "$W/api-new.log" 2>&1 &
joined api-new 28086 "$t0"
done_with api-new
# New members started with the default --seed-from auto: each reads the members topic, where the
# running services said where they serve, and fetches a backup of the database of one that runs
# all of its contexts (an API replica and the orders side from the API service, which holds every
# family; the checks from the checks service) over HTTP (GET /admin/backup) into its empty --db,
# then copies only what came after it; the time to ready counts finding it, the backup and its
# transfer.
seeded() { # NAME CONTEXTS SOURCE-PORT PORT SOURCE (the service it should seed from)
  local t0
  t0=$(date +%s.%N)
  "$BIN" $K --contexts "$2" --db "$W/$1.db" --addr 127.0.0.1:$4 > "$W/$1.log" 2>&1 &
  joined "$1" "$4" "$t0"
  grep -q "from=http://127.0.0.1:$3 " "$W/$1.log" || echo "  ($1 was not seeded from the service at :$3)"
  echo "($(grep -o 'seeded the database from a running process.*' "$W/$1.log" | grep -o 'from=[^ ]*\|bytes=[0-9]* .*' | tr '\n' ' ' ); sender: $(grep -o 'sent a backup of the database.*' "$W/$5.log" | tail -1 | grep -o 'copied_in=[0-9.a-zµ]*'))"
  done_with "$1"
}
seeded api-seeded api 28080 28087 api
seeded checks-seeded fraud,customercheck,notifications 28082 28088 checks
seeded orders-seeded orders,catalog,customers,payments 28080 28089 api
