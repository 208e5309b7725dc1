#!/bin/bash
# e2e-bursts.sh OUTDIR [NODE JVM OPTIONS...]: issue 13's end-to-end run, traced, to find what stands still
# when requests are late. A fresh node (target/herald.jar, fresh data path), 10 s of the same load on
# topic "warm", then
#   herald bench --batch 100 --publishers 4 --rate 10000 --consumers 2 --rdy 1000 --duration 12s --warmup 5s
#                --slow-log OUTDIR/slow.txt
# with, over the bench, a system-wide scheduler and block trace (perf record -k CLOCK_MONOTONIC: the
# clock of --slow-log's due times and of -Xlog's timenanos) and both JVMs' safepoints and collections.
# The disk's own sync latency (deploy/fsync-floor.c, compiled to /tmp/fsync-floor) 6 s before and after.
# Then: deploy/e2e-bursts.py OUTDIR. Environment: JAR (default target/herald.jar), BENCH_JAVA (the bench
# JVM's options), PERF=0 (no trace).
set -u
OUT=$1; shift
JAR=${JAR:-target/herald.jar}
mkdir -p "$OUT"; W=$(mktemp -d)
[ -x /tmp/fsync-floor ] || cc -O2 -pthread -o /tmp/fsync-floor "$(dirname "$0")/fsync-floor.c"
/tmp/fsync-floor "$W/floor" --seconds 6 --mmap > "$OUT/floor-before.txt" 2>&1; rm -rf "$W/floor"
java "$@" -Xlog:safepoint,gc:file="$OUT/node-jvm.log":timenanos,uptime,tid -jar "$JAR" --data-path "$W/data" \
  --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 > "$OUT/node.log" 2>&1 &
P=$!; echo $P > "$OUT/node.pid"
trap 'kill $P 2>/dev/null; wait $P 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 200); do grep -qE 'http://127' "$OUT/node.log" && break; sleep 0.3; done
H=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$OUT/node.log" | head -1 | sed 's|http://||')
[ -z "$H" ] && { echo "no http address"; tail -5 "$OUT/node.log"; exit 1; }
LOAD="--http $H --batch 100 --publishers 4 --rate 10000 --consumers 2 --rdy 1000"
java ${BENCH_JAVA:-} -jar "$JAR" bench $LOAD --topic warm --duration 10s > /dev/null 2>&1
if [ "${PERF:-1}" = 1 ]; then
  perf record -q -a -k CLOCK_MONOTONIC -o "$OUT/perf.data" -e sched:sched_switch -e sched:sched_wakeup \
    -e sched:sched_wakeup_new -e sched:sched_migrate_task -e block:block_rq_issue -e block:block_rq_complete \
    -e jbd2:jbd2_start_commit -e jbd2:jbd2_end_commit 2> "$OUT/perf.err" &
  PP=$!; sleep 1
fi
date -u +%T > "$OUT/when"
java ${BENCH_JAVA:-} -Xlog:safepoint,gc:file="$OUT/bench-jvm.log":timenanos,uptime,tid -jar "$JAR" bench $LOAD \
  --topic e2e --duration 12s --warmup 5s --slow-log "$OUT/slow.txt" --slow-ms 5 > "$OUT/bench.txt" 2> "$OUT/bench.err" &
BP=$!; echo $BP > "$OUT/bench.pid"; wait $BP
[ "${PERF:-1}" = 1 ] && { kill -INT $PP; wait $PP; }
kill $P; wait $P 2>/dev/null
/tmp/fsync-floor "$W/floor" --seconds 6 --mmap > "$OUT/floor-after.txt" 2>&1
grep -E '^(ack latency|e2e latency|bench JVM)' "$OUT/bench.txt"
grep -h 'topic write: write' "$OUT/floor-before.txt" "$OUT/floor-after.txt"
