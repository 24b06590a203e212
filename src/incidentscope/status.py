"""What a workspace holds, for `incidentscope status`."""

from __future__ import annotations

import itertools
import statistics
from datetime import date, timedelta
from typing import Any

import duckdb

from incidentscope.config import Incident
from incidentscope.workspace import table_counts


def workspace_status(con: duckdb.DuckDBPyConnection, incident: Incident) -> dict[str, Any]:
    dates: list[date] = [r[0] for r in con.execute(
        "SELECT snapshot_date FROM snapshots ORDER BY 1").fetchall()]
    gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
    log = con.execute(
        "SELECT min(matched_at), max(matched_at), sum(copies) FROM matches").fetchall()[0]
    days = {r[0] for r in con.execute(
        "SELECT DISTINCT CAST(matched_at AS DATE) FROM matches").fetchall()}
    missing = 0
    if log and log[0] is not None:
        day, last = log[0].date(), log[1].date()
        while day <= last:
            missing += day not in days
            day += timedelta(days=1)
    key = con.execute("SELECT value FROM meta WHERE key = 'key_fingerprint'").fetchall()
    rejects = con.execute(
        "SELECT reason, count(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    files = con.execute(
        "SELECT table_name, count(*), sum(rows_loaded), sum(rows_rejected) FROM files "
        "GROUP BY 1 ORDER BY 1").fetchall()
    return {
        "incident": incident.id,
        "tables": table_counts(con),
        "files": {t: {"files": int(n), "rows_loaded": int(ok or 0), "rows_rejected": int(bad or 0)}
                  for t, n, ok, bad in files},
        "snapshots": {
            "count": len(dates),
            "first": dates[0].isoformat() if dates else None,
            "last": dates[-1].isoformat() if dates else None,
            "cadence_days": statistics.median(gaps) if gaps else None,
        },
        "match_log": {
            "first": log[0].isoformat() if log and log[0] else None,
            "last": log[1].isoformat() if log and log[1] else None,
            "rows": int(log[2]) if log and log[2] is not None else 0,
            "days_without_rows": missing,
        },
        "rejected_rows": {str(reason): int(n) for reason, n in rejects},
        "key_fingerprint": key[0][0] if key else None,
    }
