#!/bin/bash
# e2e-stack.sh [-j JAR] [-o OUTDIR] VARIANT...: issue 13's end-to-end run against several servers in turn,
# each fresh, to take the p99 apart into what the machine and the stack impose and what is Herald's.
# Per variant: a fresh server, 10 s of the same load on another topic, then
#   herald bench --batch 100 --publishers 4 --rate 10000 --consumers 2 --rdy 1000 --duration 12s --warmup 5s
# with the disk's own sync latency (deploy/fsync-floor.c --mmap, compiled to /tmp/fsync-floor) 4 s before.
# Variants:
#   herald     the procedure of performance.md's e2e row: `java -jar`, no options, WebSocket consumers
#   herald-tcp the same node, consumers over NSQ TCP (--sub-tcp --sub-unbuffered), as against nsqd
#   nosync     the same node with the journal's fsync off (-Dpekko.persistence.journal.leveldb.fsync=off):
#              what the sync costs (never a way to run: a publish is then answered before it is on disk)
#   ephemeral  the same node, topics warm#ephemeral and e2e#ephemeral: Herald's own path with a journal
#              that keeps nothing (NullJournal): the node without LevelDB and the disk
#   floor      the mandated stack's floor for this load with none of Herald's code (herald.floor.PubFloor
#              consume, from target/test-classes beside JAR: pekko-http /mpub, one entity's Pekko Persistence
#              write to LevelDB with fsync, a channel actor, NSQ TCP consumers), consumers as herald-tcp's
#   floor-nosync the floor with the journal's fsync off
#   nsqd       nsqd v1.3.0 (-n), HTTP /mpub, consumers over TCP with output_buffer_size -1 (nsqd then writes
#              each message as it goes; its default flushes every 250 ms): the no-durability stack on this machine
# Prints one line per variant: e2e and ack p50/p99/p99.9/max, requests with a message later than 5 ms,
# the disk floor's p99, the server's CPU seconds, and over the bench how busy the whole machine was and the
# hypervisor's steal (time this VM's cores did not run). Busy does not include steal; both are shares of all
# the cores' time, as in every script here (deploy/measure.sh).
# NODE_OPTS: JVM options for every Herald and floor variant (the procedure has none).
# LEAN=1: the load from deploy/e2e-lean.c (C, no JVM) instead of herald bench, HTTP /mpub and NSQ TCP consumers
# for every variant (so not the WebSocket consumers of herald, nosync, ephemeral).
# By hand only (nsqd is not in CI); run it through quiet-run (about 50 s per variant).
set -u
. "$(dirname "$0")/measure.sh"
JAR=target/herald.jar NSQD=/work/nsq/bin/nsqd OUT=
while getopts j:n:o: o; do
  case $o in j) JAR=$OPTARG ;; n) NSQD=$OPTARG ;; o) OUT=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
W=$(mktemp -d /tmp/e2e-stack-XXXX); OUT=${OUT:-$W/out}; mkdir -p "$OUT"
P=
# At the end, also on Ctrl-C: the server stopped, its data removed; the logs stay in OUT (-o, else the work dir).
trap '[ -n "$P" ] && kill $P 2>/dev/null; wait 2>/dev/null; rm -rf "$W/data" "$W/floor"; rmdir "$W" 2>/dev/null; echo "logs: $OUT" >&2' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM
[ -x /tmp/fsync-floor ] || cc -O2 -pthread -o /tmp/fsync-floor "$(dirname "$0")/fsync-floor.c"
[ -n "${LEAN:-}" ] && { [ -x /tmp/e2e-lean ] || cc -O2 -pthread -o /tmp/e2e-lean "$(dirname "$0")/e2e-lean.c"; }

