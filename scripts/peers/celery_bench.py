"""The DAG peer of issue 12 — Celery on Redis — driven through the `dag` shape of
`trellis bench engine`: root → 8 parallel → merge, echo tasks.

Run by scripts/bench-peers.sh (which starts a throwaway redis-server and the pinned venv);
by hand, with a worker running (`celery -A celery_bench worker --concurrency 2`):

    CELERY_BENCH_REDIS=redis://127.0.0.1:6390/0 python scripts/peers/celery_bench.py --runs 200 --serial 50

Prints one JSON object. The burst: RUNS workflows (a chain of the root and a chord of eight
into the merge) submitted at once; nodes/s = 10 × RUNS over the span from submitting the
first to the last merge's result (Trellis: first node start to last node finish, by the
database's clock — the submission is in Celery's span, not in Trellis's). Then SERIAL runs
one at a time: each from submission to its merge's result (Trellis: run created to run
finished). Checked: every run's merge returns the eight results of its own root (Celery keeps no record
that would show a task run twice).
Redis runs without persistence (`--save '' --appendonly no`), as in the issue's run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from celery import Celery, chain, chord

app = Celery("celery_bench", broker=os.environ.get("CELERY_BENCH_REDIS", "redis://127.0.0.1:6390/0"),
             backend=os.environ.get("CELERY_BENCH_REDIS", "redis://127.0.0.1:6390/0"))
app.conf.update(broker_connection_retry_on_startup=True)


@app.task
def echo(value):
    return value


@app.task
def merge(values):
    return values


def workflow(tag: int):
    return chain(echo.s(tag), chord([echo.s() for _ in range(8)], merge.s()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--serial", type=int, default=50)
    args = parser.parse_args()

    # A worker must be up (its pool forked) before the clock starts; none within 30 s is a
    # failed bench, not a ten-minute wait on the first result.
    deadline = time.monotonic() + 30
    while not app.control.ping(timeout=1):
        if time.monotonic() > deadline:
            print("celery_bench: no Celery worker answered within 30 s", file=sys.stderr)
            os._exit(2)
    began = time.perf_counter()
    results = [workflow(i).apply_async() for i in range(args.runs)]
    submitted = time.perf_counter() - began
    outputs = [r.get(timeout=600) for r in results]
    burst = time.perf_counter() - began
    correct = sum(1 for i, out in enumerate(outputs) if out == [i] * 8)

    latencies = []
    for i in range(args.serial):
        start = time.perf_counter()
        out = workflow(10_000 + i).apply_async().get(timeout=60)
        latencies.append((time.perf_counter() - start) * 1000)
        correct += out == [10_000 + i] * 8
        time.sleep(0.005)
    latencies.sort()
    report = {"workload": "dag", "runs": args.runs, "burst_nodes_per_s": 10 * args.runs / burst,
              "burst_submission_s": submitted,
              "serial_runs": args.serial, "serial_p50_ms": statistics.median(latencies),
              "serial_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
              "results_correct": correct == args.runs + args.serial}
    print(json.dumps(report), flush=True)
    # Exit without the interpreter's shutdown: Celery's pending results unsubscribe from
    # Redis in __del__, which at shutdown prints a traceback for each.
    os._exit(0 if report["results_correct"] else 1)


if __name__ == "__main__":
    main()
