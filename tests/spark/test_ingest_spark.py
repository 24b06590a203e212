"""The Spark ingest against the DuckDB loader: the same inputs and key give the same tables.

Each case is loaded twice, by `ingest.load` into a new DuckDB workspace and by
`spark.ingest.load` into temp views, and every workspace table is compared row for row
(DuckDB's UHUGEINT pseudonym as 32 hex characters; `files` without its load id and time).
Spark jobs are slow to start, so the bad-row cases share one load.
"""

from __future__ import annotations

import gzip
import shutil
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from incidentscope import ingest, workspace
from incidentscope.config import load_incident
from incidentscope.errors import BadDataError
from incidentscope.generator import ScenarioParams, generate
from incidentscope.results import LoadResult
from incidentscope.samples import sample_dir
from incidentscope.spark import _sqlport
from incidentscope.spark import ingest as spark_ingest
from incidentscope.validate import convert, literal, problem
from incidentscope.workspace import PseudonymKey
from workspace_fixtures import INCIDENT, sha, write_small_case

KEY = PseudonymKey("5a" * 32)


def _duck_load(incident_path: Path, data: Path, db: Path) -> tuple[LoadResult, dict[str, list]]:
    con = workspace.connect(db, create=True)
    try:
        result = ingest.load(con, load_incident(incident_path), data, KEY)
        tables = {}
        for name, schema in spark_ingest.VIEW_SCHEMAS.items():
            columns = [c.split()[0] for c in schema.split(", ")]
            select = ", ".join(
                f"lower(printf('%032x', {c}))" if (name, c) == ("identifiers", "pseudonym")
                else c for c in columns)
            tables[name] = con.execute(f"SELECT {select} FROM {name}").fetchall()
    finally:
        con.close()
    return result, tables


def _sorted(rows: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in rows), key=lambda r: tuple((v is None, str(v)) for v in r))


def _same_load(spark: Any, incident_path: Path, data: Path, tmp: Path) -> LoadResult:
    """Load with both engines; assert equal tables and file results; the Spark result."""
    duck_result, duck = _duck_load(incident_path, data, tmp / "ws.duckdb")
    result = spark_ingest.load(spark, load_incident(incident_path), data, KEY)
    for name in spark_ingest.VIEW_SCHEMAS:
        rows = spark.table(name).collect()
        expected = duck[name]
        if name == "files":  # load_id and loaded_at are each load's own
            rows = [tuple(r)[:8] for r in rows]
            expected = [r[:8] for r in expected]
        assert _sorted(rows) == _sorted(expected), name
    summary = [(f.table, f.path, f.rows_read, f.rows_loaded, f.rows_rejected, f.status)
               for f in result.files]
    assert summary == [(f.table, f.path, f.rows_read, f.rows_loaded, f.rows_rejected, f.status)
                       for f in duck_result.files]
    assert result.rejects_by_reason == duck_result.rejects_by_reason
    assert result.extra_columns == duck_result.extra_columns
    return result


