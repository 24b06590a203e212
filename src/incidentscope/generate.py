"""Generate a synthetic incident scenario with ground truth.

The implementation lives in `incidentscope.generator`; this module is the stable entry point
(`incidentscope generate` calls `generate`). See docs/scenarios.md.
"""

from __future__ import annotations

from incidentscope.generator import DEFAULT_COUNTRIES, GenerateSummary, ScenarioParams, generate

__all__ = ["DEFAULT_COUNTRIES", "GenerateSummary", "ScenarioParams", "generate"]
