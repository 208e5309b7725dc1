#!/bin/bash
# Herald beside nsqd in one invocation: the same loads, from the same clients, against a fresh Herald
# node (LevelDB, fsync on) and a fresh nsqd, alternately; prints both side by side with the ratio, so
# the ratio is measured, not remembered (issue 13). By hand only: CI never needs nsqd.
#
#   deploy/bench-vs-nsqd.sh [-n NSQD] [-j JAR] [-b JAR] [-f "bare hop persist batch"] [-o "JVM OPTIONS"] [-d SECONDS] [-w SECONDS] [-c "16 32"] [-p "32 128"] [-l "mpub consume tcp pub"] [-k SECONDS]
#
# -n nsqd binary (default /work/nsq/bin/nsqd; bench_reader is taken from the same directory)
# -j Herald's jar (default target/herald.jar)   -b a second Herald jar ("before"), run as a third server in its own column
# -f the floor of the stack under Herald (herald.floor.PubFloor from target/test-classes, on -j's jar and configuration):
#    one more server column per mode: bare (pekko-http answers OK), hop (+ one actor ask), tell (+ one tell carrying a
#    promise), persist (+ one persist per request to the LevelDB journal with fsync, 64 entities), batch (+ one entity
#    persisting what waited as one write; its write cycle by part in its log), tellbatch (batch reached by tell),
#    consume (tellbatch, each write handed on to a channel with its progress writes, NSQ TCP consumers: herald.floor.ConsumeFloor)
# -o the node's JVM options (default -Xmx1g)   -d seconds per run (default 20)   -w warm-up seconds (10): each server runs
#    /mpub at 16 connections for -w s unmeasured before the loads but pub, which warms its own way (see pub)
# -c wrk connections for /mpub (default "16 32")   -p wrk connections for /pub (default "32 128")
# -l loads (default mpub consume tcp):
#    mpub     wrk -t2 -cN /mpub of 100 x 200-byte messages: msgs/s, p50, p99 (per request), and the
#             server's CPU time (user + system, from /proc) per message: what each costs on the shared cores;
#             "server/wrk/machine busy": the server's, wrk's and the whole machine's share of all cores' time over the run
#             (a machine far busier than server + wrk had someone else's load, or the kernel's own work, in that run);
#             "steal": the share the hypervisor gave to other guests (time this VM's cores did not run). Busy does not
#             include steal; both are shares of the same whole, as in every script here (deploy/measure.sh). After
#             the table, Herald's CPU per message by thread pool (from /proc, per run)
#    consume  the same /mpub at the first -c while nsq's bench_reader consumes a channel of that topic
#             over NSQ's TCP protocol (RDY 2500): published and consumed msgs/s. With -k K, each server first
#             runs this same load for K s unmeasured (the reader goes on into the measured run): the -w warm-up
#             has no consumer, so without -k the consuming path is compiled by the JIT inside the measured seconds
#    tcp      herald bench --tcp: 8 MPUB publishers + 4 consumers (RDY 1000, FIN each), issue 11's shape
#    pub      wrk -t2 -cN /pub of one 200-byte message per request: the same figures (a message is a request).
#             Each server is warmed with this same load (topic, connections) just before each measured run: -w s,
#             then a JVM goes on in 10 s steps while its JIT compilers took more than 2 % of its CPU in the last step
#             (at most 100 s), so the measured seconds do not pay for compiling what a connection count exercises;
#             after the table, each warm-up's length and the compilers' share step by step, then in the measured run
# Needs wrk. Both servers listen on 127.0.0.1 ports the OS picks; both are killed at the end, also on
# Ctrl-C, and their data (the journals: ~0.5 GB a /pub run) removed; the logs stay in the work dir printed last.
set -euo pipefail
. "$(dirname "$0")/measure.sh"
NSQD=/work/nsq/bin/nsqd JAR=target/herald.jar BEFORE= FLOORS= JVM=-Xmx1g DUR=20 WARM=10 CWARM=0 CONNS="16 32" PUBCONNS="32 128" LOADS="mpub consume tcp"
while getopts n:j:b:f:o:d:w:c:p:l:k: opt; do
  case $opt in
    n) NSQD=$OPTARG ;; j) JAR=$OPTARG ;; b) BEFORE=$OPTARG ;; f) FLOORS=$OPTARG ;; o) JVM=$OPTARG ;; d) DUR=$OPTARG ;; w) WARM=$OPTARG ;; c) CONNS=$OPTARG ;; p) PUBCONNS=$OPTARG ;; l) LOADS=$OPTARG ;; k) CWARM=$OPTARG ;;
    *) sed -n '2,/^set/p' "$0" | grep '^#'; exit 2 ;;
  esac
