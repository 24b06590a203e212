"""The loader's fast paths give the same workspace as the general ones.

- typed Parquet columns (taken as they are) against the same data as CSV text;
- contact hashes checked and numbered once per distinct spelling;
- contact runs by aggregate (first load, one file per snapshot date) against the
  general gaps-and-islands path (a snapshot date in two files), with duplicates and gaps.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from incidentscope import api, ingest
from incidentscope.errors import BadDataError
from incidentscope.generator import ScenarioParams, generate
from workspace_fixtures import INCIDENT, sha, write_small_case

TABLES = {
    "accounts": "account_id, country",
    "identifiers": "identifier_id, pseudonym",
    "purpose_sets": "purposes_id, purposes",
    "snapshots": "snapshot_date",
    "contact_runs": "account_id, channel, identifier_id, purposes_id, first_snapshot, "
                    "last_snapshot",
    "matches": "matched_at, account_id, audience_id, channel, identifier_id, copies",
    "deliveries": "served_at, campaign_id, account_id, impressions",
}


def tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: con.execute(f"SELECT {cols} FROM {name} ORDER BY ALL").fetchall()
                for name, cols in TABLES.items()}


def load_with_key(incident: Path, data: Path, db: Path, key_from: Path | None) -> None:
    if key_from is not None:
        shutil.copy(key_from, db.with_name(db.name + ".key"))
    api.load(incident, data, db_path=db)


def test_typed_parquet_loads_exactly_like_csv_text(tmp_path: Path) -> None:
    case = tmp_path / "case"
    generate(case, ScenarioParams(accounts=300, seed=5, damage=False, hashed=True,
                                  file_format="csv", snapshot_every_days=30,
                                  snapshots_from=date(2019, 3, 1), end=date(2019, 10, 31)))
    incident, data = case / "incident.toml", case / "data"
    text_db = tmp_path / "text.duckdb"
    load_with_key(incident, data, text_db, None)

    typed = tmp_path / "typed"
    (typed / "contacts").mkdir(parents=True)
    for path in data.rglob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        if "account_id" in frame.columns:
            frame = frame.with_columns(pl.col("account_id").cast(pl.Int64))
        if "contact_sha256" in frame.columns:  # other spellings of the same hashes
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) % 2 == 0)
                .then(pl.col("contact_sha256").str.to_uppercase())
                .otherwise(" " + pl.col("contact_sha256") + " ").alias("contact_sha256"))
        if "matched_at" in frame.columns:  # naive timestamps, read in the input time zone
            frame = frame.with_columns(pl.col("matched_at").str.to_datetime(
                time_zone="UTC").dt.replace_time_zone(None))
        if "served_at" in frame.columns:  # time zone aware
            frame = frame.with_columns(pl.col("served_at").str.to_datetime(time_zone="UTC"),
                                       pl.col("impressions").cast(pl.Int32))
        target = typed / path.relative_to(data).with_suffix(".parquet")
        frame.write_parquet(target)
    typed_db = tmp_path / "typed.duckdb"
    load_with_key(incident, typed, typed_db, text_db.with_name("text.duckdb.key"))

    with duckdb.connect(str(typed_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
    text_tables, typed_tables = tables(text_db), tables(typed_db)
    for name in TABLES:
        assert typed_tables[name] == text_tables[name], name
    assert len(text_tables["contact_runs"]) > 300


def contacts_case(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    incident, data = write_small_case(tmp_path, incident=INCIDENT)
    shutil.rmtree(data / "contacts")
    (data / "contacts").mkdir()
    for name, rows in files.items():
        (data / "contacts" / name).write_text(
            "snapshot_date,account_id,channel,contact_sha256,purposes\n" + rows)
    return incident, data


def runs_of(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT r.account_id, r.channel, p.purposes, CAST(first_snapshot AS VARCHAR), "
            "CAST(last_snapshot AS VARCHAR) FROM contact_runs r JOIN purpose_sets p "
            "USING (purposes_id) ORDER BY ALL").fetchall()


def test_runs_with_duplicates_and_gaps_on_both_paths(tmp_path: Path) -> None:
    k1, k2 = sha("k1@example.com"), sha("k2@example.com")
    # account 1: twice in the first snapshot (same purposes), absent from the second,
    # back in the third; account 2 present throughout, its purposes changing and back.
    one_file_each = {
        "a.csv": f"2019-08-01,1,email,{k1},two_factor\n2019-08-01,1,email,{k1},two_factor\n"
                 f"2019-08-01,2,email,{k2},profile\n",
        "b.csv": f"2019-08-08,2,email,{k2},two_factor\n",
        "c.csv": f"2019-08-15,1,email,{k1.upper()},two_factor\n"
                 f"2019-08-15,2,email,{k2},profile\n",
    }
    expected = [
        (1, "email", "two_factor", "2019-08-01", "2019-08-01"),
        (1, "email", "two_factor", "2019-08-15", "2019-08-15"),
        (2, "email", "profile", "2019-08-01", "2019-08-01"),
        (2, "email", "profile", "2019-08-15", "2019-08-15"),
        (2, "email", "two_factor", "2019-08-08", "2019-08-08"),
    ]
    incident, data = contacts_case(tmp_path / "fast", one_file_each)
    api.load(incident, data)
    assert runs_of(tmp_path / "fast" / "incident.duckdb") == expected

    # The same rows, the first snapshot split over two files: the general path.
    split = dict(one_file_each)
    split["a.csv"] = f"2019-08-01,1,email,{k1},two_factor\n2019-08-01,2,email,{k2},profile\n"
    split["a2.csv"] = f"2019-08-01,1,email,{k1},two_factor\n"
    incident, data = contacts_case(tmp_path / "general", split)
    api.load(incident, data)
    assert runs_of(tmp_path / "general" / "incident.duckdb") == expected

    # A key whose rows of one snapshot disagree gets the union of their purposes.
    disagree = dict(one_file_each)
    disagree["b.csv"] = (f"2019-08-08,2,email,{k2},two_factor\n"
                         f"2019-08-08,2,email,{k2},profile\n")
    incident, data = contacts_case(tmp_path / "union", disagree)
    api.load(incident, data)
    assert (2, "email", "profile|two_factor", "2019-08-08", "2019-08-08") in runs_of(
        tmp_path / "union" / "incident.duckdb")


def damaged_parquet_snapshots(tmp_path: Path) -> tuple[Path, Path]:
    """A generated case of 12 weekly Parquet snapshots with bad cells in two of them and,
    in the middle, a file of another schema (an extra column): batches of several sizes."""
    case = tmp_path / "case"
    generate(case, ScenarioParams(accounts=400, seed=11, damage=False, hashed=True,
                                  file_format="parquet", snapshot_every_days=7,
                                  snapshots_from=date(2019, 6, 1), end=date(2019, 10, 31)))
    contacts = sorted((case / "data" / "contacts").glob("*.parquet"))
    assert len(contacts) > 12
    for path in contacts[12:]:
        path.unlink()
    for number, column, value in ((2, "contact_sha256", "not-a-hash"), (9, "purposes", "")):
        frame = pl.read_parquet(contacts[number])
        frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit(value))
                                   .otherwise(pl.col(column)).alias(column))
        frame.write_parquet(contacts[number])
    frame = pl.read_parquet(contacts[5]).with_columns(pl.lit("x").alias("note"))
    frame.write_parquet(contacts[5])
    return case / "incident.toml", case / "data"


def files_and_rejects(db: Path) -> list[list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [con.execute(sql).fetchall() for sql in (
            "SELECT path, rows_read, rows_loaded, rows_rejected FROM files ORDER BY path",
            "SELECT path, line, column_name, reason FROM rejects ORDER BY ALL")]


def test_parquet_files_staged_together_load_exactly_like_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident, data = damaged_parquet_snapshots(tmp_path)
    together = tmp_path / "together.duckdb"
    load_with_key(incident, data, together, None)
    monkeypatch.setattr(ingest, "MAX_BATCH_FILES", 1)
    alone = tmp_path / "alone.duckdb"
    load_with_key(incident, data, alone, together.with_name("together.duckdb.key"))

    assert tables(together) == tables(alone)
    assert files_and_rejects(together) == files_and_rejects(alone)
    rejects = files_and_rejects(together)[1]
    assert [(path, line, column) for path, line, column, _reason in rejects] == [
        (f"contacts/{sorted((data / 'contacts').iterdir())[2].name}", 5, "contact_sha256"),
        (f"contacts/{sorted((data / 'contacts').iterdir())[9].name}", 5, "purposes"),
    ]


def test_an_unreadable_file_of_a_batch_is_named(tmp_path: Path) -> None:
    incident, data = damaged_parquet_snapshots(tmp_path)
    broken = sorted((data / "contacts").iterdir())[7]
    content = bytearray(broken.read_bytes())
    # The footer (schema) stays readable; the column data in the middle does not.
    middle = len(content) // 2
    content[middle - 2000:middle + 2000] = bytes(4000)
    broken.write_bytes(bytes(content))
    with pytest.raises(BadDataError, match=f"^contacts/{broken.name}: cannot be read as PARQUET"):
        api.load(incident, data)
    with duckdb.connect(str(data.parent / "incident.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM files").fetchall() == [(0,)]


def test_a_changed_snapshot_in_a_batch_names_its_own_file(tmp_path: Path) -> None:
    incident, data = damaged_parquet_snapshots(tmp_path)
    contacts = sorted((data / "contacts").iterdir())
    later = tmp_path / "later"
    later.mkdir()
    for path in contacts[7:]:
        shutil.move(path, later / path.name)
    api.load(incident, data)
    # One batch of three new files: two new dates, then a loaded date with other content.
    for path in contacts[7:9]:
        shutil.move(later / path.name, path)
    date_in_name = contacts[3].stem.removeprefix("contacts_")
    changed = data / "contacts" / f"contacts_again_{date_in_name}.parquet"
    pl.read_parquet(contacts[3]).head(10).write_parquet(changed)
    with pytest.raises(BadDataError, match=f"^contacts/{changed.name}: snapshot {date_in_name} "
                                           "is already loaded from other content"):
        api.load(incident, data)
