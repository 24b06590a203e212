"""The incidentscope benchmark: the tool against two hand-written baselines, same run.

    python bench/run.py --scales S            # the short benchmark (under 3 minutes, quiet)
    python bench/run.py --scales M raw        # adds M and the raw-contact case
    python bench/run.py --scales M --profile --uploads-cost   # + profile, uploads' cost
    python bench/run.py --scales L --memory-limit 4GB --whole-run-only   # L, spilling
    python bench/run.py --scales L --baselines-only --baseline-memory-limit 8GB

Scales measured in earlier invocations with the same --work stay in the table.

For each scale it generates a pre-hashed Parquet scenario with the project's
generator (weekly snapshots, 26 of them, no damage so that the baselines need no
validation; the uploads table at the generator's default, about 1.33 entries per
logged match), then times, each in a fresh process with its peak resident memory and
CPU seconds (user + system, `/usr/bin/time -v`) and the machine's load average when it
starts:

- the scan floor, bench/scan_floor.py: one DuckDB query that reads every input column
  once (row count and a hash of every value), the best of 3 in one process: no load
  can be faster; the load and the whole run are reported as multiples of it;
- `incidentscope load`, `replay --format json`, and the whole `run` (load, replay,
  every report) into a fresh workspace;
- with --uploads-cost, the whole `run` of the same scenario without its uploads file
  (a folder of hard links to the other files: the generator draws the uploads from
  random streams of their own, so the rest is the same scenario with uploads=False);
- baseline (a), bench/baselines/duckdb_baseline.py: a straightforward DuckDB query
  over the input files;
- baseline (b), bench/baselines/polars_baseline.py: a straightforward polars version.

The baselines compute only the core figures (in-window match classes, affected
accounts lower/upper); the script checks that they equal the tool's.

With --profile, bench/statement_profile.py loads and replays the scenario once more in one process
and times every statement (the load's by function, the replay's by step and figure
query, with and without the uploads, and the reports), into docs/benchmarks.md between
`<!-- profile -->` and `<!-- /profile -->` and WORK/profile-SCALE.json. The `raw` case
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

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True,
                          env={**os.environ, **(extra_env or {})}, check=False,
                          preexec_fn=cap)  # no threads here: preexec_fn is safe
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(args[:4])}\n{done.stderr[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)",
                                           done.stderr))
    return {"seconds": round(seconds, 2),
            "peak_mb": round(int(peak.group(1)) / 1024, 0) if peak else float("nan"),
            "cpu_s": round(cpu, 1), "load_avg": [round(load_before, 2),
                                                 round(os.getloadavg()[0], 2)],
            "stdout": done.stdout}


def scan_floor(scale: Scale, data: Path) -> dict[str, object]:
    """bench/scan_floor.py in a fresh process: its query's best time of 3 is the floor."""
    print(f"[{scale.name}] scan floor", file=sys.stderr)
    measured = timed([PYTHON, str(ROOT / "bench" / "scan_floor.py"), str(data)])
    found = json.loads(str(measured.pop("stdout")))
    return {**measured, "process_seconds": measured["seconds"], "seconds": found["seconds"],
            "first_seconds": found["first_seconds"], "rows": found["rows"]}


def without_uploads(case: Path) -> Path:
    """The scenario's data folder without its uploads: hard links to every other file."""
    data, bare = case / "data", case / "data-no-uploads"
    if not bare.exists():
        for path in data.rglob("*"):
            target = bare / path.relative_to(data)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif not path.relative_to(data).parts[0].startswith("uploads"):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, target)
    return bare


