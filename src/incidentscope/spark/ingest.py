"""Input files -> Spark temp views: the DuckDB loader's checks and results, on Spark.

In three modules: this one runs the load (files by table, `--strict`, finishing through
`finishing.finish` on temp views, the views registered); spark/ingest_read.py reads files
and names rejects, spark/ingest_check.py checks cells and makes pseudonyms.

`load()` reads the input contract with Spark from a local folder or a URI (any file
system Spark reads; listing, hashing and header reads of files at a URI go through
Spark too: `spark/files.py`), as CSV with every column as text, or Parquet (columns
whose type already is the contract's kept as they are), checks and converts every cell
with the SQL of `incidentscope.validate`
(carried to Spark SQL by `_sqlport`), normalizes each distinct raw contact once
with `incidentscope.normalize` (Arrow batches, `mapInArrow`), pseudonymizes with the
workspace key in Spark SQL, compacts snapshots with the statements of
`incidentscope.compaction`, and registers temp views with the names, columns and
values of the DuckDB workspace tables after a load into a new workspace:

    files, rejects, accounts, audiences, campaigns, campaign_audiences, identifiers,
    purpose_sets, snapshots, contact_runs, matches, deliveries

Types follow `workspace.schema_sql()` (for matches and deliveries: its views), with two
differences: `identifiers.pseudonym` is the 32-character lowercase hex string of
DuckDB's UHUGEINT (same order), and timestamps are `TIMESTAMP_NTZ` (naive UTC, like
DuckDB's TIMESTAMP). `files.load_id` and `files.loaded_at` are this load's own.

One load into a fresh Spark session: there is no workspace to add to, so no
"already loaded" bookkeeping beyond identical files within this load, and no check
against earlier snapshots.

Rejected rows are recorded as (file, line, column, reason), with DuckDB's reasons and
counts. CSV lines are physical lines as in DuckDB: on the error path the driver reads
the file's lines (a local file directly, a file at a URI streamed through Spark) with
Python's csv module (as the DuckDB loader does) and maps record n to the line it starts
on; if that reading disagrees with Spark's on the number of records, the line is the
record number + 1 (the header), which is wrong only after a value that spans lines or a
blank line. Parquet rows are numbered from 1.

Structural CSV damage that Spark can see is rejected like DuckDB does it: a row with
too few or too many fields ("missing columns", "too many columns") and a row with bytes
that are not UTF-8 ("not valid UTF-8"; Spark decodes them to U+FFFD, so a row with U+FFFD
in a file that is not valid UTF-8 is rejected). Not carried over: DuckDB's refusal of a
whole file for an unterminated quote, for mixed line endings, or for lines over its
maximum size; Spark reads such files in its own way. Spark's reader also turns a CRLF
inside a quoted value into LF, where DuckDB keeps it.

Privacy: no data value reaches a message, a log or an exception; errors are
`IncidentScopeError`s with fixed texts. Raw contact values exist in the executors'
memory while they are read, de-duplicated and normalized; no table, view, cache or
checkpoint of this loader holds them (cached frames hold pseudonyms only). Spark itself
may SPILL shuffle and sort blocks that contain raw values (the distinct contacts and
the join back to the rows) to its local directories (`spark.local.dir`) when memory
runs short; set `spark.io.encryption.enabled=true` (and encrypted local disks) where
that matters. The key enters the plan as a one-row broadcast relation, not as a SQL
literal, so it is not printed in query plans.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from incidentscope import compaction, finishing, loadplan
from incidentscope.config import Incident
from incidentscope.contract import (
    HASH_NUMBER,
    LOAD_ORDER,
    REFERENCE_TABLES,
    TABLES,
    raw_column,
    stored_columns,
    stored_names,
)
from incidentscope.errors import IncidentScopeError
from incidentscope.inputs import (
    check_unchanged,
    discover,
    unknown_files,
)
from incidentscope.results import FileLoad, LoadResult, file_warnings
from incidentscope.spark.ingest_check import _checked
from incidentscope.spark.ingest_read import (
    _header,
    _Part,
    _prepare,
    _raw_frame,
    rejected_rows,
)
from incidentscope.workspace import TIMED_LOGS, PseudonymKey

Progress = Callable[[str], None]

_SPARK_TYPES = {"BIGINT": "BIGINT", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP_NTZ",
                "VARCHAR": "STRING"}


def _view_schema(table: str) -> str:
    """A stored input table's view schema: contract.stored_columns in Spark types."""
    return ", ".join(f"{c.name} {_SPARK_TYPES[c.type]}" for c in stored_columns(table))


