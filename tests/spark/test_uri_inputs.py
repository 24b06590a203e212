"""`--engine spark --data URI`: input files found, hashed and read through Spark.

The data folders here are local, addressed as file:// URIs, which takes the URI code path
(spark/files.py: listing, hashing, headers, UTF-8 and reject lines all through Spark).
The file paths Spark reports are never local paths on a real cluster, so the URI run
below hides each file's local path from the loader: everything must go by its URI.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from incidentscope import api, inputs, workspace
from incidentscope.cli import app, main
from incidentscope.config import load_incident
from incidentscope.errors import BadDataError, IncidentScopeError, MissingInputError, UsageError
from incidentscope.spark import files as spark_files
from workspace_fixtures import INCIDENT, sha, write_small_case


def _uri(folder: Path) -> str:
    return f"file://{folder}"  # as Hadoop spells it: not percent-encoded


def _outputs(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}


# -- the rules of inputs._candidates on a listing (no Spark) --------------------------------
def test_listing_rules_are_the_local_folder_rules(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for rel in ("accounts.csv", "accounts.parquet", "audiences.csv.gz", "top.csv", ".dot.csv",
                "contacts/a_2019-01-01.csv", "contacts/b_2019-01-08.parquet",
                "contacts/notes.txt", "contacts/.hidden.csv", "contacts/sub/c.csv",
                "served/part-0.parquet", "served/part-1.parquet", "served/x.csv",
                "snap/2019/x_2019-01-01.csv", "snap/2019/y.csv", "snap/2020/x_2020-01-01.csv",
                "snap/.old/x_2018-01-01.csv", "a-b/c.csv", "a/b.csv", "n/d/e/z.parquet"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_text("x\n")
    listing = [p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()]
    cases: list[tuple[str, str | None]] = [
        ("accounts", None), ("audiences", None), ("contacts", None), ("matches", None),
        *[("contacts", pattern) for pattern in (
            "served/*.parquet", "served", "served/", "./served", "served//*", "**/*.csv",
            "snap/**", "snap/*/x_*.csv", "snap/**/*.csv", "snap/.*/*.csv", "nope/*", "nope/**",
            "*.csv", "contacts/[ab]_*", "contacts/?_2019-01-0[18].*", "**", "*", "",
            "a*/*.csv", "n/**/z.parquet", "contacts/a_2019-01-01.csv", "snap/2019")],
    ]
    for table, override in cases:
        local = [p.relative_to(data).as_posix()
                 for p in inputs._candidates(data, table, override)]
        assert spark_files.candidates(listing, table, override) == local, (table, override)
    for override in ("../outside.csv", "/etc/passwd", "s3a://bucket/x.csv", "sub/../../x"):
        with pytest.raises(UsageError) as local_error:
            inputs._candidates(data, "matches", override)
        with pytest.raises(UsageError) as uri_error:
            spark_files.candidates(listing, "matches", override)
        assert str(uri_error.value) == str(local_error.value)


def test_duckdb_engine_and_verify_refuse_a_uri(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incident, _data = write_small_case(tmp_path)

    def exit_code(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["incidentscope", *args])
        umask = os.umask(0o077)
        try:
            main()
        except SystemExit as done:
            return int(done.code or 0)
        finally:
            os.umask(umask)
        return 0

    uri = "s3a://bucket/exports"
    for args in (["run", str(incident), "--data", uri, "--out", str(tmp_path / "out")],
                 ["load", str(incident), "--data", uri]):
        assert exit_code(*args) == 64
        assert capsys.readouterr().err == (f"error: --data {uri}: a URI is read with --engine "
                                           "spark only; the DuckDB engine reads a local folder\n")
    assert exit_code("verify", str(tmp_path / "manifest.json"), "--data", uri) == 64
    error = capsys.readouterr().err
    assert error.startswith(f"error: --data {uri}: verify re-runs with the DuckDB engine")
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists() and not incident.with_suffix(".duckdb").exists()


# -- through Spark ---------------------------------------------------------------------------
def _mixed_case(root: Path) -> tuple[Path, Path]:
    """The small case as CSV, CSV.gz and Parquet, dated contact names, bad CSV rows."""
    incident, data = write_small_case(root, incident=INCIDENT + textwrap.dedent("""
        [inputs.deliveries]
        path = "served/*.parquet"
        """))
    campaigns = data / "campaigns.csv"
    (data / "campaigns.csv.gz").write_bytes(gzip.compress(campaigns.read_bytes(), mtime=0))
    campaigns.unlink()
    contacts = data / "contacts"
    (contacts / "contacts_2019-08-12.csv").unlink()
    pl.DataFrame({"account_id": [1, 1, 2], "channel": ["phone", "email", "phone"],
                  "contact_sha256": [sha("+12015550123"), sha("canary.person@example.org"),
                                     sha("+49301234567")],
                  "purposes": ["two_factor|profile", "signup|profile", "two_factor"]}
                 ).write_parquet(contacts / "contacts_2019-08-12.parquet")
    (contacts / "_SUCCESS").write_bytes(b"")  # hidden from Spark's listing; no input format
    # A name Spark percent-encodes; CRLF; a blank line; a value over two lines; bad UTF-8;
    # too few fields; a bad hash.
    (contacts / "export é #2 2019-08-19.csv").write_bytes(
        b"\xef\xbb\xbfaccount_id,channel,contact_sha256,purposes\r\n"
        + f"1,email,{sha('x@example.org')},profile\r\n".encode()
        + b"\r\n"
        + f'2,phone,{sha("+49301234567")},"two_factor|\nprofile"\r\n'.encode()
        + b"3,em\xffail," + f"{sha('y@example.org')},profile\r\n".encode()
        + b"3,email\r\n"
        + b"1,email,zz" + b"0" * 62 + b",profile\r\n")
    (data / "served").mkdir()
    pl.DataFrame({"served_at": ["2019-08-08T00:00:00Z", "bad", "2019-09-20T12:00:00Z"],
                  "campaign_id": ["c1", "c2", "c1"], "account_id": [1, 2, 2],
                  "impressions": [3, 1, 2]}).write_parquet(data / "served" / "part-0.parquet")
    (data / "deliveries.csv").unlink()
    return incident, data


def test_uri_run_gives_the_duckdb_outputs(spark: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    incident, data = _mixed_case(tmp_path)
    duck = api.run(incident, data, tmp_path / "duck", db_path=tmp_path / "duck.duckdb")
    shutil.copyfile(workspace.key_path_for(tmp_path / "duck.duckdb"),
                    workspace.key_path_for(incident.with_suffix(".duckdb")))
    found: list[inputs.InputFile] = []
    discover = spark_files.discover

    def remote_only(*args: Any, **kwargs: Any) -> list[inputs.InputFile]:
        # On a cluster a file's path is no local path: hide it, so that any read by
        # `item.path` instead of `item.location` fails.
        files = [dataclasses.replace(f, path=Path("/nonexistent") / f.display)
                 for f in discover(*args, **kwargs)]
        found.extend(files)
        return files

    monkeypatch.setattr(spark_files, "discover", remote_only)
    done = CliRunner().invoke(app, ["run", str(incident), "--data", _uri(data), "--out",
                                    str(tmp_path / "spark"), "--engine", "spark", "-q",
                                    "--format", "json"])
    assert done.exit_code == 0, (done.output, done.exception)
    assert {f.display for f in found} >= {"contacts/export é #2 2019-08-19.csv",
                                          "contacts/contacts_2019-08-12.parquet",
                                          "campaigns.csv.gz", "served/part-0.parquet"}
    assert all(f.uri and f.uri.startswith("file:/") for f in found)
    assert json.loads(done.stdout) == duck.report
    assert _outputs(tmp_path / "spark") == _outputs(tmp_path / "duck")
    spark_manifest = json.loads((tmp_path / "spark" / "manifest.json").read_text())
    duck_manifest = json.loads((tmp_path / "duck" / "manifest.json").read_text())
    assert spark_manifest["inputs"] == duck_manifest["inputs"]
    # Reject lines (CSV: physical lines; Parquet: rows) and file rows as in the workspace.
    con = duckdb.connect(str(tmp_path / "duck.duckdb"), read_only=True)
    try:
        rejects = con.execute("SELECT * FROM rejects").fetchall()
        files = con.execute("SELECT * FROM files").fetchall()
    finally:
        con.close()
    assert sorted(map(tuple, spark.table("rejects").collect())) == sorted(rejects)
    assert {("contacts/export é #2 2019-08-19.csv", 6, "channel", "not valid UTF-8"),
            ("contacts/export é #2 2019-08-19.csv", 8, "contact_sha256",
             "not 64 hexadecimal characters"),
            ("served/part-0.parquet", 2, "served_at", "not an ISO-8601 timestamp")} <= {
        r[1:] for r in rejects}
    assert len(rejects) == 7
    assert sorted(tuple(r)[:8] for r in spark.table("files").collect()) == sorted(
        r[:8] for r in files)


def test_uri_refusals_are_the_local_refusals(spark: Any, tmp_path: Path) -> None:
    def refusal(incident_path: Path, data: Path) -> tuple[str, str]:
        incident = load_incident(incident_path)
        with pytest.raises(IncidentScopeError) as local:
            inputs.discover(data, incident)
        with pytest.raises(IncidentScopeError) as remote:
            spark_files.discover(spark, _uri(data), incident)
        assert type(remote.value) is type(local.value)
        return str(local.value), str(remote.value).replace(_uri(data), str(data))

    outside = INCIDENT + '[inputs.matches]\npath = "../elsewhere/*.csv"\n'
    incident, data = write_small_case(tmp_path / "outside", incident=outside)
    local, remote = refusal(incident, data)
    assert remote == local == ("[inputs.matches].path: must be a relative path inside the "
                               "data directory")
    incident, data = write_small_case(tmp_path / "glob")
    (data / "contacts" / "contacts_2019-08-05.csv").rename(
        data / "contacts" / "contacts_[1]_2019-08-05.csv")
    local, remote = refusal(incident, data)
    assert remote == local == ("contacts/contacts_[1]_2019-08-05.csv: a file path with *, ?, "
                               "[, ] or { cannot be read safely; rename it")
    (data / "contacts" / "contacts_[1]_2019-08-05.csv").unlink()
    (data / "audiences.csv").unlink()
    local, remote = refusal(incident, data)
    assert remote == local and "no files for table 'audiences'" in local
    with pytest.raises(MissingInputError, match="data directory not found"):
        spark_files.discover(spark, _uri(tmp_path / "nowhere"), load_incident(incident))
    with pytest.raises(MissingInputError, match="data directory not found"):
        spark_files.discover(spark, _uri(data / "accounts.csv"), load_incident(incident))
    # Over binaryFile's 2 GiB: refused by name before any byte is read (a sparse file).
    (data / "audiences.csv").write_text("audience_id,advertiser_id,audience_type\n")
    os.truncate(data / "matches.csv", spark_files.MAX_FILE_BYTES + 1)
    with pytest.raises(BadDataError, match=r"^matches\.csv: 2,147,483,648 bytes; .*\(2 GiB\)"):
        spark_files.discover(spark, _uri(data), load_incident(incident))
