#!/bin/bash
# Herald beside nsqd in one invocation: the same loads, from the same clients, against a fresh Herald
# node (LevelDB, fsync on) and a fresh nsqd, alternately; prints both side by side with the ratio, so
# the ratio is measured, not remembered (issue 13). By hand only: CI never needs nsqd.
#
#   deploy/bench-vs-nsqd.sh [-n NSQD] [-j JAR] [-o "JVM OPTIONS"] [-d SECONDS] [-w SECONDS] [-c "16 32"] [-p "32 128"] [-l "mpub consume tcp pub"]
#
# -n nsqd binary (default /work/nsq/bin/nsqd; bench_reader is taken from the same directory)
# -j Herald's jar (default target/herald.jar)   -o the node's JVM options (default -Xmx1g)   -d seconds per run (default 20)   -w warm-up seconds (10)
# -c wrk connections for /mpub (default "16 32")   -p wrk connections for /pub (default "32 128")
# -l loads (default mpub consume tcp):
#    mpub     wrk -t2 -cN /mpub of 100 x 200-byte messages: msgs/s, p50, p99 (per request), and the
#             server's CPU time (user + system, from /proc) per message: what each costs on the shared cores
#    consume  the same /mpub at the first -c while nsq's bench_reader consumes a channel of that topic
#             over NSQ's TCP protocol (RDY 2500): published and consumed msgs/s
#    tcp      herald bench --tcp: 8 MPUB publishers + 4 consumers (RDY 1000, FIN each), issue 11's shape
#    pub      wrk -t2 -cN /pub of one 200-byte message per request: the same figures (a message is a request)
# Needs wrk. Both servers listen on 127.0.0.1 ports the OS picks; both are killed at the end.
set -euo pipefail
NSQD=/work/nsq/bin/nsqd JAR=target/herald.jar JVM=-Xmx1g DUR=20 WARM=10 CONNS="16 32" PUBCONNS="32 128" LOADS="mpub consume tcp"
while getopts n:j:o:d:w:c:p:l: opt; do
  case $opt in
    n) NSQD=$OPTARG ;; j) JAR=$OPTARG ;; o) JVM=$OPTARG ;; d) DUR=$OPTARG ;; w) WARM=$OPTARG ;; c) CONNS=$OPTARG ;; p) PUBCONNS=$OPTARG ;; l) LOADS=$OPTARG ;;
    *) sed -n '2,/^set/p' "$0" | grep '^#'; exit 2 ;;
  esac
done
READER=$(dirname "$NSQD")/bench_reader
WORK=$(mktemp -d /tmp/bench-vs-nsqd-XXXX)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

# The body of one /mpub: 100 messages of 200 bytes.
cat >"$WORK/mpub.lua" <<'EOF'
local lines = {}
for i = 1, 100 do lines[i] = string.rep("x", 200) end
wrk.method = "POST"
wrk.body = table.concat(lines, "\n")
wrk.path = "/mpub?topic=" .. os.getenv("TOPIC")
EOF
cat >"$WORK/pub.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("x", 200)
wrk.path = "/pub?topic=" .. os.getenv("TOPIC")
EOF

