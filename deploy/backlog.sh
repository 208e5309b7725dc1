#!/bin/bash
# The two backlog rows of issue 13 (docs/performance.md), on a fresh node each. By hand only: needs
# nsq's tools and wrk.
#
#   deploy/backlog.sh [-j JAR] [-n NSQ_BIN] [-o "JVM OPTIONS"] [-f FILL_SECONDS] [-b BACKLOG] [-r READ_SECONDS] [-c CHANNELS] drain|restart
#
# drain    java -Xmx512m (-o), topic t with CHANNELS channels (default 3) made first, wrk -t2 -c16 /mpub of
#          100 x 200-byte messages, no consumer, until each channel holds BACKLOG messages (default 2,500,000)
#          or for FILL_SECONDS (default 40); then nsq's bench_reader (2 TCP connections, RDY 2500, a FIN
#          each) for READ_SECONDS (default 5) on each channel in turn: the first drain is the node's first
#          delivery (cold), the others warm. Prints each drain's msgs/s, the node's CPU (user + system,
#          /proc) per consumed message, how busy the whole machine was and how much of its time the
#          hypervisor took (steal: the CPU this VM was denied, which slows a drain without showing in
#          "busy"); a drain that empties its channel says so (its rate is then a lower bound).
# restart  java with no options (-o), herald bench --publishers 16 --batch 100 for FILL_SECONDS (default
#          25) into topic t with one channel, no consumer; SIGTERM; the same command again: seconds from the
#          second java's start to /ping answering 200, and to the first message over NSQ TCP (nsq_tail -n 1),
#          with how busy the machine was and its steal.
# Busy does not include steal; both are shares of all the cores' time, as in every script here
# (deploy/measure.sh).
set -euo pipefail
. "$(dirname "$0")/measure.sh"
JAR=target/herald.jar NSQ=/work/nsq/bin JVM= FILL= BACKLOG=2500000 READ=5 CHANNELS=3
while getopts j:n:o:f:b:r:c: opt; do
  case $opt in
    j) JAR=$OPTARG ;; n) NSQ=$OPTARG ;; o) JVM=$OPTARG ;; f) FILL=$OPTARG ;; b) BACKLOG=$OPTARG ;; r) READ=$OPTARG ;; c) CHANNELS=$OPTARG ;;
    *) sed -n '2,/^set/p' "$0" | grep '^#'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
MODE=${1:?drain or restart}
WORK=$(mktemp -d /tmp/backlog-XXXX)
NODE=
trap '[ -n "$NODE" ] && kill $NODE 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

start() { # starts the node on $WORK/data; sets NODE, HTTP, TCP
  : >"$WORK/node.log"
  java $JVM -jar "$JAR" --data-path "$WORK/data" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >"$WORK/node.log" 2>&1 &
  NODE=$!
  HTTP=$(listening "$WORK/node.log")
  TCP=$(tcp_address "$WORK/node.log")
}
depth() { curl -s "http://$HTTP/stats?format=json&topic=t&channel=$1" | jq '.topics[0].channels[0].depth'; }
channels() { curl -sf -X POST "http://$HTTP/topic/create?topic=t" >/dev/null; for i in $(seq "$CHANNELS"); do curl -sf -X POST "http://$HTTP/channel/create?topic=t&channel=c$i" >/dev/null; done; }

case $MODE in
drain)
  JVM=${JVM:--Xmx512m} FILL=${FILL:-40}
  start
  channels
  awk 'BEGIN { for (i = 0; i < 100; i++) printf "%s%s", (i ? "\n" : ""), sprintf("%200s", "") }' | tr ' ' x >"$WORK/body"
  printf 'wrk.method = "POST"\nlocal f = io.open("%s"); wrk.body = f:read("*a"); f:close()\nwrk.path = "/mpub?topic=t"\n' "$WORK/body" >"$WORK/mpub.lua"
  wrk -t2 -c16 -d"${FILL}s" -s "$WORK/mpub.lua" "http://$HTTP" >"$WORK/wrk.out" &
  WRK=$! t0=$(date +%s.%N)
  while kill -0 $WRK 2>/dev/null && [ "$(depth c1)" -lt "$BACKLOG" ]; do sleep 0.2; done
  kill -INT $WRK 2>/dev/null || true; wait $WRK || true
  awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$(depth c1)" 'BEGIN { printf "fill: %d messages in %.1f s, %.0f msgs/s\n", n, b - a, n / (b - a) }'
  for i in $(seq "$CHANNELS"); do
    before=$(depth "c$i") c0=$(ticks "$NODE") m0=$(machine)
    "$NSQ/bench_reader" --nsqd-tcp-address "$TCP" --topic t --channel "c$i" --runfor "${READ}s" 2>&1 | grep -oE '[0-9.]+ops/s' | sed "s/^/drain c$i: bench_reader /"
    c1=$(ticks "$NODE") m1=$(machine) after=$(depth "c$i")
    if [ "$after" -eq 0 ]; then echo "drain c$i: emptied the channel"; fi
    awk -v n=$((before - after)) -v s="$READ" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v m="$(machine_share "$m0" "$m1")" \
      'BEGIN { printf "drain c%d: %d consumed, %.0f msgs/s by depth, node %.2f us/msg, machine %s\n", '"$i"', n, n / s, c / hz * 1e6 / n, m }'
  done
  ;;
restart)
  FILL=${FILL:-25}
  start
  channels
  java -jar "$JAR" bench --http "$HTTP" --topic t --publishers 16 --batch 100 --duration "${FILL}s" 2>&1 | grep '^published:' | sed 's/^/fill: /'
  echo "backlog: $(depth c1) messages; journal $(du -sh "$WORK/data/journal" | cut -f1)"
  kill -TERM "$NODE"; wait "$NODE" || true
  t0=$(date +%s.%N) m0=$(machine)
  start
  until curl -sf "http://$HTTP/ping" >/dev/null; do sleep 0.02; done
  t1=$(date +%s.%N)
  "$NSQ/nsq_tail" --nsqd-tcp-address "$TCP" --topic t --channel c1 -n 1 >/dev/null 2>&1
  t2=$(date +%s.%N) m1=$(machine) c1=$(ticks "$NODE")
  read -r bb0 _ _ <<<"$m0"; read -r bb1 _ _ <<<"$m1"
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v bb=$((bb1 - bb0)) -v m="$(machine_share "$m0" "$m1")" -v n="$c1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "restart: /ping %.2f s, first message over TCP %.2f s after java starts; machine %s, the node %.0f%% of its busy (%.1f s CPU)\n", b - a, c - a, m, 100 * n / bb, n / hz }'
  ;;
*) echo "drain or restart" >&2; exit 2 ;;
esac
