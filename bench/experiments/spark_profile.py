"""Spark's load and replay timed per step and statement, with Spark settings to compare.

    python bench/experiments/spark_profile.py CASE_DIR [--conf KEY=VALUE ...]
        [--master local[2]] [--driver-memory 8g] [--event-log DIR] [--json OUT]

Does what `incidentscope run --engine spark` does up to the figures (the Spark ingest,
then the replay through `SparkEngine`), in this process, with a session made here: the
tool's own settings (incidentscope.spark.session) plus every --conf, so that settings
can be compared without changing src/ (for example
`spark.sql.autoBroadcastJoinThreshold=-1` against the default, or more shuffle
partitions). The load is timed by its progress messages (each file, then compaction),
the replay by statement, named by its SQL file as in bench/statement_profile.py; each
replay statement is a Spark job group, so that the event log (--event-log, read by
bench/experiments/spark_stages.py) names it. Reports are not rendered. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incidentscope.spark.run import resolve_key
from statement_profile import _sql_names

from incidentscope import replay as replay_engine
from incidentscope.config import load_incident
from incidentscope.spark import ingest as spark_ingest
from incidentscope.spark.engine import SparkEngine


class TimedSparkEngine(SparkEngine):
    def __init__(self, spark: Any) -> None:
        super().__init__(spark)
        self.log: dict[str, dict[str, Any]] = {}

    def _timed(self, method: Any, sql: str, params: Any) -> Any:
        name = _sql_names().get(" ".join(sql.split())) or " ".join(sql.split())[:60]
        self.spark.sparkContext.setJobDescription(name)
        started = time.perf_counter()
        try:
            return method(sql, params)
        finally:
            entry = self.log.setdefault(name, {"name": name, "calls": 0, "seconds": 0.0})
            entry["calls"] += 1
            entry["seconds"] = round(entry["seconds"] + time.perf_counter() - started, 3)

    def execute(self, sql: str, params: Any = None) -> None:
        self._timed(super().execute, sql, params)

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self._timed(super().rows, sql, params)  # type: ignore[no-any-return]

    def frame(self, sql: str, params: Any = None) -> Any:
        return self._timed(super().frame, sql, params)


def make_session(master: str, confs: list[str], driver_memory: str,
                 event_log: Path | None) -> Any:
    extra = [f"--driver-memory {driver_memory}"]
    if event_log:
        event_log.mkdir(parents=True, exist_ok=True)
        extra += ["--conf spark.eventLog.enabled=true",
                  f"--conf spark.eventLog.dir=file://{event_log}",
                  "--conf spark.eventLog.compress=false"]
    os.environ["PYSPARK_SUBMIT_ARGS"] = " ".join(extra) + " pyspark-shell"
    from incidentscope.spark import session

    spark = session(master)
    for conf in confs:
        key, value = conf.split("=", 1)
        spark.conf.set(key, value)
    return spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--conf", action="append", default=[])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--event-log", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    incident = load_incident(args.case / "incident.toml")
    key = resolve_key(args.case / "spark-profile.duckdb")
    started = time.perf_counter()
    spark = make_session(args.master, args.conf, args.driver_memory, args.event_log)
    session_s = time.perf_counter() - started
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()
    spark.sparkContext.setJobDescription("load")
    spark_ingest.load(spark, incident, args.case / "data", key,
                      progress=lambda message: marks.append((time.perf_counter(), message)))
    load_s = time.perf_counter() - started
    steps, previous = [], started
    for at, message in marks:
        steps.append({"name": message[:90], "seconds": round(at - previous, 2)})
        previous = at
    steps.append({"name": "(after the last message: the views)",
                  "seconds": round(started + load_s - previous, 2)})
    engine = TimedSparkEngine(spark)
    started = time.perf_counter()
    result = replay_engine.replay(engine, incident, persist=False)
    replay_s = time.perf_counter() - started
    out = {"case": str(args.case), "master": args.master, "conf": args.conf,
           "session_s": round(session_s, 1), "load_s": round(load_s, 1),
           "replay_s": round(replay_s, 1),
           "affected_accounts": result.report["affected_accounts"],
           "load_steps": sorted(steps, key=lambda s: -s["seconds"])[:15],
           "replay_statements": sorted(engine.log.values(), key=lambda s: -s["seconds"])}
    spark.stop()
    text = json.dumps(out, indent=1, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