wait_for() { # file pattern
  for _ in $(seq 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.3; done
  echo "no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}
mkdir -p "$WORK/nsqd"
declare -A PID
"$NSQD" --data-path="$WORK/nsqd" --http-address=127.0.0.1:0 --tcp-address=127.0.0.1:0 >"$WORK/nsqd.log" 2>&1 &
PIDS+=($!) PID[nsqd]=$!
java $JVM -jar "$JAR" --data-path "$WORK/herald" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >"$WORK/herald.log" 2>&1 &
PIDS+=($!) PID[herald]=$!
wait_for "$WORK/nsqd.log" 'HTTP: listening on'
wait_for "$WORK/herald.log" 'listening on http'
declare -A HTTP TCP
HTTP[nsqd]=$(grep -oE 'HTTP: listening on [0-9.:]+' "$WORK/nsqd.log" | awk '{print $4}')
TCP[nsqd]=$(grep -oE 'TCP: listening on [0-9.:]+' "$WORK/nsqd.log" | awk '{print $4}')
HTTP[herald]=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/herald.log" | sed 's|.*http://||')
TCP[herald]=$(grep -oE 'tcp://[0-9.:]+' "$WORK/herald.log" | head -1 | sed 's|tcp://||')

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of a process, in clock ticks
wrk_run() { # script per-request-messages server topic conns seconds -> "msgs/s p50 p99 cpu-us-per-msg"
  local before after
  before=$(ticks "${PID[$3]}")
  TOPIC=$4 wrk -t2 -c"$5" -d"$6"s -s "$WORK/$1.lua" --latency "http://${HTTP[$3]}" >"$WORK/wrk.txt"
  after=$(ticks "${PID[$3]}")
  awk -v per="$2" -v cpu=$((after - before)) -v hz="$(getconf CLK_TCK)" 'function ms(v) {return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000}
       /Requests\/sec/ {r=$2*per} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /Non-2xx/ {bad=$NF}
       /requests in/ {n=$1*per}
       END {printf "%.0f %.1fms %.1fms %.1fus%s\n", r, p50, p99, n ? cpu / hz * 1e6 / n : 0, bad ? " (" bad " non-2xx!)" : ""}' "$WORK/wrk.txt"
}
mpub() { wrk_run mpub 100 "$@"; } # server topic conns seconds
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); Herald $(git -C "$(dirname "$JAR")/.." rev-parse --short HEAD 2>/dev/null || echo '?'), $JAR $JVM; nsqd $("$NSQD" --version 2>&1 | head -1)"
for s in nsqd herald; do mpub $s warm 16 "$WARM" >/dev/null; done
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); echo "| $1 | $2 | $3 | $4 |"; }
ratio() { awk -v h="$1" -v n="$2" 'BEGIN {printf (n > 0 ? "%.2f" : "-"), h / n}'; }
side_by_side() { # label script per-request-messages connections...: one row per connection count
  local label=$1 script=$2 per=$3 c s; shift 3
  for c in "$@"; do
    declare -A R=()
    for s in nsqd herald; do R[$s]=$(wrk_run "$script" "$per" $s "$script$c" "$c" "$DUR"); done
    set -- ${R[nsqd]}; n=$1 np=$3 nc=$4; set -- ${R[herald]}; h=$1 hp=$3 hc=$4
    row "$label, $c connections" "$n msgs/s, p99 $np, CPU $nc/msg" "$h msgs/s, p99 $hp, CPU $hc/msg" \
        "$(ratio "$h" "$n") (p99 $(ratio "${hp%ms}" "${np%ms}"), CPU/msg $(ratio "${hc%us}" "${nc%us}"))"
  done
}

echo "| load (${DUR} s each) | nsqd | Herald | Herald / nsqd |"
echo "| --- | --- | --- | --- |"
for load in $LOADS; do
  case $load in
    mpub) side_by_side "/mpub x 100" mpub 100 $CONNS ;;
    consume)
      c=${CONNS%% *}
      declare -A R=() C=()
      for s in nsqd herald; do
        curl -sf -X POST "http://${HTTP[$s]}/topic/create?topic=consumed" >/dev/null
        curl -sf -X POST "http://${HTTP[$s]}/channel/create?topic=consumed&channel=ch" >/dev/null
        "$READER" --nsqd-tcp-address "${TCP[$s]}" --topic consumed --channel ch --runfor "$((DUR + 2))s" >"$WORK/reader.txt" 2>&1 &
        RP=$!
        R[$s]=$(mpub $s consumed "$c" "$DUR")
        wait $RP || true
        C[$s]=$(grep -oE '[0-9.]+ops/s' "$WORK/reader.txt" | tail -1 | sed 's|ops/s||; s|\..*||')
      done
      set -- ${R[nsqd]}; n=$1 np=$3 nc=$4; set -- ${R[herald]}; h=$1 hp=$3 hc=$4
      row "/mpub x 100, $c connections, bench_reader consuming" "$n msgs/s, p99 $np, CPU $nc/msg; consumed ${C[nsqd]:-?}/s" \
          "$h msgs/s, p99 $hp, CPU $hc/msg; consumed ${C[herald]:-?}/s" "$(ratio "$h" "$n") (p99 $(ratio "${hp%ms}" "${np%ms}"); consumed $(ratio "${C[herald]:-0}" "${C[nsqd]:-0}"))" ;;
    tcp)
      declare -A P=() C=()
      for s in nsqd herald; do
        java -jar "$JAR" bench --tcp "${TCP[$s]}" --topic tcpconsume --duration "${DUR}s" --batch 100 --publishers 8 \
          --consumers 4 --rdy 1000 2>/dev/null >"$WORK/bench.txt" || true
        P[$s]=$(awk '/^published:/ {gsub(",", "", $9); print $9}' "$WORK/bench.txt")
        C[$s]=$(awk '/^consumed:/ {gsub(",", "", $8); print $8}' "$WORK/bench.txt")
        grep -E '^verify:' "$WORK/bench.txt" | sed "s/^/  $s /" >&2
      done
      row "TCP: 8 MPUB publishers + 4 consumers (herald bench --tcp)" "published ${P[nsqd]}/s, consumed ${C[nsqd]}/s" \
          "published ${P[herald]}/s, consumed ${C[herald]}/s" "$(ratio "${C[herald]:-0}" "${C[nsqd]:-0}") (consumed)" ;;
    pub) side_by_side "/pub" pub 1 $PUBCONNS ;;
    *) echo "unknown load $load" >&2; exit 2 ;;
  esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
