"""report.json: the machine contract, and the single source the other formats agree with."""

from __future__ import annotations

import json

from incidentscope.results import ReplayResult


def render(result: ReplayResult) -> str:
    return json.dumps(result.report, indent=2, ensure_ascii=False) + "\n"