def _bad_rows_case(root: Path) -> tuple[Path, Path]:
    """The small case plus bad rows of many kinds, a mapping, Parquet, gzip, a name date."""
    incident_text = INCIDENT + 'input_timezone = "Europe/Berlin"\n' + textwrap.dedent("""
        [inputs.accounts]
        columns = { account_id = "user_id", country = "cc" }
        [inputs.deliveries]
        path = "served/*.parquet"
        """)
    incident, data = write_small_case(root, incident=incident_text)
    (data / "accounts.csv").write_text("user_id,cc,extra\n1,US,a\n2,DE,b\n3,GB,c\n4,us,d\n"
                                       "x5,DE,e\n6,,f\n7,USA,g\n")
    # Name-dated snapshots: hashed contacts, bad hex, missing values, a value spanning
    # lines, a blank line, CRLF line ends, too few and too many fields, bad UTF-8.
    (data / "contacts" / "export_2019-08-19.csv").write_bytes(
        b"account_id,channel,contact_sha256,purposes\r\n"
        + f"1,email,{sha('canary.person@example.org')},signup|profile\r\n".encode()
        + f"2,PHONE,{sha('+49301234567').upper()}, two_factor \r\n".encode()
        + b"3,email,zz" + b"0" * 62 + b",profile\r\n"
        + b"\r\n"
        # (LF inside the quotes: Spark's reader turns a quoted CRLF into LF, DuckDB does not)
        + f'4,email,{sha("a@example.org")},"profile|\nsignup"\r\n'.encode()
        + b"5,phone,,two_factor\r\n"
        + b"6,email\r\n"
        + f"7,email,{sha('b@example.org')},profile,extra\r\n".encode()
        + b"8,em\xffail," + f"{sha('c@example.org')},profile\r\n".encode()
        + f"9,sms,{sha('d@example.org')},|\r\n".encode()
        + f"1x,email,{sha('e@example.org')},profile\r\n".encode())
    (data / "contacts" / "dated.csv").write_text(
        "snapshot_date,account_id,channel,contact,purposes\n"
        "2019-08-26,1,phone,+1 201 555 0123,two_factor\n"
        "2019-02-30,1,phone,+1 201 555 0123,two_factor\n"
        "2019-08-26,2,phone,030 1234567,account_recovery | two_factor\n"
        "2019-08-26,99,phone,030 1234567,two_factor\n"
        "2019-08-26,3,email,  Someone@Example.ORG\u00a0,profile\n"
        "2019-08-26,3,email,not-an-email,profile\n"
        "2019-08-26,3,phone,+1 201 555,profile\n"
        "2019-08-26,3,email,,profile\n")
    (data / "contacts" / "copy_2019-08-12.csv").write_bytes(
        (data / "contacts" / "contacts_2019-08-12.csv").read_bytes())  # the same file twice
    rows = [
        "2019-08-06T10:00:00Z,1,aud1,phone," + sha("+12015550123"),
        "2019-08-06 12:00:00+02:00,1,aud1,phone," + sha("+12015550123"),
        "2019-10-27T02:30:00,2,aud2,,",  # a repeated local time in Berlin
        "2019-03-31T02:30:00,2,aud2,,",  # a skipped one
        "2019-08-07T10:00Z,2,aud2,EMAIL,",
        "2019-08-07T24:00:00,2,aud2,,",
        "2019-08-07T10:00:00 +02:00,2,aud2,,",
        "2019-08-07T10:00:00+15:00,2,aud2,,",
        "2019-08-07T10:00:00.1234567,2,aud3,,",
        "2019-08-07,2,aud3,,",
        ",2,aud3,,",
        "2019-08-07T10:00:00Z,,aud3,,",
        "2019-08-07T10:00:00Z,99999999999999999999,aud3,,",
        "2019-08-07T10:00:00Z,+7,aud3,,",
        "2019-08-07T10:00:00Z,2,,,",
        "2019-08-07T10:00:00Z,2,aud3,fax,",
        "2019-08-07T10:00:00Z,2,aud3,email," + "g" * 64,
        '2019-08-07T10:00:00Z,2,"aud\n3",email,' + "A" * 64,
    ]
    (data / "matches.csv").write_text(
        "matched_at,account_id,audience_id,channel,identifier_sha256\n" + "\n".join(rows) + "\n")
    campaigns = (data / "campaigns.csv").read_bytes()
    (data / "campaigns.csv").unlink()
    (data / "campaigns.csv.gz").write_bytes(gzip.compress(campaigns, mtime=0))
    (data / "deliveries.csv").unlink()
    (data / "served").mkdir()
    pl.DataFrame({
        "served_at": ["2019-08-08T00:00:00Z", "2019-08-08 01:00", "bad", None],
        "campaign_id": ["c1", "c2", "c1", "c1"],
        "account_id": [1, 2, 3, 4],
        "impressions": ["3", "0", None, "2"],
    }).write_parquet(data / "served" / "part-0.parquet")
    return incident, data


def test_bad_rows_mapping_parquet_gzip_and_name_dates_load_as_in_duckdb(
        spark: Any, tmp_path: Path) -> None:
    incident, data = _bad_rows_case(tmp_path)
    result = _same_load(spark, incident, data, tmp_path)
    assert result.rows_rejected > 20
    statuses = {f.path: f.status for f in result.files}
    assert statuses["contacts/copy_2019-08-12.csv"] == "already loaded"
    # no raw contact value and no plain contact hash in any view
    for name in spark_ingest.VIEW_SCHEMAS:
        text = " ".join(str(v) for row in spark.table(name).collect() for v in row)
        for needle in ("Canary", "canary", "2015550123", sha("canary.person@example.org")):
            assert needle not in text, name


