"""`incidentscope run --engine spark`: the Spark ingest, the replay on Spark, the same reports.

The whole run (through the command line, on the test session) against `api.run` with the
DuckDB engine on the same inputs and key: every output file is byte-identical, so the
manifest of the Spark run verifies with a DuckDB re-run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from incidentscope import api, workspace
from incidentscope.cli import app
from incidentscope.samples import sample_dir

pytest.importorskip("incidentscope.spark.ingest")


def output_hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def test_spark_run_writes_the_same_outputs_as_duckdb(spark: Any, tmp_path: Path) -> None:
    incident = tmp_path / "incident.toml"
    shutil.copyfile(sample_dir() / "incident.toml", incident)
    data = sample_dir() / "data"
    # DuckDB first: it creates the key file beside the workspace; the Spark run must use it.
    duck = api.run(incident, data, tmp_path / "duck", db_path=tmp_path / "duck.duckdb")
    shutil.copyfile(workspace.key_path_for(tmp_path / "duck.duckdb"),
                    workspace.key_path_for(incident.with_suffix(".duckdb")))
    # in-process, so that the run reuses the test session (getOrCreate)
    done = CliRunner().invoke(app, ["run", str(incident), "--data", str(data), "--out",
                                    str(tmp_path / "spark"), "--engine", "spark", "-q",
                                    "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == duck.report
    assert output_hashes(tmp_path / "spark") == output_hashes(tmp_path / "duck")
    run_manifest = json.loads((tmp_path / "spark" / "manifest.json").read_text())
    assert run_manifest["engine"] == "spark" and run_manifest["versions"]["pyspark"]
    assert json.loads((tmp_path / "duck" / "manifest.json").read_text())["engine"] == "duckdb"
    # no workspace is written by a Spark run; verify re-runs it with DuckDB
    assert not incident.with_suffix(".duckdb").exists()
    verified = api.verify(tmp_path / "spark" / "manifest.json", data,
                               incident_path=incident)
    assert verified.match, (verified.output_differences, verified.figure_differences)
    assert any("Spark engine" in note for note in verified.notes)


def test_the_key_is_resolved_as_a_duckdb_run_resolves_it(tmp_path: Path) -> None:
    from incidentscope.api import resolve_key
    from incidentscope.errors import MissingInputError

    db = tmp_path / "ws.duckdb"
    with workspace.private_files():
        key = resolve_key(db)  # created beside the workspace path, owner-only
    assert workspace.key_path_for(db).is_file()
    assert (workspace.key_path_for(db).stat().st_mode & 0o077) == 0
    assert resolve_key(db) == key
    # a workspace that recorded a key refuses to make a new one
    con = workspace.connect(db, create=True)
    workspace.record_key_fingerprint(con, key)
    con.close()
    workspace.key_path_for(db).unlink()
    with pytest.raises(MissingInputError):
        resolve_key(db)
