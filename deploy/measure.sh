# Shell functions the measuring scripts in deploy/ share; sourced (`. "$(dirname "$0")/measure.sh"`), not run.
#
# How busy the machine was, the same in every script that sources this: over the measured seconds,
#   busy   the share of all the cores' time this VM spent running something (/proc/stat's user, nice,
#          system, irq and softirq columns); steal is NOT part of it
#   steal  the share the hypervisor gave to other guests: time this VM's cores did not run at all, which
#          slows a run without showing in busy
# both of the same whole (every column: idle and iowait too), so busy + steal + idle = 100 %. A process's
# share of the machine (the server's, wrk's) is of that same whole.

# The whole machine's CPU ticks since boot: "busy steal total" (see above).
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# "busy B%, steal S%" between two machine readings ("busy steal total" each).
machine_share() { # before after
  local b0 s0 t0 b1 s1 t1
  read -r b0 s0 t0 <<<"$1"; read -r b1 s1 t1 <<<"$2"
  awk -v b=$((b1 - b0)) -v s=$((s1 - s0)) -v t=$((t1 - t0)) 'BEGIN {printf "busy %.0f%%, steal %.0f%%", 100 * b / t, 100 * s / t}'
}

# utime + stime from a /proc stat file, in clock ticks (read after the name's closing parenthesis: a
# thread's name may hold spaces, "C2 CompilerThre").
stat_ticks() { sed 's/.*) //' "$1" | awk '{print $12 + $13}'; }
ticks() { stat_ticks "/proc/$1/stat"; } # a process's

# A JVM's CPU ticks by thread pool: its threads' utime + stime, grouped by name without the number.
pools() {
  local t name; for t in /proc/$1/task/*; do
    { read -r name <"$t/comm" && echo "${name// /_} $(stat_ticks "$t/stat")"; } 2>/dev/null || true # a thread that ended meanwhile
  done | sed -E 's/[-#0-9]+ / /' | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}'
}

# CPU ticks of a JVM's JIT compiler threads (C1, C2); 0 for a process without them (nsqd).
jit() { pools "$1" | awk '/^C[12]_CompilerThre / {t += $2} END {print t + 0}'; }

# The compilers' share of a process's CPU between two readings: jit0 cpu0 jit1 cpu1.
jit_share() { awk -v j=$(($3 - $1)) -v c=$(($4 - $2)) 'BEGIN {printf "%.1f%%", (c > 0 ? 100 * j / c : 0)}'; }

# warm_steps PID FIRST COMMAND...: runs `COMMAND... SECONDS` (its output dropped) for FIRST s, then again
# 10 s at a time while the JVM PID's JIT compilers took more than 2 % of its CPU in the last step, at most
# 100 s in all (a process without compiler threads gets the FIRST s alone). Steps, not one long run: each
# step closes its connections and opens new ones, as the measured run will, and one long run left the
# measured one compiling and deoptimizing what new connections take (performance.md, "/pub, round seven").
# Prints "T s (JIT's share of the server's CPU: step by step)".
warm_steps() {
  local pid=$1 step=$2 t=0 j0 c0 j1 c1 steps=
  shift 2
  while :; do
    j0=$(jit "$pid") c0=$(ticks "$pid")
    "$@" "$step" >/dev/null
    j1=$(jit "$pid") c1=$(ticks "$pid") t=$((t + step)) step=10
    steps+=" $(jit_share "$j0" "$c0" "$j1" "$c1")"
    [ "$j1" -gt 0 ] && [ $((t + 10)) -le 100 ] && awk -v j=$((j1 - j0)) -v c=$((c1 - c0)) 'BEGIN {exit !(j > 0.02 * c)}' || break
  done
  echo "$t s (JIT's share of the server's CPU:$steps)"
}

# Waits up to 60 s for PATTERN (extended regex) in FILE; else shows the file's end and fails.
wait_for() { # file pattern
  local end=$((SECONDS + 60))
  while [ "$SECONDS" -le "$end" ]; do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "no '$2' in $1:" >&2; tail -20 "$1" >&2; return 1
}

# Where a server listens, from its log: Herald's and PubFloor's line "listening on http://H:P tcp://H:P ...",
# nsqd's "HTTP: listening on H:P" and "TCP: listening on H:P". Empty where it has none (a floor without TCP).
http_address() { grep -oE 'listening on http://[0-9.:]+|HTTP: listening on [0-9.:]+' "$1" | head -1 | sed -E 's|.* ||; s|^http://||'; }
tcp_address() { grep -oE 'tcp://[0-9.:]+|TCP: listening on [0-9.:]+' "$1" | head -1 | sed -E 's|.* ||; s|^tcp://||'; }
# Waits (as wait_for) until a server's log says where it listens for HTTP; prints that HOST:PORT.
listening() { wait_for "$1" 'listening on http://|HTTP: listening on' && http_address "$1"; }
