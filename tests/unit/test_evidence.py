"""The evidence pack: a seeded stratified sample that is the same across runs, time zones
and thread counts, with explain records, the provenance and this replay's calibration."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from incidentscope import api
from incidentscope.samples import sample_dir

ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> api.RunResult:
    root = tmp_path_factory.mktemp("evidence")
    return api.run(sample_dir() / "incident.toml", sample_dir() / "data", root / "out",
                   db_path=root / "ws.duckdb")


def _db(run: api.RunResult) -> Path:
    return run.out_dir.parent / "ws.duckdb"


def test_the_sample_is_stratified_and_explained(run: api.RunResult, tmp_path: Path) -> None:
    api.evidence(sample_dir() / "incident.toml", tmp_path, per_stratum=7, db_path=_db(run))
    pack = json.loads((tmp_path / "evidence.json").read_text())
    matches = run.report["matches"]
    assert isinstance(matches, dict)
    assert pack["population"] == {k: matches[k] for k in ("caused", "uncertain",
                                                            "unexplained")}
    strata = [s["stratum"] for s in pack["sample"]]
    assert strata == ["caused"] * 7 + ["uncertain"] * 7  # no unexplained match in the sample
    for item in pack["sample"]:
        assert item["match"]["match_class"] == item["stratum"]
        assert item["match"]["period"] == "in_window"
        assert item["match"]["candidates"], item
    ranks = [s["rank"] for s in pack["sample"] if s["stratum"] == "caused"]
    assert ranks == sorted(ranks) and len(set(ranks)) == 7
    affected = run.report["affected_accounts"]
    assert isinstance(affected, dict)
    assert pack["calibration"]["uncertain_accounts"] == affected["upper"] - affected["lower"]
    assert round(pack["calibration"]["probability_mass"]) == (affected["estimate"]
                                                              - affected["lower"])
    manifest = json.loads((run.out_dir / "manifest.json").read_text())
    assert {i["sha256"] for i in pack["inputs"]} == {i["sha256"] for i in manifest["inputs"]}
    assert pack["replay_steps"] == manifest["replay_steps"]
    assert pack["latest_run"]["run_id"] == run.run_id
    text = (tmp_path / "evidence.md").read_text()
    assert "## Stratified sample of in-window matches" in text
    assert "every candidate key may only have been restricted" in text
    # contacts appear as fingerprints only
    sampled = {str(s["account_id"]) for s in pack["sample"]}
    raw = set()
    for path in (sample_dir() / "data" / "contacts").glob("*.csv"):
        with path.open() as handle:
            raw |= {r["contact"] for r in csv.DictReader(handle) if r["account_id"] in sampled}
    assert raw
    blob = (tmp_path / "evidence.json").read_text() + text
    assert not [value for value in raw if value in blob]


def test_same_sample_across_runs_time_zones_and_threads(run: api.RunResult,
                                                        tmp_path: Path) -> None:
    api.evidence(sample_dir() / "incident.toml", tmp_path / "a", db_path=_db(run), threads=1)
    done = subprocess.run(
        [sys.executable, "-m", "incidentscope", "evidence", str(sample_dir() / "incident.toml"),
         "--db", str(_db(run)), "--out", str(tmp_path / "b"), "--threads", "2"],
        capture_output=True, text=True, env={**ENV, "TZ": "America/Los_Angeles"}, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("evidence.json", "evidence.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    api.evidence(sample_dir() / "incident.toml", tmp_path / "c", seed=7, db_path=_db(run))
    first = json.loads((tmp_path / "a" / "evidence.json").read_text())["sample"]
    other = json.loads((tmp_path / "c" / "evidence.json").read_text())["sample"]
    assert [s["rank"] for s in first] != [s["rank"] for s in other]
