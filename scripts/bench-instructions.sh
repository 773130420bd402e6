#!/usr/bin/env bash
# Counts the instructions the database backend executes per engine shape, with callgrind.
#
# Timings on a shared VM move by 2–3× from hour to hour and ±15 % within a run, so a lever
# worth a few percent cannot be read from `trellis bench`. An instruction count can: the
# same build, schema and script give the same count (to about 1 %) whatever else the
# machine is doing. This drives the engine's SQL calls directly (no scheduler process),
# one client, the way a scheduler's passes make them, on a throwaway cluster whose server
# runs under `valgrind --tool=callgrind`, and prints instructions per unit of work:
#
#   start       one start_run of a one-node run (its node's handler is one no claim here
#               serves: the runs it leaves ready must not be claimed by the next shape,
#               whose first iterations would then settle them, counted out as set-up)
#   one-node    a one-node run: start_run; claim; complete (three transactions)
#   dag         a run of root → 8 → merge (echo nodes): start_run; claim the root; then three
#               transactions of complete + claim (what a scheduler's pipelined pass sends)
#   batch       per node, 32 one-node runs at a time: start_runs of 32; claim 32; complete 32
#
# Each count is (count after 25 iterations − count after 5) / 20, so session start-up,
# the first plans and the client's own connection are left out. It counts CPU work only:
# the commits' flushes and the waits between calls are not in it, so it is a lever's
# measure, not a latency. Takes a few minutes (the server runs ~50× slower under valgrind).
#
# Usage: scripts/bench-instructions.sh [TRELLIS_BINARY [SQL_FILE]]
#   TRELLIS_BINARY  default .build/release/trellis; its migrations and definitions make the schema
#   SQL_FILE        run after them (as the superuser): a function changed in place, so one
#                   build measures a SQL lever against the schema as shipped
# Needs valgrind and pgbench (installed here when missing, on Debian/Ubuntu as root).
# KEEP=1 keeps the work directory (its cg/ holds each backend's callgrind profile).
# SHAPES="one-node batch" counts only those shapes (default: all four).
set -euo pipefail

trellis=${1:-.build/release/trellis}
[[ -x $trellis ]] || { echo "bench-instructions: no trellis binary at $trellis (swift build -c release --product trellis)" >&2; exit 2; }
trellis=$(cd "$(dirname "$trellis")" && pwd)/$(basename "$trellis")
extra=${2:-}
[[ -z $extra || -r $extra ]] || { echo "bench-instructions: cannot read $extra" >&2; exit 2; }