# The views, with the columns and types of the workspace's tables (workspace.schema_sql;
# for the event logs and the deliveries: its views).
VIEW_SCHEMAS: dict[str, str] = {
    "files": "file_sha256 STRING, snapshot_from_name DATE, table_name STRING, path STRING, "
             "bytes BIGINT, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, "
             "load_id STRING, loaded_at TIMESTAMP_NTZ",
    "rejects": "file_sha256 STRING, path STRING, line BIGINT, column_name STRING, "
               "reason STRING",
    "load_warnings": "file_sha256 STRING, path STRING, warning STRING",
    **{table: _view_schema(table) for table in REFERENCE_TABLES},
    "identifiers": "identifier_id BIGINT, pseudonym STRING",
    "purpose_sets": "purposes_id INT, purposes STRING",
    "snapshots": "snapshot_date DATE",
    "contact_runs": "account_id BIGINT, channel STRING, identifier_id BIGINT, purposes_id INT, "
                    "first_snapshot DATE, last_snapshot DATE",
    **{table: _view_schema(table) for table in TIMED_LOGS},
}


def _stage_schema(table: str) -> str:
    """What a staged (checked, valid) row keeps: the DuckDB loader's `Table.staged`, with the
    contact hash as its keyed pseudonym (here the hash's number in joins, see `_compact`)."""
    return ", ".join("pseudonym STRING" if name == HASH_NUMBER else
                     f"{name} {_SPARK_TYPES[kind]}"
                     for name, kind, _column in TABLES[table].staged())


