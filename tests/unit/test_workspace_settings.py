"""The workspace connection's settings: a bounded memory limit unless told otherwise."""

from __future__ import annotations

from pathlib import Path

from incidentscope import workspace


def limit_mib(db: Path, memory_limit: str | None) -> float:
    con = workspace.connect(db, create=True, memory_limit=memory_limit)
    try:
        text = str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    finally:
        con.close()
    number, unit = text.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1024**2}[unit]


def test_memory_is_limited_by_default_and_the_option_overrides(tmp_path: Path) -> None:
    default = limit_mib(tmp_path / "a.duckdb", None)
    assert 256 <= default <= 3 * 1024 + 1
    assert workspace.default_memory_limit().endswith("MB")
    assert abs(limit_mib(tmp_path / "b.duckdb", "1GB") - 1e9 / 2**20) < 1
