"""Per-statement profile of one load and its replays, in one process (bench/run.py --profile).

    python bench/statement_profile.py CASE_DIR --db WS.duckdb [--memory-limit 3GB] [--json OUT]

CASE_DIR is a generated scenario (incident.toml, data/). The script

1. loads the data into a fresh workspace, timing every statement the loader runs
   (a proxy around the DuckDB connection; statements are named by the loader function
   and line that ran them, with the start of their SQL);
2. replays it with the uploads (the incident as it is), timing every replay step, figure
   query and estimate query by name (a `DuckDBEngine` that times each call);
3. renders every report of the first replay in memory, timing each format, the exports
   and the Art. 34 notices;
4. replays it again without the uploads (`use_uploads = False`, what-if
   --without-uploads): the v1 replay, the same steps with step 04 empty;

and after each statement samples DuckDB's own memory (`duckdb_memory()`: bytes in
memory and spilled to temporary files), so that a statement that spills shows.

Nothing in src/ is changed: the proxy and the engine wrap what the tool runs.
The result is a JSON document (stdout, or --json), which bench/run.py turns into the
profile section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from incidentscope import api, ingest, workspace
from incidentscope import replay as replay_engine
from incidentscope.engine import DuckDBEngine, Params
from incidentscope.outdir import as_bytes


def _snippet(sql: str) -> str:
    lines = [line for line in sql.splitlines()
             if line.strip() and not line.strip().startswith("--")]
    return " ".join(" ".join(lines).split())[:70]


def _subject(frame: Any) -> str:
    """The input table a loader statement works on, from its caller's locals."""
    local = frame.f_locals
    for name in ("item", "log"):
        table = getattr(local.get(name), "table", None)
        if isinstance(table, str):
            return f" [{table}]"
    plans = local.get("plans") or local.get("plan")
    first = plans[0] if isinstance(plans, list) and plans else plans
    table = getattr(getattr(first, "item", None), "table", None)
    if isinstance(table, str):
        return f" [{table}]"
    return ""


