"""Golden files of a run on the bundled sample data: report.json, report.md, the notification
to the authority (regulator.md, regulator.json), the public notice and the Art. 34 pack's
letters and English example notice.

Regenerate after an intended change with

    UPDATE_GOLDEN=1 python -m pytest tests/golden -q

and review the diff of tests/golden/sample/ before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from incidentscope import api
from incidentscope.samples import sample_dir

GOLDEN = Path(__file__).resolve().parent / "sample"
FILES = ("report.json", "report.md", "regulator.md", "regulator.json", "public-notice.md",
         "art34/letters.md", "art34/notice.en.html")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    api.run(sample_dir() / "incident.toml", sample_dir() / "data", root / "out",
            db_path=root / "ws.duckdb")
    return root / "out"


@pytest.mark.parametrize("name", FILES)
def test_matches_the_golden_file(out_dir: Path, name: str) -> None:
    produced = (out_dir / name).read_bytes()
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(produced)
    assert golden.exists(), f"no golden file {golden}: run with UPDATE_GOLDEN=1"
    assert produced.decode("utf-8") == golden.read_text("utf-8"), (
        f"{name} differs from {golden}; if the change is intended, rerun with UPDATE_GOLDEN=1")
