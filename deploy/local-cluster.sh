#!/usr/bin/env bash
# A three-node Herald cluster on this machine, on a PostgreSQL of its own (Debian's postgresql).
#   deploy/local-cluster.sh start    # build if needed, start PostgreSQL and nodes on :4151 :4152 :4153 (NSQ TCP :4141 :4142 :4143)
#   deploy/local-cluster.sh status   # /cluster/nodes: the members as the cluster sees itself
#   deploy/local-cluster.sh restart N  # SIGTERM node N (1-3) and start it again (one step of a rolling restart)
#   deploy/local-cluster.sh stop     # SIGTERM the nodes (graceful leave), stop PostgreSQL
# Files (data, logs, pids) live in $HERALD_LOCAL (default /tmp/herald-local-cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${HERALD_LOCAL:-/tmp/herald-local-cluster}
PGPORT=${PGPORT:-55432}
SEEDS=127.0.0.1:25521,127.0.0.1:25522,127.0.0.1:25523

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] || { echo "PostgreSQL server not found: apt-get install postgresql" >&2; exit 1; }
  echo "$bin"
}

# PostgreSQL refuses to run as root: as root, run its tools as nobody.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

start() {
  [ -f target/herald.jar ] || mvn -B -q -DskipTests package
  mkdir -p "$DIR/pg"
  [ "$(id -u)" = 0 ] && chown nobody "$DIR/pg"
  local bin; bin=$(pg_bin)
  if [ ! -d "$DIR/pg/data" ]; then
    as_pg "$bin/initdb" -D "$DIR/pg/data" -U herald -A trust -E UTF8 > "$DIR/pg/initdb.log"
  fi
  as_pg "$bin/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w \
    -o "-p $PGPORT -k $DIR/pg -c listen_addresses=127.0.0.1" start > /dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$PGPORT" -U herald herald 2>/dev/null || true

  for i in 1 2 3; do launch "$i"; done
  for i in 1 2 3; do await "$i"; done
}

# Node i, with the same flags every time (so a restarted node takes its place again); log appended.
launch() {
  local i=$1
  java -jar target/herald.jar \
    --http-address "127.0.0.1:415$i" --tcp-address "127.0.0.1:414$i" --cluster-address "127.0.0.1:2552$i" --join "$SEEDS" \
    --journal postgres --postgres-url "jdbc:postgresql://127.0.0.1:$PGPORT/herald" --postgres-user herald \
    --data-path "$DIR/node$i" >> "$DIR/node$i.log" 2>&1 &
  echo $! > "$DIR/node$i.pid"
}

await() {
  local i=$1
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:415$i/ping" > /dev/null 2>&1 && break
    kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null || { echo "node $i exited:"; tail -5 "$DIR/node$i.log"; exit 1; }
    sleep 0.5
  done
  echo "node $i: http://127.0.0.1:415$i (log $DIR/node$i.log)"
}

# One step of a rolling restart: node i leaves (SIGTERM), starts again and is awaited up.
restart() {
  local i=$1
  case "$i" in 1|2|3) ;; *) echo "usage: $0 restart 1|2|3" >&2; exit 2 ;; esac
  stop_node "$i"
  launch "$i"
  await "$i"
}

stop_node() {
  local i=$1
  [ -f "$DIR/node$i.pid" ] || return 0
  kill -TERM "$(cat "$DIR/node$i.pid")" 2>/dev/null || true
  while kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null; do sleep 0.2; done
  rm -f "$DIR/node$i.pid"
}

stop() {
  for i in 1 2 3; do
    [ -f "$DIR/node$i.pid" ] || continue
    kill -TERM "$(cat "$DIR/node$i.pid")" 2>/dev/null || true
  done
  for i in 1 2 3; do
    [ -f "$DIR/node$i.pid" ] || continue
    while kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null; do sleep 0.2; done
    rm -f "$DIR/node$i.pid"
  done
  if [ -d "$DIR/pg/data" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg/data" -m fast -w stop > /dev/null || true; fi
  echo "stopped"
}

case "${1:-}" in
  start) start ;;
  restart) restart "${2:-}" ;;
  stop) stop ;;
  status) curl -s http://127.0.0.1:4151/cluster/nodes; echo ;;
  *) echo "usage: $0 start|restart N|stop|status" >&2; exit 2 ;;
esac
