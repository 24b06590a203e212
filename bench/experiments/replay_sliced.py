"""Experiment (issue 19): the whole replay partitioned by account range, measured.

    python bench/experiments/replay_sliced.py WORKSPACE.duckdb INCIDENT.toml --slices 4
        [--memory-limit 1GB] [--json OUT]

Works on a copy of the workspace. For each of N slices of the accounts (by id, as the
delivery figures are sliced today), temporary views named like the per-account tables
(`matches`, `contact_runs`, `deliveries`, `accounts`) shadow them with the slice's rows
only, and the tool's own replay (`incidentscope.replay.replay`, unchanged) runs on them:
every step and figure query holds one slice at a time. `uploads` is not per account (an
entry names a key, not an account): each slice replays every entry against its own
accounts' keys, so step 04 runs once per slice here (a real design would stage it once).

Every figure counted per account (affected accounts lower and upper, the whole window's
bounds, exposed accounts, matches per class) adds up over the slices, as an account is in
one slice; the script compares those sums with the unsliced replay's figures when given
--check-against (a report.json of the same workspace), and prints per slice the seconds,
DuckDB's peak memory and spilled bytes (`duckdb_memory()` after every statement), and the
process's peak RSS.
"""

# ruff: noqa: S608 - SQL assembled from fixed table names and integers

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from incidentscope import replay
from incidentscope.config import load_incident
from incidentscope.engine import DuckDBEngine, Params

SLICED = ("matches", "contact_runs", "deliveries", "accounts")


class SampledEngine(DuckDBEngine):
    """The replay's engine, with DuckDB's memory sampled after each statement."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self.sampler = con.cursor()
        self.peak_mb = 0.0
        self.spilled_mb = 0.0

    def _sample(self) -> None:
        row = self.sampler.execute("SELECT coalesce(sum(memory_usage_bytes), 0), coalesce(sum("
                                   "temporary_storage_bytes), 0) FROM duckdb_memory()"
                                   ).fetchall()[0]
        self.peak_mb = max(self.peak_mb, int(row[0]) / 2**20)
        self.spilled_mb = max(self.spilled_mb, int(row[1]) / 2**20)

    def execute(self, sql: str, params: Params = None) -> None:
        super().execute(sql, params)
        self._sample()

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        found = super().rows(sql, params)
        self._sample()
        return found

    def frame(self, sql: str, params: Params = None) -> Any:
        found = super().frame(sql, params)
        self._sample()
        return found


def additive(report: dict[str, Any]) -> dict[str, int]:
    """The report's figures that add up over account slices."""
    figures = {f"affected_{k}": report["affected_accounts"][k] for k in ("lower", "upper")}
    figures.update({f"exposed_{k}": report["exposed_accounts"][k] for k in ("lower", "upper")})
    whole = report.get("affected_accounts_whole_window") or {}
    figures.update({f"whole_window_{k}": whole[k] for k in ("lower", "upper") if k in whole})
    figures.update({f"matches_{k}": report["matches"][k]
                    for k in ("caused", "permitted", "uncertain", "unexplained")})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("incident", type=Path)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--check-against", type=Path, default=None,
                        help="report.json of an unsliced run of the same workspace")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    incident = load_incident(args.incident)
    scratch = Path(tempfile.mkdtemp(prefix="replay-sliced-", dir=args.workspace.parent))
    try:
        copy = scratch / "ws.duckdb"
        shutil.copy(args.workspace, copy)
        con = duckdb.connect(str(copy), config={"memory_limit": args.memory_limit})
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET temp_directory = $1", [str(scratch / "tmp")])
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
        engine = SampledEngine(con)
        n = args.slices
        per_slice, sums = [], {}
        started = time.perf_counter()
        for k in range(n):
            for name in SLICED:
                con.execute(f"DROP VIEW IF EXISTS temp.main.{name}")
                if n > 1:
                    con.execute(f'CREATE TEMP VIEW {name} AS SELECT * FROM "{catalog}".main.'
                                f"{name} WHERE (account_id % {n} + {n}) % {n} = {k}")
            engine.peak_mb = engine.spilled_mb = 0.0
            begun = time.perf_counter()
            result = replay.replay(engine, incident, persist=False)
            per_slice.append({"slice": k, "seconds": round(time.perf_counter() - begun, 2),
                              "duckdb_peak_mb": round(engine.peak_mb, 0),
                              "spilled_mb": round(engine.spilled_mb, 0)})
            for key, value in additive(result.report).items():
                sums[key] = sums.get(key, 0) + value
        out: dict[str, Any] = {
            "slices": n, "memory_limit": args.memory_limit,
            "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "per_slice": per_slice, "sums": sums}
        if args.check_against:
            expected = additive(json.loads(args.check_against.read_text()))
            out["sums_equal_unsliced"] = expected == sums
        con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(out, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