def test_strict_refuses_with_the_duckdb_message(spark: Any, tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    with pytest.raises(BadDataError) as duck_error:
        con = workspace.connect(tmp_path / "ws.duckdb", create=True)
        try:
            ingest.load(con, load_incident(incident), data, KEY, strict=True)
        finally:
            con.close()
    with pytest.raises(BadDataError) as spark_error:
        spark_ingest.load(spark, load_incident(incident), data, KEY, strict=True)
    assert str(spark_error.value) == str(duck_error.value)


def test_missing_required_column_is_the_same_error(spark: Any, tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "campaigns.csv").write_text("campaign_id,name\nc1,Spring\n")
    with pytest.raises(BadDataError, match=r"campaigns\.csv: required column 'advertiser_id'"):
        spark_ingest.load(spark, load_incident(incident), data, KEY)


@pytest.mark.slow  # about 60 s on 2 cores
def test_generated_case_raw_csv_raw_parquet_and_hashed_parquet(spark: Any,
                                                                tmp_path: Path) -> None:
    for name, params in (
        ("raw", ScenarioParams(accounts=60, seed=7, snapshot_every_days=56,
                               matches_per_account=3.0)),
        ("raw-parquet", ScenarioParams(accounts=60, seed=9, snapshot_every_days=56,
                                       matches_per_account=3.0, file_format="parquet")),
        ("hashed", ScenarioParams(accounts=60, seed=8, snapshot_every_days=56,
                                  matches_per_account=3.0, hashed=True, file_format="parquet")),
    ):
        root = tmp_path / name
        generate(root, params)
        _same_load(spark, root / "incident.toml", root / "data", root)


@pytest.mark.slow  # about 40 s on 2 cores
def test_the_bundled_sample(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "sample"
    shutil.copytree(sample_dir(), root)
    result = _same_load(spark, root / "incident.toml", root / "data", root)
    assert result.rows_rejected == 16


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York",
                                  "Australia/Lord_Howe"])
def test_ported_checks_equal_duckdb_on_tricky_cells(spark: Any, zone: str) -> None:
    """validate's DuckDB SQL and its Spark port give the same reason and value per cell."""
    from incidentscope.contract import TABLES

    values = [
        "2019-01-01T10:00:00Z", "2019-01-01t10:00:00z", "2019-01-01 10:00:00+02:00",
        "2019-01-01T10:00:00-0530", "2019-01-01T10:00:00 +02:00", "2019-01-01T10:00",
        "2019-01-01T10:00Z", "2019-01-01", "2019-01-01T10:00:00.123456789Z",
        "2019-02-30T00:00:00Z", "2019-01-01T24:00:00", "2019-01-01T24:00:01",
        "2019-01-01T23:59:60Z", "2019-01-01T10:00:00+14", "2019-01-01T10:00:00+15",
        "2019-10-27T02:30:00", "2019-03-31T02:30:00", "2019-11-03 01:30:00",
        "2019-04-07T01:45:00", "2019-01-01\n", "\u00a02019-01-01T10:00Z\u3000", "\t2019-01-01",
        "", None, "x", "12", " +12 ", "99999999999999999999", "12\n", "1e3", "email",
        " EMAIL ", "Email\n", "a" * 64, "A" * 64 + "\n", "g" * 64, "Partner", "us", "US\n",
        "two_factor|profile", " | ", "|", "\u00a0",
    ]
    kinds: dict[str, Any] = {}
    for table in TABLES.values():
        for column in table.columns:
            kinds.setdefault(column.kind + ("/country" if column.name == "country" else ""),
                             column)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frame = spark.createDataFrame(list(enumerate(values)), "i int, v string")
    for column in kinds.values():
        if zone != "UTC" and column.kind != "timestamp":
            continue
        for build in (problem, convert):
            sql = build(column, "v", literal(zone))
            expected = [con.execute(f"SELECT {sql} FROM (SELECT $1::VARCHAR AS v)",
                                    [v]).fetchall()[0][0] for v in values]
            got = [r[0] for r in frame.selectExpr(_sqlport.expression(sql), "i")
                   .orderBy("i").collect()]
            if build is convert:  # a converted value matters only where the check passes
                reasons = [con.execute(
                    f"SELECT {problem(column, 'v', literal(zone))} FROM "
                    "(SELECT $1::VARCHAR AS v)", [v]).fetchall()[0][0] for v in values]
                expected = [e for e, r in zip(expected, reasons, strict=True) if r is None]
                got = [g for g, r in zip(got, reasons, strict=True) if r is None]
            assert got == expected, (column.kind, build.__name__)
