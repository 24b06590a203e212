"""The bundled sample data is exactly what the generator makes, and the demo runs on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from incidentscope.samples import sample_dir, write_sample_data


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_sample_data_equals_the_generator_output(tmp_path: Path) -> None:
    write_sample_data(tmp_path)
    committed = tree(sample_dir())
    fresh = tree(tmp_path)
    assert sorted(committed) == sorted(fresh)
    for name, content in fresh.items():
        assert committed[name] == content, f"sample_data/{name} drifted from the generator"


def test_demo_runs_the_whole_pipeline_and_brackets_the_truth(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "incidentscope", "demo", "--out",
                           str(tmp_path / "demo")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "report: " in done.stdout
    report = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    truth = json.loads((sample_dir() / "truth.json").read_text())
    accounts = report["affected_accounts"]
    assert accounts["lower"] <= truth["affected_accounts"] <= accounts["upper"]
    assert report["incident"]["fix_at"] == "2019-09-17T00:00:00Z"