done
READER=$(dirname "$NSQD")/bench_reader
WORK=$(mktemp -d /tmp/bench-vs-nsqd-XXXX)
PIDS=()
DATA=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "${DATA[@]}"; echo "logs: $WORK" >&2' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP # then the EXIT trap stops the servers, wherever the run was

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

mkdir -p "$WORK/nsqd"
DATA+=("$WORK/nsqd")
declare -A PID
"$NSQD" --data-path="$WORK/nsqd" --http-address=127.0.0.1:0 --tcp-address=127.0.0.1:0 >"$WORK/nsqd.log" 2>&1 &
PIDS+=($!) PID[nsqd]=$!
declare -A HTTP TCP
HERALDS=(herald) SERVERS=(nsqd herald)
if [ -n "$BEFORE" ]; then HERALDS=(before herald) SERVERS=(nsqd before herald); fi
for f in $FLOORS; do HERALDS+=("floor-$f") SERVERS+=("floor-$f"); done
for h in "${HERALDS[@]}"; do
  jar=$JAR; [ "$h" = before ] && jar=$BEFORE
  run=(-jar "$jar"); [[ $h = floor-* ]] && run=(-cp "$JAR:$(dirname "$JAR")/test-classes" herald.floor.PubFloor "${h#floor-}")
  DATA+=("$WORK/$h")
  java $JVM "${run[@]}" --data-path "$WORK/$h" --http-address 127.0.0.1:0 --tcp-address 127.0.0.1:0 >"$WORK/$h.log" 2>&1 &
  PIDS+=($!) PID[$h]=$!
done
for s in "${SERVERS[@]}"; do
  HTTP[$s]=$(listening "$WORK/$s.log")
  TCP[$s]=$(tcp_address "$WORK/$s.log" || true) # floors but consume have none
done

