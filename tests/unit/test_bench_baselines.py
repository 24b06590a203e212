"""The benchmark's hand-written baselines agree with the tool on a small generated case,
so a benchmark ratio always compares equal work."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType

from incidentscope import api
from incidentscope.generator import ScenarioParams, generate

BASELINES = Path(__file__).resolve().parents[2] / "bench" / "baselines"


def load_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BASELINES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_baselines_equal_the_tool_figures(tmp_path: Path) -> None:
    generate(tmp_path / "case", ScenarioParams(
        accounts=600, seed=5, hashed=True, file_format="parquet", damage=False,
        snapshots_from=date(2019, 3, 18), snapshots_until=date(2019, 9, 10),
        end=date(2019, 9, 30)))
    result = api.run(tmp_path / "case" / "incident.toml", tmp_path / "case" / "data",
                     tmp_path / "out", db_path=tmp_path / "ws.duckdb")
    expected = {
        "matches": {k: result.report["matches"][k]  # type: ignore[index]
                    for k in ("caused", "permitted", "uncertain", "unexplained")},
        "affected_accounts": {k: result.report["affected_accounts"][k]  # type: ignore[index]
                              for k in ("lower", "upper")},
    }
    assert expected["matches"]["caused"] > 0 and expected["matches"]["uncertain"] > 0
    for name in ("duckdb_baseline", "polars_baseline"):
        figures = load_module(name).figures(str(tmp_path / "case" / "data"),
                                            "2019-01-01T00:00:00", "2019-09-17T00:00:00")
        assert figures == expected, name
