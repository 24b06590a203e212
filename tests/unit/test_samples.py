"""The bundled sample data is exactly what the generator makes, and the demo runs on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    whole = report["affected_accounts_whole_window"]
    assert whole["lower"] <= truth["affected_accounts_whole_window"] <= whole["upper"]
    # the funnel and the whole-window range are what the demo shows first
    assert "Affected accounts, whole window" in done.stdout
    assert (tmp_path / "demo" / "report" / "charts" / "funnel.png").is_file()
    # the demo's incident file lies beside its workspace: the tools run on it as documented
    incident = tmp_path / "demo" / "incident.toml"
    manifest = json.loads((tmp_path / "demo" / "report" / "manifest.json").read_text())
    assert manifest["incident"]["path"] == str(incident.resolve())
    some_account = (sample_dir() / "truth_accounts.csv").read_text().split()[1]
    for command in (["explain", str(incident), some_account], ["status", str(incident)],
                    ["what-if", str(incident), "--without-uploads"]):
        tool = subprocess.run([sys.executable, "-m", "incidentscope", *command],
                              capture_output=True, text=True, env=env, timeout=300)
        assert tool.returncode == 0, (command, tool.stderr)


def test_the_demo_never_overwrites_another_incident_file(tmp_path: Path) -> None:
    from incidentscope.errors import UsageError
    from incidentscope.samples import prepare_demo

    (tmp_path / "incident.toml").write_text("[incident]\nid = 'real'\n")
    with pytest.raises(UsageError, match=r"holds another incident\.toml"):
        prepare_demo(tmp_path)
    assert (tmp_path / "incident.toml").read_text() == "[incident]\nid = 'real'\n"
