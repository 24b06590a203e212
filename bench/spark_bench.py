"""The Spark engine beside DuckDB: `incidentscope run --engine spark` on benchmark scenarios.

    python bench/spark_bench.py --scales S             # about 10 minutes on 2 cores
    python bench/spark_bench.py --scales S M --work /work/bench_work

Uses the scenarios that bench/run.py generated (WORK/S, WORK/M: pre-hashed Parquet,
weekly snapshots); it does not generate them. For each scale it times, each in a fresh
process, the whole `run` (load, replay, every report) with `--engine spark
--spark-master local[2]` and, unless `--no-duckdb`, the same `run` with the DuckDB
engine on the same key, and checks that both report.json files are equal.

Peak memory is the peak of the summed resident memory of the whole process tree,
sampled every 0.2 s from /proc (the Spark driver is a JVM child of the Python process,
so `/usr/bin/time` would miss it). The driver JVM gets `--driver-memory` (default 8g)
through PYSPARK_SUBMIT_ARGS; without it local mode has a 1 GB heap.

The table goes into docs/benchmarks.md between `<!-- spark-results -->` and
`<!-- /spark-results -->` (added at the end of the file when missing), and the figures
into WORK/spark_results.json. Local Spark on 2 cores is slower than DuckDB: the point
of the engine is that it scales out to a cluster, and the table says what it costs here.

With `--event-log`, the Spark run also writes Spark's event log into WORK/spark-events
and the script summarizes it with bench/experiments/spark_stages.py into
WORK/spark-stages-SCALE.json (per SQL execution: seconds, stages, input and shuffle
bytes): the figures docs/spark.md's plan for a billion matches extrapolates from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATCH_ROWS = {"XS": 500_000, "S": 5_000_000, "M": 20_000_000, "L": 100_000_000}
START, END = "<!-- spark-results -->", "<!-- /spark-results -->"


def _tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of `root` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def timed(args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Wall seconds, peak process-tree memory (MB) and stdout of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"failed ({process.returncode}): {' '.join(args[:6])}\n"
                           f"{stderr[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_mb": round(peak / 1024), "stdout": stdout}


def bench_scale(scale: str, work: Path, master: str, driver_memory: str,
                with_duckdb: bool, event_log: bool = False) -> dict[str, object]:
    case = work / scale
    incident, data = case / "incident.toml", case / "data"
    if not incident.exists():
        raise SystemExit(f"{case}: no scenario (generate it with bench/run.py --scales {scale})")
    tool = [sys.executable, "-m", "incidentscope", "run", str(incident), "--data", str(data),
            "-q", "--format", "json"]
    events = work / "spark-events"
    logging = (f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{events} "
               if event_log else "")
    if event_log:
        shutil.rmtree(events, ignore_errors=True)
        events.mkdir(parents=True)
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS":
           f"--driver-memory {driver_memory} {logging}pyspark-shell"}
    spark_db = work / f"{scale}-spark.duckdb"  # only its key file is used: Spark writes none
    result: dict[str, object] = {"scale": scale, "match_rows": MATCH_ROWS.get(scale),
                                 "master": master, "driver_memory": driver_memory,
                                 "load_average_before": round(os.getloadavg()[0], 1)}
    print(f"[{scale}] spark", file=sys.stderr)
    spark = timed([*tool, "--db", str(spark_db), "--out", str(work / f"{scale}-spark-out"),
                   "--engine", "spark", "--spark-master", master], env)
    spark_report = json.loads(str(spark.pop("stdout")))
    result["spark"] = spark
    if event_log:
        (log,) = events.iterdir()
        summary = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "experiments" / "spark_stages.py"), str(log),
             "--top", "60"], capture_output=True, text=True, check=True).stdout
        (work / f"spark-stages-{scale}.json").write_text(summary)
    result["affected_accounts"] = spark_report["affected_accounts"]
    if with_duckdb:
        duck_db = work / f"{scale}-spark-ref.duckdb"
        for stale in work.glob(f"{scale}-spark-ref.duckdb*"):
            stale.unlink()
        shutil.copyfile(spark_db.with_name(spark_db.name + ".key"),
                        duck_db.with_name(duck_db.name + ".key"))
        print(f"[{scale}] duckdb", file=sys.stderr)
        duck = timed([*tool, "--db", str(duck_db), "--out", str(work / f"{scale}-duck-out")],
                     dict(os.environ))
        result["duckdb"] = duck
        result["reports_equal"] = json.loads(str(duck.pop("stdout"))) == spark_report
    # other work on the machine slows both engines: the table says how busy it was
    result["load_average_after"] = round(os.getloadavg()[0], 1)
    return result


def markdown(results: list[dict[str, object]]) -> str:
    lines = [f"Machine: {os.cpu_count()} cores, "
             f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
             f"{platform.platform()}. `python bench/spark_bench.py`: the whole `run` in a "
             "fresh process; peak memory of the process tree (Spark's driver JVM included).",
             "", "| scale | engine | seconds | peak MB | match rows/s | report.json |",
             "|---|---|---:|---:|---:|---|"]
    for r in results:
        rows = int(r["match_rows"] or 0)  # type: ignore[call-overload]
        for key, label in (("spark", f"Spark, {r['master']}, driver {r['driver_memory']}"),
                           ("duckdb", "DuckDB")):
            if key not in r:
                continue
            m = r[key]
            assert isinstance(m, dict)
            rate = f"{rows / float(m['seconds']):,.0f}" if rows else "-"
            same = {True: "equal", False: "DIFFERS"}.get(r.get("reports_equal"), "-")  # type: ignore[arg-type]
            lines.append(f"| {r['scale']} | {label} | {m['seconds']} | {m['peak_mb']} | "
                         f"{rate} | {same} |")
    loads = [float(r[key]) for r in results  # type: ignore[arg-type]
             for key in ("load_average_before", "load_average_after") if key in r]
    if loads:
        lines += ["", f"Load average of the machine (1 min) when the runs started and ended: "
                  f"{min(loads)} to {max(loads)} on {os.cpu_count()} cores."]
    lines += ["", "Local Spark on 2 cores pays for a JVM, a job per query and shuffles "
              "between stages that DuckDB does not have; the same steps run unchanged on a "
              "cluster, where the work spreads over its executors (docs/spark.md).", ""]
    return "\n".join(lines)


def write_docs(docs: Path, table: str) -> None:
    text = docs.read_text(encoding="utf-8")
    if START not in text:
        text = text.rstrip("\n") + f"\n\n## The Spark engine\n\n{START}\n{END}\n"
    start, end = text.index(START), text.index(END)
    docs.write_text(text[:start] + START + "\n" + table + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", nargs="+", default=["S"], choices=sorted(MATCH_ROWS))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--no-duckdb", action="store_true", help="Skip the DuckDB reference.")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--event-log", action="store_true",
                        help="also write Spark's event log and its per-stage summary")
    args = parser.parse_args()
    results = []
    for scale in args.scales:
        results.append(bench_scale(scale, args.work, args.master, args.driver_memory,
                                   not args.no_duckdb, args.event_log))
        # after each scale, so that a long M run still leaves the S figures behind
        (args.work / "spark_results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_docs(args.docs, markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
