"""Calibrate the affected-accounts estimate against generated scenarios with known truth.

    python bench/calibrate.py [--accounts N] [--daily-accounts N] [--seeds 1 2 3]
                              [--out docs/estimation.md] [--json results.json]

For each scenario (snapshot cadence x identifier share) and each seed, the script
generates a scenario into a temporary directory (`incidentscope.generator.generate`),
runs the engine on it (`incidentscope.api.run`) and compares the report's
`affected_accounts` (lower / estimate / upper) with the generator's truth
(`truth.json`, key `affected_accounts`). Scenarios:

    daily    snapshot_every_days=1    identifier_share 0.7 and 0.0
    weekly   snapshot_every_days=7    identifier_share 0.7 and 0.0
    monthly  snapshot_every_days=30   identifier_share 0.7 and 0.0

Everything else is the generator's default (assumption breaks and damage included),
so the truth may fall outside [lower, upper]; the table says when it does.

Runtime: daily snapshots mean 365 contact files per scenario and loading them
dominates (about 30 s per scenario at 1500 accounts), so daily scenarios use
`--daily-accounts` (default: half of `--accounts`, i.e. 1500). With the defaults
(3000 accounts, 3 seeds, 18 runs) the whole script takes about 4 minutes on 2 cores.

Contacts are written pre-hashed (`hashed=True`, column `contact_sha256`): this skips
phone-number normalization at load (the slowest part of ingest) and gives the same
classification, hence the same figures, as raw contact values.

The whole window (`affected_accounts_whole_window`, docs/estimation.md) is calibrated on
scenarios whose match log starts three months after the window (2019-04-01) and loses 1 %
of its rows at random, while the uploaded lists cover the whole window: weekly and monthly
snapshots, identifier share 0.7 and 0.0, against the truth `affected_accounts_whole_window`
(every account a caused match was made for in the window, logged or not).

Output: Markdown tables (one row per run, then a summary per scenario) written into
`--out` between the markers `<!-- calibration -->` and `<!-- /calibration -->`, and
`<!-- calibration-whole-window -->` and its end marker, for the whole window; the
rest of the file is kept. A missing file is created; a file without the markers gets
them appended. `--json` also writes the raw rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb

from incidentscope.api import run
from incidentscope.generator import ScenarioParams, generate

START = "<!-- calibration -->"
END = "<!-- /calibration -->"
WHOLE_START = "<!-- calibration-whole-window -->"
WHOLE_END = "<!-- /calibration-whole-window -->"
CADENCES = (("daily", 1), ("weekly", 7), ("monthly", 30))
WHOLE_CADENCES = (("weekly", 7), ("monthly", 30))
LATE_LOG_START = date(2019, 4, 1)  # three months into the window
LOG_LOSS = 0.01
IDENTIFIER_SHARES = (0.7, 0.0)


@dataclass(frozen=True)
class Row:
    scenario: str
    snapshot_every_days: int
    identifier_share: float
    seed: int
    accounts: int
    truth: int
    lower: int
    estimate: int
    upper: int
    sd: float  # the model's own standard deviation of the count, sqrt(sum p(1 - p))
    seconds: float

    @property
    def rel_error(self) -> float:
        return (self.estimate - self.truth) / self.truth if self.truth else math.nan

    @property
    def z(self) -> float:
        return (self.estimate - self.truth) / self.sd if self.sd else math.nan

    @property
    def covered(self) -> bool:
        return self.lower <= self.truth <= self.upper


def run_one(cadence: str, every: int, share: float, seed: int, accounts: int,
            whole_window: bool = False) -> Row:
    """One scenario; `whole_window`: a late, lossy log, and the whole window's figures."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="incidentscope-calibrate-") as tmp:
        root = Path(tmp)
        late = {"log_start": LATE_LOG_START, "log_loss_share": LOG_LOSS} if whole_window else {}
        params = ScenarioParams(accounts=accounts, seed=seed, snapshot_every_days=every,
                                identifier_share=share, hashed=True, **late)  # type: ignore[arg-type]
        summary = generate(root / "scenario", params)
        result = run(summary.incident_path, summary.data_dir, root / "out",
                     db_path=root / "workspace.duckdb")
        key = "affected_accounts_whole_window" if whole_window else "affected_accounts"
        truth = json.loads(summary.truth_path.read_text("utf-8"))[key]
        affected = result.report[key]
        variance = math.nan  # the whole window's probabilities are not stored
        if not whole_window:
            con = duckdb.connect(str(root / "workspace.duckdb"), read_only=True)
            try:
                variance = con.execute(
                    "SELECT coalesce(sum(probability * (1 - probability)), 0) "
                    "FROM affected_accounts WHERE NOT certain").fetchall()[0][0]
            finally:
                con.close()
    return Row(scenario=f"{cadence}, ids {share:.1f}", snapshot_every_days=every,
               identifier_share=share, seed=seed, accounts=accounts, truth=int(truth),
               lower=int(affected["lower"]), estimate=int(affected["estimate"]),
               upper=int(affected["upper"]), sd=round(math.sqrt(float(variance)), 1),
               seconds=round(time.monotonic() - started, 1))


