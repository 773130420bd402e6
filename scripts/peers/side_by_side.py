"""Prints scripts/bench-peers.sh's rounds as one Markdown table: Trellis and its peers
(pgqueuer; Celery for the DAG) per workload, a column per round, and Trellis ÷ peer (best
setting of each) per round.

Usage: python3 scripts/peers/side_by_side.py RESULTS_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(directory: Path, round_: int, name: str) -> dict:
    return json.loads((directory / f"{round_}-{name}.json").read_text())


_REQUIRED = object()


def figure(report: dict, workload: str, label: str, missing=_REQUIRED):
    """A figure of a `trellis bench engine --json` report; `missing` when given and absent."""
    for entry in report["workloads"]:
        if entry["name"] == workload:
            for item in entry["figures"]:
                if item["label"] == label:
                    return float(item["value"])
    if missing is not _REQUIRED:
        return missing
    raise SystemExit(f"side_by_side: no figure '{label}' of workload '{workload}'")


def main() -> None:
    directory = Path(sys.argv[1])
    rounds = sorted({int(p.name.split("-")[0]) for p in directory.glob("*-trellis-stock.json")})
    if not rounds:
        raise SystemExit(f"side_by_side: no rounds in {directory}")
    rows: list[tuple[str, str, list[str]]] = []

    def row(workload: str, system: str, values: list[float], unit: str = "") -> None:
        rows.append((workload, system, [f"{v:,.0f}{unit}" if v >= 100 else f"{v:.1f}{unit}" for v in values]))

    def ratio(workload: str, values: list[float], label: str = "**Trellis ÷ pgqueuer**") -> None:
        rows.append((workload, label, [f"**{v:.2f}×**" for v in values]))

    per = {r: {name: load(directory, r, name) for name in
               ("trellis-stock", "trellis-tuned", "trellis-two", "pgqueuer-drain-default", "pgqueuer-drain-tuned",
                "pgqueuer-drain-two", "pgqueuer-start", "pgqueuer-pickup", "trellis-dag", "celery-dag")} for r in rounds}

    def commit_rate(report: dict) -> float:
        rate = report["commitRate"]
        return (rate["before"] + rate["after"]) / 2

    def compare(workload: str, trellis: tuple[str, list[float]], peer: tuple[str, list[float]], peer_name: str = "pgqueuer",
                unit: str = "") -> None:
        """Trellis's row, the peer's, and Trellis ÷ peer per round."""
        row(workload, *trellis, unit)
        row(workload, *peer, unit)
        ratio(workload, [a / b for a, b in zip(trellis[1], peer[1])], f"**Trellis ÷ {peer_name}**")

    row("8-client commit rate /s", "(Trellis's baseline, stock run)", [commit_rate(per[r]["trellis-stock"]) for r in rounds])
    t_stock = [figure(per[r]["trellis-stock"], "flat", "drain") for r in rounds]
    t_tuned = [figure(per[r]["trellis-tuned"], "flat", "drain") for r in rounds]
    p_default = [per[r]["pgqueuer-drain-default"]["jobs_per_s"] for r in rounds]
    p_tuned = [per[r]["pgqueuer-drain-tuned"]["jobs_per_s"] for r in rounds]
    drain = "drain 20,000 one-node runs / jobs, 1 process, per s"
    row(drain, "Trellis, stock flags", t_stock)
    row(drain, "Trellis, --concurrency 128 --batch 128", t_tuned)
    row(drain, "pgqueuer, 5 managers × batch 10", p_default)
    row(drain, "pgqueuer, 10 managers × batch 500", p_tuned)
    ratio(drain, [max(a, b) / max(c, d) for a, b, c, d in zip(t_stock, t_tuned, p_default, p_tuned)],
          "**Trellis ÷ pgqueuer (best of each)**")
    # What a node / job costs the database's CPU (and the worker's), whatever the disk: the
    # bound on any drain once the server's cores are busy. Absent when the server is remote.
    cpu = "CPU per node / job in the drain, µs (lower is better)"
    t_db = [figure(per[r]["trellis-stock"], "flat", "database CPU per node, start to finish", missing=None) for r in rounds]
    p_db = [per[r]["pgqueuer-drain-tuned"].get("server_cpu_us_per_job") for r in rounds]
    if None not in t_db and None not in p_db:
        compare(cpu, ("Trellis, database (stock run)", t_db), ("pgqueuer, database (10 × 500 run)", p_db), "pgqueuer, database",
                unit=" µs")
        row(cpu, "Trellis, scheduler process", [figure(per[r]["trellis-stock"], "flat", "scheduler CPU per node") for r in rounds], " µs")
        row(cpu, "pgqueuer, worker process", [per[r]["pgqueuer-drain-tuned"]["worker_cpu_us_per_job"] for r in rounds], " µs")

    p_wal = [per[r]["pgqueuer-drain-tuned"].get("wal_bytes_per_job") for r in rounds]
    if None not in p_wal:  # absent from results of scripts before session 30
        wal = "WAL per node / job in the drain, bytes (lower is better)"
        row(wal, "Trellis (stock run)", [figure(per[r]["trellis-stock"], "flat", "WAL per node, start to finish") for r in rounds])
        row(wal, "pgqueuer (10 × 500 run)", p_wal)

    compare("drain, 2 processes, per s",
            ("Trellis, stock flags", [figure(per[r]["trellis-two"], "flat", "drain") for r in rounds]),
            ("pgqueuer, 10 managers × batch 500 each", [per[r]["pgqueuer-drain-two"]["jobs_per_s"] for r in rounds]))
    compare("start 20,000 in one call, per s",
            ("Trellis `start_runs`", [figure(per[r]["trellis-stock"], "start", "start_runs, one call") for r in rounds]),
            ("pgqueuer `enqueue` of lists", [per[r]["pgqueuer-start"]["bulk_per_s"] for r in rounds]))
    compare("one call per run / job, one client, per s",
            ("Trellis `start_run`", [figure(per[r]["trellis-stock"], "start", "one call per run") for r in rounds]),
            ("pgqueuer `enqueue`", [per[r]["pgqueuer-start"]["single_per_s"] for r in rounds]))
    for label, key in (("p50", "p50_ms"), ("p99", "p99_ms")):
        pick = f"pickup into an idle worker, {label} (lower is better)"
        row(pick, "Trellis", [figure(per[r]["trellis-stock"], "pickup", label) for r in rounds], " ms")
        row(pick, "pgqueuer", [per[r]["pgqueuer-pickup"][key] for r in rounds], " ms")

    compare("DAG root → 8 → merge, 200 runs at once, nodes/s",
            ("Trellis, stock flags", [figure(per[r]["trellis-dag"], "dag", "burst") for r in rounds]),
            ("Celery on Redis, stock worker", [per[r]["celery-dag"]["burst_nodes_per_s"] for r in rounds]), "Celery")
    for label, key in (("p50", "serial_p50_ms"), ("p99", "serial_p99_ms")):
        serial = f"the same DAG, one run at a time, {label} (lower is better)"
        row(serial, "Trellis", [figure(per[r]["trellis-dag"], "dag", f"one at a time {label}") for r in rounds], " ms")
        row(serial, "Celery on Redis", [per[r]["celery-dag"][key] for r in rounds], " ms")

    header = ["workload", "system, settings"] + [f"round {r}" for r in rounds]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    last = None
    for workload, system, values in rows:
        print("| " + " | ".join([workload if workload != last else "", system] + values) + " |")
        last = workload


if __name__ == "__main__":
    main()