wrk_run() { # script per-request-messages server topic conns seconds -> "msgs/s p50 p99 cpu-us-per-msg busy steal"
  local before after busy0 busy1 steal0 steal1 total0 total1 pools0=
  before=$(ticks "${PID[$3]}"); read -r busy0 steal0 total0 < <(machine)
  [ "$3" != nsqd ] && pools0=$(pools "${PID[$3]}")
  TOPIC=$4 /usr/bin/time -f '%U %S' -o "$WORK/wrk.cpu" wrk -t2 -c"$5" -d"$6"s -s "$WORK/$1.lua" --latency "http://${HTTP[$3]}" >"$WORK/wrk.txt"
  after=$(ticks "${PID[$3]}"); read -r busy1 steal1 total1 < <(machine)
  # Herald's CPU per message by thread pool (comm names are cut at 15 characters), for the list after the table.
  [ -n "$pools0" ] && { echo "$pools0" | sed 's/^/0 /'; pools "${PID[$3]}" | sed 's/^/1 /'; } |
    awk -v per="$2" -v hz="$(getconf CLK_TCK)" -v label="$3 $4 -c$5" -v n="$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")" '
      $1 == 0 {a[$2] = $3} $1 == 1 {d[$2] = $3 - a[$2]}
      END {line = label ":"; for (k in d) if (d[k] > 0) line = line sprintf(" %s %.2f", k, d[k] / hz * 1e6 / (n * per)); print line " (us a message)"}' >>"$WORK/pools.txt"
  # The machine's busy share (all cores) beside the server's own: what else ran in the same seconds.
  awk -v per="$2" -v cpu=$((after - before)) -v hz="$(getconf CLK_TCK)" -v busy=$((busy1 - busy0)) -v steal=$((steal1 - steal0)) -v wrkcpu="$(awk '{print $1 + $2}' "$WORK/wrk.cpu")" -v total=$((total1 - total0)) 'function ms(v) {return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000}
       /Requests\/sec/ {r=$2*per} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /Non-2xx/ {bad=$NF}
       /requests in/ {n=$1*per}
       END {printf "%.0f %.1fms %.1fms %.1fus %.0f%%/%.0f%%/%.0f%% %.0f%%%s\n", r, p50, p99, n ? cpu / hz * 1e6 / n : 0,
            100 * cpu / total, 100 * wrkcpu * hz / total, 100 * busy / total, 100 * steal / total, bad ? " (" bad " non-2xx!)" : ""}' "$WORK/wrk.txt"
}
mpub() { wrk_run mpub 100 "$@"; } # server topic conns seconds
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); Herald $(git -C "$(dirname "$JAR")/.." rev-parse --short HEAD 2>/dev/null || echo '?'), $JAR${BEFORE:+ (before: $BEFORE)} $JVM; nsqd $("$NSQD" --version 2>&1 | head -1)"
# The warm-up is /mpub; pub warms each server before each of its runs (warm_until_compiled), so it needs none here.
[ "$LOADS" = pub ] || for s in "${SERVERS[@]}"; do wrk_run mpub 100 $s warm 16 "$WARM" >/dev/null; done
warm_step() { # script per-request-messages server topic conns seconds: one unmeasured run
  wrk_run "$@"
  [ "$3" = nsqd ] || sed -i '$d' "$WORK/pools.txt" # the warm-up's line of CPU by thread pool
}
warm_until_compiled() { # script per-request-messages server topic conns: the same load unmeasured, until the JIT is idle
  echo -n "$3 $4 -c$5: warmed $(warm_steps "${PID[$3]}" "$WARM" warm_step "$@")" >>"$WORK/warm.txt"
}
row() { # label, one cell per server, then the ratio cell (Herald / nsqd)
  local line="|" cell; for cell in "$@"; do line+=" $cell |"; done; echo "$line"
}
cells() { # how a server's "msgs/s p50 p99 cpu" reads in a row, and Herald's over nsqd's after it
  local s; for s in "${SERVERS[@]}"; do set -- ${R[$s]}; printf '%s\t' "$1 msgs/s, p99 $3, CPU $4/msg (server/wrk/machine busy $5, steal $6${7:+; ${*:7}})${C[$s]:+; consumed ${C[$s]}/s}"; done
  set -- ${R[nsqd]}; n=$1 np=$3 nc=$4; set -- ${R[herald]}; h=$1 hp=$3 hc=$4
  printf '%s' "$(ratio "$h" "$n") (p99 $(ratio "${hp%ms}" "${np%ms}"), CPU/msg $(ratio "${hc%us}" "${nc%us}")${C[herald]:+; consumed $(ratio "${C[herald]:-0}" "${C[nsqd]:-0}")})"
}
ratio() { awk -v h="$1" -v n="$2" 'BEGIN {printf (n > 0 ? "%.2f" : "-"), h / n}'; }
side_by_side() { # label script per-request-messages connections...: one row per connection count
  local label=$1 script=$2 per=$3 c s j0 c0; shift 3
  for c in "$@"; do
    declare -A R=() C=()
    for s in "${SERVERS[@]}"; do
      if [ "$script" = pub ]; then
        warm_until_compiled "$script" "$per" $s "$script$c" "$c"
        j0=$(jit "${PID[$s]}") c0=$(ticks "${PID[$s]}")
      fi
      R[$s]=$(wrk_run "$script" "$per" $s "$script$c" "$c" "$DUR")
      if [ "$script" = pub ]; then echo "; measured: $(jit_share "$j0" "$c0" "$(jit "${PID[$s]}")" "$(ticks "${PID[$s]}")")" >>"$WORK/warm.txt"; fi
    done
    IFS=$'\t' read -ra CELLS <<<"$(cells)"; row "$label, $c connections" "${CELLS[@]}"
  done
}

