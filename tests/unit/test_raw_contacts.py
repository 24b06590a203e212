"""Raw contacts: the loader's hashes equal the plain phonenumbers/hashlib path.

The corpus is a generated scenario with raw (unhashed) contacts in CSV snapshots. The
oracle below reads the files with the csv module and hashes each row's contact the plain
way (phonenumbers E.164 with the account's country, emails stripped and lower-cased: the
'twitter' profile), independently of incidentscope.normalize; the workspace must hold
exactly the keyed pseudonyms of those hashes.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from datetime import date
from pathlib import Path

import duckdb
import phonenumbers
import polars as pl

from incidentscope import api
from incidentscope.generator import ScenarioParams, generate
from incidentscope.workspace import key_path_for


def plain_hash(channel: str, raw: str, country: str) -> str | None:
    if channel == "email":
        value = raw.strip().lower()
        if "@" not in value or " " in value:
            return None
    else:
        try:
            number = phonenumbers.parse(raw, country)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_possible_number(number):
            return None
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return hashlib.sha256(value.encode()).hexdigest()


def test_raw_contact_hashes_equal_the_plain_phonenumbers_path(tmp_path: Path) -> None:
    case = tmp_path / "case"
    generate(case, ScenarioParams(accounts=400, seed=11, damage=False, hashed=False,
                                  file_format="csv", snapshot_every_days=30,
                                  snapshots_from=date(2019, 3, 1), end=date(2019, 10, 31)))
    db = tmp_path / "ws.duckdb"
    api.load(case / "incident.toml", case / "data", db_path=db)
    key = key_path_for(db).read_text().strip()

    with (case / "data" / "accounts.csv").open(newline="") as handle:
        country = {row["account_id"]: row["country"] for row in csv.DictReader(handle)}
    expected: set[int] = set()
    rows = 0
    for path in sorted((case / "data" / "contacts").glob("*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                hashed = plain_hash(row["channel"], row["contact"], country[row["account_id"]])
                assert hashed is not None, f"{path.name}: a generated contact did not parse"
                keyed = hashlib.sha256((key + hashed).encode()).hexdigest()[:32]
                expected.add(int(keyed, 16))
    assert rows > 1000
    with duckdb.connect(str(db), read_only=True) as con:
        stored = {int(r[0]) for r in con.execute(
            "SELECT pseudonym FROM identifiers WHERE identifier_id IN "
            "(SELECT identifier_id FROM contact_runs)").fetchall()}
    assert stored == expected


def test_raw_contacts_in_parquet_load_like_the_same_csv(tmp_path: Path) -> None:
    # A Parquet snapshot with a raw `contact` column once failed to load (the contact map's
    # re-read built invalid SQL for Parquet); it must give the CSV's workspace exactly.
    case = tmp_path / "case"
    generate(case, ScenarioParams(accounts=200, seed=5, damage=False, hashed=False,
                                  file_format="csv", snapshot_every_days=60,
                                  snapshots_from=date(2019, 3, 1), end=date(2019, 10, 31)))
    as_parquet = tmp_path / "parquet"
    shutil.copytree(case / "data", as_parquet)
    files = sorted((as_parquet / "contacts").glob("*.csv"))
    assert len(files) >= 3
    for i, path in enumerate(files):
        frame = pl.read_csv(path, infer_schema=False)
        if i % 2:  # typed account ids on every other file: the native path too
            frame = frame.with_columns(pl.col("account_id").cast(pl.Int64))
        frame.write_parquet(path.with_suffix(".parquet"))
        path.unlink()
    tables = {}
    for name, data in (("csv", case / "data"), ("parquet", as_parquet)):
        db = tmp_path / f"{name}.duckdb"
        if name == "parquet":
            shutil.copyfile(key_path_for(tmp_path / "csv.duckdb"), key_path_for(db))
        api.load(case / "incident.toml", data, db_path=db)
        with duckdb.connect(str(db), read_only=True) as con:
            tables[name] = {table: sorted(con.execute(f"SELECT * FROM {table}").fetchall())
                            for table in ("identifiers", "contact_runs", "purpose_sets",
                                          "snapshots", "matches")}
    assert tables["csv"]["contact_runs"]
    assert tables["parquet"] == tables["csv"]
