"""Coverage warnings every format shows (no rendering library here: the core imports it)."""

from __future__ import annotations

from typing import Any


def _n(value: int) -> str:
    return f"{value:,}"


def warnings(report: dict[str, Any]) -> list[str]:
    """Coverage problems a reader must see before trusting the figures."""
    notes = []
    coverage = report["coverage"]
    if not report["post_fix"]["fix_held"]:
        notes.append(f"{_n(report['post_fix']['caused'])} caused matches at or after the fix: "
                     "the fix did not hold")
    if coverage["snapshots"] == 0:
        notes.append("no contact snapshots: every match is unexplained")
    if coverage["missing_log_days"]:
        notes.append(f"{_n(coverage['missing_log_days'])} days in the window have no match log")
    if coverage["outside_snapshot_range"]:
        notes.append(f"{_n(coverage['outside_snapshot_range'])} in-window matches lie outside "
                     "the snapshot range")
    if coverage["rejected_rows"]:
        notes.append(f"{_n(coverage['rejected_rows'])} input rows were rejected at load")
    if coverage["unknown_audience_matches"]:
        notes.append(f"{_n(coverage['unknown_audience_matches'])} in-window matches name an "
                     "audience missing from audiences")
    notes += [f"load warning: {note}" for note in coverage.get("load_warnings", [])]
    return notes
