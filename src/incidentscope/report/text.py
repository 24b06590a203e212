"""Plain-text and JSON views of the load result and of the workspace status.

The text views name files and the incident: each such name is one line of plain text, its
control characters shown as escapes (`document.printable`). The JSON views keep them as
they are (JSON escapes them itself).
"""

from __future__ import annotations

from typing import Any

from incidentscope.report.document import printable
from incidentscope.results import LoadResult


def render_load(result: LoadResult, *, as_json: bool) -> Any:
    files = [
        {"table": f.table, "path": f.path, "status": f.status, "rows_read": f.rows_read,
         "rows_loaded": f.rows_loaded, "rows_rejected": f.rows_rejected}
        for f in result.files
    ]
    if as_json:
        return {"load_id": result.load_id, "files": files, "rows_loaded": result.rows_loaded,
                "rows_rejected": result.rows_rejected,
                "rejected_by_reason": result.rejects_by_reason, "warnings": result.warnings}
    lines = []
    width = max((len(printable(f.path)) for f in result.files), default=4)
    for f in files:
        lines.append(f"{f['table']:<19} {printable(str(f['path'])):<{width}}  {f['status']:<14} "
                     f"{f['rows_loaded']:>12,} loaded {f['rows_rejected']:>9,} rejected")
    lines.append(f"total: {result.rows_loaded:,} rows loaded, {result.rows_rejected:,} rejected")
    for reason, count in result.rejects_by_reason.items():
        lines.append(f"  rejected, {reason}: {count:,}")
    for note in result.warnings:
        lines.append(f"warning: {printable(note)}")
    return "\n".join(lines) + "\n"


def render_status(info: dict[str, Any]) -> str:
    lines = [f"incident: {printable(str(info['incident']))}",
             f"key fingerprint: {info['key_fingerprint']}",
             "tables:"]
    for name, count in info["tables"].items():
        lines.append(f"  {name:<20} {count:>14,}")
    snap = info["snapshots"]
    lines.append(f"snapshots: {snap['count']} from {snap['first']} to {snap['last']}, "
                 f"every {snap['cadence_days']} days (median)")
    log = info["match_log"]
    lines.append(f"match log: {log['rows']:,} rows from {log['first']} to {log['last']}, "
                 f"{log['days_without_rows']} days without rows")
    if info["rejected_rows"]:
        lines.append("rejected rows:")
        for reason, count in info["rejected_rows"].items():
            lines.append(f"  {reason}: {count:,}")
    else:
        lines.append("rejected rows: none")
    return "\n".join(lines) + "\n"
