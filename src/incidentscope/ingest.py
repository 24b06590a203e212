"""Input files -> workspace: validate, normalize, pseudonymize, compact; all or nothing.

One load is one transaction. A CSV file is read into a temporary staging table (raw
contact values are replaced there by a keyed reference at once); a Parquet file is
read where it lies, its columns of the contract's type taken as they are. Every cell
is checked in SQL and the valid rows are added to the staging table of their input
table; rejected rows are recorded as (file, line, column, reason) without values.
Work that depends on a value, not on a row, is done once per distinct value: contact
hashes are checked and numbered in `hash_dict`, raw contacts normalized in
`contact_norm`, both for the whole load; pseudonyms are made once per hash at the end.

The DuckDB loader in four modules: this one runs the load (the transaction, which files
to stage together, `--strict`, the outcome); ingest_read.py plans and reads files,
ingest_check.py checks and stages rows, ingest_finish.py stores what was staged through
the engine-neutral `finishing.finish`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from incidentscope import loadplan
from incidentscope.config import Incident
from incidentscope.errors import (
    OUT_OF_MEMORY_HINT,
    ConfigError,
    IncidentScopeError,
    OutOfMemoryError,
    StorageError,
    caused_by_interrupt,
    storage_cause,
)
from incidentscope.ingest_finish import Loader, pseudonym_sql
from incidentscope.ingest_read import _BatchUnreadable, _Plan
from incidentscope.inputs import (
    InputFile,
    check_unchanged,
    discover,
    unknown_files,
)
from incidentscope.results import FileLoad, LoadResult, file_warnings
from incidentscope.workspace import PseudonymKey, lock_down, record_key_fingerprint

Progress = Callable[[str], None]

__all__ = ["MAX_BATCH_FILES", "load", "pseudonym_sql"]


def load(
    con: duckdb.DuckDBPyConnection,
    incident: Incident,
    data_dir: Path,
    key: PseudonymKey,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> LoadResult:
    """Load every input file of `data_dir` into the workspace, atomically."""
    say = progress or (lambda _message: None)
    files = discover(data_dir, incident)
    try:
        result = _load(con, incident, files, key, strict=strict, say=say, batch_files=True)
    except _BatchUnreadable:
        say("a file cannot be read: loading again file by file to name it")
        result = _load(con, incident, files, key, strict=strict, say=say, batch_files=False)
    return dataclasses.replace(result, unknown_files=unknown_files(data_dir, files))


# Parquet files of one table and schema staged in one statement (see Checker.stage): enough
# to keep every thread busy, few enough that the staging table stays small.
MAX_BATCH_FILES = 8


def _load(con: duckdb.DuckDBPyConnection, incident: Incident, files: list[InputFile],
          key: PseudonymKey, *, strict: bool, say: Progress, batch_files: bool) -> LoadResult:
    loader = Loader(con, incident, key, say)
    _check_time_zone(con, incident)
    con.execute("BEGIN TRANSACTION")
    try:
        record_key_fingerprint(con, key)
        results = _stage_files(con, loader, files, batch_files=batch_files)
        rejected = sum(r.rows_rejected for r in results)
        if strict and rejected:
            first = con.execute(
                "SELECT r.path, r.line, r.column_name, r.reason FROM rejects r JOIN files f "
                "USING (file_sha256, path) WHERE f.load_id = $1 ORDER BY r.path, r.line LIMIT 1",
                [loader.load_id]).fetchall()
            raise loadplan.strict_refusal(rejected, first[0] if first else None)
        say("compacting contacts and merging matches")
        loader.finish()
        check_unchanged(files)  # the last moment before COMMIT
        by_reason = dict(con.execute(
            # (a file is its content and its path: the same content under other dates is
            # other files, each with its own rejects)
            "SELECT reason, count(*) FROM rejects r JOIN files f USING (file_sha256, path) "
            "WHERE f.load_id = $1 GROUP BY reason ORDER BY reason", [loader.load_id]).fetchall())
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback(con)
        failure = _load_failure(exc)
        if failure is None:
            raise
        raise failure from None
    finally:
        for name in ("accounts_all", "hash_dict", "hash_identifier", "contact_norm",
                     *(f"stage_{t}" for t in loader.staged_tables)):
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {name}")
    loaded_files = [r for r in results if r.status not in ("already loaded",)]
    row = con.execute("SELECT count(*) FROM files WHERE load_id = $1",
                      [loader.load_id]).fetchall()[0]
    # DuckDB may turn a COMMIT after an error into a rollback: trust only what reads back.
    if row is None or int(row[0]) != len(loaded_files):
        raise StorageError("the load did not commit; the workspace is unchanged")
    lock_down(con)  # the inputs are read: from here on, SQL reaches no file and no network
    return LoadResult(loader.load_id, tuple(results), loader.extra_columns,
                      {str(k): int(v) for k, v in by_reason.items()})


def _load_failure(exc: BaseException) -> BaseException | None:
    """What a failed load raises instead of `exc` (None: `exc` itself)."""
    if caused_by_interrupt(exc):  # whatever error the interrupt left behind
        return KeyboardInterrupt()
    if isinstance(exc, IncidentScopeError):
        return None
    if isinstance(exc, duckdb.OutOfMemoryException):
        return OutOfMemoryError("the load ran out of memory within DuckDB's memory limit; "
                                f"{OUT_OF_MEMORY_HINT}; the workspace is unchanged")
    # A failed COMMIT (full disk: the WAL cannot be written) is a TransactionException.
    if isinstance(exc, duckdb.IOException | duckdb.TransactionException | OSError):
        return StorageError(f"load failed while writing the workspace ({storage_cause(exc)}); "
                            "the workspace is unchanged")
    return None


def _stage_files(con: duckdb.DuckDBPyConnection, loader: Loader, files: list[InputFile], *,
                 batch_files: bool) -> list[FileLoad]:
    """Stage every new file, alone or in batches, and record each in `files`."""
    con.execute("CREATE TEMP TABLE accounts_all AS SELECT * FROM accounts")
    # Every distinct contact hash text of this load: raw text, normalized, valid, number.
    con.execute("CREATE TEMP TABLE hash_dict (raw VARCHAR, hash VARCHAR, ok BOOLEAN, "
                "hash_no INTEGER)")
    # Raw contacts normalized in this load, by keyed reference (see _contact_map).
    con.execute("CREATE TEMP TABLE contact_norm (contact_ref VARCHAR, channel VARCHAR, "
                "country VARCHAR, reason VARCHAR, hash_no INTEGER)")
    # A file is known by its content, and by the date its name gives a snapshot that
    # has no snapshot_date column: the same export under another date is another snapshot.
    known = {(str(row[0]), row[1].isoformat() if row[1] else None) for row in con.execute(
        "SELECT file_sha256, snapshot_from_name FROM files").fetchall()}
    batches = _Batches(con, loader, len(files))
    for index, item in enumerate(files, 1):
        identity = (item.sha256, loader.snapshot_date_from_name(item))
        if identity in known:
            batches.flush()
            batches.results.append(FileLoad(item.table, item.display, item.sha256, item.bytes,
                                            0, 0, 0, "already loaded"))
            continue
        known.add(identity)
        batches.add(index, item, batch_files=batch_files)
    batches.flush()
    return batches.results


class _Batches:
    """New files staged alone, or (Parquet files of one table and schema) together."""

    def __init__(self, con: duckdb.DuckDBPyConnection, loader: Loader, total: int) -> None:
        self.con = con
        self.loader = loader
        self.total = total
        self.results: list[FileLoad] = []
        self.pending: list[tuple[int, _Plan]] = []  # new files to stage together

    def add(self, index: int, item: InputFile, *, batch_files: bool) -> None:
        started = time.perf_counter()
        plan = self.loader.plan(item)
        if isinstance(plan, FileLoad):  # empty
            self.flush()
            self.record(index, item, plan, max(time.perf_counter() - started, 1e-6))
            return
        batch_key = plan.batch_key() if batch_files else None
        if self.pending and (batch_key is None or batch_key != self.pending[0][1].batch_key()
                             or len(self.pending) >= MAX_BATCH_FILES):
            self.flush()
        self.pending.append((index, plan))
        if batch_key is None:
            self.flush()

    def flush(self) -> None:
        """Stage the pending files."""
        if not self.pending:
            return
        started = time.perf_counter()
        loads = self.loader.stage([plan for _index, plan in self.pending])
        rows = sum(file_load.rows_read for file_load in loads)
        # A batch's files share its time, by rows.
        seconds = max(time.perf_counter() - started, 1e-6)
        for (index, plan), file_load in zip(self.pending, loads, strict=True):
            share = file_load.rows_read / rows if rows else 1 / len(loads)
            self.record(index, plan.item, file_load, max(seconds * share, 1e-6))
        self.pending.clear()

    def record(self, index: int, item: InputFile, file_load: FileLoad, seconds: float) -> None:
        loader = self.loader
        self.results.append(file_load)
        loader.progress(f"[{index}/{self.total}] {item.table}: {item.display}: "
                        f"{file_load.rows_read:,} rows ({file_load.rows_read / seconds:,.0f} "
                        f"rows/s), {file_load.rows_rejected:,} rejected")
        self.con.execute(
            "INSERT INTO files VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [item.sha256, loader.snapshot_date_from_name(item), item.table, item.display,
             item.bytes, file_load.rows_read, file_load.rows_loaded,
             file_load.rows_rejected, loader.load_id,
             datetime.now(UTC).replace(tzinfo=None)],
        )
        for note in file_warnings(file_load, loader.extra_columns.get(item.display, ())):
            self.con.execute("INSERT INTO load_warnings VALUES ($1, $2, $3)",
                             [item.sha256, item.display, note])


def _check_time_zone(con: duckdb.DuckDBPyConnection, incident: Incident) -> None:
    """A time zone the config accepts but DuckDB does not know is the incident file's fault,
    not the first data file's: say so before reading any."""
    try:
        con.execute("SELECT CAST(timezone($1, TIMESTAMP '2000-01-01 00:00:00') AS VARCHAR)",
                    [incident.input_timezone]).fetchall()
    except duckdb.Error:
        where = incident.source_path or "incident file"
        raise ConfigError(f"{where}: [incident].input_timezone: a time zone DuckDB does not "
                          "know; use an IANA name such as Europe/Berlin") from None


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")
