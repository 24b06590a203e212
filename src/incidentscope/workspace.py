"""The workspace: one DuckDB file per investigation, and the key file beside it.

This module owns the connection settings, the schema and the key file. Every
table has one writer: ingest writes the input tables, replay writes the replay
tables, history writes `runs`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from incidentscope.contract import REFERENCE_TABLES, StoredColumn, stored_columns
from incidentscope.errors import (
    IncidentScopeWarning,
    MissingInputError,
    StorageError,
    WorkspaceInUseError,
)

# 2: the match and delivery logs store times as seconds + micros; 3: uploads, the accounts'
# region and language, load warnings
SCHEMA_VERSION = "3"

# Created and read first: the schema version it holds decides whether SCHEMA may follow.
META_TABLE = "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"


def stored_time(column: str) -> str:
    """The two stored columns of a timestamp: whole seconds, microseconds within the second.

    Logged times are whole seconds almost always; as one microsecond TIMESTAMP they cost
    about 45 bits each after bitpacking, as seconds about 25, and the microseconds, nearly
    all 0, about nothing: at scale S the workspace is 23% smaller. Lossless: `restored_time`
    adds the two back. (`column` is a fixed name, not input.)
    """
    second = f"date_trunc('second', {column})"  # the floor, before 1970 too
    return (f"CAST({second} AS TIMESTAMP_S), "
            f"CAST(epoch_us({column}) - epoch_us({second}) AS INTEGER)")


def restored_time(second: str, micros: str) -> str:
    """The timestamp that `stored_time` stored as the columns `second` and `micros`."""
    return f"CAST({second} AS TIMESTAMP) + to_microseconds({micros})"


# The input tables stored with each time as two columns (stored_time), read through a view
# of the input table's name with the time restored: input table -> stored table.
TIMED_LOGS = {"matches": "match_log", "uploads": "upload_log", "deliveries": "delivery_log"}


def _columns_sql(columns: tuple[StoredColumn, ...]) -> str:
    return ", ".join(f"{c.name} {c.type}{' NOT NULL' if c.not_null else ''}" for c in columns)


def input_tables_sql() -> str:
    """The DDL of the stored input tables, from the contract (contract.stored_columns): the
    reference tables as they are; each event log and the deliveries as a table whose time
    is two columns (`<time>_second`, `<time>_micros`, the time column's name without its
    `_at`), under a view of the input table's name that restores it."""
    statements = [f"CREATE TABLE IF NOT EXISTS {table} ({_columns_sql(stored_columns(table))});"
                  for table in REFERENCE_TABLES]
    for table, stored in TIMED_LOGS.items():
        time, *rest = stored_columns(table)
        part = time.name.removesuffix("_at")
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {stored} ({part}_second TIMESTAMP_S NOT NULL, "
            f"{part}_micros INTEGER NOT NULL, {_columns_sql(tuple(rest))});")
        statements.append(
            f"CREATE VIEW IF NOT EXISTS {table} AS SELECT "  # noqa: S608 - contract names
            f"{restored_time(f'{part}_second', f'{part}_micros')} AS {time.name}, "
            f"{', '.join(c.name for c in rest)} FROM {stored};")
    return "\n".join(statements)


# The workspace's other tables (schema_sql puts the input tables between the two parts).
_LOAD_TABLES = """;
-- ingest: one row per loaded input file, by content
CREATE TABLE IF NOT EXISTS files (
    file_sha256 VARCHAR NOT NULL, snapshot_from_name DATE,
    table_name VARCHAR NOT NULL, path VARCHAR NOT NULL,
    bytes BIGINT NOT NULL, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL, load_id VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL);
-- what a loaded file told a reader to check (results.file_warnings), shown by every report
CREATE TABLE IF NOT EXISTS load_warnings (
    file_sha256 VARCHAR NOT NULL, path VARCHAR NOT NULL, warning VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS rejects (
    file_sha256 VARCHAR NOT NULL, path VARCHAR NOT NULL, line BIGINT,
    column_name VARCHAR, reason VARCHAR NOT NULL);
-- keyed pseudonyms of contact hashes, each with a compact id used in joins
CREATE TABLE IF NOT EXISTS identifiers (identifier_id BIGINT NOT NULL, pseudonym UHUGEINT NOT NULL);
CREATE TABLE IF NOT EXISTS purpose_sets (purposes_id INTEGER NOT NULL, purposes VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (snapshot_date DATE NOT NULL);
-- contacts as runs of unchanged purposes per key, over consecutive snapshots
CREATE TABLE IF NOT EXISTS contact_runs (
    account_id BIGINT NOT NULL, channel VARCHAR NOT NULL, identifier_id BIGINT NOT NULL,
    purposes_id INTEGER NOT NULL, first_snapshot DATE NOT NULL, last_snapshot DATE NOT NULL);
-- accounts, audiences, campaigns, campaign_audiences as given; the match log and the
-- uploads de-duplicated (copies = how many identical rows the input had), the match log
-- stored by (account, identifier, time), the uploads by identifier, deliveries by
-- (account, time); each time as whole seconds and the microseconds within the second
-- (see stored_time), read through the views `matches`, `uploads` and `deliveries`.
"""
_REPLAY_TABLES = """
-- replay: the latest replay's per-account outcome (ids only) and report
CREATE TABLE IF NOT EXISTS affected_accounts (
    account_id BIGINT NOT NULL, certain BOOLEAN NOT NULL, probability DOUBLE NOT NULL,
    first_caused_at TIMESTAMP, first_match_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL, incident_sha256 VARCHAR NOT NULL,
    manifest_sha256 VARCHAR, report_json VARCHAR NOT NULL,
    affected_lower BIGINT NOT NULL, affected_estimate BIGINT NOT NULL,
    affected_upper BIGINT NOT NULL);
"""