# -- the load ------------------------------------------------------------------------------
class _Load:
    def __init__(self, spark: Any, incident: Incident, key: PseudonymKey, say: Progress):
        self.spark = spark
        self.incident = incident
        self.say = say
        self.load_id = uuid.uuid4().hex
        self.key_frame = spark.createDataFrame([(key.hex,)], "_key string")
        self.extra_columns: dict[str, tuple[str, ...]] = {}
        self.rejects: list[tuple[str, str, int | None, str | None, str]] = []
        self.file_rows: list[tuple[Any, ...]] = []
        self.staged: dict[str, Any] = {}  # table -> frame of valid rows (staged tables only)

    def empty(self, schema: str) -> Any:
        return self.spark.createDataFrame([], schema)

    def stage_table(self, table: str, parts: list[_Part], total: int) -> list[FileLoad]:
        from pyspark.sql import functions as F

        started = time.perf_counter()
        results: dict[int, FileLoad] = {}
        readable = [p for p in parts if p.header is not None]
        for part in parts:
            if part.header is None:
                item = part.item
                results[part.index] = FileLoad(item.table, item.display, item.sha256,
                                               item.bytes, 0, 0, 0, "empty")
        counts: dict[int, tuple[int, int]] = {}
        if readable:
            # Files read together share a format, a header and (Parquet) column types.
            groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[_Part]] = {}
            for part in readable:
                assert part.header is not None
                types = (tuple(f.dataType.simpleString() for f in
                               self.spark.read.parquet(part.item.location).schema.fields)
                         if part.item.format == "parquet" else ())
                groups.setdefault((part.item.format, tuple(part.header), types),
                                  []).append(part)
            accounts = self.staged.get("accounts")
            if accounts is None:
                accounts = self.empty(_stage_schema("accounts"))
            accounts = accounts.groupBy("account_id").agg(F.min("country").alias("country"))
            checked = None
            for group in groups.values():
                frame = _checked(self.spark, self.incident, table,
                                 _raw_frame(self.spark, group), accounts, self.key_frame,
                                 raw_contacts=any(raw_column(table) in p.position
                                                  for p in group))
                checked = frame if checked is None else checked.unionByName(frame)
            checked = self._materialize(checked)
            # One job per table: the row counts and the rejected rows of every file.
            bad: list[Any] = []
            problem_row = F.when(F.col("_bad_reason").isNotNull(), F.struct(
                "_rec", "_bad_column", "_bad_reason"))
            for row in checked.groupBy("_file").agg(
                    F.count(F.lit(1)), F.count("_bad_reason"),
                    F.collect_list(problem_row)).collect():
                counts[int(row[0])] = (int(row[1]), int(row[2]))
                bad.extend((int(row[0]), r[0], r[1], r[2]) for r in row[3])
            self.rejects.extend(rejected_rows(self.spark, self.incident, table, readable,
                                              counts, bad))
            valid = checked.where(F.col("_bad_reason").isNull()).drop(
                "_file", "_rec", "_bad_column", "_bad_reason")
            self.staged[table] = valid
        seconds = max(time.perf_counter() - started, 1e-6)
        rows_all = sum(c[0] for c in counts.values())
        for part in readable:
            item = part.item
            read, rejected = counts.get(part.index, (0, 0))
            status = "header only" if read == 0 else "loaded"
            results[part.index] = FileLoad(item.table, item.display, item.sha256, item.bytes,
                                           read, read - rejected, rejected, status)
        ordered = [results[p.index] for p in parts]
        for part, result in zip(parts, ordered, strict=True):
            rate = rows_all / seconds
            self.say(f"[{part.index}/{total}] {table}: {result.path}: {result.rows_read:,} rows "
                     f"({rate:,.0f} rows/s), {result.rows_rejected:,} rejected")
            self.file_rows.append((
                part.item.sha256,
                date.fromisoformat(part.snapshot_from_name) if part.snapshot_from_name else None,
                table, result.path, result.bytes, result.rows_read, result.rows_loaded,
                result.rows_rejected, self.load_id, datetime.now(UTC).replace(tzinfo=None)))
        return ordered

    def finish(self) -> dict[str, Any]:
        """The workspace tables as frames: `finishing.finish` run on temp views.

        Every view it uses or makes is dropped again: `load` registers the workspace's
        views only when the whole load succeeded.
        """
        from pyspark.sql import functions as F

        from incidentscope.spark.engine import SparkEngine

        engine = SparkEngine(self.spark)
        made = [*_FINISHED, *(f"stage_{table}" for table in self.staged), "accounts_all",
                "hash_pseudonyms", "hash_identifier", *compaction.TEMP_TABLES]
        try:
            for name in _FINISHED:
                if name in _STARTS_EMPTY:
                    self.empty(VIEW_SCHEMAS[name]).createOrReplaceTempView(name)
            for table, frame in self.staged.items():
                staged = frame.withColumnRenamed("pseudonym", HASH_NUMBER)
                if table == "contacts":
                    # Identical rows removed here: compaction then settles most keys by one
                    # aggregate (its rows_distinct).
                    staged = self._materialize(staged.distinct())
                staged.createOrReplaceTempView(f"stage_{table}")
            if "accounts" in self.staged:
                self.staged["accounts"].groupBy("account_id").agg(
                    *[F.min(c).alias(c) for c in stored_names("accounts")[1:]]
                ).createOrReplaceTempView("accounts_all")
            finishing.finish(engine, set(self.staged), _ViewStorage(self.spark, engine),
                             contacts_distinct=True)
            # (materialized before `finally` drops the views, and with them their caches)
            return {name: self.spark.table(name).localCheckpoint(eager=True)
                    for name in _FINISHED if name in _STARTS_EMPTY or name in self.staged}
        finally:
            for name in made:
                self.spark.catalog.dropTempView(name)

    def _materialize(self, frame: Any) -> Any:
        # Kept once computed (each step is used several times), and later plans start
        # from here: analysing the whole lineage again costs more than these tiny jobs.
        # Lazy: computed by the first action that needs it. Spark keeps the blocks in
        # memory or local disk until the frame is garbage; they never hold raw values.
        return frame.localCheckpoint(eager=False)


# The views `finishing.finish` writes, and those of them that start empty (a Spark load
# has no workspace to add to); the logs and deliveries are made by `_ViewStorage`.
_FINISHED = ("accounts", "audiences", "campaigns", "campaign_audiences", "identifiers",
             "purpose_sets", "snapshots", "contact_runs", "matches", "uploads", "deliveries")
_STARTS_EMPTY = _FINISHED[:8]


class _ViewStorage:
    """finishing.Storage on Spark: pseudonyms were made while staging, logs are views."""

    def __init__(self, spark: Any, engine: Any) -> None:
        self.spark = spark
        self.engine = engine

    def make_pseudonyms(self, sources: str) -> None:
        # The staged hash number is the pseudonym itself (see _staged_columns).
        self.engine.execute("CREATE TEMP TABLE hash_pseudonyms AS SELECT DISTINCT hash_no, "
                            f"hash_no AS pseudonym FROM ({sources}) AS h")

    def store_log(self, log: finishing.Log) -> None:
        self.engine.execute(f"CREATE TEMP TABLE {log.table} AS "
                            + finishing.folded_rows(log, finishing.new_log_rows(log)))

    def store_deliveries(self) -> None:
        self.spark.table("stage_deliveries").createOrReplaceTempView("deliveries")


