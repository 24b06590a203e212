"""What each Spark job and stage of a run did, from Spark's event log (issue 19).

    PYSPARK_SUBMIT_ARGS="--driver-memory 8g --conf spark.eventLog.enabled=true \\
        --conf spark.eventLog.dir=file:///tmp/events pyspark-shell" \\
        incidentscope run ... --engine spark
    python bench/experiments/spark_stages.py /tmp/events/eventlog_v2_local-... [--top 25]

Reads the event log (a folder of `events_N_*` files, zstd-compressed or plain, or one
file) and prints JSON: per SQL execution (one replay statement or ingest query, by the
start of its description), the wall seconds, the jobs and stages it ran, the executors'
run time, the bytes read from input (cached tables included), and the shuffle bytes
written and read; and the totals.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def events(path: Path) -> Iterator[dict[str, Any]]:
    files = sorted(path.glob("events_*"), key=lambda p: int(p.name.split("_")[1])) \
        if path.is_dir() else [path]
    for file in files:
        raw = file.read_bytes()
        if file.name.endswith(".zstd"):
            raw = subprocess.run(["zstd", "-dc"], input=raw, capture_output=True,
                                 check=True).stdout
        for line in io.StringIO(raw.decode("utf-8")):
            if line.strip():
                yield json.loads(line)


def summarize(path: Path, top: int) -> dict[str, Any]:
    executions: dict[int, dict[str, Any]] = {}
    stage_exec: dict[int, int] = {}
    job_exec: dict[int, int | None] = {}
    stages: dict[int, dict[str, Any]] = {}
    app_start = app_end = None
    for e in events(path):
        kind = e["Event"]
        if kind == "SparkListenerApplicationStart":
            app_start = e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app_end = e["Timestamp"]
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            executions[e["executionId"]] = {
                "description": " ".join(str(e.get("description", "")).split())[:90],
                "start": e["time"], "end": e["time"], "jobs": 0, "stages": 0,
                "run_s": 0.0, "input_mb": 0.0, "shuffle_write_mb": 0.0,
                "shuffle_read_mb": 0.0}
        elif kind.endswith("SparkListenerSQLExecutionEnd"):
            found = executions.get(e["executionId"])
            if found is not None:
                found["end"] = e["time"]
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            exec_id = props.get("spark.sql.execution.id")
            job_exec[e["Job ID"]] = int(exec_id) if exec_id is not None else None
            for stage_id in e.get("Stage IDs", []):
                if exec_id is not None:
                    stage_exec[stage_id] = int(exec_id)
            if exec_id is not None and int(exec_id) in executions:
                executions[int(exec_id)]["jobs"] += 1
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            metrics = {a["Name"]: a.get("Value") for a in info.get("Accumulables", [])}

            def number(name: str, metrics: dict[str, Any] = metrics) -> float:
                try:
                    return float(metrics.get(name) or 0)
                except (TypeError, ValueError):
                    return 0.0

            stages[info["Stage ID"]] = {
                "run_s": number("internal.metrics.executorRunTime") / 1000,
                "input_mb": number("internal.metrics.input.bytesRead") / 2**20,
                "shuffle_write_mb": number("internal.metrics.shuffle.write.bytesWritten")
                / 2**20,
                "shuffle_read_mb": (number("internal.metrics.shuffle.read.remoteBytesRead")
                                    + number("internal.metrics.shuffle.read.localBytesRead"))
                / 2**20,
                "tasks": info.get("Number of Tasks", 0)}
    for stage_id, metrics in stages.items():
        found = executions.get(stage_exec.get(stage_id, -1))
        if found is None:
            continue
        found["stages"] += 1
        for key in ("run_s", "input_mb", "shuffle_write_mb", "shuffle_read_mb"):
            found[key] += metrics[key]
    rows = []
    for exec_id, found in executions.items():
        if not found["jobs"]:
            continue
        rows.append({"id": exec_id, "seconds": round((found["end"] - found["start"]) / 1000, 2),
                     **{k: (round(v, 1) if isinstance(v, float) else v)
                        for k, v in found.items() if k not in ("start", "end")}})
    rows.sort(key=lambda r: -r["seconds"])
    totals = {key: round(sum(r[key] for r in rows), 1)
              for key in ("seconds", "run_s", "input_mb", "shuffle_write_mb",
                          "shuffle_read_mb", "jobs", "stages")}
    totals["executions"] = len(rows)
    if app_start and app_end:
        totals["application_s"] = round((app_end - app_start) / 1000, 1)
    return {"totals": totals, "top": rows[:top]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(json.dumps(summarize(args.log, args.top), indent=1))


if __name__ == "__main__":
    main()
