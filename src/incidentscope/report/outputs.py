"""Every file a run writes into OUT, by name. One place decides what a run produces."""

from __future__ import annotations

from incidentscope.config import Incident
from incidentscope.replay import ReplayResult
from incidentscope.report import json_report, markdown


def render_all(result: ReplayResult, incident: Incident) -> dict[str, bytes]:
    """File name (relative to OUT) -> content. Deterministic for the same result."""
    return {
        "report.json": json_report.render(result).encode("utf-8"),
        "report.md": markdown.render(result).encode("utf-8"),
    }
