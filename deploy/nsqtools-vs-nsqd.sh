#!/bin/bash
# nsq's own bench tools (bench_writer, bench_reader: the tools behind issue 11's nsqd figures) against
# nsqd v1.3.0 and a Herald node, one after the other on this machine:
#  - bench_writer, MPUB x 100 of 200 bytes, with 2, 8 and 32 connections (GOMAXPROCS; the tool opens
#    one connection per GOMAXPROCS, each with one MPUB in flight), W each; for Herald also the
#    journal writes (count, mean time, messages per write, from /metrics) and the node's CPU;
#  - bench_reader (2 connections, RDY 2500, FIN each) twice from the backlog the writers left;
#  - herald bench's own consumer over NSQ TCP and over the WebSocket on what is left (the same
#    client for both protocols: --publishers 0);
#  - a Herald node with fsync off, bench_writer with 2 connections (what the fsync costs).
# Herald is warmed up first (8 s of writing, 4 s of reading on another topic: the JIT).
# Usage: deploy/nsqtools-vs-nsqd.sh target/herald.jar [tag]   (NSQ_BIN: nsqd, bench_writer and
# bench_reader built from nsq v1.3.0; W, R: durations; CONNS; JFR=1 records a profile of one more
# bench_reader run). By hand only; run it on a quiet machine (quiet-run). Each line says how busy the
# machine was and the hypervisor's steal: busy does not include steal, both are shares of all the cores'
# time, as in every script here (deploy/measure.sh).
set -uo pipefail
. "$(dirname "$0")/measure.sh"
JAR=${1:?jar}; TAG=${2:-q}; W=${W:-10s}; R=${R:-8s}; CONNS=${CONNS:-"2 8 32"}
B=${NSQ_BIN:-/work/nsq/bin}
OUT=${OUT:-/tmp/nsqtools-$TAG}; mkdir -p $OUT
WORK=$(mktemp -d /tmp/tcpperf-XXXX)
PIDS=""
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf $WORK' EXIT
start_herald() {
  local n=$1; shift
  java -Xmx1g "$@" -jar "$JAR" --data-path $WORK/$n --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >$WORK/$n.log 2>&1 &
  HPID=$!; PIDS="$PIDS $HPID"
  HTTP=$(listening $WORK/$n.log) || exit 1
  TCP=$(tcp_address $WORK/$n.log)
}
depth() { curl -s "http://$1/stats?format=json&topic=$2" | python3 -c 'import sys,json; d=json.load(sys.stdin); print(sum(c.get("depth",0) for t in d.get("topics",[]) for c in t.get("channels",[])))'; }
jw() { curl -s "http://$1/metrics" | awk '/^herald_journal_write_seconds_count/{c=$2} /^herald_journal_write_seconds_sum/{s=$2} /^herald_journal_write_batch_messages_count/{n=$2} /^herald_journal_write_batch_messages_sum/{m=$2} END{print c+0, s+0, m+0}'; }
writer() { # label pid http tcp topic conns [herald]
  local label=$1 pid=$2 http=$3 tcp=$4 t=$5 c=$6 h=${7:-}
  local m0 m1; [ -n "$h" ] && m0=$(jw $http)
  local c0=$(ticks $pid) b0=$(machine)
  local line=$(GOMAXPROCS=$c $B/bench_writer --nsqd-tcp-address $tcp --topic $t --batch-size 100 --runfor $W 2>&1 | grep -o 'duration.*')
  local c1=$(ticks $pid) b1=$(machine)
  local rate=$(echo "$line" | grep -o '[0-9.]*ops/s' | sed 's/ops.s//')
  local extra=""
  if [ -n "$h" ]; then m1=$(jw $http); extra=$(python3 -c "
a=list(map(float,'$m0'.split())); b=list(map(float,'$m1'.split())); n=b[0]-a[0]
print('| journal writes %d = %.0f/s, mean %.2f ms, %.0f msgs/write' % (n, n/${W%s}, (b[1]-a[1])/max(n,1)*1000, (b[2]-a[2])/max(n,1)))"); fi
  echo "$label bench_writer MPUB x100 conns=$c: $line | MPUB round trip $(python3 -c "print(round($c*100/$rate*1000,2))") ms | node cpu $(( (c1-c0) ))0 ms, machine $(machine_share "$b0" "$b1") $extra"
}
reader() { # label pid http tcp topic run
  local label=$1 pid=$2 http=$3 tcp=$4 t=$5 i=$6
  local d0=$(depth $http $t) c0=$(ticks $pid) b0=$(machine)
  local line=$($B/bench_reader --nsqd-tcp-address $tcp --topic $t --runfor $R 2>&1 | grep -o 'duration.*')
  local c1=$(ticks $pid) b1=$(machine) d1=$(depth $http $t)
  echo "$label bench_reader run $i: $line | depth $d0 -> $d1 | node cpu $(( (c1-c0) ))0 ms = $(python3 -c "print(round(($c1-$c0)*10000/max(1,$d0-$d1),2))") us/msg, machine $(machine_share "$b0" "$b1")"
}
create() { curl -s -X POST "http://$1/topic/create?topic=$2" >/dev/null; curl -s -X POST "http://$1/channel/create?topic=$2&channel=ch" >/dev/null; }
uptime
mkdir -p $WORK/nsqd
$B/nsqd --mem-queue-size=1000000 --data-path=$WORK/nsqd --http-address=127.0.0.1:4451 --tcp-address=127.0.0.1:4450 >$WORK/nsqd.log 2>&1 &
NPID=$!; PIDS="$PIDS $NPID"
start_herald herald
sleep 2
create 127.0.0.1:4451 t
for c in $CONNS; do writer nsqd $NPID 127.0.0.1:4451 127.0.0.1:4450 t $c; done
for i in 1 2; do reader nsqd $NPID 127.0.0.1:4451 127.0.0.1:4450 t $i; done
kill $NPID; wait $NPID 2>/dev/null
# Herald: warm-up (JIT) on another topic, writing and reading, then the same runs.
create $HTTP w
GOMAXPROCS=8 $B/bench_writer --nsqd-tcp-address $TCP --topic w --batch-size 100 --runfor 8s >/dev/null 2>&1
$B/bench_reader --nsqd-tcp-address $TCP --topic w --runfor 4s >/dev/null 2>&1
echo "herald warm-up done, w depth $(depth $HTTP w)"
create $HTTP t
for c in $CONNS; do writer herald $HPID $HTTP $TCP t $c h; done
for i in 1 2; do reader herald $HPID $HTTP $TCP t $i; done
if [ -n "${JFR:-}" ]; then jcmd $HPID JFR.start name=r settings=profile filename=$OUT/reader.jfr >/dev/null; reader herald-jfr $HPID $HTTP $TCP t 3; jcmd $HPID JFR.stop name=r >/dev/null; fi
# Same client, two protocols, from the same backlog: herald bench --publishers 0.
for p in "--tcp $TCP" "--http $HTTP"; do
  c0=$(ticks $HPID); b0=$(machine)
  res=$(java -jar "$JAR" bench $p --topic t --channel ch --publishers 0 --consumers 2 --rdy 2500 --duration ${R} 2>/dev/null | grep consumed:)
  c1=$(ticks $HPID); b1=$(machine)
  echo "herald bench ${p%% *} --publishers 0 --consumers 2 --rdy 2500: $res | node cpu $(( (c1-c0) ))0 ms, machine $(machine_share "$b0" "$b1") | depth left $(depth $HTTP t)"
done
kill $HPID; wait $HPID 2>/dev/null
if [ -z "${NOFSYNCOFF:-}" ]; then
  start_herald nofsync -Dpekko.persistence.journal.leveldb.fsync=off
  create $HTTP w; GOMAXPROCS=8 $B/bench_writer --nsqd-tcp-address $TCP --topic w --batch-size 100 --runfor 6s >/dev/null 2>&1
  create $HTTP t
  writer herald-fsync-off $HPID $HTTP $TCP t 2 h
  kill $HPID; wait $HPID 2>/dev/null
fi
uptime
