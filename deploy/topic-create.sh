#!/bin/bash
# How fast a node creates topics: POST /topic/create of new names, one after another on one
# keep-alive connection (curl), on a fresh node. By hand only.
#
#   deploy/topic-create.sh [-j JAR] [-o "JVM OPTIONS"] [-w WARMUP] [-n COUNT] [-s]
#
# WARMUP creations first (default 300, unmeasured), then COUNT (default 500): prints the mean time
# per creation as curl sees it, the wall time, the node's CPU (user + system, /proc) per creation,
# how busy the whole machine was and the hypervisor's steal (time this VM's cores did not run; busy does
# not include it, both are shares of all the cores' time, as in every script here: deploy/measure.sh).
# -s also straces the node's syncs (msync, fsync, fdatasync) during
# the measured part and prints how many there were per creation and how long they took.
set -euo pipefail
. "$(dirname "$0")/measure.sh"
JAR=target/herald.jar JVM= WARMUP=300 COUNT=500 TRACE=
while getopts j:o:w:n:s opt; do
  case $opt in
    j) JAR=$OPTARG ;; o) JVM=$OPTARG ;; w) WARMUP=$OPTARG ;; n) COUNT=$OPTARG ;; s) TRACE=1 ;;
    *) sed -n '2,/^set/p' "$0" | grep '^#'; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/topic-create-XXXX)
NODE= ST=
trap '[ -n "$ST" ] && kill $ST 2>/dev/null; [ -n "$NODE" ] && kill $NODE 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
java $JVM -jar "$JAR" --data-path "$WORK/data" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >"$WORK/node.log" 2>&1 &
NODE=$!
HTTP=$(listening "$WORK/node.log")
urls() { for i in $(seq "$2"); do printf 'url = "http://%s/topic/create?topic=%s%d"\noutput = /dev/null\n' "$HTTP" "$1" "$i"; done; }
urls w "$WARMUP" >"$WORK/warm.cfg"
urls m "$COUNT" >"$WORK/measured.cfg"
[ "$WARMUP" -gt 0 ] && curl -sf -X POST -K "$WORK/warm.cfg" -w '%{http_code}\n' | grep -vc '^200$' | sed 's/^/warm-up: not 200: /' || true
if [ -n "$TRACE" ]; then
  strace -f -T -e trace=fsync,fdatasync,msync -o "$WORK/syncs" -p "$NODE" 2>/dev/null &
  ST=$!
  sleep 2
fi
c0=$(ticks "$NODE") m0=$(machine) t0=$(date +%s.%N)
curl -s -X POST -K "$WORK/measured.cfg" -w '%{http_code} %{time_total}\n' >"$WORK/times"
t1=$(date +%s.%N) c1=$(ticks "$NODE") m1=$(machine)
awk '$1 != 200 { bad++ } { s += $2 } END { printf "creations: %d (not 200: %d), mean %.2f ms each as curl sees it\n", NR, bad, s / NR * 1000 }' "$WORK/times"
awk -v a="$t0" -v b="$t1" -v n="$COUNT" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v m="$(machine_share "$m0" "$m1")" \
  'BEGIN { printf "wall %.2f s: %.0f creations/s; node CPU %.2f ms per creation; machine %s\n", b - a, n / (b - a), c / hz * 1000 / n, m }'
if [ -n "$TRACE" ]; then
  kill $ST; wait $ST 2>/dev/null || true; ST=
  grep -oE '^[0-9]+ +(fsync|fdatasync|msync)' "$WORK/syncs" | awk '{print $2}' | sort | uniq -c | awk -v n="$COUNT" '{ printf "%s: %d (%.2f per creation)\n", $2, $1, $1 / n }'
  grep -oE '<[0-9.]+>$' "$WORK/syncs" | tr -d '<>' | sort -n | awk '{ a[NR] = $1; s += $1 } END { if (NR) printf "sync calls: mean %.2f ms, median %.2f ms, max %.2f ms (under strace)\n", s / NR * 1000, a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }'
fi
