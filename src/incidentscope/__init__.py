"""incidentscope: who was affected by an ad-matching incident, and how we know."""

from __future__ import annotations

__version__ = "0.1.0"
