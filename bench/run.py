"""The incidentscope benchmark: the tool against two hand-written baselines, same run.

    python bench/run.py --scales S            # the short benchmark (about 5 minutes)
    python bench/run.py --scales M raw        # adds M and the raw-contact case
    python bench/run.py --scales L --memory-limit 4GB --whole-run-only   # L, spilling
    python bench/run.py --scales L --baselines-only --baseline-memory-limit 8GB

Scales measured in earlier invocations with the same --work stay in the table.

For each scale it generates a pre-hashed Parquet scenario with the project's
generator (weekly snapshots, 26 of them, no damage so that the baselines need no
validation), then times, each in a fresh process with its peak resident memory
(`/usr/bin/time -v`):

- `incidentscope load`, `replay --format json`, and the whole `run` (load, replay,
  every report) into a fresh workspace;
- baseline (a), bench/baselines/duckdb_baseline.py: a straightforward DuckDB query
  over the input files;
- baseline (b), bench/baselines/polars_baseline.py: a straightforward polars version.

The baselines compute only the core figures (in-window match classes, affected
accounts lower/upper); the script checks that they equal the tool's. The `raw` case
writes raw contacts as CSV to measure normalization throughput. Results go to
docs/benchmarks.md (between the markers) and bench/out/results.json. Absolute
seconds vary between machines: the claim is the ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
WINDOW_START, FIX_AT = "2019-01-01T00:00:00", "2019-09-17T00:00:00"


@dataclass(frozen=True)
class Scale:
    name: str
    accounts: int  # about 1.5 contact keys per account
    matches: int
    hashed: bool = True
    file_format: str = "parquet"


SCALES = {
    "XS": Scale("XS", 20_000, 500_000),
    "S": Scale("S", 200_000, 5_000_000),
    "M": Scale("M", 500_000, 20_000_000),
    "L": Scale("L", 1_350_000, 100_000_000),
    "raw": Scale("raw", 100_000, 1_000_000, hashed=False, file_format="csv"),
}


def generate(scale: Scale, out: Path) -> float:
    from incidentscope.generator import ScenarioParams
    from incidentscope.generator import generate as generate_scenario

    started = time.perf_counter()
    generate_scenario(out, ScenarioParams(
        accounts=scale.accounts, seed=7, snapshot_every_days=7, hashed=scale.hashed,
        file_format=scale.file_format, damage=False, matches_total=scale.matches,
        snapshots_from=date(2019, 3, 18), snapshots_until=date(2019, 9, 10),
        end=date(2019, 9, 30)))
    return time.perf_counter() - started


def timed(args: list[str], extra_env: dict[str, str] | None = None,
          address_space_gb: int | None = None) -> dict[str, float | str]:
    """Wall seconds and peak RSS (MB) of one command in a fresh process.

    `address_space_gb` caps the process's virtual memory, so that a baseline that needs
    more than the machine has fails by itself instead of waking the kernel's OOM killer.
    """
    def cap() -> None:
        if address_space_gb:
            limit = address_space_gb * 2**30
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True,
                          env={**os.environ, **(extra_env or {})}, check=False,
                          preexec_fn=cap)  # no threads here: preexec_fn is safe
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(args[:4])}\n{done.stderr[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return {"seconds": round(seconds, 2),
            "peak_mb": round(int(peak.group(1)) / 1024, 0) if peak else float("nan"),
            "stdout": done.stdout}


def bench_scale(scale: Scale, work: Path, memory_limit: str | None,
                whole_run_only: bool = False) -> dict[str, object]:
    case = work / scale.name
    if not (case / "incident.toml").exists():
        print(f"[{scale.name}] generating", file=sys.stderr)
        generate(scale, case)
    data = case / "data"
    incident = case / "incident.toml"
    input_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    limit = ["--memory-limit", memory_limit] if memory_limit else []
    tool = [PYTHON, "-m", "incidentscope"]
    results: dict[str, object] = {"scale": scale.name, "accounts": scale.accounts,
                                  "match_rows": scale.matches, "input_mb":
                                  round(input_bytes / 2**20, 1)}
    for phase in ("run",) if whole_run_only else ("load", "replay", "run"):
        db = work / f"{scale.name}-{phase}.duckdb"
        for stale in work.glob(f"{scale.name}-{phase}.duckdb*"):
            stale.unlink()
        if phase == "replay":  # replay on the workspace that load made
            db = work / f"{scale.name}-load.duckdb"
        args = {"load": [*tool, "load", str(incident), "--data", str(data), "--db", str(db),
                         "-q", *limit],
                "replay": [*tool, "replay", str(incident), "--db", str(db), "-q",
                           "--format", "json", *limit],
                "run": [*tool, "run", str(incident), "--data", str(data), "--db", str(db),
                        "--out", str(work / f"{scale.name}-out"), "-q", "--format", "json",
                        *limit]}[phase]
        print(f"[{scale.name}] {phase}", file=sys.stderr)
        measured = timed(args)
        if phase == "run":
            results["report"] = json.loads(str(measured.pop("stdout")))
            results["workspace_mb"] = round(db.stat().st_size / 2**20, 1)
        measured.pop("stdout", None)
        results[phase] = measured
    if scale.hashed and not whole_run_only:
        report = results["report"]
        assert isinstance(report, dict)
        results.update(run_baselines(scale, data, report, None))
    report = results.pop("report")
    assert isinstance(report, dict)
    results["affected_accounts"] = report["affected_accounts"]
    results["memory_limit"] = memory_limit or "default"
    results["contact_rows"] = contact_rows(work / f"{scale.name}-run.duckdb")
    return results


BASELINES = {"duckdb": ("baseline_duckdb", "duckdb_baseline.py"),
             "polars": ("baseline_polars", "polars_baseline.py")}


def run_baselines(scale: Scale, data: Path, report: dict[str, object],
                  memory_limit: str | None,
                  which: tuple[str, ...] = tuple(BASELINES)) -> dict[str, object]:
    """Time the baselines and check their figures against the tool's report."""
    results: dict[str, object] = {}
    extra_env = {"BASELINE_MEMORY_LIMIT": memory_limit} if memory_limit else None
    for name, script in (BASELINES[key] for key in which):
        print(f"[{scale.name}] {name}", file=sys.stderr)
        try:
            measured = timed([PYTHON, str(ROOT / "bench" / "baselines" / script), str(data),
                              WINDOW_START, FIX_AT], extra_env,
                             address_space_gb=20 if memory_limit else None)
        except RuntimeError as exc:  # e.g. out of memory: recorded, not fatal
            results[name] = {"failed": failure_reason(str(exc))}
            continue
        figures = json.loads(str(measured.pop("stdout")))
        matches = report["matches"]
        affected = report["affected_accounts"]
        assert isinstance(matches, dict) and isinstance(affected, dict)
        tool_figures = {"matches": {k: matches[k] for k in figures["matches"]},
                        "affected_accounts": {k: affected[k] for k in ("lower", "upper")}}
        measured["agrees"] = figures == tool_figures
        if memory_limit:
            measured["memory_limit"] = memory_limit
        results[name] = measured
    return results


