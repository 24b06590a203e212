"""After staging, the same for both loaders: written once, run through an `Engine`.

A loader stages each input table's valid rows as `stage_<table>` (the columns of
`Table.staged`: the contact hash as `hash_no`, the loader's number for it) and then
calls `finish`, which writes the workspace tables from them with the SQL below, on the
DuckDB workspace (`DuckDBEngine`, inside the load's transaction) or on Spark temp views
(`SparkEngine`, which runs INSERT and DELETE on views). In order:

- `accounts` from `accounts_all` (one row per account, kept by the loader while it
  stages: phones of later tables parse with the accounts' countries);
- `audiences`, `campaigns`, `campaign_audiences`: the new distinct rows, and the check
  that no audience id is defined twice with different values;
- `identifiers`: each new keyed pseudonym of this load (`hash_pseudonyms`, hash_no ->
  pseudonym, made by the loader) numbered after the stored ones, and `hash_identifier`
  (hash_no -> identifier_id) for what follows;
- contacts -> runs (`compaction.add_snapshots`);
- the event logs (`LOGS`): identical rows folded into one with a copies count
  (`folded_rows`), stored by the loader.

What each loader does itself (`Storage`): making the pseudonyms (DuckDB from its
dictionary of the load's hashes, Spark per row while staging), and storing the logs and
deliveries (DuckDB as seconds + microseconds, sorted for compression, merged with the
stored rows; Spark as views).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from incidentscope import compaction
from incidentscope.contract import COPIES, IDENTIFIER, stored_names
from incidentscope.engine import Engine
from incidentscope.errors import BadDataError
from incidentscope.workspace import TIMED_LOGS

# Tables with a contact hash column: each hash becomes a keyed pseudonym (`identifiers`).
HASHED_TABLES = ("contacts", "matches", "uploads")

# Tables whose new rows are added once each, by all their columns.
_DISTINCT_ROW_TABLES = ("audiences", "campaigns", "campaign_audiences")


@dataclass(frozen=True)
class Log:
    """An event log stored de-duplicated with a copies count (workspace.schema_sql())."""

    table: str  # the staged table (`stage_<table>`) and the workspace view
    order: str  # how DuckDB stores the rows (see ingest_finish)

    @property
    def stored(self) -> str:
        """The DuckDB workspace table (the workspace view is `table`)."""
        return TIMED_LOGS[self.table]

    @property
    def columns(self) -> tuple[str, ...]:
        """The time first, then the rest, without the identifier and the copies (which
        follow them in a stored row: contract.stored_columns)."""
        return tuple(name for name in stored_names(self.table)
                     if name not in (IDENTIFIER, COPIES))


LOGS = (
    Log("matches", "account_id, identifier_id, matched_at"),
    # by identifier: the replay joins entries to contact keys by it
    Log("uploads", "identifier_id, uploaded_at, audience_id"),
)


class Storage(Protocol):
    """What a loader does its own way while `finish` runs."""

    def make_pseudonyms(self, sources: str) -> None:
        """Create `hash_pseudonyms` (hash_no, pseudonym) for the hash numbers `sources`
        (a query of one column, hash_no) gives."""

    def store_log(self, log: Log) -> None:
        """Store the staged rows of `log`, folded (`folded_rows(log, new_log_rows(log))`)."""

    def store_deliveries(self) -> None:
        """Store the staged deliveries."""


def new_log_rows(log: Log) -> str:
    """The staged rows of a log with their identifier, one copy each."""
    return (f"SELECT {', '.join(f's.{c}' for c in log.columns)}, h.identifier_id, "
            f"1 AS copies FROM stage_{log.table} s "
            "LEFT JOIN hash_identifier h ON h.hash_no = s.hash_no")


def folded_rows(log: Log, rows: str) -> str:
    """`rows` (the log's columns, identifier_id, copies) with identical rows folded into one
    whose copies are the sum."""
    return (f"SELECT {', '.join(log.columns)}, identifier_id, sum(copies) AS copies "
            f"FROM ({rows}) AS r GROUP BY ALL")


def finish(engine: Engine, staged: Collection[str], storage: Storage, *,
           contacts_distinct: bool) -> None:
    """Write the workspace tables from this load's staged tables (see the module docstring).

    `contacts_distinct`: no two staged contact rows are identical (compaction's fast path).
    """
    if "accounts" in staged:
        engine.execute("DELETE FROM accounts")
        engine.execute(f"INSERT INTO accounts SELECT {', '.join(stored_names('accounts'))} "
                       "FROM accounts_all")
    _add_reference_rows(engine, staged)
    hashed = [table for table in HASHED_TABLES if table in staged]
    if hashed:
        storage.make_pseudonyms(" UNION ".join(
            f"SELECT hash_no FROM stage_{table} WHERE hash_no IS NOT NULL" for table in hashed))
        _add_identifiers(engine)
    if "contacts" in staged:
        compaction.add_snapshots(engine, rows_distinct=contacts_distinct)
    for log in LOGS:
        if log.table in staged:
            storage.store_log(log)
    if "deliveries" in staged:
        storage.store_deliveries()


def _add_reference_rows(engine: Engine, staged: Collection[str]) -> None:
    for table in _DISTINCT_ROW_TABLES:
        keys = ", ".join(stored_names(table))
        if table in staged:
            engine.execute(f"INSERT INTO {table} SELECT DISTINCT {keys} FROM stage_{table} "
                           f"EXCEPT SELECT {keys} FROM {table}")
    rows = engine.rows("SELECT count(*) FROM (SELECT audience_id FROM audiences GROUP BY "
                       "audience_id HAVING count(*) > 1) AS twice")
    if rows and rows[0][0]:
        raise BadDataError(f"audiences: {rows[0][0]} audience ids are defined more than once "
                           "with different values")


def _add_identifiers(engine: Engine) -> None:
    """Number the new pseudonyms of `hash_pseudonyms` after the stored ones (in pseudonym
    order); leave `hash_identifier` (hash_no -> identifier_id) for compaction and the logs."""
    engine.execute("""
        INSERT INTO identifiers
        SELECT (SELECT coalesce(max(identifier_id), 0) FROM identifiers)
               + row_number() OVER (ORDER BY pseudonym), pseudonym
        FROM (SELECT DISTINCT pseudonym FROM hash_pseudonyms) new
        WHERE NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.pseudonym = new.pseudonym)""")
    engine.execute("""
        CREATE TEMP TABLE hash_identifier AS
        SELECT h.hash_no, i.identifier_id
        FROM hash_pseudonyms h JOIN identifiers i ON i.pseudonym = h.pseudonym""")
    engine.drop_table("hash_pseudonyms")