def bench_scale(scale: Scale, work: Path, memory_limit: str | None,
                whole_run_only: bool = False, uploads_cost: bool = False,
                profile: bool = False) -> dict[str, object]:
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
    results["scan_floor"] = scan_floor(scale, data)
    phases = [("run", data)] if whole_run_only else [("load", data), ("replay", data),
                                                     ("run", data)]
    if uploads_cost:
        phases.append(("run_without_uploads", without_uploads(case)))
    for phase, phase_data in phases:
        db = work / f"{scale.name}-{phase}.duckdb"
        for stale in work.glob(f"{scale.name}-{phase}.duckdb*"):
            stale.unlink()
        if phase == "replay":  # replay on the workspace that load made
            db = work / f"{scale.name}-load.duckdb"
        out = work / f"{scale.name}-out" if phase == "run" else work / f"{scale.name}-{phase}-out"
        args = {"load": [*tool, "load", str(incident), "--data", str(phase_data), "--db",
                         str(db), "-q", *limit],
                "replay": [*tool, "replay", str(incident), "--db", str(db), "-q",
                           "--format", "json", *limit]}.get(phase) or [
                    *tool, "run", str(incident), "--data", str(phase_data), "--db", str(db),
                    "--out", str(out), "-q", "--format", "json", *limit]
        print(f"[{scale.name}] {phase}", file=sys.stderr)
        shutil.rmtree(out, ignore_errors=True)
        measured = timed(args)
        if phase == "run":
            results["report"] = json.loads(str(measured.pop("stdout")))
            results["workspace_mb"] = round(db.stat().st_size / 2**20, 1)
        elif phase == "run_without_uploads":
            shutil.rmtree(out, ignore_errors=True)
            for stale in work.glob(f"{scale.name}-{phase}.duckdb*"):
                stale.unlink()
        measured.pop("stdout", None)
        results[phase] = measured
    if scale.hashed and not whole_run_only:
        report = results["report"]
        assert isinstance(report, dict)
        results.update(run_baselines(scale, data, report, None))
    report = results.pop("report")
    assert isinstance(report, dict)
    results["affected_accounts"] = report["affected_accounts"]
    results["upload_entries"] = (report.get("uploads") or {}).get("entries")
    results["memory_limit"] = memory_limit or "default"
    results["contact_rows"] = contact_rows(work / f"{scale.name}-run.duckdb")
    if profile:
        results["profile"] = run_profile(scale, case, work, memory_limit)
    for stale in work.glob(f"{scale.name}-load.duckdb*"):  # disk: keep the run's workspace
        stale.unlink()
    return results


def run_profile(scale: Scale, case: Path, work: Path,
                memory_limit: str | None) -> dict[str, object]:
    """bench/statement_profile.py in a fresh process (its own workspace, deleted afterwards)."""
    print(f"[{scale.name}] profile", file=sys.stderr)
    db = work / f"{scale.name}-profile.duckdb"
    target = work / f"profile-{scale.name}.json"
    measured = timed([PYTHON, str(ROOT / "bench" / "statement_profile.py"), str(case),
                      "--db", str(db), "--json", str(target),
                      *(["--memory-limit", memory_limit] if memory_limit else [])])
    measured.pop("stdout", None)
    for stale in work.glob(f"{scale.name}-profile.duckdb*"):
        stale.unlink()
    return {**measured, "file": target.name}


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


ROW_LABELS = {"scan_floor": "scan floor (one query, every input column once)",
              "load": "load", "replay": "replay", "run": "run",
              "run_without_uploads": "run, same scenario without uploads",
              "baseline_duckdb": "baseline_duckdb", "baseline_polars": "baseline_polars"}


def _row(r: dict[str, object], key: str) -> str:
    m = r[key]
    assert isinstance(m, dict)
    label = ROW_LABELS[key]
    if "failed" in m:
        return f"| {label} | failed: {m['failed']} | | | | |"
    rate = int(r["match_rows"]) / float(m["seconds"])  # type: ignore[call-overload]
    if "agrees" in m:
        label += " (agrees)" if m["agrees"] else " (DISAGREES)"
    if "memory_limit" in m:
        label += f", memory limit {m['memory_limit']}"
    cpu = m.get("cpu_s", "")
    loads = m.get("load_avg")
    load_text = f"{loads[0]:.1f} / {loads[1]:.1f}" if isinstance(loads, list) else ""
    return (f"| {label} | {m['seconds']} | {cpu} | {m['peak_mb']:.0f} | {rate:,.0f} | "
            f"{load_text} |")


def _ratio(r: dict[str, object], key: str, base: str) -> str | None:
    a, b = r.get(key), r.get(base)
    if not (isinstance(a, dict) and isinstance(b, dict) and "seconds" in a and "seconds" in b):
        return None
    text = f"{float(a['seconds']) / float(b['seconds']):.2f}x time"
    if a.get("cpu_s") and b.get("cpu_s") and key != "scan_floor" and base != "scan_floor":
        text += f" ({float(a['cpu_s']) / float(b['cpu_s']):.2f}x CPU)"
    return text


