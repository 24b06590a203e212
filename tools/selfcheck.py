"""Run the reliability and security suite and publish its figures in docs/reliability.md.

    python tools/selfcheck.py           # the CI variants (a few minutes)
    python tools/selfcheck.py --long    # 200 kills, 1,000 generated files, ...

Runs from a checkout of the repository (the cases are tests under tests/reliability); it
is not part of the installed package. The case table and the defect log are data, in
tools/reliability_cases.toml. Each case reports how many inputs or events it tried and how
many crashes, lost rows and PII canary hits it saw; the last three must be zero.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = Path(__file__).resolve().with_name("reliability_cases.toml")
_KEYS = {"case": {"number", "what", "expected"}, "defect": {"text"}, "known": {"text"}}


@dataclass(frozen=True)
class Catalog:
    """The cases (number -> (what is tried, what is expected)) and the defect logs."""

    cases: dict[str, tuple[str, str]]
    defects: tuple[str, ...]
    known: tuple[str, ...]


def _entries(data: dict[str, Any], name: str, source: Path) -> list[dict[str, Any]]:
    entries = data.get(name, [])
    if not isinstance(entries, list):
        raise ValueError(f"{source}: [[{name}]] must be an array of tables")
    for i, entry in enumerate(entries, 1):
        wrong = set(entry) ^ _KEYS[name]
        if wrong:
            raise ValueError(f"{source}: [[{name}]] #{i}: expected the keys "
                             f"{sorted(_KEYS[name])}, not {sorted(entry)}")
        if not all(isinstance(entry[k], str) and entry[k].strip()
                   for k in _KEYS[name] - {"number"}):
            raise ValueError(f"{source}: [[{name}]] #{i}: every text must be a non-empty string")
    return entries


def load_catalog(source: Path = CASES_FILE) -> Catalog:
    """Read and check tools/reliability_cases.toml (unknown tables and keys are refused)."""
    with source.open("rb") as handle:
        data = tomllib.load(handle)
    unknown = set(data) - set(_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown tables {sorted(unknown)}")
    cases: dict[str, tuple[str, str]] = {}
    for entry in _entries(data, "case", source):
        number = entry["number"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"{source}: case number {number!r} is not a positive integer")
        if str(number) in cases:
            raise ValueError(f"{source}: case {number} appears twice")
        cases[str(number)] = (entry["what"], entry["expected"])
    return Catalog(cases,
                   tuple(e["text"] for e in _entries(data, "defect", source)),
                   tuple(e["text"] for e in _entries(data, "known", source)))


def run_suite(long: bool, figures: Path) -> int:
    tests = ROOT / "tests" / "reliability"
    if not tests.is_dir():
        sys.stderr.write(f"error: {tests}: not found (selfcheck runs from a checkout)\n")
        return 66
    env = {**os.environ, "INCIDENTSCOPE_FIGURES": str(figures)}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)]
    if long:
        env["INCIDENTSCOPE_LONG"] = "1"
        args += ["-m", "slow or not slow"]
    return subprocess.run(args, cwd=ROOT, env=env, check=False).returncode


def _result(tests: list[str]) -> str:
    outcomes = {t.rsplit(": ", 1)[-1] for t in tests}
    if "failed" in outcomes:
        return "FAILED"
    if "xfailed" in outcomes:
        return "known defect (xfail)"
    if outcomes == {"skipped"}:
        return "skipped"
    return "passed" if outcomes else "not run"


def render(catalog: Catalog, figures: dict[str, dict[str, Any]], long: bool, code: int,
           now: datetime | None = None) -> str:
    run_at = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reliability and security figures",
        "",
        "Produced by `python tools/selfcheck.py"
        + (" --long" if long else "") + "` (do not edit by hand; rerun it). "
        "Each case is a test under `tests/reliability/` that runs in CI; `--long` runs the "
        "long variants (200 kills, 1,000 generated files, 40 interrupts). The cases and the "
        "defect log are kept in `tools/reliability_cases.toml`.",
        "",
        f"Run: {run_at}, suite exit code {code}.",
        "",
        "| # | case | expected | tried | crashes | rows lost | canary hits | result |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    # A case the tests report but the case file does not describe is shown, not dropped.
    undescribed = sorted(set(figures) - set(catalog.cases), key=lambda c: (len(c), c))
    unknown = ("(not described in tools/reliability_cases.toml)", "")
    rows = {**catalog.cases, **dict.fromkeys(undescribed, unknown)}
    for case, (what, expected) in rows.items():
        fig = figures.get(case, {})
        lines.append(
            f"| {case} | {what} | {expected} | {fig.get('tried', 0):,} | "
            f"{fig.get('crashes', 0)} | {fig.get('rows_lost', 0)} | "
            f"{fig.get('canary_hits', 0)} | {_result(list(fig.get('tests', [])))} |")
    lines += ["", "`tried` counts the generated files, damaged files, kills, interrupts, host "
              "time zones, commands or cells a case exercised. `crashes` counts outcomes "
              "other than the expected one (an internal error, a wrong exit code, a message "
              "that is not one line); `rows lost` counts rows neither loaded nor rejected, "
              "and workspaces left half-loaded; `canary hits` counts places where the "
              "canary was found.", ""]
    lines += ["## Defects the suite found (fixed, each with its test)", ""]
    lines.extend(f"- {defect}" for defect in catalog.defects)
    if catalog.known:
        lines += ["", "## Known defects (open)", ""]
        lines.extend(f"- {defect}" for defect in catalog.known)
    lines += ["", "## Notes per case", ""]
    for case in rows:
        notes = figures.get(case, {}).get("notes", [])
        if notes:
            lines.append(f"**Case {case}**")
            lines.append("")
            lines.extend(f"- {note}" for note in notes[:12])
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/selfcheck.py",
                                     description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--long", action="store_true", help="run the long variants")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "reliability.md",
                        help="where to write the figures (default: docs/reliability.md)")
    options = parser.parse_args(argv)
    catalog = load_catalog()  # a broken case file fails before the suite's minutes
    with tempfile.TemporaryDirectory(prefix="incidentscope-selfcheck-") as temp:
        figures_path = Path(temp) / "figures.json"
        code = run_suite(options.long, figures_path)
        if not figures_path.exists():
            return code or 70
        figures = json.loads(figures_path.read_text())
    options.doc.write_text(render(catalog, figures, options.long, code), encoding="utf-8")
    sys.stderr.write(f"wrote {options.doc}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
