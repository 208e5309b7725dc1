#!/bin/bash
# Where a /pub's CPU goes, by layer: one server at a time (a Herald node, PubFloor, anything that prints
# "listening on http://HOST:PORT"); per N in CONNS, the measured load unmeasured first (its topic, its N
# connections): WARM s, then in 10 s steps while the JVM's JIT compilers took more than 2 % of its CPU in the
# last step, at most 100 s (as deploy/bench-vs-nsqd.sh's pub: one long run left the measured one compiling
# and deoptimizing, performance.md "/pub, round seven"); then
# DUR s of wrk -t2 -cN /pub (200-byte body) with the server's CPU per thread (/proc) and perf record -g
# (cpu-clock, so it works in a VM; kernel, native and JIT-compiled Java frames, the last named through
# `jcmd PID Compiler.perfmap`; start Java with -XX:+PreserveFramePointer for whole Java stacks). Then
# deploy/perf-layers.py prints CPU per request by layer (perf's share of each layer x the /proc total).
# Each run's line says how long its warm-up was, how busy the whole machine was over the measured seconds
# and the hypervisor's steal (time this VM's cores did not run). Busy does not include steal; both are
# shares of all the cores' time, as in every script here (deploy/measure.sh).
# Needs root (or perf_event_paranoid <= 1) for kernel frames, wrk, perf, jcmd.
#
#   deploy/pub-profile.sh OUTDIR WARM "CONNS" DUR LABEL "COMMAND with @DATA@" [LABEL "COMMAND"]...
#   deploy/pub-profile.sh /tmp/prof 30 "128 32" 10 \
#     herald "java -Xmx1g -XX:+PreserveFramePointer -jar target/herald.jar --data-path @DATA@ --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0" \
#     tellbatch "java -Xmx1g -XX:+PreserveFramePointer -cp target/herald.jar:target/test-classes herald.floor.PubFloor tellbatch --data-path @DATA@"
#   deploy/perf-layers.py /tmp/prof/herald 128 /tmp/prof/tellbatch 128
# PERF=0 leaves perf out (CPU per thread only). Files per server: OUTDIR/LABEL/{warm,run,t0,t1,machine,top,perf}.N*
set -u
. "$(dirname "$0")/measure.sh"
OUTD=$1 WARM=$2 CONNS=$3 D=$4; shift 4
mkdir -p "$OUTD"
cat >"$OUTD/pub.lua" <<'L'
wrk.method = "POST"
wrk.body = string.rep("x", 200)
wrk.path = "/pub?topic=" .. os.getenv("TOPIC")
L
threads() { # per thread: name, utime + stime, utime, stime (clock ticks)
  local t s c; for t in /proc/$1/task/*; do
    s=$(cat "$t/stat" 2>/dev/null) || continue; c=$(tr ' ' '_' <"$t/comm" 2>/dev/null)
    echo "$c $(echo "${s##*) }" | awk '{print $12+$13, $12, $13}')"
  done
}
while [ $# -ge 2 ]; do
  LABEL=$1 CMD=$2; shift 2
  OUT=$OUTD/$LABEL; rm -rf "$OUT"; mkdir -p "$OUT/data"
  bash -c "exec ${CMD//@DATA@/$OUT/data}" >"$OUT/server.log" 2>&1 &
  P=$!
  url=$(listening "$OUT/server.log") || { kill $P; wait $P 2>/dev/null; continue; }
  load() { TOPIC=$1 wrk -t2 -c"$2" -d"$3"s --latency -s "$OUTD/pub.lua" "http://$url"; } # topic connections seconds
  for C in $CONNS; do
    warm_steps $P "$WARM" load "t$C" "$C" >"$OUT/warm.$C"
    threads $P >"$OUT/t0.$C"; m0=$(machine)
    load "t$C" "$C" "$D" >"$OUT/run.$C.wrk" &
    W=$!
    sleep 1
    # What else ran on the machine meanwhile (top's second sample: the CPU of the last 3 s).
    (top -b -n 2 -d 3 -w 200 | awk '/^top -/{n++} n==2' | sed -n '7,14p' >"$OUT/top.$C") &
    if [ "${PERF:-1}" = 1 ]; then perf record -e cpu-clock -F 999 -g -p $P -o "$OUT/perf.$C.data" -- sleep $((D - 2)) 2>"$OUT/perf.$C.err"; fi
    wait $W
    threads $P >"$OUT/t1.$C"; m1=$(machine)
    echo "$m0 $m1 $D" >"$OUT/machine.$C"
  done
  jcmd $P Compiler.perfmap >/dev/null 2>&1
  curl -s "http://$url/metrics" >"$OUT/metrics.txt"
  kill $P; wait $P 2>/dev/null
  for C in $CONNS; do
    echo "== $LABEL, $C connections ($(date -u +%H:%M:%S)), warmed $(cat "$OUT/warm.$C")"
    grep -E 'Requests/sec|  99%|  50%|Non-2xx|Socket' "$OUT/run.$C.wrk" | tr -s ' ' | tr '\n' ' '; echo
    python3 - "$OUT" "$C" <<'PY'
import collections, os, re, sys
out, c = sys.argv[1], sys.argv[2]
def pools(f):
    r = collections.Counter()
    for line in open(f):
        p = line.split()
        if len(p) == 4: r[re.sub(r'[-#_]?\d+$', '', p[0])] += int(p[1])
    return r
a, b = pools(f'{out}/t0.{c}'), pools(f'{out}/t1.{c}')
b0, s0, t0, b1, s1, t1, d = map(float, open(f'{out}/machine.{c}').read().split())
rps = float([l.split()[1] for l in open(f'{out}/run.{c}.wrk') if 'Requests/sec' in l][0])
hz = os.sysconf('SC_CLK_TCK')
us = {k: (b[k] - a[k]) / hz / (rps * d) * 1e6 for k in b if b[k] > a[k]}
print(f'  {rps:.0f} req/s, node {sum(us.values()):.1f} us/req, machine busy {(b1 - b0) / (t1 - t0) * 100:.0f} %, '
      f'steal {(s1 - s0) / (t1 - t0) * 100:.0f} %: '
      + '; '.join(f'{k[:18]} {v:.1f}' for k, v in sorted(us.items(), key=lambda kv: -kv[1])[:8]))
PY
  done
done
