"""The input tables of the input contract: columns, kinds, required or optional.

This module is the single owner of what an input file must contain; the loader,
the generator's tests and the documentation read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

ColumnKind = Literal["int64", "text", "date", "timestamp", "channel", "audience_type", "hex64",
                     "purposes", "positive_int", "country", "region", "language"]

# How a checked value of each kind is staged (DuckDB type; Spark's follows by name). A
# hex64 column is staged as its number in the load's hash dictionary (`hash_no`).
STAGE_TYPES: dict[str, str] = {
    "int64": "BIGINT", "positive_int": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP",
    "hex64": "INTEGER",
}
HASH_NUMBER = "hash_no"  # the staged column of a table's contact hash (see `Table.staged`)


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool


@dataclass(frozen=True)
class RawContacts:
    """A table that may carry raw contact values: normalized by the incident's profile,
    hashed into `hashed`, never stored. A row needs one of the two columns."""

    raw: str  # the raw value's column
    hashed: str  # the SHA-256 column the raw value is hashed into (it may also come hashed)
    region: Literal["account", "row"]  # a national-format phone's region: the account's
    # country (accounts), or the row's own `country` column


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool  # whether a run needs this table at all
    raw_contacts: RawContacts | None = None
    # SQL literals for optional columns that a file lacks or leaves empty
    defaults: tuple[tuple[str, str], ...] = ()
    # identical rows of one file are one fact (a contact's state at a snapshot)
    distinct_rows: bool = False

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def staged(self) -> tuple[tuple[str, str, str], ...]:
        """(staged name, DuckDB type, contract column) of a checked row, in order: every
        column but the raw contact; the contact hash as its number, `hash_no`."""
        raw = self.raw_contacts.raw if self.raw_contacts else None
        return tuple(
            (HASH_NUMBER if c.kind == "hex64" else c.name, STAGE_TYPES.get(c.kind, "VARCHAR"),
             c.name)
            for c in self.columns if c.name != raw)

    def default(self, name: str) -> str:
        return dict(self.defaults).get(name, "NULL")


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("accounts", (
            Column("account_id", "int64", True),
            Column("country", "country", True),
            Column("region", "region", False),  # ISO 3166-2, e.g. DE-BY (authorities)
            Column("language", "language", False),  # BCP 47, e.g. de (Art. 34 notices)
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
            # snapshot_date may come from the file name instead (see loadplan).
            Column("snapshot_date", "date", True),
            Column("account_id", "int64", True),
            Column("channel", "channel", True),
            Column("contact", "text", False),
            Column("contact_sha256", "hex64", False),
            Column("purposes", "purposes", True),
        ), required=True, raw_contacts=RawContacts("contact", "contact_sha256", "account"),
            distinct_rows=True),
        Table("matches", (
            Column("matched_at", "timestamp", True),
            Column("account_id", "int64", True),
            Column("audience_id", "text", True),
            Column("channel", "channel", False),
            Column("identifier_sha256", "hex64", False),
        ), required=True),
        # The advertisers' and partners' list entries (whole-window.md).
        Table("uploads", (
            Column("uploaded_at", "timestamp", True),
            Column("audience_id", "text", True),
            Column("channel", "channel", True),
            Column("identifier_sha256", "hex64", False),
            Column("contact", "text", False),
            Column("country", "country", False),
        ), required=False, raw_contacts=RawContacts("contact", "identifier_sha256", "row")),
        Table("deliveries", (
            Column("served_at", "timestamp", True),
            Column("campaign_id", "text", True),
            Column("account_id", "int64", True),
            Column("impressions", "positive_int", False),
        ), required=False, defaults=(("impressions", "1"),)),
    )
}

def raw_column(table: str) -> str | None:
    """The column of a table's raw contact values (None: the table has none)."""
    raw = TABLES[table].raw_contacts
    return raw.raw if raw else None


def raw_contacts(table: str) -> RawContacts:
    """A table's raw contacts spec (for tables that have one)."""
    raw = TABLES[table].raw_contacts
    if raw is None:  # a programming error: only tables with raw contacts get here
        raise ValueError(f"table {table} has no raw contacts")
    return raw


@dataclass(frozen=True)
class StoredColumn:
    name: str
    type: str  # DuckDB type (Spark's follows by name)
    not_null: bool


IDENTIFIER = "identifier_id"  # a contact hash, stored as its keyed pseudonym's number
COPIES = "copies"  # an event log's count of identical rows folded into one
# The event logs: identical rows are one stored row with a copies count (finishing.LOGS).
LOG_TABLES = ("matches", "uploads")
# Tables stored as written (the rest of the non-contact tables are event logs or deliveries,
# stored with their time split in two, workspace.stored_time).
REFERENCE_TABLES = ("accounts", "audiences", "campaigns", "campaign_audiences")


def stored_columns(table: str) -> tuple[StoredColumn, ...]:
    """The columns of an input table as the workspace gives them to every reader (the
    table, or the view over an event log or the deliveries), in contract order (an event
    log's identifier last before its copies count): without the
    raw contact and a row's own phone region (read only to normalize the contact), the
    contact hash as its identifier's number, an event log with its copies count. Both
    engines' workspace schemas and the loaders' inserts are made from this, so that a new
    column is one entry in TABLES. (Contacts are stored as runs instead: compaction.py.)"""
    spec = TABLES[table]
    read_only = set()
    if spec.raw_contacts:
        read_only.add(spec.raw_contacts.raw)
        if spec.raw_contacts.region == "row":
            read_only.add("country")
    defaults = dict(spec.defaults)
    columns = [StoredColumn(IDENTIFIER, "BIGINT", False) if c.kind == "hex64" else
               StoredColumn(c.name, STAGE_TYPES.get(c.kind, "VARCHAR"),
                            c.required or c.name in defaults)
               for c in spec.columns if c.name not in read_only]
    if table in LOG_TABLES:  # a log's row: its columns, its identifier, its copies
        columns.sort(key=lambda column: column.name == IDENTIFIER)
        columns.append(StoredColumn(COPIES, "BIGINT", True))
    return tuple(columns)


def stored_names(table: str) -> tuple[str, ...]:
    return tuple(column.name for column in stored_columns(table))


# Load order: accounts first (their countries are the default phone regions),
# contacts before matches (so identifiers are known), deliveries last.
LOAD_ORDER = ("accounts", "audiences", "campaigns", "campaign_audiences", "contacts", "matches",
              "uploads", "deliveries")
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
