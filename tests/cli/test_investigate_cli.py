"""explain, lookup and what-if as users run them; a canary: no contact value in any output."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from incidentscope import api, workspace
from incidentscope.normalize import normalize
from incidentscope.samples import sample_dir

ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC"}
INCIDENT = sample_dir() / "incident.toml"
DATA = sample_dir() / "data"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "incidentscope", *args], capture_output=True,
                          text=True, env=ENV, input=stdin, timeout=300)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("investigate-cli")
    api.load(INCIDENT, DATA, db_path=root / "ws.duckdb")
    api.replay(INCIDENT, db_path=root / "ws.duckdb")
    return root / "ws.duckdb"


def _truth() -> list[int]:
    with (sample_dir() / "truth_accounts.csv").open() as handle:
        return sorted(int(r["account_id"]) for r in csv.DictReader(handle))


def _countries() -> dict[int, str]:
    with (DATA / "accounts.csv").open() as handle:
        return {int(r["account_id"]): r["country"] for r in csv.DictReader(handle)}


def _contacts(channel: str, limit: int = 2) -> list[tuple[int, str]]:
    """(account, raw value) of contacts of truly affected accounts in the last snapshot."""
    truth = set(_truth())
    path = sorted((DATA / "contacts").glob("contacts_*.csv"))[-1]
    found = []
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["account_id"].isdigit() and int(row["account_id"]) in truth \
                    and row["channel"] == channel:
                found.append((int(row["account_id"]), row["contact"]))
    return found[:limit]


def _secrets(db: Path, channel: str, raw: str, country: str | None) -> list[str]:
    """Every form of a contact value that must never be printed."""
    normalized = normalize(channel, raw, "twitter", country)
    hashed = hashlib.sha256(normalized.encode()).hexdigest()
    key = workspace.load_or_create_key(workspace.key_path_for(db), create=False)
    pseudonym = int(hashlib.sha256((key.hex + hashed).encode()).hexdigest()[:32], 16)
    return [raw, raw.strip(), normalized, hashed, hashed.upper(), key.hex, str(pseudonym),
            f"{pseudonym:x}"]


def _assert_silent(done: subprocess.CompletedProcess[str], secrets: list[str]) -> None:
    for stream in (done.stdout, done.stderr):
        for secret in secrets:
            assert secret not in stream


def test_explain_formats(db: Path) -> None:
    account = _truth()[0]
    table = cli("explain", str(INCIDENT), str(account), "--db", str(db))
    assert table.returncode == 0, table.stderr
    assert f"Account {account}" in table.stdout and "Matches in scope" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    data = json.loads(cli("explain", str(INCIDENT), str(account), "--db", str(db),
                          "--format", "json").stdout)
    assert data["account_id"] == account
    assert data["outcome"] in ("certainly affected", "possibly affected")
    assert {m["match_class"] for m in data["matches"]} <= {"caused", "permitted", "uncertain",
                                                          "unexplained"}
    md = cli("explain", str(INCIDENT), str(account), "--db", str(db), "--format", "md")
    assert md.stdout.startswith(f"## Account {account}")
    assert "| time (UTC) |" in md.stdout


def test_explain_unknown_account_exits_66(db: Path) -> None:
    done = cli("explain", str(INCIDENT), "999", "--db", str(db))
    assert done.returncode == 66
    assert done.stderr.startswith("error: account 999: not in this workspace")
    assert done.stdout == ""


@pytest.mark.parametrize("output", ["table", "json", "md"])
def test_lookup_canary_no_contact_value_in_any_output(db: Path, output: str) -> None:
    countries = _countries()
    before = {p.name: p.read_bytes() for p in db.parent.iterdir() if p.is_file()}
    cases = [("email", c) for c in _contacts("email")] + [("phone", c) for c in
                                                          _contacts("phone")]
    assert len(cases) >= 4
    for channel, (account, raw) in cases:
        country = countries[account] if channel == "phone" else None
        secrets = _secrets(db, channel, raw, country)
        extra = ["--country", country] if country else []
        by_option = cli("lookup", str(INCIDENT), f"--{channel}", raw, *extra, "--db", str(db),
                        "--format", output)
        by_stdin = cli("lookup", str(INCIDENT), f"--{channel}", "-", *extra, "--db", str(db),
                       "--format", output, stdin=raw + "\n")
        for done in (by_option, by_stdin):
            assert done.returncode == 0, done.stderr
            assert str(account) in done.stdout
            assert "the contact you gave" in done.stdout.lower()
            _assert_silent(done, secrets)
        assert by_option.stdout == by_stdin.stdout
        if output == "json":
            data = json.loads(by_option.stdout)
            assert account in {h["account_id"] for h in data["holdings"]}
    # nothing written beside the workspace, the workspace itself untouched
    assert {p.name: p.read_bytes() for p in db.parent.iterdir() if p.is_file()} == before


def test_lookup_errors_do_not_echo_the_value(db: Path) -> None:
    secret = "Canary-Not-A-Number-4711"
    done = cli("lookup", str(INCIDENT), "--phone", secret, "--db", str(db))
    assert done.returncode == 64
    assert "the contact you gave" in done.stderr
    _assert_silent(done, [secret, "4711"])
    done = cli("lookup", str(INCIDENT), "--email", "canary.person@example.org", "--db", str(db))
    assert done.returncode == 0 and "not in this workspace" in done.stdout
    _assert_silent(done, ["canary.person", "example.org"])
    both = cli("lookup", str(INCIDENT), "--email", "a@example.org", "--phone", "+12015550123",
               "--db", str(db))
    assert both.returncode == 64
    _assert_silent(both, ["a@example.org", "2015550123"])
    assert cli("lookup", str(INCIDENT), "--db", str(db)).returncode == 64


def test_what_if_own_parameters_and_alternatives(db: Path) -> None:
    report = api.replay(INCIDENT, db_path=db).report
    done = cli("what-if", str(INCIDENT), "--db", str(db), "--format", "json",
               "--window-start", "2019-01-01", "--fix-at", "2019-09-17T00:00:00Z",
               "--restricted-purposes", "two_factor,account_recovery",
               "--audience-types", "tailored,partner", "--window-start", "2019-06-01")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    base = data["baseline"]["headline"]
    assert base["accounts_lower"] == report["affected_accounts"]["lower"]
    assert base["accounts_estimate"] == report["affected_accounts"]["estimate"]
    assert base["accounts_upper"] == report["affected_accounts"]["upper"]
    assert base["matches_caused"] == report["matches"]["caused"]
    # alternatives come grouped by option: window starts, fix times, purposes, types
    own = [v["headline"] for i, v in enumerate(data["variants"]) if i != 1]
    assert own == [base] * 4
    assert data["variants"][1]["changes"] == {"window_start": "2019-06-01"}
    assert data["variants"][1]["headline"]["accounts_upper"] <= base["accounts_upper"]


@pytest.mark.parametrize("output", ["table", "md"])
def test_what_if_side_by_side(db: Path, output: str) -> None:
    done = cli("what-if", str(INCIDENT), "--db", str(db), "--format", output,
               "--window-start", "2019-03-01", "--window-start", "2019-06-01",
               "--restricted-purposes", "two_factor")
    assert done.returncode == 0, done.stderr
    assert "#3" in done.stdout and "Accounts, estimate" in done.stdout
    if output == "table":
        assert all(len(line) <= 80 for line in done.stdout.splitlines())
    else:
        assert "| figure | incident file | #1 | #2 | #3 |" in done.stdout


def test_what_if_combine_and_usage_errors(db: Path) -> None:
    done = cli("what-if", str(INCIDENT), "--db", str(db), "--format", "json", "--combine",
               "--window-start", "2019-03-01", "--audience-types", "tailored")
    assert done.returncode == 0, done.stderr
    variants = json.loads(done.stdout)["variants"]
    assert len(variants) == 1
    assert variants[0]["changes"] == {"window_start": "2019-03-01", "audience_types": "tailored"}
    assert cli("what-if", str(INCIDENT), "--db", str(db)).returncode == 64
    assert cli("what-if", str(INCIDENT), "--db", str(db), "--fix-at", "soon").returncode == 64
    assert cli("what-if", str(INCIDENT), "--db", str(db),
               "--window-start", "2020-01-01").returncode == 64


@pytest.mark.parametrize("command", ["explain", "lookup", "what-if"])
def test_help_has_an_example(command: str) -> None:
    done = cli(command, "--help")
    assert done.returncode == 0
    assert "Example:" in done.stdout