def load(spark: Any, incident: Incident, data_dir: Path | str, key: PseudonymKey, *,
         strict: bool = False, progress: Progress | None = None) -> LoadResult:
    """Load every input file of `data_dir` into Spark temp views (see the module docstring).

    `data_dir`: a local folder, or a URI string (hdfs://, s3a://, file://, ...) whose files
    are found, hashed and read through Spark (spark/files.py).
    The views are registered only when the whole load succeeded; on an error none is.
    """
    from incidentscope.spark import files as spark_files

    say = progress or (lambda _message: None)
    # Dates and timestamps are UTC throughout, as in the DuckDB workspace.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    if spark_files.is_uri(data_dir):
        files = spark_files.discover(spark, str(data_dir), incident, progress=say)
    else:
        files = discover(Path(data_dir), incident)
    probes = spark_files.probe_csv(spark, files)  # first lines, UTF-8 (files at a URI)
    loader = _Load(spark, incident, key, say)
    results: dict[int, FileLoad] = {}
    by_table: dict[str, list[_Part]] = {}
    known: set[tuple[str, str | None]] = set()
    for index, item in enumerate(files, 1):
        header, families = _header(spark, item, probes)
        identity = (item.sha256, loadplan.snapshot_date_from_name(incident, item, header))
        if identity in known:
            results[index] = FileLoad(item.table, item.display, item.sha256, item.bytes,
                                      0, 0, 0, "already loaded")
            continue
        known.add(identity)
        part = _prepare(spark, incident, index, item, header, families, loader.extra_columns,
                        probes)
        by_table.setdefault(item.table, []).append(part)
    # One file per partition, so that a row's place in its partition is its record number.
    previous = spark.conf.get("spark.sql.files.openCostInBytes")
    spark.conf.set("spark.sql.files.openCostInBytes", str(1 << 40))
    try:
        views, ordered = _run(spark, loader, by_table, results, len(files), strict, say)
    except (IncidentScopeError, KeyboardInterrupt):
        raise
    except Exception as exc:
        # Spark's messages may quote a cell or a line of the input: name the kind only.
        raise IncidentScopeError(f"the Spark load failed ({type(exc).__name__}); nothing was "
                                 "loaded") from None
    finally:
        spark.conf.set("spark.sql.files.openCostInBytes", previous)
    check_unchanged(files)  # the views are materialized: the files are read
    for name in VIEW_SCHEMAS:
        views[name].createOrReplaceTempView(name)
    by_reason: dict[str, int] = {}
    for reject in loader.rejects:
        by_reason[reject[4]] = by_reason.get(reject[4], 0) + 1
    unknown = () if spark_files.is_uri(data_dir) else unknown_files(Path(data_dir), files)
    return LoadResult(loader.load_id, ordered, loader.extra_columns,
                      dict(sorted(by_reason.items())), unknown)


def _run(spark: Any, loader: _Load, by_table: dict[str, list[_Part]],
         results: dict[int, FileLoad], total: int, strict: bool,
         say: Progress) -> tuple[dict[str, Any], tuple[FileLoad, ...]]:
    for table in LOAD_ORDER:
        if table in by_table:
            staged = loader.stage_table(table, by_table[table], total)
            results.update({p.index: r for p, r in zip(by_table[table], staged, strict=True)})
    ordered = tuple(results[i] for i in sorted(results))
    rejected = sum(r.rows_rejected for r in ordered)
    if strict and rejected:
        # As ingest: the first reject by path, then line (no line last).
        first = min(loader.rejects, key=lambda r: (r[1], r[2] is None, r[2] or 0))
        raise loadplan.strict_refusal(rejected, first[1:])
    say("compacting contacts and merging matches")
    views = loader.finish()
    views["files"] = spark.createDataFrame(loader.file_rows, VIEW_SCHEMAS["files"])
    views["rejects"] = spark.createDataFrame(loader.rejects, VIEW_SCHEMAS["rejects"])
    views["load_warnings"] = spark.createDataFrame(
        [(f.sha256, f.path, note) for f in ordered
         for note in file_warnings(f, loader.extra_columns.get(f.path, ()))],
        VIEW_SCHEMAS["load_warnings"])
    for name, schema in VIEW_SCHEMAS.items():
        frame = views.get(name)
        if frame is None:
            frame = loader.empty(schema)
        # The workspace's column names and types, by position.
        views[name] = loader._materialize(frame.selectExpr(
            *[f"CAST(`{frame.columns[i]}` AS {c.split()[1]}) AS {c.split()[0]}"
              for i, c in enumerate(schema.split(", "))]))
    return views, ordered
