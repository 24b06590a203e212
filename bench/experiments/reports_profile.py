"""Where the reports' time goes: cProfile of the Art. 34 pack on a replayed workspace.

    python bench/experiments/reports_profile.py WORKSPACE.duckdb INCIDENT.toml [--top 20]

Replays a copy of the workspace (the tool's replay, unchanged), then renders the Art. 34
pack (`report.art34.render_all`) once plainly timed and once under cProfile, and the
parts it is made of (`_facts_by_account`, `notices`, `purge`, the CSV and Parquet files)
timed one by one. Prints JSON: seconds per part and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from incidentscope import replay, workspace
from incidentscope.config import load_incident
from incidentscope.outdir import as_bytes
from incidentscope.report import art34
from incidentscope.report.exports import frame_to_csv, to_parquet


def timed(label: str, out: dict[str, float], call: Any) -> Any:
    started = time.perf_counter()
    value = call()
    out[label] = round(time.perf_counter() - started, 2)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("incident", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    incident = load_incident(args.incident)
    scratch = Path(tempfile.mkdtemp(prefix="reports-profile-", dir=args.workspace.parent))
    try:
        copy = scratch / "ws.duckdb"
        shutil.copy(args.workspace, copy)
        con = workspace.connect(copy)
        result = replay.replay(con, incident, persist=False)
        con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    parts: dict[str, float] = {}
    timed("art34.render_all", parts, lambda: [
        as_bytes(content) for content in art34.render_all(result, incident).values()])
    timed("_facts_by_account", parts, lambda: art34._facts_by_account(result))
    frame = timed("notices (one rendered text per account, the frame)", parts,
                  lambda: art34.notices(result, incident))
    timed("purge", parts, lambda: art34.purge(result))
    timed("notices.csv (exports.frame_to_csv)", parts, lambda: frame_to_csv(frame))
    timed("notices.parquet", parts, lambda: to_parquet(frame))
    profiler = cProfile.Profile()
    profiler.enable()
    [as_bytes(content) for content in art34.render_all(result, incident).values()]
    profiler.disable()
    stats = pstats.Stats(profiler)
    own = sorted(stats.stats.items(), key=lambda item: -item[1][2])  # type: ignore[attr-defined]
    top = [{"function": f"{Path(path).name}:{line}:{name}", "own_s": round(row[2], 2),
            "cumulative_s": round(row[3], 2), "calls": row[1]}
           for (path, line, name), row in own[:args.top]]
    print(json.dumps({"accounts": result.accounts.height,
                      "notice_rows": result.notice_facts.height, "parts_s": parts,
                      "cprofile_top_own_time": top}, indent=1))


if __name__ == "__main__":
    main()
