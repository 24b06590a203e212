"""The report's figures, read from the replay's tables (replay.py runs the steps first).

One function per figure or family of figures; their SQL lives in `sql/figures/*.sql`
(hashed into the manifest with the replay steps) and runs through an `Engine`, so the
DuckDB workspace and Spark compute the same figures from the same text.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from datetime import date, datetime
from importlib import resources
from typing import Any

from incidentscope.engine import Engine
from incidentscope.results import iso_z

CLASSES = ("caused", "permitted", "uncertain", "unexplained")
# In-scope matches plus deliveries per slice of the delivery query: about 3.6 GB of peak
# memory at scale L under a 4 GB limit (docs/benchmarks.md); one slice up to scale M.
EXPOSURE_ROWS_PER_SLICE = 32_000_000
# The same for the notice facts (figures/notice_facts), which keep every (account, audience)
# row: at scale L under a 4 GB limit a slice of 33M rows ran out of memory, of 17M did not.
NOTICE_ROWS_PER_SLICE = 16_000_000
DELIVERY_EXPOSURE = "11_delivery_exposure"
FIGURES = ("affected", "breakdowns", "by_channel", "campaigns", "class_counts",
           "contacts_used", "coverage", "entities", "exposure", "logged_days", "notice_facts",
           "targetable", "times", "uploads", "weekly", "whole_window")


def sql(name: str) -> str:
    """The text of a replay step (`NN_name`) or of a figure query (`figures/name`)."""
    return resources.files("incidentscope").joinpath("sql", f"{name}.sql").read_text("utf-8")


def figure_sql(name: str) -> str:
    return sql(f"figures/{name}")


def _bounds(row: tuple[Any, ...] | None, first: int = 0) -> dict[str, int]:
    assert row is not None
    return {"lower": int(row[first]), "upper": int(row[first + 1])}


def affected(con: Engine) -> dict[str, int]:
    return _bounds(con.rows(figure_sql("affected"))[0])


def class_counts(con: Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Matches by class in the window (with `duplicates`) and after the fix."""
    in_window: dict[str, int] = dict.fromkeys(CLASSES, 0)
    post_fix: dict[str, int] = dict.fromkeys(CLASSES, 0)
    duplicates = 0
    for window, match_class, count, copies in con.rows(figure_sql("class_counts")):
        (in_window if window else post_fix)[str(match_class)] = int(count)
        duplicates += int(copies) if window else 0
    in_window["duplicates"] = duplicates
    return in_window, post_fix


def breakdowns(con: Engine) -> dict[str, dict[str, dict[str, int]]]:
    """by_audience_type, by_channel (v2), by_country and by_month: keys with an upper."""
    found: dict[str, dict[str, dict[str, int]]] = {
        name: {} for name in ("by_audience_type", "by_channel", "by_country", "by_month")}
    rows = [*con.rows(figure_sql("breakdowns")),
            *(("by_channel", *row) for row in con.rows(figure_sql("by_channel")))]
    for breakdown, key, lower, upper in rows:
        if key is not None and upper:
            found[str(breakdown)][str(key)] = {"lower": int(lower), "upper": int(upper)}
    result = {name: dict(sorted(values.items())) for name, values in found.items()}
    result["by_month"] = {f"{key[:4]}-{key[4:]}": value
                          for key, value in result["by_month"].items()}
    return result


def entity_counts(con: Engine) -> dict[str, dict[str, int]]:
    """Audiences, campaigns, advertisers and partners touched by flagged matches."""
    counts = {str(row[0]): _bounds(row, 1) for row in con.rows(figure_sql("entities"))}
    return {name: counts[name] for name in ("affected_audiences", "affected_campaigns",
                                            "affected_advertisers", "affected_partners")}


def delivery_slices(con: Engine, rows_per_slice: int) -> int:
    """The slices of accounts in which deliveries are joined to the matches before them
    (11_delivery_exposure, figures/notice_facts): one per `rows_per_slice` in-scope matches
    plus deliveries."""
    row = con.rows("SELECT (SELECT count(*) FROM classified) "
                   "+ (SELECT count(*) FROM deliveries)")[0]
    return max(1, math.ceil(int(row[0]) / rows_per_slice))


def deliveries(con: Engine, params: dict[str, Any], loaded: bool) -> dict[str, Any] | None:
    """Ads served because of the incident; null when no deliveries file was loaded (a
    loaded file without rows gives zeros). One query per slice of accounts."""
    if not loaded:
        return None
    slices = delivery_slices(con, EXPOSURE_ROWS_PER_SLICE)
    text = sql(DELIVERY_EXPOSURE)
    # per after_fix: accounts lower, upper, impressions lower, upper (the slices add up)
    totals = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}
    for part in range(slices):
        for after_fix, *figures in con.rows(text, {**params, "slices": slices, "slice": part}):
            totals[bool(after_fix)] = [a + int(b) for a, b in zip(totals[bool(after_fix)],
                                                                  figures, strict=True)]
    result: dict[str, Any] = {}
    for prefix, after_fix in (("", False), ("after_fix_", True)):
        accounts_lower, accounts_upper, impressions_lower, impressions_upper = totals[after_fix]
        result[f"{prefix}accounts"] = {"lower": accounts_lower, "upper": accounts_upper}
        result[f"{prefix}impressions"] = {"lower": impressions_lower,
                                          "upper": impressions_upper}
    return result