# The newest PostgreSQL server binaries that come with pgbench.
find_bin() {
  bin=
  for dir in /usr/lib/postgresql/*/bin; do [[ -x $dir/initdb && -x $dir/pgbench ]] && bin=$dir; done
}
find_bin
if ! command -v valgrind >/dev/null 2>&1 || [[ -z $bin ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq valgrind postgresql >/dev/null
    find_bin
  fi
fi
command -v valgrind >/dev/null 2>&1 || { echo "bench-instructions: valgrind is missing" >&2; exit 2; }
[[ -n $bin ]] || { echo "bench-instructions: no PostgreSQL server binaries with pgbench under /usr/lib/postgresql" >&2; exit 2; }

work=$(mktemp -d /tmp/trellis-instructions.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/cg"
# PostgreSQL refuses to run as root: as root, the server runs as the postgres user.
as_server=()
if [[ $(id -u) == 0 ]]; then
  id postgres >/dev/null 2>&1 || { echo "bench-instructions: running as root, but there is no postgres user" >&2; exit 2; }
  chown -R postgres "$work"
  as_server=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="postgresql://trellis@127.0.0.1:$port/trellis"
admin_url="postgresql://trellis@127.0.0.1:$port/postgres"
server_pid=
stop() {
  # pg_ctl signals the postmaster through its pid file, under valgrind too (runuser does
  # not pass a signal on to it).
  "${as_server[@]}" "$bin/pg_ctl" -D "$work/data" stop -m fast -t 300 >/dev/null 2>&1 || true
  if [[ -n $server_pid ]]; then wait "$server_pid" 2>/dev/null || true; fi
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap stop EXIT
ready() {
  for _ in $(seq 1 180); do
    psql "$admin_url" -Atc "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "bench-instructions: the server did not start (see $work/server.log)" >&2; exit 1
}

echo "bench-instructions: preparing a cluster in $work" >&2
"${as_server[@]}" "$bin/initdb" -D "$work/data" -U trellis --auth=trust --no-sync >/dev/null
cat >> "$work/data/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
# No background work in the counted backend's way: each count is one backend's own.
autovacuum = off
EOF
"${as_server[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" start >/dev/null
ready
psql -q "$admin_url" -c "CREATE DATABASE trellis"
TRELLIS_DATABASE_URL=$url "$trellis" migrate up >/dev/null
[[ -z $extra ]] || psql -q -v ON_ERROR_STOP=1 "$url" -f "$extra" >/dev/null
nodes='{"key": "root", "kind": "tool_call", "handler": "echo"}'
edges=
for i in 0 1 2 3 4 5 6 7; do
  nodes+=", {\"key\": \"step$i\", \"kind\": \"tool_call\", \"handler\": \"echo\"}"
  edges+="{\"from\": \"root\", \"to\": \"step$i\"}, {\"from\": \"step$i\", \"to\": \"merge\"}, "
done
nodes+=', {"key": "merge", "kind": "tool_call", "handler": "echo"}'
echo "{\"name\": \"instr-dag\", \"nodes\": [$nodes], \"edges\": [${edges%, }]}" > "$work/dag.json"
echo '{"name": "instr-one", "nodes": [{"key": "only", "kind": "tool_call", "handler": "echo"}], "edges": []}' > "$work/one.json"
TRELLIS_DATABASE_URL=$url "$trellis" workflow publish "$work/dag.json" >/dev/null
TRELLIS_DATABASE_URL=$url "$trellis" workflow publish "$work/one.json" >/dev/null
echo '{"name": "instr-parked", "nodes": [{"key": "only", "kind": "tool_call", "handler": "parked"}], "edges": []}' > "$work/parked.json"
TRELLIS_DATABASE_URL=$url "$trellis" workflow publish "$work/parked.json" >/dev/null
sid=$(psql "$url" -Atc "SELECT trellis.register_scheduler('instructions', '{echo}', 32, 'localhost', 1, 'bench')")
"${as_server[@]}" "$bin/pg_ctl" -D "$work/data" stop -m fast >/dev/null

# The scripts: one iteration each is one unit of the shape (batch: 32 nodes).
results="jsonb_agg(jsonb_build_object('id', node_run_id, 'attempt', attempt, 'output', '{}'::jsonb)) AS res"
claim="SELECT $results FROM trellis.claim_nodes($sid, '{echo}', 32) \\gset"
echo "SELECT run_id FROM trellis.start_run('instr-parked', '{}'::jsonb, 'admin', '{}'::jsonb);" > "$work/start.pgb"
cat > "$work/one-node.pgb" <<EOF
SELECT run_id FROM trellis.start_run('instr-one', '{}'::jsonb, 'admin', '{}'::jsonb);
$claim
SELECT count(*) FROM trellis.complete_nodes($sid, :res::jsonb);
EOF
{
  echo "SELECT run_id FROM trellis.start_run('instr-dag', '{}'::jsonb, 'admin', '{}'::jsonb);"
  echo "$claim"
  for _ in 1 2 3; do
    echo "BEGIN;"
    echo "SELECT count(*) FROM trellis.complete_nodes($sid, :res::jsonb);"
    echo "$claim"
    echo "COMMIT;"
  done
} > "$work/dag.pgb"
cat > "$work/batch.pgb" <<EOF
SELECT count(*) FROM trellis.start_runs('instr-one', array_fill('{}'::jsonb, ARRAY[32]), 'admin');
$claim
SELECT count(*) FROM trellis.complete_nodes($sid, :res::jsonb);
EOF
[[ $(id -u) == 0 ]] && chown -R postgres "$work"

echo "bench-instructions: starting the server under callgrind" >&2
"${as_server[@]}" valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/cg/cg.%p" \
  "$bin/postgres" -D "$work/data" > "$work/server.log" 2>&1 &
server_pid=$!
ready

# Waits until no backend has written its profile for 3 s: every session before is counted
# out (a backend writes its profile when it exits, a moment after its client).
quiet() {
  local last now stable=0
  last=$(ls "$work/cg" | wc -l)
  while (( stable < 3 )); do
    sleep 1
    now=$(ls "$work/cg" | wc -l)
    if (( now == last )); then stable=$((stable + 1)); else stable=0; last=$now; fi
  done
}

# The instructions of the backend that ran `iterations` of a script: of the two profiles
# pgbench's sessions write (its first connection only checks the server), the larger.
# Sets `counted` (a function run in $(…) could not keep state between calls).
counted=0
count() {
  local script=$1 iterations=$2 before newest total file written
  quiet
  before=$(ls "$work/cg")
  pgbench -n -c1 -M prepared -t "$iterations" -f "$work/$script.pgb" "$url" > "$work/pgbench.log" 2>&1 \
    || { cat "$work/pgbench.log" >&2; exit 1; }
  for _ in $(seq 1 120); do
    newest=0
    written=0
    for file in $(ls "$work/cg"); do
      grep -qxF "$file" <<< "$before" && continue
      total=$(sed -n 's/^summary: //p' "$work/cg/$file")
      [[ -n $total ]] || continue
      written=$((written + 1))
      (( total > newest )) && newest=$total
    done
    if (( written >= 2 )); then
      counted=$newest
      return
    fi
    sleep 1
  done
  echo "bench-instructions: no profile for $script" >&2; exit 1
}

printf '%-10s %16s\n' SHAPE "INSTRUCTIONS"
for shape in ${SHAPES:-start one-node dag batch}; do
  count "$shape" 5
  few=$counted
  count "$shape" 25
  many=$counted
  per=$(( (many - few) / 20 ))
  case $shape in
    batch) printf '%-10s %16s per node (32 a batch)\n' "$shape" "$(printf "%'d" $(( per / 32 )))" ;;
    *) printf '%-10s %16s per run\n' "$shape" "$(printf "%'d" "$per")" ;;
  esac
done