def failure_reason(text: str) -> str:
    """The line that says why a command failed, from its stderr and /usr/bin/time -v."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for needle in ("MemoryError", "memory allocation", "Out of Memory", "OutOfMemory",
                   "terminated by signal"):
        for line in lines:
            if needle in line:
                return line[:200]
    # Otherwise the last line before /usr/bin/time's report (a traceback's last line).
    own = [i for i, line in enumerate(lines) if line.startswith("Command ")]
    before = own[0] if own else len(lines)
    return lines[before - 1][:200] if before else "unknown"


def baselines_only(scale: Scale, work: Path, earlier: dict[str, object],
                   memory_limit: str | None, which: tuple[str, ...]) -> dict[str, object]:
    """The baselines against the report of an earlier whole run of this scale."""
    report = json.loads((work / f"{scale.name}-out" / "report.json").read_text())
    return {**earlier, **run_baselines(scale, work / scale.name / "data", report,
                                       memory_limit, which)}


def contact_rows(db: Path) -> int:
    """Snapshot rows the run read (all contact files), from the workspace's file list."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT coalesce(sum(rows_read), 0) FROM files "
                          "WHERE table_name = 'contacts'").fetchall()[0]
    return int(row[0])


def markdown(all_results: list[dict[str, object]]) -> str:
    lines = [f"Machine: {os.cpu_count()} cores, "
             f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
             f"{platform.platform()}, Python {platform.python_version()}.", ""]
    for r in all_results:
        run = r["run"]
        assert isinstance(run, dict)
        lines += [f"### Scale {r['scale']}: {r['match_rows']:,} match rows, "
                  f"{r['accounts']:,} accounts, {r['input_mb']} MB of input", "",
                  "| what | seconds | peak MB | match rows/s |", "|---|---:|---:|---:|"]
        for key in ("load", "replay", "run", "baseline_duckdb", "baseline_polars"):
            if key in r:
                m = r[key]
                assert isinstance(m, dict)
                if "failed" in m:
                    lines.append(f"| {key} | failed: {m['failed']} | | |")
                    continue
                rate = int(r["match_rows"]) / float(m["seconds"])  # type: ignore[call-overload]
                agrees = "" if "agrees" not in m else (" (agrees)" if m["agrees"]
                                                       else " (DISAGREES)")
                if "memory_limit" in m:
                    agrees += f", memory limit {m['memory_limit']}"
                lines.append(f"| {key}{agrees} | {m['seconds']} | {m['peak_mb']:.0f} | "
                             f"{rate:,.0f} |")
        load = r.get("load", run)
        assert isinstance(load, dict)
        if "load" in r and "replay" in r:
            reports = (float(run["seconds"]) - float(load["seconds"])
                       - float(r["replay"]["seconds"]))  # type: ignore[index]
            lines.append(f"| run - (load + replay): the reports, less what one process saves | "
                         f"{reports:.2f} | | |")
        lines.append("")
        rows = int(r.get("contact_rows", 0))  # type: ignore[call-overload]
        lines.append(f"Memory limit: {r.get('memory_limit', 'default')}. Contact snapshot rows: "
                     f"{rows:,} ({rows / float(load['seconds']):,.0f} snapshot rows/s by the "
                     f"whole {'load' if 'load' in r else 'run'}).")
        lines.append(f"Workspace {r.get('workspace_mb')} MB "
                     f"({100 * float(r.get('workspace_mb', 0)) / float(r['input_mb']):.0f}% "  # type: ignore[arg-type]
                     "of the input).")
        for key, label in (("baseline_duckdb", "(a) DuckDB"), ("baseline_polars", "(b) polars")):
            if key in r and "seconds" in r[key]:  # type: ignore[operator]
                base = r[key]
                assert isinstance(base, dict)
                ratio = float(run["seconds"]) / float(base["seconds"])
                lines.append(f"Whole run / baseline {label}: **{ratio:.2f}x** time, "
                             f"{float(run['peak_mb']) / float(base['peak_mb']):.2f}x peak memory.")
        lines.append("")
    return "\n".join(lines)


