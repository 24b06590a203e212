"""Issue 20, inputs and the incident file: times out of range, typed Parquet columns of the
wrong kind, duplicate headers, files that change during a load, rejects of identical files,
load warnings, blank labels, a BOM, unknown time zones, glob characters in a folder name.

Each test failed before its fix (defects C1, C5, C7, D2, D3, D4, D7, D8, U2, U3 and the
smaller ones of issue 20).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from relhelp import Figure, cli, query

from incidentscope import api, compaction
from incidentscope.config import load_incident
from incidentscope.errors import BadDataError, ConfigError, UsageError
from incidentscope.validate import OUT_OF_RANGE
from workspace_fixtures import INCIDENT, write_small_case

MATCH_HEADER = "matched_at,account_id,audience_id,channel,identifier_sha256\n"


def _one_line(done: object) -> list[str]:
    lines = done.stderr.decode().strip().splitlines()  # type: ignore[attr-defined]
    return lines


# -- C1: times out of the supported range are cell rejects ----------------------------------
@pytest.mark.case(14)
@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
    "0001-01-01T00:30:00+01:00",  # year 0 in UTC
    "1899-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
])
def test_match_times_out_of_range_are_rejected_and_the_workspace_stays_usable(
        value: str, tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    with (data / "matches.csv").open("a") as handle:
        handle.write(f"{value},1,aud1,,\n")
    figure.tried += 1
    api.load(incident, data)
    rejects = query(tmp_path / "incident.duckdb",
                    "SELECT column_name, reason FROM rejects WHERE path = 'matches.csv' "
                    "AND reason <> 'not an ISO-8601 timestamp'")
    assert rejects == [("matched_at", OUT_OF_RANGE)]
    for command in (("status", str(incident)), ("replay", str(incident), "-q")):
        done = cli(*command)
        if done.returncode != 0:
            figure.crashes += 1
        assert done.returncode == 0, done.stderr


@pytest.mark.case(14)
def test_a_naive_time_that_its_time_zone_moves_out_of_range_is_rejected(
        tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(
        tmp_path, incident=INCIDENT + 'input_timezone = "America/New_York"\n')
    (data / "deliveries.csv").write_text("served_at,campaign_id,account_id,impressions\n"
                                         "2199-12-31 23:00,c1,1,1\n2019-08-08 10:00,c1,1,1\n")
    figure.tried += 1
    api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT line, reason FROM rejects WHERE path = 'deliveries.csv'") == [
        (2, OUT_OF_RANGE)]


@pytest.mark.case(14)
def test_parquet_dates_and_times_beyond_the_range_are_rejected(tmp_path: Path,
                                                               figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "contacts" / "contacts_2019-08-05.csv").unlink()
    from datetime import date, datetime

    pl.DataFrame({"snapshot_date": [date(2019, 8, 5), date(9999, 12, 31), date(1800, 1, 1)],
                  "account_id": [1, 1, 1], "channel": ["email"] * 3,
                  "contact_sha256": ["a" * 64] * 3, "purposes": ["profile"] * 3}).write_parquet(
        data / "contacts" / "snap.parquet")
    (data / "deliveries.csv").unlink()
    pl.DataFrame({"served_at": [datetime(2019, 8, 8), datetime(2500, 1, 1)],
                  "campaign_id": ["c1", "c1"], "account_id": [1, 1]}).write_parquet(
        data / "deliveries.parquet")
    figure.tried += 2
    api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT path, line, reason FROM rejects WHERE path LIKE '%.parquet' "
                 "ORDER BY path, line") == [
        ("contacts/snap.parquet", 2, OUT_OF_RANGE), ("contacts/snap.parquet", 3, OUT_OF_RANGE),
        ("deliveries.parquet", 2, OUT_OF_RANGE)]
    assert cli("run", str(incident), "--data", str(data), "--out",
               str(tmp_path / "out"), "-q").returncode == 0


@pytest.mark.case(14)
@pytest.mark.parametrize("fix_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00",
                                    "1850-01-01", "2300-01-01"])
def test_incident_times_out_of_range_are_a_config_error(fix_at: str, tmp_path: Path,
                                                        figure: Figure) -> None:
    incident = tmp_path / "incident.toml"
    incident.write_text(INCIDENT.replace('fix_at = "2019-09-17T00:00:00Z"',
                                         f'fix_at = "{fix_at}"'))
    figure.tried += 1
    with pytest.raises(ConfigError, match="outside the supported range"):
        load_incident(incident)


@pytest.mark.case(14)
def test_what_if_with_an_overflowing_fix_is_a_usage_error(tmp_path: Path,
                                                         figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    figure.tried += 1
    done = cli("what-if", str(incident), "--fix-at", "0001-01-01T00:00:00+01:00")
    assert done.returncode == 64, done.stderr
    assert len(_one_line(done)) == 1


# -- D2 and duplicate headers: typed Parquet columns of the wrong family ---------------------
@pytest.mark.case(15)
@pytest.mark.parametrize("purposes", [
    pl.Series("purposes", [["two_factor"], ["profile"]]),
    pl.Series("purposes", [{"p": "two_factor"}, {"p": "profile"}]),
    pl.Series("purposes", [b"two_factor", b"profile"]),
])
def test_a_parquet_column_that_is_no_scalar_refuses_the_file(
        purposes: pl.Series, tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    frame = pl.DataFrame({"account_id": [1, 2], "channel": ["phone", "phone"],
                          "contact_sha256": ["a" * 64, "b" * 64]}).with_columns(purposes)
    frame.write_parquet(data / "contacts" / "contacts_2019-08-19.parquet")
    figure.tried += 1
    with pytest.raises(BadDataError, match=r"contacts_2019-08-19\.parquet: column 'purposes'"):
        api.load(incident, data)
    assert not (tmp_path / "incident.duckdb").exists() or query(
        tmp_path / "incident.duckdb", "SELECT count(*) FROM files") == [(0,)]


@pytest.mark.case(15)
def test_a_parquet_map_column_refuses_the_file_through_the_cli(tmp_path: Path,
                                                               figure: Figure) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    incident, data = write_small_case(tmp_path)
    table = pa.table({"account_id": [1], "channel": ["phone"], "contact_sha256": ["a" * 64],
                      "purposes": pa.array([[("k", "two_factor")]],
                                           type=pa.map_(pa.string(), pa.string()))})
    pq.write_table(table, data / "contacts" / "contacts_2019-08-19.parquet")
    figure.tried += 1
    done = cli("load", str(incident), "--data", str(data), "-q")
    assert done.returncode == 65
    assert _one_line(done) == ["error: contacts/contacts_2019-08-19.parquet: column 'purposes' "
                               "holds a list, struct, map or union values; the contract's "
                               "'purposes' needs a single value per row"]


@pytest.mark.case(15)
def test_a_header_name_twice_refuses_the_file(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "campaigns.csv").write_text("campaign_id,advertiser_id,name,name\nc1,adv1,A,B\n")
    figure.tried += 1
    with pytest.raises(BadDataError, match=r"campaigns\.csv: column 'name' appears twice"):
        api.load(incident, data)


# -- D4 and D7: files that change, identical files under other dates -------------------------
@pytest.mark.case(16)
def test_a_file_appended_to_during_the_load_is_refused_and_nothing_is_counted_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    original = compaction.add_snapshots

    def append_then_compact(*args: object, **kwargs: object) -> None:
        with (data / "matches.csv").open("a") as handle:
            handle.write("2019-08-07T11:00:00Z,2,aud2,,\n")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compaction, "add_snapshots", append_then_compact)
    figure.tried += 1
    with pytest.raises(BadDataError, match=r"matches\.csv: changed while it was being read"):
        api.load(incident, data)
    monkeypatch.undo()
    result = api.load(incident, data)  # the file as it is now, once
    matches = [f for f in result.files if f.table == "matches"]
    assert [(f.status, f.rows_read) for f in matches] == [("loaded", 8)]
    assert query(tmp_path / "incident.duckdb", "SELECT sum(copies) FROM matches") == [(7,)]


@pytest.mark.case(16)
def test_rejects_of_one_content_under_three_dates_are_counted_once_each(
        tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    bad = "account_id,channel,contact_sha256,purposes\n1,fax,{a},profile\nx,email,{a},profile\n"
    for day in ("2019-08-19", "2019-08-26", "2019-09-02"):
        (data / "contacts" / f"contacts_{day}.csv").write_text(bad.format(a="a" * 64))
    figure.tried += 1
    result = api.load(incident, data)
    from_files = sum(f.rows_rejected for f in result.files if "2019-08-19" in f.path
                     or "2019-08-26" in f.path or "2019-09-02" in f.path)
    assert from_files == 6
    assert sum(result.rejects_by_reason.values()) == result.rows_rejected


# -- C5: a long field beside a reject --------------------------------------------------------
@pytest.mark.case(16)
def test_a_field_over_128_kib_beside_a_reject_loads(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "campaigns.csv").write_text(
        f"campaign_id,advertiser_id,name\nc1,adv1,{'n' * 200_000}\nc2,,Fall\n")
    figure.tried += 1
    result = api.load(incident, data)
    campaigns = next(f for f in result.files if f.table == "campaigns")
    assert (campaigns.rows_loaded, campaigns.rows_rejected) == (1, 1)


# -- D3: load warnings reach every command ---------------------------------------------------
@pytest.mark.case(22)
def test_a_misspelled_optional_column_is_warned_about_by_every_command(
        tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    text = (data / "matches.csv").read_text().replace("identifier_sha256", "identifer_sha256")
    (data / "matches.csv").write_text(text)
    warning = "warning: matches.csv: extra columns ignored: identifer_sha256"
    out = tmp_path / "out"
    run = cli("run", str(incident), "--data", str(data), "--out", str(out), "-q",
              "--format", "json")
    assert run.returncode == 0, run.stderr
    for done in (run, cli("replay", str(incident), "-q", "--format", "json"),
                 cli("report", str(incident), "-q", "--format", "md"),
                 cli("load", str(incident), "--data", str(data), "-q", "--format", "json",
                     "--db", str(tmp_path / "fresh.duckdb"))):
        figure.tried += 1
        assert warning in done.stderr.decode().splitlines(), done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["coverage"]["load_warnings"] == [
        "audiences.csv: extra columns ignored: notes",
        "matches.csv: extra columns ignored: identifer_sha256"]
    assert "extra columns ignored: identifer_sha256" in (out / "report.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["warnings"] for i in manifest["inputs"] if i["path"] == "matches.csv"] == [
        ["extra columns ignored: identifer_sha256"]]


# -- the incident file: labels, BOM, time zones; a folder with glob characters ----------------
@pytest.mark.case(21)
@pytest.mark.parametrize("labels", ['[" "]', '["two_factor", ""]', '["a|b"]'])
def test_blank_or_separator_labels_are_refused(labels: str, tmp_path: Path,
                                               figure: Figure) -> None:
    incident = tmp_path / "incident.toml"
    incident.write_text(INCIDENT.replace(
        'restricted_purposes = ["two_factor", "account_recovery"]',
        f"restricted_purposes = {labels}"))
    figure.tried += 1
    with pytest.raises(ConfigError, match=r"\[incident\].restricted_purposes"):
        load_incident(incident)


@pytest.mark.case(21)
def test_a_byte_order_mark_in_the_incident_file_is_accepted(tmp_path: Path,
                                                            figure: Figure) -> None:
    incident = tmp_path / "incident.toml"
    incident.write_bytes("\ufeff".encode() + INCIDENT.encode())
    figure.tried += 1
    assert load_incident(incident).id == "small"


@pytest.mark.case(21)
@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Mars/Olympus_Mons"])
def test_a_time_zone_the_engines_do_not_know_is_blamed_on_the_incident_file(
        zone: str, tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path, incident=INCIDENT + f'input_timezone = "{zone}"\n')
    figure.tried += 1
    done = cli("load", str(incident), "--data", str(data), "-q")
    assert done.returncode == 64
    assert _one_line(done) == [f"error: {incident}: [incident].input_timezone: not an IANA "
                               "time zone name"]


@pytest.mark.case(21)
def test_a_zone_duckdb_does_not_know_is_a_config_error_before_any_file_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: Figure) -> None:
    from incidentscope import config

    incident, data = write_small_case(tmp_path, incident=INCIDENT + 'input_timezone = "X/Y"\n')
    monkeypatch.setattr(config, "is_time_zone_name", lambda name: True)  # as if Python knew it
    figure.tried += 1
    with pytest.raises(ConfigError, match="input_timezone: a time zone DuckDB does not know"):
        api.load(incident, data)


@pytest.mark.case(21)
def test_glob_characters_in_the_data_folder_are_blamed_on_the_folder(
        tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path / "case[1]")
    figure.tried += 1
    with pytest.raises(UsageError, match=r"the data folder's path contains"):
        api.load(incident, data)
