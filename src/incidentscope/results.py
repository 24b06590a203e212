"""The result objects that the core returns and every renderer reads.

At the bottom of the import graph: the loader, the replay, the manifest and the
renderers import these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl


def iso_z(moment: datetime) -> str:
    """An instant (naive UTC) as the reports write it: ISO-8601 with Z, micros when set."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


@dataclass(frozen=True)
class FileLoad:
    table: str
    path: str
    sha256: str
    bytes: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    status: str  # "loaded", "already loaded", "empty", "header only"


@dataclass(frozen=True)
class LoadResult:
    load_id: str
    files: tuple[FileLoad, ...]
    extra_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    # data files in the data folder that no input table reads (inputs.unknown_files)
    unknown_files: tuple[str, ...] = ()

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def warnings(self) -> list[str]:
        """What this load's files told a reader to check (see `file_warnings`)."""
        return [*(f"{item.path}: {note}" for item in self.files
                  for note in file_warnings(item, self.extra_columns.get(item.path, ()))),
                *(f"{path}: not a file of an input table; not read"
                  for path in self.unknown_files)]


def file_warnings(item: FileLoad, extra_columns: tuple[str, ...]) -> list[str]:
    """A loaded file's warnings, without its path: an empty file, and header names the
    contract does not know (a misspelled optional column is ignored: the figures change).

    Loaders store them with the file (`load_warnings`), so that every later replay,
    report and manifest shows them too.
    """
    notes = []
    if item.status in ("empty", "header only"):
        notes.append(f"{item.status}, no rows loaded")
    if extra_columns:
        notes.append(f"extra columns ignored: {', '.join(extra_columns)}")
    return notes


# The per-person facts of the Art. 34 notices (report/art34.py): one row per (account,
# audience) with an in-window, in-scope match into that audience that is caused, uncertain
# or unexplained (permitted matches never make a row). Account ids only, never a contact.
#   account_id     the account (in ReplayResult.accounts)
#   certain        true when some in-window match of the account into the audience is caused
#   audience_id    the audience the account was placed in
#   audience_type  "tailored" or "partner"
#   advertiser_id  the audience's advertiser
#   partner_id     the data partner of a partner audience; null for a tailored audience
#   first_month    first and last such match of the account into the audience,
#   last_month     as "YYYY-MM" (UTC)
#   ads_served     true when a delivery to the account of a campaign that targets the audience
#                  is attributable to the incident (the upper rule of `deliveries`)
# Sorted by account_id, audience_id.
NOTICE_FACTS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(), "certain": pl.Boolean(), "audience_id": pl.String(),
    "audience_type": pl.String(), "advertiser_id": pl.String(), "partner_id": pl.String(),
    "first_month": pl.String(), "last_month": pl.String(), "ads_served": pl.Boolean(),
}


def empty_notice_facts() -> pl.DataFrame:
    return pl.DataFrame(schema=NOTICE_FACTS_SCHEMA)


@dataclass(frozen=True)
class ReplayResult:
    """Everything the renderers show. `report` is the JSON contract (report.json)."""

    report: dict[str, Any]
    weekly_matches: pl.DataFrame = field(repr=False)  # week (date), match_class, matches
    campaigns: pl.DataFrame = field(repr=False)  # campaign_id, advertiser_id, name, lower, upper
    countries: pl.DataFrame = field(repr=False)  # country, lower, upper
    # Accounts in the upper bound, ids only: account_id, certain, probability,
    # first_caused_at, first_match_at, country (null without an accounts row).
    # Optional columns when `accounts` has them: region (ISO 3166-2), language.
    accounts: pl.DataFrame = field(repr=False)
    # The per-person facts of the Art. 34 notices (NOTICE_FACTS_SCHEMA above); empty until
    # the replay fills it.
    notice_facts: pl.DataFrame = field(default_factory=empty_notice_facts, repr=False)

    @property
    def affected(self) -> dict[str, int]:
        return dict(self.report["affected_accounts"])
