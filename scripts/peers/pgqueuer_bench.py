"""The queue peer of issue 12 — pgqueuer — driven through the shapes `trellis bench engine`
measures, on the same PostgreSQL, so the two can be read side by side in one hour.

Run by scripts/bench-peers.sh (which makes the pinned venv); by hand:

    python scripts/peers/pgqueuer_bench.py DSN drain --jobs 20000 --processes 1
    python scripts/peers/pgqueuer_bench.py DSN start --jobs 20000 --single 2000
    python scripts/peers/pgqueuer_bench.py DSN pickup --jobs 200

Prints one JSON object. Each shape is measured the way Trellis's is, and where the two
cannot be the same the difference is named:

- drain: JOBS no-op jobs enqueued first (in bulk), then drained by PROCESSES worker
  processes, each running MANAGERS queue managers of BATCH (pgqueuer's own benchmark
  runs 5 managers of batch 10 per process). Rate = jobs over the span from the first job's
  start to the last worker's exit in drain mode (Trellis: first node start to last node
  finish, by the database's clock; here the exit also waits for pgqueuer's buffered
  completion log to be written, which counts against pgqueuer). Exactly-once: every job id
  ran once, the count is JOBS and the queue is empty afterwards. CPU per job, as Trellis's
  drains report it per node: the database server's processes from the enqueue to the
  drain's end, and the worker processes' (read from /proc: only when the server runs on
  this host); and the WAL written per job over the same span (`pg_current_wal_lsn`: the
  whole cluster's, as Trellis's).
- start: one enqueue call of JOBS jobs (lists: one statement), then SINGLE enqueue calls
  of one job each from one client.
- pickup: one worker process idle (LISTENing); JOBS jobs enqueued one at a time with a
  20 ms pause; latency from the client's clock before the enqueue call to the handler's
  entry (Trellis: from the enqueuing transaction's start to the claiming transaction's
  start — the handler's dispatch in Python is in pgqueuer's figure, not in Trellis's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from datetime import timedelta

import asyncpg
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.domain.types import QueueExecutionMode

ENTRYPOINT = "bench_noop"


def received(out: mp.Queue, timeout: float):
    """The next message of a worker; a worker's failure ends the bench with its message."""
    message = out.get(timeout=timeout)
    if isinstance(message, dict) and "error" in message:
        raise SystemExit(f"pgqueuer_bench: a worker failed: {message['error']}")
    return message

async def connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


