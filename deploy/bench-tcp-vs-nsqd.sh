#!/bin/bash
# Herald beside nsqd over NSQ's TCP protocol, driven alternately by the same `herald bench --tcp`
# (by hand; figures in docs/performance.md). Usage:
#   deploy/bench-tcp-vs-nsqd.sh /path/to/nsqd [target/herald.jar] [rounds]
set -euo pipefail
NSQD=${1:?path to an nsqd binary}
JAR=${2:-target/herald.jar}
ROUNDS=${3:-2}
WORK=$(mktemp -d /tmp/bench-tcp-XXXX)
mkdir -p "$WORK/nsqd"
"$NSQD" --data-path="$WORK/nsqd" --http-address=127.0.0.1:0 --tcp-address=127.0.0.1:4250 >"$WORK/nsqd.log" 2>&1 &
NSQD_PID=$!
java -Xmx1g -jar "$JAR" --data-path "$WORK/herald" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:4350 >"$WORK/herald.log" 2>&1 &
HERALD_PID=$!
# Both servers stopped and their journals removed at the end, also on Ctrl-C (INT) or TERM.
trap 'kill $NSQD_PID $HERALD_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM
. "$(dirname "$0")/measure.sh"
listening "$WORK/herald.log" >/dev/null
uptime
for round in $(seq "$ROUNDS"); do
  for server in nsqd:4250 herald:4350; do
    name=${server%%:*}; port=${server##*:}
    echo "== round $round, $name, MPUB x 100, 32 publishers"
    java -jar "$JAR" bench --tcp 127.0.0.1:$port --topic mpub$round --duration 10s --batch 100 --publishers 32 2>/dev/null \
      | grep -E '^(published|ack latency|errors):'
    echo "== round $round, $name, 8 MPUB publishers + 4 consumers"
    java -jar "$JAR" bench --tcp 127.0.0.1:$port --topic consume$round --duration 10s --batch 100 --publishers 8 --consumers 4 --rdy 1000 2>/dev/null \
      | grep -E '^(published|consumed|verify|errors):'
  done
done
uptime