def schema_sql() -> str:
    """The workspace's DDL: built from constants, the contract and the helpers above only,
    never from input."""
    return META_TABLE + _LOAD_TABLES + input_tables_sql() + _REPLAY_TABLES


def default_workspace_path(incident_path: Path) -> Path:
    return incident_path.with_suffix(".duckdb")


def key_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".key")


@dataclass(frozen=True)
class PseudonymKey:
    """The secret behind the keyed pseudonyms. Only its fingerprint is ever shown."""

    hex: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(b"incidentscope-key-fingerprint:" + self.hex.encode())
        return digest.hexdigest()[:16]


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Create files readable by their owner only, whatever the caller's umask."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def load_or_create_key(key_path: Path, create: bool,
                       con: duckdb.DuckDBPyConnection | None = None) -> PseudonymKey:
    """The workspace's key; a new one only for a workspace that has never used one."""
    if key_path.is_symlink() and not key_path.exists():
        raise StorageError(f"{key_path}: a broken symbolic link, not a key file")
    if key_path.exists() and not key_path.is_file():
        raise StorageError(f"{key_path}: not a key file (a folder or a device)")
    if not key_path.exists() and con is not None and con.execute(
            "SELECT value FROM meta WHERE key = 'key_fingerprint'").fetchall():
        raise MissingInputError(f"{key_path}: key file not found; this workspace's pseudonyms "
                                "were made with it (restore it, or use a new workspace)")
    if key_path.exists():
        return _read_key(key_path)
    if not create:
        raise MissingInputError(f"{key_path}: key file not found (it is created by 'load')")
    key = PseudonymKey(secrets.token_hex(32))
    # Written whole under a temporary name, then linked into place (never overwriting one):
    # a crash leaves either no key file or a complete one, never an empty one.
    partial = key_path.with_name(f".{key_path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, key_path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return key


def _read_key(key_path: Path) -> PseudonymKey:
    try:
        text = key_path.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    except OSError as exc:
        raise StorageError(f"{key_path}: cannot read the key file ({exc.strerror})") from None
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise StorageError(f"{key_path}: not a valid incidentscope key file")
    if key_path.stat().st_mode & 0o077:
        # as ssh does for a private key: it still works, but others may read it
        warnings.warn(f"{key_path}: the key file is readable by other users than its owner; "
                      f"chmod 600 it", IncidentScopeWarning, stacklevel=3)
    return PseudonymKey(text)


def default_memory_limit() -> str:
    """3 GB, or 60 % of this machine's memory when that is less.

    Bounded by default: beyond the limit DuckDB spills to the workspace's temp directory
    instead of growing (docs/benchmarks.md measures the cost).
    """
    limit_mb = 3 * 1024
    with contextlib.suppress(ValueError, OSError, AttributeError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit_mb = min(limit_mb, int(total * 0.6) // 2**20)
    return f"{max(limit_mb, 256)}MB"


def connect(
    db_path: Path,
    *,
    create: bool = False,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the workspace with the settings every command relies on."""
    if not create and not db_path.exists():
        raise MissingInputError(f"{db_path}: workspace not found (run 'incidentscope load' first)")
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if threads:
        config["threads"] = threads
    config["memory_limit"] = memory_limit or default_memory_limit()
    try:
        with private_files():
            con = duckdb.connect(str(db_path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WorkspaceInUseError(
                f"{db_path}: the workspace is in use by another process; try again when it ends"
            ) from None
        raise StorageError(f"{db_path}: cannot open the workspace") from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    temp_dir = db_path.parent / f".{db_path.name}.tmp"
    con.execute("SET temp_directory = $1", [str(temp_dir)])
    if not read_only:
        # One transaction: a crash while creating a workspace leaves all tables or none.
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(META_TABLE)
            rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
            if rows and rows[0][0] != SCHEMA_VERSION:
                raise StorageError(
                    f"{db_path}: workspace schema {rows[0][0]} is not supported (this version "
                    f"writes schema {SCHEMA_VERSION}); load the inputs into a new workspace")
            con.execute(schema_sql())
            if not rows:
                con.execute("INSERT INTO meta VALUES ('schema_version', $1)", [SCHEMA_VERSION])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
    return con


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Once the inputs are read: no file or network access from SQL, no setting changes.

    Nothing in an incident file or an input can then make DuckDB read other files, write
    files or reach the network. Exports and reports are written by Python, not by DuckDB.
    """
    locked = con.execute("SELECT current_setting('lock_configuration')").fetchall()
    if locked and locked[0][0] in (True, "true"):
        return
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def record_key_fingerprint(con: duckdb.DuckDBPyConnection, key: PseudonymKey) -> None:
    """Remember which key a workspace's pseudonyms were made with, and refuse another."""
    rows = con.execute("SELECT value FROM meta WHERE key = 'key_fingerprint'").fetchall()
    if not rows:
        con.execute("INSERT INTO meta VALUES ('key_fingerprint', $1)", [key.fingerprint])
    elif rows[0][0] != key.fingerprint:
        raise StorageError("the key file does not belong to this workspace (fingerprints "
                           "differ)")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = ["accounts", "audiences", "campaigns", "campaign_audiences", "snapshots",
             "contact_runs", "identifiers", "matches", "uploads", "deliveries", "files",
             "rejects"]
    counts = {}
    for name in names:  # names from the fixed list above, never from input
        row = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0]  # noqa: S608
        counts[name] = int(row[0]) if row else 0
    return counts