def ticks(pid: int) -> tuple[float, float, int] | None:
    """(utime + stime, cutime + cstime, parent pid) of a process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return float(fields[11]) + float(fields[12]), float(fields[13]) + float(fields[14]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def command(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return None


async def postmaster(dsn: str) -> int | None:
    """The server's postmaster when it runs on this host (a backend's parent), else None."""
    conn = await connect(dsn)
    try:  # read while the backend lives
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        of_backend = ticks(backend)
        if command(backend) != "postgres" or of_backend is None or command(of_backend[2]) != "postgres":
            return None
        return of_backend[2]
    finally:
        await conn.close()


async def one_number(dsn: str, query: str) -> int:
    """The one value of `query`, on a connection of its own."""
    conn = await connect(dsn)
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def wal_position(dsn: str) -> int:
    return await one_number(dsn, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")


def server_seconds(root: int | None) -> float | None:
    """CPU seconds the server has used so far: the postmaster, its live children and the
    children it has reaped (as Trellis's bench reads it)."""
    if root is None or (own := ticks(root)) is None:
        return None
    total = own[0] + own[1]
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != root and (child := ticks(int(entry))) and child[2] == root:
            total += child[0] + child[1]
    return total / os.sysconf("SC_CLK_TCK")


def reaped_children_seconds() -> float:
    own = ticks(os.getpid())
    return own[1] / os.sysconf("SC_CLK_TCK") if own else 0.0


async def prepare(dsn: str) -> None:
    """Installs pgqueuer's schema when missing and empties its queue."""
    conn = await connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        if not await queries.schema_is_installed():
            await queries.install()
        await queries.clear_queue()
    finally:
        await conn.close()


async def enqueue_bulk(dsn: str, jobs: int) -> float:
    """Enqueues `jobs` jobs with one call; returns the seconds it took."""
    conn = await connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        began = time.perf_counter()
        ids = await queries.enqueue([ENTRYPOINT] * jobs, [None] * jobs, [0] * jobs)
        elapsed = time.perf_counter() - began
        if len(ids) != jobs:
            raise SystemExit(f"pgqueuer_bench: enqueued {len(ids)} of {jobs} jobs")
        return elapsed
    finally:
        await conn.close()


async def worker_async(dsn: str, managers: int, batch: int, out: mp.Queue) -> None:
    seen: list[int] = []
    first: list[float] = []

    async def one_manager() -> None:
        conn = await connect(dsn)
        try:
            qm = QueueManager(Queries(AsyncpgDriver(conn)))

            @qm.entrypoint(ENTRYPOINT)
            async def noop(job) -> None:  # noqa: ANN001 — pgqueuer's Job
                if not first:
                    first.append(time.time())
                seen.append(int(job.id))

            await qm.run(batch_size=batch, mode=QueueExecutionMode.drain, dequeue_timeout=timedelta(seconds=1),
                         log_aggregation_interval=timedelta(0))
        finally:
            await conn.close()

    await asyncio.gather(*(one_manager() for _ in range(managers)))
    out.put({"ids": seen, "first": first[0] if first else None, "end": time.time()})


def worker(dsn: str, managers: int, batch: int, out: mp.Queue) -> None:
    try:
        asyncio.run(worker_async(dsn, managers, batch, out))
    except BaseException as error:  # the parent waits on the queue: tell it, don't leave it hanging
        out.put({"error": f"{type(error).__name__}: {error}"})
        raise


async def queue_length(dsn: str) -> int:
    return await one_number(dsn, "SELECT count(*) FROM pgqueuer")


def drain(dsn: str, jobs: int, processes: int, managers: int, batch: int) -> dict:
    asyncio.run(prepare(dsn))
    server = asyncio.run(postmaster(dsn))
    server_before, workers_before = server_seconds(server), reaped_children_seconds()
    wal_before = asyncio.run(wal_position(dsn))
    asyncio.run(enqueue_bulk(dsn, jobs))
    out: mp.Queue = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=worker, args=(dsn, managers, batch, out)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    results = [received(out, 600) for _ in procs]
    for proc in procs:
        proc.join()
    server_after, workers_after = server_seconds(server), reaped_children_seconds()
    wal_after = asyncio.run(wal_position(dsn))
    ids = [i for r in results for i in r["ids"]]
    firsts = [r["first"] for r in results if r["first"] is not None]
    span = max(r["end"] for r in results) - min(firsts)
    left = asyncio.run(queue_length(dsn))
    exactly_once = len(ids) == jobs and len(set(ids)) == jobs and left == 0
    return {"workload": "drain", "jobs": jobs, "processes": processes, "managers": managers, "batch": batch,
            "jobs_per_s": jobs / span, "ran": len(ids), "distinct": len(set(ids)), "left_in_queue": left,
            "exactly_once": exactly_once,
            "server_cpu_us_per_job": None if server_before is None or server_after is None
            else (server_after - server_before) / jobs * 1e6,
            "worker_cpu_us_per_job": (workers_after - workers_before) / jobs * 1e6,
            "wal_bytes_per_job": (wal_after - wal_before) / jobs}


async def start(dsn: str, jobs: int, single: int) -> dict:
    await prepare(dsn)
    bulk = await enqueue_bulk(dsn, jobs)
    conn = await connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        began = time.perf_counter()
        for _ in range(single):
            await queries.enqueue(ENTRYPOINT, None)
        one = time.perf_counter() - began
        await queries.clear_queue()
    finally:
        await conn.close()
    return {"workload": "start", "bulk_jobs": jobs, "bulk_per_s": jobs / bulk, "single_calls": single, "single_per_s": single / one}


async def pickup_worker_async(dsn: str, jobs: int, out: mp.Queue) -> None:
    conn = await connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))
    latencies: list[float] = []

    @qm.entrypoint(ENTRYPOINT)
    async def noop(job) -> None:  # noqa: ANN001
        latencies.append((time.time() - float(job.payload.decode())) * 1000)
        if len(latencies) == jobs:
            qm.shutdown.set()

    out.put("ready")
    await qm.run(batch_size=10, dequeue_timeout=timedelta(seconds=30), log_aggregation_interval=timedelta(0))
    await conn.close()
    out.put(latencies)


def pickup_worker(dsn: str, jobs: int, out: mp.Queue) -> None:
    try:
        asyncio.run(pickup_worker_async(dsn, jobs, out))
    except BaseException as error:
        out.put({"error": f"{type(error).__name__}: {error}"})
        raise



async def enqueue_paced(dsn: str, jobs: int, pause: float) -> None:
    conn = await connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        for _ in range(jobs):
            await queries.enqueue(ENTRYPOINT, str(time.time()).encode())
            await asyncio.sleep(pause)
    finally:
        await conn.close()


def pickup(dsn: str, jobs: int) -> dict:
    asyncio.run(prepare(dsn))
    out: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=pickup_worker, args=(dsn, jobs, out))
    proc.start()
    if received(out, 60) != "ready":
        raise SystemExit("pgqueuer_bench: the pickup worker did not start")
    time.sleep(0.5)  # idle: connected and LISTENing
    asyncio.run(enqueue_paced(dsn, jobs, 0.02))
    latencies = sorted(received(out, 120))
    proc.join()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {"workload": "pickup", "jobs": jobs, "samples": len(latencies), "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(0.99), "exactly_once": len(latencies) == jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn")
    parser.add_argument("workload", choices=["drain", "start", "pickup"])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--managers", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--single", type=int, default=2000)
    args = parser.parse_args()
    if args.workload == "drain":
        report = drain(args.dsn, args.jobs, args.processes, args.managers, args.batch)
    elif args.workload == "start":
        report = asyncio.run(start(args.dsn, args.jobs, args.single))
    else:
        report = pickup(args.dsn, args.jobs)
    print(json.dumps(report))
    if report.get("exactly_once") is False:
        sys.exit(1)


if __name__ == "__main__":
    main()
