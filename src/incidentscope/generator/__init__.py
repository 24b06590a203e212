"""Scenario generator: synthetic incident data with known ground truth (docs/scenarios.md)."""

from __future__ import annotations

from incidentscope.generator.core import generate
from incidentscope.generator.params import DEFAULT_COUNTRIES, GenerateSummary, ScenarioParams

__all__ = ["DEFAULT_COUNTRIES", "GenerateSummary", "ScenarioParams", "generate"]