def markdown(all_results: list[dict[str, object]]) -> str:
    lines = [f"Machine: {os.cpu_count()} cores, "
             f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
             f"{platform.platform()}, Python {platform.python_version()}. Seconds are wall "
             "seconds of a fresh process (the scan floor: its query alone); CPU is user + "
             "system seconds of the process; load is the machine's 1-minute load average "
             "when the process started / ended (2 cores: above 2, other work competed).", ""]
    for r in all_results:
        run = r["run"]
        assert isinstance(run, dict)
        uploads = r.get("upload_entries")
        lines += [f"### Scale {r['scale']}: {r['match_rows']:,} match rows, "
                  f"{r['accounts']:,} accounts"
                  + (f", {uploads:,} upload entries in the window" if uploads else "")
                  + f", {r['input_mb']} MB of input", "",
                  "| what | seconds | CPU s | peak MB | match rows/s | load |",
                  "|---|---:|---:|---:|---:|---|"]
        for key in ROW_LABELS:
            if key in r:
                lines.append(_row(r, key))
        load = r.get("load", run)
        assert isinstance(load, dict)
        if "load" in r and "replay" in r:
            reports = (float(run["seconds"]) - float(load["seconds"])
                       - float(r["replay"]["seconds"]))  # type: ignore[index]
            lines.append(f"| run - (load + replay): the reports, less what one process saves | "
                         f"{reports:.2f} | | | | |")
        lines.append("")
        rows = int(r.get("contact_rows", 0))  # type: ignore[call-overload]
        lines.append(f"Memory limit: {r.get('memory_limit', 'default')}. Contact snapshot rows: "
                     f"{rows:,} ({rows / float(load['seconds']):,.0f} snapshot rows/s by the "
                     f"whole {'load' if 'load' in r else 'run'}).")
        lines.append(f"Workspace {r.get('workspace_mb')} MB "
                     f"({100 * float(r.get('workspace_mb', 0)) / float(r['input_mb']):.0f}% "  # type: ignore[arg-type]
                     "of the input).")
        for key, label in (("load", "Load"), ("run", "Whole run")):
            ratio = _ratio(r, key, "scan_floor")
            if ratio:
                lines.append(f"{label} / scan floor: **{ratio}**.")
        for key, label in (("baseline_duckdb", "(a) DuckDB"), ("baseline_polars", "(b) polars")):
            ratio = _ratio(r, "run", key)
            if ratio:
                base = r[key]
                assert isinstance(base, dict)
                lines.append(f"Whole run / baseline {label}: **{ratio}**, "
                             f"{float(run['peak_mb']) / float(base['peak_mb']):.2f}x peak "
                             "memory.")
        bare = r.get("run_without_uploads")
        if isinstance(bare, dict) and "seconds" in bare:
            extra = float(run["seconds"]) - float(bare["seconds"])
            cpu = float(run.get("cpu_s", 0)) - float(bare.get("cpu_s", 0))
            lines.append(f"The uploads add {extra:.1f} s ({cpu:.0f} CPU s) to the whole run: "
                         f"{_ratio(r, 'run', 'run_without_uploads')} of the run without them; "
                         f"peak {run['peak_mb']:.0f} MB against {bare['peak_mb']:.0f} MB.")
        lines.append("")
    return "\n".join(lines)


# Replay statements that exist for the uploads (whole-window.md) or whose work grows with
# them (05 adds the entries' signatures, 06 their candidates).
UPLOAD_STATEMENTS = ("04_counted_uploads", "10_upload_pairs", "figures/uploads",
                     "figures/whole_window", "estimate_uploads")


