#!/usr/bin/env bash
# Trellis and issue 12's peers side by side — pgqueuer (a job queue on the same PostgreSQL)
# and Celery on Redis (for the DAG) — the same shapes in the same minutes, alternating, so an
# hour's speed (this VM's moves 2–3×) is in every figure.
#
# Issue 12 compared Trellis with pgqueuer 1.6 and Celery 5.7 once; `trellis bench engine`
# reads its figures against the commit rate only. This runs, per round:
#   trellis bench engine flat start pickup        one scheduler process, stock flags
#   pgqueuer drain, its benchmark's settings       1 process, 5 queue managers × batch 10
#   pgqueuer drain, tuned                          1 process, 10 managers × batch 500
#   pgqueuer start, pickup                         bulk enqueue, one call per job, idle pickup
#   trellis bench engine flat, tuned               --concurrency 128 --batch 128
#   trellis bench engine flat --schedulers 2       two processes, stock flags
#   pgqueuer drain, two processes, tuned
#   trellis bench engine dag                       200 runs of root → 8 → merge at once, then 50 one at a time
#   Celery dag                                     the same with a chain and a chord, a stock worker
#                                                  (prefork, one process per core) on a throwaway
#                                                  redis-server without persistence
# and prints a table of every round (scripts/peers/side_by_side.py), with what a drained
# node / job cost the database's CPU and the worker's, and the WAL it wrote: figures that do
# not move with the disk, and whose ratio bounds what any scheduler-side lever can reach.
# Both check that every job/node ran exactly once; a failed check fails the script.
#
# Usage: scripts/bench-peers.sh [ROUNDS]   (default 3; about three minutes a round here)
#   TRELLIS       the binary (default .build/release/trellis: swift build -c release --product trellis)
#   TRELLIS_DATABASE_URL  a server to use (default: the local cluster, started if stopped); its
#                 databases bench_trellis and bench_pgqueuer are created when missing
#   RESULTS       where the JSON of each run goes (default: a new directory under /tmp)
# The peers run from a pinned venv of their own, .trellis/peers-venv (made on first use);
# redis-server is installed when missing (Debian/Ubuntu, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
trellis=${TRELLIS:-.build/release/trellis}
[[ -x $trellis ]] || { echo "bench-peers: no trellis binary at $trellis (swift build -c release --product trellis)" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench-peers: ROUNDS must be a positive number, got '$rounds'" >&2; exit 2; }

PGQUEUER_VERSION=1.6.0
ASYNCPG_VERSION=0.32.0
CELERY_VERSION=5.7.0
REDIS_PY_VERSION=8.1.0
venv=.trellis/peers-venv
if ! "$venv/bin/python" -c "from importlib.metadata import version as v; assert (v('pgqueuer'), v('asyncpg'), v('celery'), v('redis')) == ('$PGQUEUER_VERSION', '$ASYNCPG_VERSION', '$CELERY_VERSION', '$REDIS_PY_VERSION')" 2>/dev/null; then
  echo "bench-peers: installing pgqueuer $PGQUEUER_VERSION, asyncpg $ASYNCPG_VERSION, celery $CELERY_VERSION and redis-py $REDIS_PY_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "pgqueuer==$PGQUEUER_VERSION" "asyncpg==$ASYNCPG_VERSION" \
    "celery[redis]==$CELERY_VERSION" "redis==$REDIS_PY_VERSION"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bench-peers: installing redis-server" >&2
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  command -v redis-server >/dev/null 2>&1 || { echo "bench-peers: redis-server is missing (apt-get install redis-server)" >&2; exit 2; }
fi

server=${TRELLIS_DATABASE_URL:-$("$trellis" db url)}
server=${server%%\?*}
base=${server%/*}
psql -q "$server" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE DATABASE bench_trellis' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bench_trellis') \gexec
SELECT 'CREATE DATABASE bench_pgqueuer' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bench_pgqueuer') \gexec
SQL
trellis_url=$base/bench_trellis
peer_url=$base/bench_pgqueuer
TRELLIS_DATABASE_URL=$trellis_url "$trellis" migrate up >/dev/null

results=${RESULTS:-$(mktemp -d /tmp/trellis-peers.XXXXXX)}
mkdir -p "$results"

# A throwaway Redis for Celery, on a free port, gone with the script.
redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --logfile "$results/redis.log" &
redis_pid=$!
worker_pid=
cleanup() {
  [[ -z $worker_pid ]] || kill "$worker_pid" 2>/dev/null || true
  kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
export CELERY_BENCH_REDIS=redis://127.0.0.1:$redis_port/0
for _ in $(seq 50); do "$venv/bin/python" -c "import redis, os; redis.Redis.from_url(os.environ['CELERY_BENCH_REDIS']).ping()" 2>/dev/null && break; sleep 0.1; done
engine() {  # engine FILE ARGS...: one `trellis bench engine` run, its JSON in FILE
  local file=$1; shift
  echo "bench-peers: trellis bench engine $*" >&2
  TRELLIS_DATABASE_URL=$trellis_url "$trellis" bench engine --json "$@" > "$results/$file" 2>/dev/null
}
peer() {  # peer FILE ARGS...: one pgqueuer workload, its JSON in FILE
  local file=$1; shift
  echo "bench-peers: pgqueuer $*" >&2
  "$venv/bin/python" scripts/peers/pgqueuer_bench.py "$peer_url" "$@" > "$results/$file"
}
for round in $(seq 1 "$rounds"); do
  echo "bench-peers: round $round of $rounds" >&2
  engine "$round-trellis-stock.json" flat start pickup
  peer "$round-pgqueuer-drain-default.json" drain --managers 5 --batch 10
  peer "$round-pgqueuer-drain-tuned.json" drain --managers 10 --batch 500
  peer "$round-pgqueuer-start.json" start
  peer "$round-pgqueuer-pickup.json" pickup --jobs 200
  engine "$round-trellis-tuned.json" flat --concurrency 128 --batch 128
  engine "$round-trellis-two.json" flat --schedulers 2
  peer "$round-pgqueuer-drain-two.json" drain --managers 10 --batch 500 --processes 2
  engine "$round-trellis-dag.json" dag
  echo "bench-peers: celery dag" >&2
  (cd scripts/peers && exec "../../$venv/bin/celery" -A celery_bench worker --loglevel warning) > "$results/$round-celery-worker.log" 2>&1 &
  worker_pid=$!
  (cd scripts/peers && "../../$venv/bin/python" celery_bench.py --runs 200 --serial 50) > "$results/$round-celery-dag.json"
  kill "$worker_pid"; wait "$worker_pid" 2>/dev/null || true
  worker_pid=
done
python3 scripts/peers/side_by_side.py "$results"
echo "bench-peers: each run's JSON is in $results" >&2