echo "# $(date -u +%FT%TZ) Herald $(git -C "$(dirname "$JAR")/.." rev-parse --short HEAD 2>/dev/null) $JAR ${NODE_OPTS:-}${LEAN:+, load from e2e-lean}; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-8s %-30s %-24s %-9s %-10s %s\n' variant UTC 'e2e p50/p99/p99.9/max ms' 'ack p50/p99 ms' '>5ms' 'floor p99' 'server CPU s, machine'
for v in "$@"; do
  rm -rf "$W/data" "$W/floor"; mkdir -p "$W/data"
  floor=$(/tmp/fsync-floor "$W/floor" --seconds 4 --mmap 2>&1 | awk '/topic write: write/ {for (i = 1; i <= NF; i++) if ($i == "p99") print $(i + 1)}')
  rm -rf "$W/floor"
  warm=warm topic=e2e java=(java ${NODE_OPTS:-}) sub=
  run=(-jar "$JAR")
  case $v in
    floor*) run=(-cp "$JAR:${TESTCLASSES:-$(dirname "$JAR")/test-classes}" herald.floor.PubFloor consume) ;;
  esac
  case $v in
    nosync | floor-nosync) java+=(-Dpekko.persistence.journal.leveldb.fsync=off) ;;
    ephemeral) warm='warm#ephemeral' topic='e2e#ephemeral' ;;
  esac
  if [ "$v" = nsqd ]; then
    "$NSQD" --data-path="$W/data" --http-address=127.0.0.1:0 --tcp-address=127.0.0.1:0 >"$OUT/$v.log" 2>&1 &
    P=$!
    H=$(listening "$OUT/$v.log") || exit 1
    T=$(tcp_address "$OUT/$v.log")
    sub="--sub-tcp $T --sub-unbuffered"
  else
    "${java[@]}" "${run[@]}" --data-path "$W/data" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >"$OUT/$v.log" 2>&1 &
    P=$!
    H=$(listening "$OUT/$v.log") || exit 1
    T=$(tcp_address "$OUT/$v.log")
    [ "$v" = herald ] || [ "$v" = nosync ] || [ "$v" = ephemeral ] || sub="--sub-tcp $T --sub-unbuffered"
  fi
  if [ -n "${LEAN:-}" ]; then # the C load generator instead of herald bench: HTTP /mpub, NSQ TCP consumers
    /tmp/e2e-lean "$H" "$T" "$warm" 10000 10 0 >"$OUT/$v.warm.txt" 2>&1
    when=$(date -u +%T) c0=$(ticks $P) m0=$(machine)
    /tmp/e2e-lean "$H" "$T" "$topic" 10000 12 5 >"$OUT/$v.bench.txt" 2>&1
    late=$(awk '/later than 5 ms/ {print $NF}' "$OUT/$v.bench.txt")
  else
    LOAD="--http $H $sub --batch 100 --publishers 4 --rate 10000 --consumers 2 --rdy 1000"
    java -jar "$JAR" bench $LOAD --topic "$warm" --duration 10s >"$OUT/$v.warm.txt" 2>&1
    when=$(date -u +%T) c0=$(ticks $P) m0=$(machine)
    java -jar "$JAR" bench $LOAD --topic "$topic" --duration 12s --warmup 5s \
      --slow-log "$OUT/$v.slow.txt" --slow-ms 5 >"$OUT/$v.bench.txt" 2>&1
    late=$(awk '$1 == "e2e" {print $4 "-" $2}' "$OUT/$v.slow.txt" 2>/dev/null | sort -u | wc -l)
  fi
  c1=$(ticks $P) m1=$(machine)
  kill $P; wait $P 2>/dev/null; P=
  hz=$(getconf CLK_TCK)
  e2e=$(awk '/^e2e latency/ {print $0}' "$OUT/$v.bench.txt")
  ack=$(awk '/^ack latency/ {print $0}' "$OUT/$v.bench.txt")
  pick() { echo "$1" | grep -oE "$2 [0-9.]+" | awk '{print $2}'; }
  printf '%-10s %-8s %-30s %-24s %-9s %-10s %s\n' "$v" "$when" \
    "$(pick "$e2e" p50)/$(pick "$e2e" p99)/$(pick "$e2e" p99.9)/$(pick "$e2e" max)" \
    "$(pick "$ack" p50)/$(pick "$ack" p99)" "$late" "$floor" \
    "$(awk -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%.1f s", c / hz}'), $(machine_share "$m0" "$m1")"
  grep -E '^(missing|lost)|FAILED|[1-9][0-9]* missing' "$OUT/$v.bench.txt" || true # none: the script still ends 0
done