def _sd(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _pct_or_na(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}%"


def _pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


def render(rows: list[Row]) -> str:
    lines = [
        "| scenario | seed | accounts | truth | lower | estimate | upper | rel. error | "
        "model sd | lower <= truth <= upper |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.seed} | {r.accounts} | {r.truth} | {r.lower} | "
                     f"{r.estimate} | {r.upper} | {_pct(r.rel_error)} | {_sd(r.sd)} | "
                     f"{'yes' if r.covered else '**no**'} |")
    lines += [
        "",
        "| scenario | runs | mean error (bias) | mean abs. error | max abs. error | "
        "within 2% | mean model sd | truth in bounds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    scenarios: dict[str, list[Row]] = {}
    for r in rows:
        scenarios.setdefault(r.scenario, []).append(r)
    for name, group in scenarios.items():
        errors = [r.rel_error for r in group]
        n = len(group)
        lines.append(
            f"| {name} | {n} | {_pct(math.fsum(errors) / n)} | "
            f"{math.fsum(abs(e) for e in errors) / n * 100:.1f}% | "
            f"{max(abs(e) for e in errors) * 100:.1f}% | "
            f"{sum(abs(e) <= 0.02 for e in errors)}/{n} | "
            f"{_pct_or_na(math.fsum(r.sd / r.truth for r in group) / n * 100)} | "
            f"{sum(r.covered for r in group)}/{n} |")
    return "\n".join(lines)


def write_section(path: Path, body: str, start_marker: str = START,
                  end_marker: str = END) -> None:
    block = f"{start_marker}\n{body}\n{end_marker}"
    text = path.read_text("utf-8") if path.exists() else "# The affected-accounts estimate\n"
    start, end = text.find(start_marker), text.find(end_marker)
    if start >= 0 and end > start:
        text = text[:start] + block + text[end + len(end_marker):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=3000,
                        help="accounts per weekly/monthly scenario (default 3000)")
    parser.add_argument("--daily-accounts", type=int, default=None,
                        help="accounts per daily scenario (default: half of --accounts)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("docs/estimation.md"))
    parser.add_argument("--json", type=Path, default=None, help="also write the raw rows here")
    args = parser.parse_args(argv)
    daily_accounts = args.daily_accounts or max(10, args.accounts // 2)

    rows: list[Row] = []
    for cadence, every in CADENCES:
        for share in IDENTIFIER_SHARES:
            for seed in args.seeds:
                accounts = daily_accounts if every == 1 else args.accounts
                row = run_one(cadence, every, share, seed, accounts)
                rows.append(row)
                print(f"{row.scenario:<18} seed {seed}: truth {row.truth:>5}  "
                      f"[{row.lower}, {row.estimate}, {row.upper}]  "
                      f"error {_pct(row.rel_error):>7}  {row.seconds:.1f}s", file=sys.stderr)
    whole_rows: list[Row] = []
    for cadence, every in WHOLE_CADENCES:
        for share in IDENTIFIER_SHARES:
            for seed in args.seeds:
                row = run_one(f"{cadence}, late log", every, share, seed, args.accounts,
                              whole_window=True)
                whole_rows.append(row)
                print(f"{row.scenario:<18} seed {seed}: whole-window truth {row.truth:>5}  "
                      f"[{row.lower}, {row.estimate}, {row.upper}]  "
                      f"error {_pct(row.rel_error):>7}  {row.seconds:.1f}s", file=sys.stderr)
    table = render(rows)
    write_section(args.out, table)
    whole_table = render(whole_rows)
    write_section(args.out, whole_table, WHOLE_START, WHOLE_END)
    if args.json is not None:
        args.json.write_text(json.dumps(
            [asdict(r) | {"rel_error": r.rel_error, "z": r.z, "covered": r.covered,
                          "whole_window": r in whole_rows}
             for r in (*rows, *whole_rows)],
            indent=2), "utf-8")
    print(table)
    print(whole_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
