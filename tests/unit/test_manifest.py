"""Reproducible runs: the manifest, byte-identical outputs, verify, and the run history."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from incidentscope import api
from incidentscope.manifest import VOLATILE_FIELDS
from incidentscope.samples import sample_dir


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the sample investigation: (incident file, data dir)."""
    shutil.copytree(sample_dir(), tmp_path / "case")
    return tmp_path / "case" / "incident.toml", tmp_path / "case" / "data"


def output_hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "incidentscope", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_manifest_records_inputs_outputs_versions_and_key_fingerprint(
    case: tuple[Path, Path], tmp_path: Path
) -> None:
    incident, data = case
    result = api.run(incident, data, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["run_id"] == result.run_id
    assert manifest["versions"]["duckdb"] == "2.0.0"
    paths = {item["path"] for item in manifest["inputs"]}
    assert "matches.csv" in paths and "contacts/contacts_2019-01-01.csv" in paths
    matches = next(i for i in manifest["inputs"] if i["path"] == "matches.csv")
    assert matches["sha256"] == hashlib.sha256((data / "matches.csv").read_bytes()).hexdigest()
    assert matches["rows_loaded"] + matches["rows_rejected"] > 0
    key = (tmp_path / "case" / "incident.duckdb.key").read_text().strip()
    assert key not in (tmp_path / "out" / "manifest.json").read_text()
    assert len(manifest["key_fingerprint"]) == 16
    assert set(manifest["outputs"]) == set(output_hashes(tmp_path / "out"))
    assert manifest["incident"]["content"]["fix_at"] == "2019-09-17T00:00:00Z"
    assert "03_scoped_matches" in manifest["replay_steps"]


def test_repeated_runs_are_byte_identical_but_for_volatile_fields(
    case: tuple[Path, Path], tmp_path: Path
) -> None:
    incident, data = case
    api.run(incident, data, tmp_path / "a")
    # a fresh workspace with the same key: how a run is reproduced elsewhere
    shutil.copyfile(tmp_path / "case" / "incident.duckdb.key", tmp_path / "other.duckdb.key")
    api.run(incident, data, tmp_path / "b", db_path=tmp_path / "other.duckdb")
    assert output_hashes(tmp_path / "a") == output_hashes(tmp_path / "b")
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())
    second = json.loads((tmp_path / "b" / "manifest.json").read_text())
    for name in VOLATILE_FIELDS:
        first.pop(name), second.pop(name)
    assert first == second


def test_thread_counts_give_identical_outputs(case: tuple[Path, Path], tmp_path: Path) -> None:
    incident, data = case
    hashes = []
    for threads in (1, 2, 8):
        out = tmp_path / f"t{threads}"
        api.run(incident, data, out, db_path=tmp_path / f"t{threads}.duckdb", threads=threads)
        hashes.append(output_hashes(out))
    assert hashes[0] == hashes[1] == hashes[2]


def test_host_time_zones_give_identical_outputs(case: tuple[Path, Path], tmp_path: Path) -> None:
    incident, data = case
    hashes = []
    for zone in ("UTC", "America/Los_Angeles", "Europe/London"):
        out = tmp_path / zone.replace("/", "_")
        done = cli("run", str(incident), "--data", str(data), "--out", str(out), "-q",
                   "--db", str(tmp_path / f"{zone.replace('/', '_')}.duckdb"),
                   env={"TZ": zone})
        assert done.returncode == 0, done.stderr
        hashes.append(output_hashes(out))
    assert hashes[0] == hashes[1] == hashes[2]


def test_verify_matches_then_detects_a_changed_input_byte_and_a_changed_figure(
    case: tuple[Path, Path], tmp_path: Path
) -> None:
    incident, data = case
    api.run(incident, data, tmp_path / "out")
    manifest = str(tmp_path / "out" / "manifest.json")
    done = cli("verify", manifest, "--data", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MATCH"

    report_path = tmp_path / "out" / "report.json"
    original = report_path.read_text()
    report = json.loads(original)
    report["affected_accounts"]["upper"] += 1
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    done = cli("verify", manifest, "--data", str(data))
    assert done.returncode == 1
    assert "figure differs: affected_accounts.upper" in done.stdout
    assert "output differs: report.json: changed since the run" in done.stdout
    report_path.write_text(original)

    accounts = data / "accounts.csv"
    content = bytearray(accounts.read_bytes())
    content[-2] = ord("X") if content[-2] != ord("X") else ord("Y")
    accounts.write_bytes(bytes(content))
    done = cli("verify", manifest, "--data", str(data))
    assert done.returncode == 1
    assert "input changed: accounts.csv: content changed" in done.stdout


def test_history_lists_every_run(case: tuple[Path, Path], tmp_path: Path) -> None:
    incident, data = case
    first = api.run(incident, data, tmp_path / "a")
    second = api.run(incident, data, tmp_path / "b")
    runs = api.history(incident)
    assert [r["run_id"] for r in runs] == [first.run_id, second.run_id]
    manifest_sha = hashlib.sha256((tmp_path / "b" / "manifest.json").read_bytes()).hexdigest()
    assert runs[1]["manifest_sha256"] == manifest_sha
    assert runs[1]["affected_upper"] == second.report["affected_accounts"]["upper"]