def _caller() -> str:
    """The incidentscope function (module.qualname:line) that ran the statement, and the
    input table it works on when its caller says."""
    frame = sys._getframe(2)  # a profiler looks at its callers
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("incidentscope"):
            subject = _subject(frame)
            caller = frame.f_back
            if (not subject and frame.f_code.co_name == "_insert_in_order"
                    and caller is not None and caller.f_code.co_name == "_merge_log"):
                subject = _subject(caller)  # the log it merges
            if frame.f_code.co_name in ("finish", "_load") or module.endswith("compaction"):
                subject = ""  # their locals name the last file, not what they work on
            return (f"{module.split('.', 1)[-1]}.{frame.f_code.co_qualname}:{frame.f_lineno}"
                    + subject)
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class Recorder:
    """Seconds per named statement, with DuckDB's memory after each."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        # a connection of its own: a query on the profiled one would replace the result
        # that its caller is about to fetch
        self.con = con.cursor()
        self.phase = ""
        self.statements: dict[tuple[str, str], dict[str, Any]] = {}

    def memory(self) -> tuple[int, int]:
        row = self.con.execute("SELECT coalesce(sum(memory_usage_bytes), 0), "
                               "coalesce(sum(temporary_storage_bytes), 0) "
                               "FROM duckdb_memory()").fetchall()[0]
        return int(row[0]), int(row[1])

    def add(self, name: str, sql: str, seconds: float) -> None:
        try:
            in_memory, spilled = self.memory()
        except duckdb.Error:  # an aborted transaction: the next statement rolls back
            in_memory = spilled = 0
        entry = self.statements.setdefault((self.phase, name), {
            "phase": self.phase, "name": name, "sql": _snippet(sql), "calls": 0,
            "seconds": 0.0, "memory_mb": 0.0, "spilled_mb": 0.0})
        entry["calls"] += 1
        entry["seconds"] += seconds
        entry["memory_mb"] = max(entry["memory_mb"], round(in_memory / 2**20, 1))
        entry["spilled_mb"] = max(entry["spilled_mb"], round(spilled / 2**20, 1))

    def rows(self, phase: str) -> list[dict[str, Any]]:
        found = [dict(v, seconds=round(v["seconds"], 3))
                 for v in self.statements.values() if v["phase"] == phase]
        return sorted(found, key=lambda v: -v["seconds"])


class TimedConnection:
    """A DuckDB connection whose execute/executemany are timed (for the loader)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, recorder: Recorder) -> None:
        self._con = con
        self._recorder = recorder

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        name = _caller()
        started = time.perf_counter()
        result = self._con.execute(sql, *args, **kwargs)
        self._recorder.add(name, sql, time.perf_counter() - started)
        return result

    def executemany(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        name = _caller()
        started = time.perf_counter()
        result = self._con.executemany(sql, *args, **kwargs)
        self._recorder.add(name, sql, time.perf_counter() - started)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class TimedEngine(DuckDBEngine):
    """The replay's engine, each statement timed and named by its SQL file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, recorder: Recorder) -> None:
        super().__init__(con)
        self.recorder = recorder

    def _name(self, sql: str) -> str:
        return replay_engine.statement_name(sql) or _caller()

    def _timed(self, method: Any, sql: str, params: Params) -> Any:
        name = self._name(sql)
        started = time.perf_counter()
        result = method(sql, params)
        self.recorder.add(name, sql, time.perf_counter() - started)
        return result

    def execute(self, sql: str, params: Params = None) -> None:
        self._timed(super().execute, sql, params)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self._timed(super().rows, sql, params)  # type: ignore[no-any-return]

    def frame(self, sql: str, params: Params = None) -> Any:
        return self._timed(super().frame, sql, params)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def profile(case: Path, db: Path, memory_limit: str | None,
            variants: tuple[str, ...] = ("uploads", "no_uploads"),
            reports: bool = True) -> dict[str, Any]:
    incident_path, data = case / "incident.toml", case / "data"
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    out: dict[str, Any] = {"case": str(case), "memory_limit": memory_limit or "default",
                           "phases": {}}
    with workspace.private_files(), api.open_workspace(
            incident_path, db, create=True, memory_limit=memory_limit) as (incident, con, _db):
        out["memory_limit"] = con.execute(
            "SELECT current_setting('memory_limit')").fetchall()[0][0]
        recorder = Recorder(con)
        key = api._workspace_key(con, db, None)  # as api.load does
        recorder.phase = "load"
        started = time.perf_counter()
        ingest.load(TimedConnection(con, recorder), incident, data, key)  # type: ignore[arg-type]
        out["phases"]["load"] = {"seconds": round(time.perf_counter() - started, 2),
                                 "peak_rss_mb": peak_rss_mb(),
                                 "statements": recorder.rows("load")}
        for variant in variants:
            recorder.phase = variant
            chosen = incident if variant == "uploads" else dataclasses.replace(
                incident, use_uploads=False)
            started = time.perf_counter()
            result = replay_engine.replay(TimedEngine(con, recorder), chosen,
                                          persist=variant == variants[0])
            out["phases"][variant] = {
                "seconds": round(time.perf_counter() - started, 2),
                "peak_rss_mb": peak_rss_mb(), "statements": recorder.rows(variant),
                "affected_accounts": result.report["affected_accounts"],
                "whole_window": result.report["affected_accounts_whole_window"],
                "upload_entries": (result.report["uploads"] or {}).get("entries")}
            if variant == variants[0] and reports:
                out["phases"]["reports"] = profile_reports(result, incident)
    return out


def profile_reports(result: Any, incident: Any) -> dict[str, Any]:
    """The reports of a run, rendered in memory as `render_all` does, each part timed."""
    from incidentscope.report import art34, exports, outputs

    parts: list[tuple[str, Any]] = [
        (f"report/outputs.render_format {fmt}",
         lambda fmt=fmt: outputs.render_format(result, incident, fmt))
        for fmt in outputs.FORMATS[1:] if fmt not in outputs.REGULATOR_FORMATS]
    parts += [("report/exports.render_all", lambda: exports.render_all(result, incident)),
              ("report/art34.render_all (the Art. 34 notices)",
               lambda: art34.render_all(result, incident))]
    timings, files = [], 0
    started = time.perf_counter()
    for name, render in parts:
        begun = time.perf_counter()
        files += len([as_bytes(content) for content in render().values()])
        timings.append({"name": name, "seconds": round(time.perf_counter() - begun, 3),
                        "calls": 1})
    timings.sort(key=lambda f: -f["seconds"])
    return {"seconds": round(time.perf_counter() - started, 2), "files": files,
            "accounts": len(result.accounts), "notice_rows": len(result.notice_facts),
            "statements": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--variants", nargs="+", default=["uploads", "no_uploads"],
                        choices=["uploads", "no_uploads"])
    parser.add_argument("--no-reports", action="store_true",
                        help="do not render the reports after the first replay")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = profile(args.case, args.db, args.memory_limit, tuple(args.variants),
                     not args.no_reports)
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