def profile_markdown(all_results: list[dict[str, object]], work: Path) -> str:
    """The per-statement profiles of this work dir (bench/statement_profile.py's JSON)."""
    lines: list[str] = []
    for r in all_results:
        info = r.get("profile")
        if not isinstance(info, dict) or not (work / str(info.get("file"))).exists():
            continue
        found = json.loads((work / str(info["file"])).read_text())
        phases = found["phases"]
        loads = info.get("load_avg", ["?", "?"])
        lines += [f"### Profile at scale {r['scale']}", "",
                  f"One process (`bench/statement_profile.py`), DuckDB memory limit "
                  f"{found['memory_limit']}; {info['seconds']} s wall, {info.get('cpu_s')} CPU "
                  f"s, peak {info['peak_mb']:.0f} MB, load {loads[0]} / {loads[1]}. Memory "
                  "and spill: DuckDB's own (`duckdb_memory()`) right after the statement.", ""]
        for phase, title in (("load", "Load"), ("uploads", "Replay with the uploads"),
                             ("no_uploads", "Replay without the uploads (v1)"),
                             ("reports", "Reports (rendered in memory, as render_all does)")):
            if phase not in phases:
                continue
            v = phases[phase]
            statements = v["statements"]
            shown = statements if phase in ("uploads", "no_uploads") else statements[:12]
            lines += [f"**{title}: {v['seconds']} s**"
                      + (f" (the {len(shown)} largest of {len(statements)})"
                         if len(shown) < len(statements) else "") + ".", ""]
            if phase == "reports":
                lines += [f"{v['accounts']:,} accounts in the upper bound, {v['notice_rows']:,} "
                          "notice rows (account and audience pairs).", "",
                          "| part | seconds |", "|---|---:|"]
                lines += [f"| `{s['name']}` | {s['seconds']} |" for s in shown]
            else:
                lines += ["| statement | seconds | calls | DuckDB MB | spilled MB |",
                          "|---|---:|---:|---:|---:|"]
                lines += [f"| `{s['name']}` | {s['seconds']:.2f} | {s['calls']} | "
                          f"{s['memory_mb']:.0f} | {s['spilled_mb']:.0f} |"
                          for s in shown if s["seconds"] >= 0.01]
            lines.append("")
        if "uploads" in phases and "no_uploads" in phases:
            with_u, v1 = phases["uploads"], phases["no_uploads"]
            by_name = {s["name"]: s["seconds"] for s in with_u["statements"]}
            own = sum(by_name.get(name, 0.0) for name in UPLOAD_STATEMENTS)
            extra = with_u["seconds"] - v1["seconds"]
            lines += [f"The uploads replay ({with_u.get('upload_entries') or 0:,} entries): "
                      f"{extra:.1f} s more than the v1 replay ({v1['seconds']} s), "
                      f"**{extra / v1['seconds']:.2f}x the v1 replay**; of it, the statements "
                      f"that exist for the uploads ({', '.join(UPLOAD_STATEMENTS)}) "
                      f"{own:.1f} s, the rest is steps 05/06 and the estimate growing with "
                      "the entries' signatures.", ""]
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
    parser.add_argument("--uploads-cost", action="store_true",
                        help="also time the whole run of the scenario without its uploads")
    parser.add_argument("--profile", action="store_true",
                        help="also profile every statement (bench/statement_profile.py) into the "
                             "docs")
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
                                   args.whole_run_only, args.uploads_cost, args.profile)
                 for name in args.scales}
    by_scale |= fresh
    results = [by_scale[name] for name in SCALES if name in by_scale]
    saved.write_text(json.dumps(results, indent=2) + "\n")
    text = args.docs.read_text() if args.docs.exists() else "# Benchmarks\n\n" \
        "<!-- results -->\n<!-- /results -->\n"
    start, end = text.index("<!-- results -->"), text.index("<!-- /results -->")
    table = markdown(results)
    kept = earlier_sections(text[start:end], set(by_scale))
    text = text[:start] + "<!-- results -->\n" + table + kept + "\n" + text[end:]
    profiles = profile_markdown(results, args.work)
    if profiles:
        if "<!-- profile -->" not in text:
            text += "\n## Per-statement profiles\n\n<!-- profile -->\n<!-- /profile -->\n"
        start, end = text.index("<!-- profile -->"), text.index("<!-- /profile -->")
        text = text[:start] + "<!-- profile -->\n" + profiles + "\n" + text[end:]
    args.docs.write_text(text)
    print(table)
    shutil.rmtree(args.work / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
