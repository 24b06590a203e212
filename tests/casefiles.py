"""Write a test case (typed tables + incident) as input-contract files, and run the engine.

A case is the pair the oracle takes: ``tables`` (table name -> list of typed row
dicts) and ``incident`` (``window_start``, ``fix_at``, ``restricted_purposes``,
``audience_types``; optional ``normalization`` (default ``twitter``) and
``min_audience_size``). The optional ``uploads`` table (whole-window.md) is written
as ``uploads.csv``. Every value in a case is synthetic.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from incidentscope.contract import TABLES

Row = dict[str, Any]

# Columns the cases never write: contacts come hashed (raw contacts have tests of their
# own), and the accounts' region and language only matter to the notification.
NOT_WRITTEN: dict[str, tuple[str, ...]] = {"contacts": ("contact",),
                                           "accounts": ("region", "language")}
# Column order of each table, from the input contract (incidentscope.contract.TABLES).
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if c.name not in NOT_WRITTEN.get(name, ()))
    for name, table in TABLES.items()}
OPTIONAL_TABLES = tuple(name for name, table in TABLES.items() if not table.required)
# Optional columns: may be left out of a file when no row has a value (for uploads, one of
# identifier_sha256 and contact is needed; with rows, at least one has values).
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in TABLES[name].columns if not c.required) for name in COLUMNS}
INCIDENT_ID = "synthetic-case"


def sha(text: str) -> str:
    """A synthetic SHA-256 hex digest (of a made-up string)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_instant(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z` suffix."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_table(path: Path, columns: tuple[str, ...], rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([format_cell(row.get(column)) for column in columns])


def incident_toml(incident: dict[str, Any]) -> str:
    lines = [
        "[incident]",
        f"id = {json.dumps(INCIDENT_ID)}",
        f"fix_at = {json.dumps(format_instant(incident['fix_at']))}",
    ]
    if incident.get("window_start") is not None:
        lines.append(f"window_start = {json.dumps(format_instant(incident['window_start']))}")
    lines += [
        f"restricted_purposes = {json.dumps(list(incident['restricted_purposes']))}",
        f"audience_types = {json.dumps(list(incident['audience_types']))}",
        f"normalization = {json.dumps(incident.get('normalization') or 'twitter')}",
    ]
    if incident.get("min_audience_size") is not None:
        lines.append(f"min_audience_size = {int(incident['min_audience_size'])}")
    return "\n".join(lines) + "\n"


def write_case(
    tables: dict[str, list[Row] | None],
    incident: dict[str, Any],
    root: Path,
    *,
    omit_empty_optional_columns: bool = False,
) -> tuple[Path, Path]:
    """Write the case under `root`: `root/data/NAME.csv` and `root/incident.toml`.

    Optional tables that are missing (or None) are not written. With
    `omit_empty_optional_columns`, an optional column without any value is left
    out of its file (as in older exports). Returns (incident path, data dir).
    """
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, all_columns in COLUMNS.items():
        columns = all_columns
        rows = tables.get(name)
        if rows is None:
            if name in OPTIONAL_TABLES:
                continue
            rows = []
        if omit_empty_optional_columns and rows:
            columns = tuple(
                column
                for column in all_columns
                if column not in OPTIONAL_COLUMNS.get(name, ())
                or any(row.get(column) is not None for row in rows)
            )
        write_table(data_dir / f"{name}.csv", columns, rows)
    incident_path = root / "incident.toml"
    incident_path.write_text(incident_toml(incident), encoding="utf-8")
    return incident_path, data_dir


def run_engine(
    tables: dict[str, list[Row] | None],
    incident: dict[str, Any],
    root: Path,
    *,
    omit_empty_optional_columns: bool = False,
) -> dict[str, Any]:
    """Write the case under `root`, run incidentscope on it, return its report dict."""
    from incidentscope.api import run  # lazy: the module collects without the engine

    incident_path, data_dir = write_case(
        tables, incident, root, omit_empty_optional_columns=omit_empty_optional_columns
    )
    result = run(incident_path, data_dir, root / "out")
    report: dict[str, Any] = result.report
    return report


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The engine's report without what the oracle leaves out."""
    trimmed = {k: v for k, v in report.items() if k not in ("schema_version", "incident")}
    # Load warnings are about the files written (a header-only file), not a replay figure:
    # tests/reliability checks them.
    trimmed["coverage"] = {k: v for k, v in trimmed["coverage"].items() if k != "load_warnings"}
    accounts = dict(trimmed["affected_accounts"])
    accounts.pop("estimate", None)
    trimmed["affected_accounts"] = accounts
    return trimmed


def comparable_v2(report: dict[str, Any]) -> dict[str, Any]:
    """`comparable`, and without the whole-window estimate (a model, like v1's)."""
    trimmed = comparable(report)
    whole = trimmed.get("affected_accounts_whole_window")
    if isinstance(whole, dict):
        whole = dict(whole)
        whole.pop("estimate", None)
        trimmed["affected_accounts_whole_window"] = whole
    return trimmed
