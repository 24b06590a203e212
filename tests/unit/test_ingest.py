"""Loading input files into the workspace: validation, rejects, idempotence, atomicity,
locking and privacy, against the real DuckDB engine."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from incidentscope import api, compaction
from incidentscope.engine import DuckDBEngine
from incidentscope.errors import (
    BadDataError,
    MissingInputError,
    StorageError,
    WorkspaceInUseError,
)
from workspace_fixtures import (
    CANARY_EMAIL,
    CANARY_EMAIL_NORMALIZED,
    CANARY_PHONE,
    CANARY_PHONE_NORMALIZED,
    INCIDENT,
    query,
    sha,
    write_small_case,
)


def counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = ["accounts", "audiences", "contact_runs", "snapshots", "identifiers", "matches",
                 "deliveries", "files", "rejects"]
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in names}
    finally:
        con.close()


def test_load_validates_and_records_rejects_with_place_and_reason(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    result = api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    rejects = query(db, "SELECT path, line, column_name, reason FROM rejects ORDER BY path")
    assert rejects == [
        ("audiences.csv", 4, "audience_type", "audience_type is not 'tailored' or 'partner'"),
        ("contacts/contacts_2019-08-05.csv", 5, "contact", "not an email address"),
        ("matches.csv", 8, "matched_at", "not an ISO-8601 timestamp"),
    ]
    assert result.rows_rejected == 3
    assert result.extra_columns == {"audiences.csv": ("notes",)}
    by_file = {f.path: f for f in result.files}
    matches = by_file["matches.csv"]
    # loaded + rejected = rows in the file (7 data rows)
    assert (matches.rows_loaded, matches.rows_rejected, matches.rows_read) == (6, 1, 7)


def test_timestamps_with_offsets_become_utc_and_naive_ones_use_input_timezone(
    tmp_path: Path,
) -> None:
    incident, data = write_small_case(
        tmp_path, incident=INCIDENT.replace('audience_types', 'input_timezone = "Europe/Berlin"\n'
                                                              'audience_types'))
    (data / "matches.csv").write_text(
        "matched_at,account_id,audience_id\n"
        "2019-08-07T12:00:00+02:00,2,aud2\n"
        "2019-08-07 12:00:00,2,aud1\n"
        "2019-03-31T02:30:00,2,aud1\n")  # inside the spring-forward gap in Berlin
    api.load(incident, data)
    rows = query(tmp_path / "incident.duckdb",
                 "SELECT CAST(matched_at AS VARCHAR) FROM matches ORDER BY matched_at")
    assert [r[0] for r in rows] == ["2019-03-31 01:30:00", "2019-08-07 10:00:00",
                                    "2019-08-07 10:00:00"]


def test_times_keep_their_microseconds_before_and_after_1970_through_a_merge(
    tmp_path: Path,
) -> None:
    """The workspace stores a time as whole seconds plus microseconds (workspace.stored_time):
    what the views `matches` and `deliveries` read back is the loaded value, exactly, also
    after a second load folds new matches into the stored ones."""
    incident, data = write_small_case(tmp_path)
    header = "matched_at,account_id,audience_id\n"
    (data / "matches.csv").write_text(
        header + "2019-08-07T12:00:00.123456Z,2,aud1\n1969-12-31T23:59:59.5Z,2,aud1\n"
        "2019-08-07T12:00:00Z,2,aud2\n")
    (data / "deliveries.csv").write_text(
        "served_at,campaign_id,account_id,impressions\n"
        "2019-08-08T00:00:00.000001Z,c1,1,3\n1960-01-01T00:00:00.75Z,c1,2,2\n")
    db = tmp_path / "incident.duckdb"
    api.load(incident, data)
    (data / "matches.csv").write_text(
        header + "2019-08-07T12:00:00.123456Z,2,aud1\n2019-08-07T12:00:00.999999Z,2,aud1\n")
    api.load(incident, data)  # a new file: merged with the stored matches
    assert query(db, "SELECT CAST(matched_at AS VARCHAR), audience_id, copies FROM matches "
                     "ORDER BY matched_at, audience_id") == [
        ("1969-12-31 23:59:59.5", "aud1", 1),
        ("2019-08-07 12:00:00", "aud2", 1),
        ("2019-08-07 12:00:00.123456", "aud1", 2),
        ("2019-08-07 12:00:00.999999", "aud1", 1),
    ]
    assert query(db, "SELECT CAST(served_at AS VARCHAR) FROM deliveries ORDER BY 1") == [
        ("1960-01-01 00:00:00.75",), ("2019-08-08 00:00:00.000001",)]


def test_an_infinite_parquet_timestamp_is_a_rejected_cell(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES
        (TIMESTAMP 'infinity', 2, 'aud1'), (TIMESTAMP '2019-08-07 10:00:00', 2, 'aud1'))
        t(matched_at, account_id, audience_id)) TO '{data / "matches.parquet"}'""")
    con.close()
    (data / "matches.csv").unlink()
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    assert query(db, "SELECT count(*) FROM matches") == [(1,)]
    assert query(db, "SELECT path, line, column_name FROM rejects WHERE path LIKE 'matches%'"
                 ) == [("matches.parquet", 1, "matched_at")]