def earlier_sections(results_text: str, measured: set[str]) -> str:
    """The doc's sections of scales this work dir has no results for (measured in an
    earlier run, perhaps on another machine, such as L): kept as they were, marked."""
    kept = []
    parts = re.split(r"(?m)^(?=### Scale )", results_text)
    for part in parts[1:]:
        name = part.split()[2].rstrip(":")
        if name in measured:
            continue
        note = "(From an earlier run of this script, not repeated with the figures above.)"
        body = part.rstrip() + ("" if note in part else "\n" + note)
        kept.append("\n" + body + "\n")
    return "".join(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", nargs="+", default=["S"], choices=sorted(SCALES))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--whole-run-only", action="store_true",
                        help="time only the whole run, without the baselines (for L: baseline "
                             "(a) alone needs about 18 GB at M)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="run only the baselines, against the report of an earlier whole "
                             "run of the scale in --work (with --baseline-memory-limit: L)")
    parser.add_argument("--baseline", nargs="+", choices=sorted(BASELINES),
                        default=sorted(BASELINES), help="with --baselines-only: which ones")
    parser.add_argument("--baseline-memory-limit", default=None,
                        help="DuckDB memory limit for baseline (a), e.g. 8GB (it then spills)")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    # Scales measured in earlier invocations (same work dir) stay in the table.
    saved = args.work / "results.json"
    earlier = json.loads(saved.read_text()) if saved.exists() else []
    by_scale = {str(r["scale"]): r for r in earlier}
    if args.baselines_only:
        fresh = {name: baselines_only(SCALES[name], args.work, by_scale[name],
                                      args.baseline_memory_limit, tuple(args.baseline))
                 for name in args.scales}
    else:
        fresh = {name: bench_scale(SCALES[name], args.work, args.memory_limit,
                                   args.whole_run_only) for name in args.scales}
    by_scale |= fresh
    results = [by_scale[name] for name in SCALES if name in by_scale]
    saved.write_text(json.dumps(results, indent=2) + "\n")
    text = args.docs.read_text() if args.docs.exists() else "# Benchmarks\n\n" \
        "<!-- results -->\n<!-- /results -->\n"
    start, end = text.index("<!-- results -->"), text.index("<!-- /results -->")
    table = markdown(results)
    kept = earlier_sections(text[start:end], set(by_scale))
    args.docs.write_text(text[:start] + "<!-- results -->\n" + table + kept + "\n" + text[end:])
    print(table)
    shutil.rmtree(args.work / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
