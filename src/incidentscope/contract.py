"""The input tables of the input contract: columns, kinds, required or optional.

This module is the single owner of what an input file must contain; the loader,
the generator's tests and the documentation read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

ColumnKind = Literal["int64", "text", "date", "timestamp", "channel", "audience_type", "hex64",
                     "purposes", "positive_int"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool  # whether a run needs this table at all

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("accounts", (
            Column("account_id", "int64", True),
            Column("country", "text", True),
        ), required=False),
        Table("audiences", (
            Column("audience_id", "text", True),
            Column("advertiser_id", "text", True),
            Column("audience_type", "audience_type", True),
            Column("partner_id", "text", False),
        ), required=True),
        Table("campaigns", (
            Column("campaign_id", "text", True),
            Column("advertiser_id", "text", True),
            Column("name", "text", False),
        ), required=True),
        Table("campaign_audiences", (
            Column("campaign_id", "text", True),
            Column("audience_id", "text", True),
        ), required=True),
        Table("contacts", (
            # snapshot_date may come from the file name instead (see ingest).
            Column("snapshot_date", "date", True),
            Column("account_id", "int64", True),
            Column("channel", "channel", True),
            # Exactly one of contact / contact_sha256 is needed per row.
            Column("contact", "text", False),
            Column("contact_sha256", "hex64", False),
            Column("purposes", "purposes", True),
        ), required=True),
        Table("matches", (
            Column("matched_at", "timestamp", True),
            Column("account_id", "int64", True),
            Column("audience_id", "text", True),
            Column("channel", "channel", False),
            Column("identifier_sha256", "hex64", False),
        ), required=True),
        Table("deliveries", (
            Column("served_at", "timestamp", True),
            Column("campaign_id", "text", True),
            Column("account_id", "int64", True),
            Column("impressions", "positive_int", False),
        ), required=False),
    )
}

# Load order: accounts first (their countries are the default phone regions),
# contacts before matches (so identifiers are known), deliveries last.
LOAD_ORDER = ("accounts", "audiences", "campaigns", "campaign_audiences", "contacts", "matches",
              "deliveries")
CHANNELS = ("email", "phone")

# Every stored time and date lies in [EARLIEST, LATEST) (UTC): far beyond any ad log, and
# far enough from the calendar's ends that a day, week or month around a time, a bracket
# or a time zone shift never leaves what DuckDB, Spark and Python can all represent.
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2200, 1, 1)
TIME_RANGE_TEXT = "1900-01-01 to 2199-12-31 (UTC)"


def in_time_range(moment: datetime | date) -> bool:
    """Whether a time (naive UTC) or a date lies in the supported range."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return EARLIEST <= moment < LATEST