def test_a_workspace_of_another_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    db = tmp_path / "incident.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("CREATE TABLE matches (matched_at TIMESTAMP)")
    con.close()
    with pytest.raises(StorageError, match=r"schema 1 is not supported.*new workspace"):
        api.load(incident, data)
    assert query(db, "SELECT table_name FROM duckdb_tables() ORDER BY 1") == [
        ("matches",), ("meta",)]


def test_snapshot_dates_come_from_file_names_and_contacts_compact_to_runs(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    for day in ("2019-08-19", "2019-08-26", "2019-09-02"):
        (data / "contacts" / f"export_{day}.csv").write_text(
            (data / "contacts" / "contacts_2019-08-12.csv").read_text())
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    assert [r[0].isoformat() for r in query(db, "SELECT snapshot_date FROM snapshots ORDER BY 1")
            ] == ["2019-08-05", "2019-08-12", "2019-08-19", "2019-08-26", "2019-09-02"]
    runs = query(db, "SELECT account_id, channel, CAST(first_snapshot AS VARCHAR), "
                     "CAST(last_snapshot AS VARCHAR), p.purposes FROM contact_runs "
                     "JOIN purpose_sets p USING (purposes_id) ORDER BY 1, 2, 3")
    # Five snapshots, four runs: only account 1's phone changed its purposes.
    assert runs == [
        (1, "email", "2019-08-05", "2019-09-02", "profile|signup"),
        (1, "phone", "2019-08-05", "2019-08-05", "two_factor"),
        (1, "phone", "2019-08-12", "2019-09-02", "profile|two_factor"),
        (2, "phone", "2019-08-05", "2019-09-02", "two_factor"),
    ]


def test_same_content_twice_even_renamed_changes_nothing(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    before = counts(db)
    (data / "contacts" / "copy_2019-08-12.csv").write_text(
        (data / "contacts" / "contacts_2019-08-12.csv").read_text())
    again = api.load(incident, data)
    assert counts(db) == before
    assert {f.status for f in again.files} == {"already loaded"}
    assert again.rows_loaded == 0


def test_a_changed_snapshot_is_an_error_naming_the_date(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    before = counts(db)
    (data / "contacts" / "late_2019-08-12.csv").write_text(
        "account_id,channel,contact_sha256,purposes\n9,email," + sha("x@example.com") +
        ",profile\n")
    with pytest.raises(BadDataError, match="2019-08-12"):
        api.load(incident, data)
    assert counts(db) == before


def test_strict_refuses_and_leaves_the_workspace_untouched(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    with pytest.raises(BadDataError, match="rows rejected"):
        api.load(incident, data, strict=True)
    assert sum(counts(tmp_path / "incident.duckdb").values()) == 0


def loaded_case_with_a_new_snapshot(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, int]]:
    """A loaded small case, its table counts, and one more snapshot file for the next load."""
    incident, data = write_small_case(tmp_path)
    db = tmp_path / "incident.duckdb"
    api.load(incident, data)
    before = counts(db)
    (data / "contacts" / "contacts_2019-08-19.csv").write_text(
        (data / "contacts" / "contacts_2019-08-12.csv").read_text())
    return incident, data, db, before


def test_failure_in_the_middle_of_a_load_leaves_the_workspace_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident, data, db, before = loaded_case_with_a_new_snapshot(tmp_path)

    def explode(_con: object, **_options: object) -> None:
        raise OSError("injected failure")

    monkeypatch.setattr(compaction, "add_snapshots", explode)
    with pytest.raises(Exception, match="unchanged"):
        api.load(incident, data)
    assert counts(db) == before
    monkeypatch.undo()
    api.load(incident, data)  # and the same load succeeds afterwards
    assert counts(db)["snapshots"] == 3


def test_ctrl_c_inside_a_query_is_an_interrupt_even_when_a_later_statement_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB stops a query for Ctrl-C ("Query interrupted"); the next statement in the
    aborted transaction raises a TransactionException. The load must report the interrupt
    (exit 130 in the CLI), not a storage failure, and change nothing (CI found exit 74)."""
    incident, data, db, before = loaded_case_with_a_new_snapshot(tmp_path)

    def interrupted(engine: DuckDBEngine, **_options: object) -> None:
        con = engine.con
        threading.Timer(0.2, con.interrupt).start()
        try:  # long enough to be stopped by the timer
            con.execute("SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b")
        finally:  # as an unregister or a cleanup statement would, in the aborted transaction
            con.execute("SELECT 1")

    monkeypatch.setattr(compaction, "add_snapshots", interrupted)
    with pytest.raises(KeyboardInterrupt):
        api.load(incident, data)
    assert counts(db) == before


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "campaigns.csv").write_text("campaign_id,name\nc1,Spring\n")
    with pytest.raises(BadDataError, match=r"campaigns\.csv.*advertiser_id"):
        api.load(incident, data)


def test_missing_required_table(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "campaigns.csv").unlink()
    with pytest.raises(MissingInputError, match="campaigns"):
        api.load(incident, data)


def test_empty_and_header_only_files_are_reported(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "deliveries.csv").write_text("")
    (data / "accounts.csv").write_text("account_id,country\n")
    result = api.load(incident, data)
    status = {f.path: f.status for f in result.files}
    assert status["deliveries.csv"] == "empty"
    assert status["accounts.csv"] == "header only"
    assert any("deliveries.csv: empty" in w for w in result.warnings)


def test_column_mapping_parquet_and_gzip_inputs(tmp_path: Path) -> None:
    incident_text = INCIDENT + textwrap.dedent("""
        [inputs.accounts]
        columns = { account_id = "user_id", country = "cc" }
        [inputs.matches]
        path = "logs/*.parquet"
        """)
    incident, data = write_small_case(tmp_path, incident=incident_text)
    (data / "accounts.csv").write_text("user_id,cc\n1,US\n2,DE\n3,GB\n")
    (data / "logs").mkdir()
    pl.read_csv(data / "matches.csv", infer_schema=False).write_parquet(
        data / "logs" / "part-0.parquet")
    (data / "matches.csv").unlink()
    campaigns = (data / "campaigns.csv").read_bytes()
    (data / "campaigns.csv").unlink()
    (data / "campaigns.csv.gz").write_bytes(gzip.compress(campaigns, mtime=0))
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    assert counts(db)["accounts"] == 3
    assert counts(db)["matches"] == 5  # 7 rows, one duplicate, one invalid timestamp
    assert query(db, "SELECT count(*) FROM campaigns") == [(2,)]
    assert query(db, "SELECT line, column_name FROM rejects WHERE path LIKE 'logs/%'") == [
        (7, "matched_at")]  # Parquet rows are numbered from 1


def test_no_raw_contact_or_plain_hash_at_rest(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    needles = [CANARY_EMAIL, CANARY_EMAIL_NORMALIZED, CANARY_PHONE, CANARY_PHONE_NORMALIZED,
               sha(CANARY_EMAIL_NORMALIZED), sha(CANARY_PHONE_NORMALIZED), "Canary"]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("incident.duckdb*")
                      if p.suffix != ".key")
    for needle in needles:
        assert needle.encode() not in stored
        assert needle.lower().encode() not in stored
    # and the joins still work: the canary phone's match found its key (not unexplained)
    assert query(db, "SELECT count(*) FROM matches WHERE identifier_id IN "
                     "(SELECT identifier_id FROM contact_runs)") == [(3,)]


def test_workspace_and_key_are_private_whatever_the_umask(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    previous = os.umask(0o022)
    try:
        api.load(incident, data)
    finally:
        os.umask(previous)
    for name in ("incident.duckdb", "incident.duckdb.key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))


def test_second_process_gets_a_clear_in_use_error(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(30)", str(tmp_path / "incident.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WorkspaceInUseError, match="in use"):
            api.load(incident, data)
    finally:
        holder.kill()
        holder.wait()


def test_typed_parquet_columns_load_like_text(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    typed = pl.DataFrame({
        "account_id": [1, 2],
        "country": ["US", "DE"],
    }, schema={"account_id": pl.Int64, "country": pl.String})
    typed.write_parquet(data / "accounts.parquet")
    (data / "accounts.csv").unlink()
    matches = pl.read_csv(data / "matches.csv", infer_schema=False).filter(
        pl.col("matched_at") != "not-a-time").with_columns(
        pl.col("matched_at").str.to_datetime(time_zone="UTC", format=None, strict=False),
        pl.col("account_id").cast(pl.Int64))
    matches.write_parquet(data / "matches.parquet")
    (data / "matches.csv").unlink()
    api.load(incident, data)
    db = tmp_path / "incident.duckdb"
    assert counts(db)["accounts"] == 2
    assert query(db, "SELECT count(*), sum(copies) FROM matches") == [(5, 6)]


def test_impossible_date_in_a_file_name_is_bad_data_not_a_crash(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "contacts" / "contacts_2019-02-30.csv").write_text(
        "account_id,channel,contact_sha256,purposes\n9,email," + sha("y@example.com") +
        ",profile\n")
    with pytest.raises(BadDataError, match="snapshot_date"):
        api.load(incident, data)


def test_an_account_with_two_countries_does_not_multiply_its_contacts(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "accounts.csv").write_text("account_id,country\n1,US\n1,CA\n2,DE\n3,GB\n")
    result = api.load(incident, data)
    contacts = [f for f in result.files if f.table == "contacts"]
    assert [(f.rows_loaded, f.rows_rejected) for f in contacts] == [(3, 1), (3, 0)]
    assert query(tmp_path / "incident.duckdb",
                 "SELECT country FROM accounts WHERE account_id = 1") == [("CA",)]


def test_a_missing_key_file_is_an_error_and_no_new_key_is_left_behind(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    key = tmp_path / "incident.duckdb.key"
    key.unlink()
    with pytest.raises(MissingInputError, match="key file not found"):
        api.load(incident, data)
    assert not key.exists()


def test_lower_case_separators_in_timestamps(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "matches.csv").write_text("matched_at,account_id,audience_id\n"
                                      "2019-08-06t10:00:00z,1,aud1\n")
    api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT CAST(matched_at AS VARCHAR) FROM matches") == [("2019-08-06 10:00:00",)]


def test_impossible_time_zone_offsets_are_rejected(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "matches.csv").write_text("matched_at,account_id,audience_id\n"
                                      "2019-01-01T00:00:00+25:00,1,aud1\n"
                                      "2019-01-01T00:00:00+14:00,1,aud1\n"
                                      "2019-01-01T00:00:00-05:60,1,aud1\n")
    api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT line, reason FROM rejects WHERE path = 'matches.csv' ORDER BY line") == [
        (2, "not an ISO-8601 timestamp"), (4, "not an ISO-8601 timestamp")]