def snapshot_dates(con: Engine) -> list[date]:
    return [r[0] for r in con.rows("SELECT snapshot_date FROM snapshots ORDER BY snapshot_date")]


def coverage(con: Engine, window_start: datetime,
             fix_at: datetime) -> tuple[dict[str, Any], dict[str, bool]]:
    """The coverage figures, and which optional tables (deliveries, uploads) were loaded."""
    dates = snapshot_dates(con)
    cadence: float | int | None = None
    if len(dates) >= 2:
        median = statistics.median((b - a).days for a, b in itertools.pairwise(dates))
        cadence = int(median) if float(median).is_integer() else float(median)
    first_day, end_day = window_start.date(), fix_at.date()
    logged_days = {r[0] for r in con.rows(figure_sql("logged_days"), {
        "lo": datetime(first_day.year, first_day.month, first_day.day),
        "hi": datetime(end_day.year, end_day.month, end_day.day)})}
    span = max((end_day - first_day).days, 0)
    outside, duplicates, unknown, rejected, deliveries_files, uploads_files = con.rows(
        figure_sql("coverage"), {"window_start": window_start, "fix_at": fix_at})[0]
    load_warnings = [f"{path}: {warning}" for path, warning in con.rows(
        "SELECT DISTINCT path, warning FROM load_warnings ORDER BY path, warning")]
    by_table = {str(table): int(count) for table, count in con.rows(
        "SELECT f.table_name, count(*) FROM rejects r JOIN files f "
        "ON f.file_sha256 = r.file_sha256 AND f.path = r.path "
        "GROUP BY f.table_name ORDER BY f.table_name")}
    times = con.rows(figure_sql("times"))[0]
    names = ("first_logged_match", "last_logged_match", "first_caused_match",
             "last_caused_match", "first_possibly_caused_match", "last_possibly_caused_match")
    return {
        "snapshots": len(dates),
        "first_snapshot": dates[0].isoformat() if dates else None,
        "last_snapshot": dates[-1].isoformat() if dates else None,
        "snapshot_cadence_days": cadence,
        "missing_log_days": span - len(logged_days),
        "outside_snapshot_range": int(outside),
        "duplicate_rows": int(duplicates),
        "unknown_audience_matches": int(unknown),
        "rejected_rows": int(rejected),
        "rejected_rows_by_table": by_table,
        "load_warnings": load_warnings,
        **{name: (iso_z(value) if isinstance(value, datetime) else None)
           for name, value in zip(names, times, strict=True)},
    }, {"deliveries": bool(deliveries_files), "uploads": bool(uploads_files)}


# -- whole-window.md -----------------------------------------------------------------------
def exposed_accounts(con: Engine, dates: list[date], window_start: datetime,
                     fix_at: datetime) -> dict[str, int]:
    """Accounts that held a security-only contact during the window (whole-window.md)."""
    if window_start >= fix_at:  # an empty window exposes no one
        return {"lower": 0, "upper": 0}
    moments = [datetime(d.year, d.month, d.day) for d in dates]
    inside = [d for d, m in zip(dates, moments, strict=True) if window_start <= m < fix_at]
    before = bisect.bisect_right(moments, window_start)  # snapshots at or before the start
    after = bisect.bisect_left(moments, fix_at)  # the first at or after the fix
    open_range = before == 0 or after == len(moments)
    row = con.rows(figure_sql("exposure"), {
        "lower_first": inside[0] if inside else None,
        "lower_last": inside[-1] if inside else None,
        "upper_first": None if open_range else dates[before - 1],
        "upper_last": None if open_range else dates[after],
        "open": open_range})[0]
    return _bounds(row)


def uploads(con: Engine, params: dict[str, Any]) -> dict[str, Any]:
    """The uploads replay's figures (whole-window.md)."""
    row = con.rows(figure_sql("uploads"), params)[0]
    names = ("logged_caused_pairs", "logged_caused_pairs_with_upload",
             "replayed_caused_pairs_on_log_days", "replayed_caused_pairs_in_log")
    return {
        "entries": int(row[0]),
        "duplicates": int(row[1]),
        "accounts": _bounds(row, 2),
        "audiences": _bounds(row, 4),
        "campaigns": _bounds(row, 6),
        "log_agreement": {name: int(value) for name, value in zip(names, row[8:], strict=True)},
    }


def whole_window(con: Engine) -> dict[str, int]:
    """affected_accounts_whole_window lower and upper (the estimate: estimate.py)."""
    return _bounds(con.rows(figure_sql("whole_window"))[0])


def targetable(con: Engine, min_size: int | None) -> dict[str, int] | None:
    """audiences_targetable_only_by_incident; null without min_audience_size."""
    if min_size is None:
        return None
    return _bounds(con.rows(figure_sql("targetable"), {"min_size": min_size})[0])


def contacts_used(con: Engine) -> dict[str, int]:
    return _bounds(con.rows(figure_sql("contacts_used"))[0])
