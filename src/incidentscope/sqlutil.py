"""Small helpers for running SQL with bound parameters."""

from __future__ import annotations

from typing import Any


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the named parameters a statement uses (DuckDB rejects unused ones)."""
    return {name: value for name, value in params.items() if f"${name}" in sql}
