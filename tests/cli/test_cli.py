"""The command line as users run it: exit codes, one-line errors, stdout as data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from incidentscope.cli import app
from workspace_fixtures import CANARY_EMAIL, CANARY_PHONE, write_small_case

ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "incidentscope", *args], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=300)


def test_run_writes_report_json_and_prints_the_summary(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    done = cli("run", str(incident), "--data", str(data), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["affected_accounts"]["lower"] == 1
    assert report["affected_accounts"]["upper"] == 2
    assert "Affected accounts" in done.stdout
    for line in done.stdout.splitlines():
        assert len(line) <= 80
    for stream in (done.stdout, done.stderr):
        assert CANARY_EMAIL not in stream and CANARY_PHONE not in stream


def test_replay_json_equals_the_run_report(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    assert cli("run", str(incident), "--data", str(data), "--out", str(tmp_path / "out"),
               "-q").returncode == 0
    done = cli("replay", str(incident), "--format", "json", "-q")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((tmp_path / "out" / "report.json").read_text())


def test_status_json(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    assert cli("load", str(incident), "--data", str(data), "-q").returncode == 0
    done = cli("status", str(incident), "--format", "json")
    info = json.loads(done.stdout)
    assert info["snapshots"]["count"] == 2
    assert info["rejected_rows"] == {"audience_type is not 'tailored' or 'partner'": 1,
                                     "not an ISO-8601 timestamp": 1, "not an email address": 1}
    assert len(info["key_fingerprint"]) == 16


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["run", "missing.toml", "--data", "data", "--out", "out"], 66, "incident file not found"),
        (["load", "incident.toml", "--data", "nowhere"], 66, "data directory not found"),
        (["load", "incident.toml", "--data", "data", "--strict"], 65, "rows rejected"),
        (["status", "incident.toml", "--db", "none.duckdb"], 66, "workspace not found"),
        (["run", "incident.toml", "--bogus"], 64, "bogus"),
    ],
)
def test_errors_are_one_line_with_a_documented_exit_code(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    write_small_case(tmp_path)
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert needle in lines[-1]  # the error is the last line; progress lines may precede it
    assert sum(line.startswith("error") for line in lines) == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_every_command_documents_itself_with_an_example() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help and "Example:" in command.help, name
        for param in command.params:
            if param.name not in ("help",) and getattr(param, "param_type_name", "") == "option":
                assert param.help, f"{name} --{param.name} has no help"


def test_core_library_imports_neither_typer_nor_rich() -> None:
    code = ("import sys, incidentscope.api, incidentscope.replay, incidentscope.ingest; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_running_out_of_duckdb_memory_is_said_not_blamed_on_a_file(tmp_path: Path) -> None:
    # Out of memory while a file was read used to be "cannot be read as CSV" (exit 65).
    incident, data = write_small_case(tmp_path)
    done = cli("load", str(incident), "--data", str(data), "-q", "--memory-limit", "1MB")
    assert done.returncode == 71, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: the load ran out of memory within DuckDB's memory limit; rerun with a larger "
        "--memory-limit (or fewer --threads); the workspace is unchanged")
    assert "cannot be read" not in done.stderr and "Traceback" not in done.stderr

    assert cli("load", str(incident), "--data", str(data), "-q").returncode == 0
    done = cli("replay", str(incident), "-q", "--memory-limit", "2MB")
    assert done.returncode == 71, done.stderr
    # the replay statement that did not fit is named (at 2 MB: the first)
    assert done.stderr.strip().splitlines()[-1] == (
        "error: out of memory within DuckDB's memory limit in replay statement "
        "01_scope_audiences; rerun with a larger --memory-limit (or fewer --threads)")
    assert done.stdout == ""


def test_an_out_of_memory_error_names_the_replay_statement_by_its_sql() -> None:
    from incidentscope import figures
    from incidentscope import replay as replay_engine
    from incidentscope.estimate import MATCH_PROBABILITIES

    name = replay_engine.statement_name
    step = replay_engine.step_sql("10_upload_pairs")
    # a sliced step's query, made into its table and inserted (replay._run_sliced)
    assert name("CREATE TEMP TABLE upload_pairs AS\n" + step) == "10_upload_pairs"
    assert name("INSERT INTO upload_pairs\n" + step) == "10_upload_pairs"
    assert name(figures.figure_sql("notice_facts")) == "figures/notice_facts"
    assert name(MATCH_PROBABILITIES) == "estimate"
    assert name("SELECT count(*) FROM matches") is None