HEAD=("load (${DUR} s each)"); for s in "${SERVERS[@]}"; do
  case $s in nsqd) HEAD+=(nsqd) ;; before) HEAD+=("Herald before") ;; herald) HEAD+=(Herald) ;; *) HEAD+=("$s") ;; esac
done
row "${HEAD[@]}" "Herald / nsqd"; row $(printf -- '--- %.0s' "${HEAD[@]}") ---
for load in $LOADS; do
  case $load in
    mpub) side_by_side "/mpub x 100" mpub 100 $CONNS ;;
    consume)
      c=${CONNS%% *}
      declare -A R=() C=()
      for s in "${SERVERS[@]}"; do
        curl -sf -X POST "http://${HTTP[$s]}/topic/create?topic=consumed" >/dev/null
        curl -sf -X POST "http://${HTTP[$s]}/channel/create?topic=consumed&channel=ch" >/dev/null
        # A floor without NSQ TCP (all but consume) takes the same /mpub with nobody consuming.
        [ -n "${TCP[$s]}" ] || { R[$s]=$(mpub $s consumed "$c" "$DUR"); continue; }
        "$READER" --nsqd-tcp-address "${TCP[$s]}" --topic consumed --channel ch --runfor "$((CWARM + DUR + 2))s" >"$WORK/reader.txt" 2>&1 &
        RP=$!
        # The reader's consumed msgs/s then spans both runs. The warm-up's line of CPU by thread pool is dropped.
        if [ "$CWARM" -gt 0 ]; then mpub $s consumed "$c" "$CWARM" >/dev/null; [ "$s" = nsqd ] || sed -i '$d' "$WORK/pools.txt"; fi
        R[$s]=$(mpub $s consumed "$c" "$DUR")
        wait $RP || true
        C[$s]=$(grep -oE '[0-9.]+ops/s' "$WORK/reader.txt" | tail -1 | sed 's|ops/s||; s|\..*||' || true)
      done
      IFS=$'\t' read -ra CELLS <<<"$(cells)"; row "/mpub x 100, $c connections, bench_reader consuming" "${CELLS[@]}" ;;
    tcp)
      declare -A P=() C=()
      for s in "${SERVERS[@]}"; do
        java -jar "$JAR" bench --tcp "${TCP[$s]}" --topic tcpconsume --duration "${DUR}s" --batch 100 --publishers 8 \
          --consumers 4 --rdy 1000 2>/dev/null >"$WORK/bench.txt" || true
        P[$s]=$(awk '/^published:/ {gsub(",", "", $9); print $9}' "$WORK/bench.txt")
        C[$s]=$(awk '/^consumed:/ {gsub(",", "", $8); print $8}' "$WORK/bench.txt")
        grep -E '^verify:' "$WORK/bench.txt" | sed "s/^/  $s /" >&2
      done
      CELLS=(); for s in "${SERVERS[@]}"; do CELLS+=("published ${P[$s]}/s, consumed ${C[$s]}/s"); done
      row "TCP: 8 MPUB publishers + 4 consumers (herald bench --tcp)" "${CELLS[@]}" "$(ratio "${C[herald]:-0}" "${C[nsqd]:-0}") (consumed)" ;;
    pub) side_by_side "/pub" pub 1 $PUBCONNS ;;
    *) echo "unknown load $load" >&2; exit 2 ;;
  esac
done
echo "Herald's CPU per message by thread pool:"; sed 's/^/  /' "$WORK/pools.txt" 2>/dev/null
[ -f "$WORK/warm.txt" ] && { echo "Warm-ups before each /pub run:"; sed 's/^/  /' "$WORK/warm.txt"; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
