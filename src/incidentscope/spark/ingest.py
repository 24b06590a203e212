"""Input files -> Spark temp views: the DuckDB loader's checks and results, on Spark.

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

Types follow `workspace.SCHEMA` (for matches and deliveries: its views), with two
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

import codecs
import csv
import gzip
import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from incidentscope import compaction, finishing, loadplan
from incidentscope.config import Incident
from incidentscope.contract import HASH_NUMBER, LOAD_ORDER, TABLES, Column, RawContacts
from incidentscope.errors import BadDataError, IncidentScopeError
from incidentscope.inputs import (
    InputFile,
    check_unchanged,
    csv_header,
    csv_record_lines,
    discover,
    unknown_files,
)
from incidentscope.results import FileLoad, LoadResult, file_warnings
from incidentscope.spark import _sqlport
from incidentscope.validate import convert, is_native, problem, problem_native
from incidentscope.workspace import PseudonymKey

Progress = Callable[[str], None]

# The views, with the columns and types of the workspace tables (workspace.SCHEMA).
VIEW_SCHEMAS: dict[str, str] = {
    "files": "file_sha256 STRING, snapshot_from_name DATE, table_name STRING, path STRING, "
             "bytes BIGINT, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, "
             "load_id STRING, loaded_at TIMESTAMP_NTZ",
    "rejects": "file_sha256 STRING, path STRING, line BIGINT, column_name STRING, "
               "reason STRING",
    "load_warnings": "file_sha256 STRING, path STRING, warning STRING",
    "accounts": "account_id BIGINT, country STRING, region STRING, language STRING",
    "audiences": "audience_id STRING, advertiser_id STRING, audience_type STRING, "
                 "partner_id STRING",
    "campaigns": "campaign_id STRING, advertiser_id STRING, name STRING",
    "campaign_audiences": "campaign_id STRING, audience_id STRING",
    "identifiers": "identifier_id BIGINT, pseudonym STRING",
    "purpose_sets": "purposes_id INT, purposes STRING",
    "snapshots": "snapshot_date DATE",
    "contact_runs": "account_id BIGINT, channel STRING, identifier_id BIGINT, purposes_id INT, "
                    "first_snapshot DATE, last_snapshot DATE",
    "matches": "matched_at TIMESTAMP_NTZ, account_id BIGINT, audience_id STRING, "
               "channel STRING, identifier_id BIGINT, copies BIGINT",
    "uploads": "uploaded_at TIMESTAMP_NTZ, audience_id STRING, channel STRING, "
               "identifier_id BIGINT, copies BIGINT",
    "deliveries": "served_at TIMESTAMP_NTZ, campaign_id STRING, account_id BIGINT, "
                  "impressions BIGINT",
}

_SPARK_TYPES = {"BIGINT": "BIGINT", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP_NTZ",
                "VARCHAR": "STRING"}


def _stage_schema(table: str) -> str:
    """What a staged (checked, valid) row keeps: the DuckDB loader's `Table.staged`, with the
    contact hash as its keyed pseudonym (here the hash's number in joins, see `_compact`)."""
    return ", ".join("pseudonym STRING" if name == HASH_NUMBER else
                     f"{name} {_SPARK_TYPES[kind]}"
                     for name, kind, _column in TABLES[table].staged())

# Java patterns of cells that are valid and already in canonical form (see _checked).
_CANONICAL = {
    "hex64": r"^[0-9a-f]{64}\z",
    # labels of letters, digits, '_', '.', '-' between '|'; at least one label character
    "purposes": r"^[A-Za-z0-9_.|-]*[A-Za-z0-9_.-][A-Za-z0-9_.|-]*\z",
}
_STRUCTURAL = "__structural__"  # marks a row whose reason is found on the error path
_REPLACEMENT = "\ufffd"


@dataclass
class _Part:
    """One input file, prepared on the driver."""

    index: int
    item: InputFile
    header: list[str] | None
    position: dict[str, int] = field(default_factory=dict)  # contract column -> field
    snapshot_from_name: str | None = None
    utf8: bool = True


def _header(spark: Any, item: InputFile, probes: dict[str, Any] | None = None
            ) -> tuple[list[str] | None, list[loadplan.TypeFamily] | None]:
    """The file's column names (None: empty) and, for Parquet, each column's type family.

    `probes`: spark.files.probe_csv of the files at a URI (their first lines).
    """
    if item.format == "csv":
        if item.bytes == 0:
            return None, None
        if item.uri is not None:
            from incidentscope.spark import files as spark_files

            return spark_files.csv_header(spark, item, probes or {}), None
        return csv_header(item), None
    try:
        fields = spark.read.parquet(item.location).schema.fields
    except Exception:  # the reader's message may quote the file: keep it out
        raise BadDataError(f"{item.display}: not a readable Parquet file") from None
    return [f.name for f in fields], [_type_family(f.dataType) for f in fields]


def _type_family(data_type: Any) -> loadplan.TypeFamily:
    """loadplan's family of a Spark type (as loadplan.duckdb_type_family for DuckDB's)."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.ArrayType | T.StructType | T.MapType):
        return "nested"
    if isinstance(data_type, T.BinaryType):
        return "binary"
    return "scalar"


def _is_utf8(item: InputFile, probes: dict[str, Any] | None = None) -> bool:
    if item.uri is not None:  # found by spark.files.probe_csv
        from incidentscope.spark import files as spark_files

        return spark_files.is_utf8(item, probes or {})
    opener = gzip.open if item.path.name.lower().endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with opener(item.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, OSError, EOFError):
        return False
    return True


def _prepare(spark: Any, incident: Incident, index: int, item: InputFile,
             header: list[str] | None, families: list[loadplan.TypeFamily] | None,
             extra_columns: dict[str, tuple[str, ...]],
             probes: dict[str, Any] | None = None) -> _Part:
    """Column positions and the file-level errors, with the DuckDB loader's texts."""
    part = _Part(index, item, header)
    if header is None:
        return part
    mapped = loadplan.map_columns(item, header, incident, families)
    part.position = mapped.position
    part.snapshot_from_name = mapped.snapshot_from_name
    if mapped.extra:
        extra_columns[item.display] = mapped.extra
    if item.format == "csv":
        part.utf8 = _is_utf8(item, probes)
    return part


# -- reading -------------------------------------------------------------------------------
def _read_csv(spark: Any, paths: list[str], width: int) -> Any:
    """CSV files (one header) as text columns c0.., _corrupt, _path and _rec."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(f"c{i}", StringType()) for i in range(width)]
                        + [StructField("_corrupt", StringType())])
    # DuckDB's dialect: ',' and '"' doubled inside quotes; values may span lines.
    frame = spark.read.csv(
        paths, schema=schema, header=True, multiLine=True, sep=",", quote='"', escape='"',
        encoding="UTF-8", mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt",
        ignoreLeadingWhiteSpace=False, ignoreTrailingWhiteSpace=False, enforceSchema=True)
    # A file read with multiLine is never split, and the load keeps each file in a
    # partition of its own (openCostInBytes): the row's place in its partition is its
    # record number.
    record = F.monotonically_increasing_id() - F.shiftleft(
        F.spark_partition_id().cast("bigint"), 33)
    return frame.select("*", F.col("_metadata.file_path").alias("_path"),
                        record.alias("_rec"))


def _read_parquet(spark: Any, paths: list[str], contract: dict[int, Column]) -> Any:
    """Parquet files (one schema) as columns c0.., _corrupt (NULL), _path and _rec.

    A column whose Parquet type already is its contract column's type (`contract`:
    position -> column; `validate.is_native`) keeps it: no text round trip, no pattern
    per cell. The others become text, checked like CSV cells.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    frame = spark.read.parquet(*paths)
    columns = []
    for i, spec in enumerate(frame.schema.fields):
        value = F.col(f"`{spec.name}`")
        source_type = _native_type(spec.dataType)
        if i in contract and source_type and is_native(contract[i], source_type):
            text = value
        elif isinstance(spec.dataType, TimestampType):
            # An instant: DuckDB renders it with '+00', so it is read as UTC, not local.
            text = F.concat(value.cast("timestamp_ntz").cast("string"), F.lit("Z"))
        else:
            text = value.cast("string")
        columns.append(text.alias(f"c{i}"))
    return frame.select(*columns, F.lit(None).cast("string").alias("_corrupt"),
                        F.col("_metadata.file_path").alias("_path"),
                        F.col("_metadata.row_index").alias("_rec"))


def _native_type(data_type: Any) -> str | None:
    """The DuckDB name of a Parquet column's Spark type, where `validate.is_native` may
    take it as it is (naive timestamps stay text: they are read in the input time zone)."""
    from pyspark.sql import types as T

    names = {T.LongType: "BIGINT", T.IntegerType: "INTEGER", T.ShortType: "SMALLINT",
             T.ByteType: "TINYINT", T.DateType: "DATE",
             T.TimestampType: "TIMESTAMP WITH TIME ZONE"}
    return names.get(type(data_type))


def _raw_frame(spark: Any, parts: list[_Part]) -> Any:
    """Files of one format and header as canonical text columns, with _file, _rec, _broken."""
    from pyspark.sql import functions as F

    first = parts[0]
    assert first.header is not None
    width = len(first.header)
    paths = [p.item.location for p in parts]
    frame = (_read_csv(spark, paths, width) if first.item.format == "csv"
             else _read_parquet(spark, paths, {
                 first.position[c.name]: c for c in TABLES[first.item.table].columns
                 if c.name in first.position}))
    # Spark names each file by a URI (file:/x, file:///x, ... by version and file system):
    # map every spelling of each file back to it (a small broadcast).
    from incidentscope.spark import files as spark_files

    index = {_file_key(p.item.location, p.item.uri is not None): p for p in parts}
    spellings: dict[str, _Part] = {}
    for uri in frame.inputFiles():
        part = index[_file_key(uri, first.item.uri is not None, reported=True)]
        for spelling in spark_files.spellings(uri):
            spellings[spelling] = part
    for part in parts:
        if part.item.uri is not None:
            continue
        quoted = quote(str(part.item.path))
        for uri in (part.item.path.as_uri(), f"file:{quoted}", f"file://{quoted}"):
            spellings[uri] = part
    files = [(uri, part.index, part.snapshot_from_name, part.utf8)
             for uri, part in spellings.items()]
    names = spark.createDataFrame(files, "_path string, _file int, _snap string, _utf8 boolean")
    frame = frame.join(F.broadcast(names), on="_path", how="inner")
    broken = F.col("_corrupt").isNotNull()
    if first.item.format == "csv" and not all(p.utf8 for p in parts):
        replaced = F.lit(False)
        for i in range(width):
            replaced = replaced | (F.coalesce(F.instr(F.col(f"c{i}"), _REPLACEMENT), F.lit(0)) > 0)
        broken = broken | (~F.col("_utf8") & replaced)
    columns = ["_file", F.col("_rec").cast("bigint").alias("_rec"), broken.alias("_broken")]
    for column in TABLES[first.item.table].columns:
        if column.name in first.position:
            value = F.col(f"c{first.position[column.name]}")
        elif column.name == "snapshot_date":
            # From the file name (a calendar date, checked on discovery), or NULL.
            value = F.col("_snap").cast("date")
        else:
            value = F.lit(None).cast("string")
        columns.append(value.alias(column.name))
    return frame.select(*columns)


def _local_path(uri: str) -> str:
    return str(Path(unquote(urlparse(uri).path)).resolve())


def _file_key(name: str, remote: bool, reported: bool = False) -> object:
    """A file's identity from its `location`, or from a URI a Spark reader reports."""
    from incidentscope.spark import files as spark_files

    if remote:  # a URI as listed (plain) or as reported (percent-encoded)
        return spark_files.reported_key(name) if reported else spark_files.plain_key(name)
    return _local_path(name) if reported else name


# -- normalization of raw contacts ---------------------------------------------------------
def _normalizer(profile: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Arrow batches of distinct (channel, raw, country) -> their contact hash or reason."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        from incidentscope.normalize import NormalizationError, normalize, sha256_hex

        for batch in batches:
            hashes: list[str | None] = []
            reasons: list[str | None] = []
            for channel, raw, country in zip(batch.column("channel").to_pylist(),
                                             batch.column("raw").to_pylist(),
                                             batch.column("country").to_pylist(), strict=True):
                try:
                    hashes.append(sha256_hex(normalize(channel or "", raw, profile, country)))
                    reasons.append(None)
                except NormalizationError as exc:  # a fixed reason, never the value
                    hashes.append(None)
                    reasons.append(str(exc))
            yield pa.RecordBatch.from_arrays(
                [batch.column("channel"), batch.column("raw"), batch.column("country"),
                 pa.array(hashes, pa.string()), pa.array(reasons, pa.string())],
                names=["channel", "raw", "country", "m_hash", "m_reason"])

    return run


# -- checking ------------------------------------------------------------------------------
def _spark_sql(duckdb_sql: str, tz: str) -> str:
    return _sqlport.expression(duckdb_sql, {"tz": tz})


def _with_contact_hashes(incident: Incident, table: str, raw: Any, typed: dict[str, Any],
                         accounts: Any, key_frame: Any) -> Any:
    """Rows with m_hash / m_reason of their raw contact, and without the raw contact.

    As ingest._contact_map: each distinct (channel, raw value, region) is normalized once;
    the region is the account's country (contacts) or the row's `country` (uploads). Rows
    whose channel or account id is invalid are rejected for that first, so the typed
    values serve as the key. Only the de-duplication shuffles raw values; rows meet the map
    again by a keyed reference of the value (as in DuckDB).
    """
    from pyspark.sql import functions as F

    if _raw_contacts(table).region == "row":
        return _with_row_region_hashes(incident, raw, typed, key_frame)

    has_contact = F.expr(_spark_sql("nullif(trim(contact), '') IS NOT NULL",
                                    incident.input_timezone))
    rows = (raw.crossJoin(F.broadcast(key_frame))
            .withColumn("_channel", typed["channel"])
            .withColumn("_account", typed["account_id"])
            .withColumn("_has_contact", has_contact)
            .withColumn("_ref", F.when(F.col("_has_contact"), F.sha2(
                F.concat(F.col("_key"), F.lit("|"), F.col("contact")), 256))))
    country = accounts.select(F.col("account_id").alias("_account"),
                              F.col("country").alias("_country"))
    distinct = (rows.where(F.col("_has_contact"))
                .select("_channel", "contact", "_account").distinct()
                .join(country, on="_account", how="left")
                .select(F.col("_channel").alias("channel"), F.col("contact").alias("raw"),
                        F.col("_country").alias("country"))
                .distinct())
    mapped = distinct.mapInArrow(
        _normalizer(incident.normalization),
        "channel string, raw string, country string, m_hash string, m_reason string")
    mapped = mapped.crossJoin(F.broadcast(key_frame)).select(
        F.col("channel").alias("m_channel"), F.col("country").alias("m_country"),
        F.sha2(F.concat(F.col("_key"), F.lit("|"), F.col("raw")), 256).alias("m_ref"),
        "m_hash", "m_reason")
    rows = rows.drop("contact", "_key").join(country, on="_account", how="left")
    condition = ((rows["_ref"] == mapped["m_ref"])
                 & rows["_channel"].eqNullSafe(mapped["m_channel"])
                 & rows["_country"].eqNullSafe(mapped["m_country"]))
    return rows.join(mapped, on=condition, how="left")


def _with_row_region_hashes(incident: Incident, raw: Any, typed: dict[str, Any],
                            key_frame: Any) -> Any:
    """`_with_contact_hashes` for a table whose rows give their own region (uploads)."""
    from pyspark.sql import functions as F

    region = F.upper(F.expr(_spark_sql("nullif(trim(country), '')", incident.input_timezone)))
    has_contact = F.expr(_spark_sql("nullif(trim(contact), '') IS NOT NULL",
                                    incident.input_timezone))
    rows = (raw.crossJoin(F.broadcast(key_frame))
            .withColumn("_channel", typed["channel"])
            .withColumn("_country", region)
            .withColumn("_has_contact", has_contact)
            .withColumn("_ref", F.when(F.col("_has_contact"), F.sha2(
                F.concat(F.col("_key"), F.lit("|"), F.col("contact")), 256))))
    distinct = (rows.where(F.col("_has_contact"))
                .select(F.col("_channel").alias("channel"), F.col("contact").alias("raw"),
                        F.col("_country").alias("country"))
                .distinct())
    mapped = distinct.mapInArrow(
        _normalizer(incident.normalization),
        "channel string, raw string, country string, m_hash string, m_reason string")
    mapped = mapped.crossJoin(F.broadcast(key_frame)).select(
        F.col("channel").alias("m_channel"), F.col("country").alias("m_country"),
        F.sha2(F.concat(F.col("_key"), F.lit("|"), F.col("raw")), 256).alias("m_ref"),
        "m_hash", "m_reason")
    rows = rows.drop("contact", "_key")
    condition = ((rows["_ref"] == mapped["m_ref"])
                 & rows["_channel"].eqNullSafe(mapped["m_channel"])
                 & rows["_country"].eqNullSafe(mapped["m_country"]))
    return rows.join(mapped, on=condition, how="left")


def _raw_column(table: str) -> str | None:
    raw = TABLES[table].raw_contacts
    return raw.raw if raw else None


def _raw_contacts(table: str) -> RawContacts:
    raw = TABLES[table].raw_contacts
    if raw is None:  # a programming error: only tables with raw contacts get here
        raise ValueError(f"table {table} has no raw contacts")
    return raw


def _checked(spark: Any, incident: Incident, table: str, raw: Any, accounts: Any,
             key_frame: Any, *, raw_contacts: bool) -> Any:
    """Typed columns, the first problem of each row, pseudonyms; no raw contact value.

    `raw_contacts`: some file of `raw` has a `contact` column (else it is NULL throughout
    and the normalization, with its shuffles, is skipped).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    tz = incident.input_timezone
    columns: list[Column] = list(TABLES[table].columns)
    checks: list[tuple[str, Any]] = []
    typed: dict[str, Any] = {}
    for column in columns:
        if column.name == _raw_column(table):
            continue
        source = raw.schema[column.name].dataType
        if not isinstance(source, StringType):  # native, see _read_parquet
            checks.append((column.name, F.expr(_spark_sql(problem_native(column, column.name),
                                                          tz))))
            typed[column.name] = (F.col(column.name).cast("timestamp_ntz")
                                  if column.kind == "timestamp"
                                  else F.col(column.name).cast("bigint")
                                  if column.kind in ("int64", "positive_int")
                                  else F.col(column.name))
            continue
        check = F.expr(_spark_sql(problem(column, column.name, "$tz"), tz))
        value = F.expr(_spark_sql(convert(column, column.name, "$tz"), tz))
        if column.kind in _CANONICAL:
            # Most cells are already canonical (nothing to trim or lower, valid): one
            # pattern settles them; only the others pay for the full check.
            canonical = F.col(column.name).rlike(_CANONICAL[column.kind])
            check = F.when(canonical, F.lit(None).cast("string")).otherwise(check)
            value = F.when(canonical, F.col(column.name)).otherwise(value)
        checks.append((column.name, check))
        typed[column.name] = value
    frame = raw
    spec = TABLES[table].raw_contacts
    if spec is not None:
        if raw_contacts:
            frame = _with_contact_hashes(incident, table, frame, typed, accounts, key_frame)
        else:
            frame = frame.select("*", F.lit(False).alias("_has_contact"),
                                 F.lit(None).cast("string").alias("m_hash"),
                                 F.lit(None).cast("string").alias("m_reason"))
        hashed = F.coalesce(F.col("m_hash"), typed[spec.hashed])
        # As ingest._typed_stage: the normalization's reason, then a row without any contact.
        checks.append((spec.raw, F.when(F.col("_has_contact"), F.coalesce(
            F.col("m_reason"), F.when(F.col("m_hash").isNull(), F.lit("unreadable row"))))))
        checks.append((spec.raw, F.when(~F.col("_has_contact") & hashed.isNull(),
                                        F.lit("missing value"))))
        typed[spec.hashed] = hashed
    # Each check once, as a column; the first problem found is the row's reason.
    frame = frame.select("*", *[check.alias(f"_check{i}") for i, (_, check) in enumerate(checks)])
    reason = F.coalesce(*[F.col(f"_check{i}") for i in range(len(checks))])
    bad_column = F.coalesce(*[F.when(F.col(f"_check{i}").isNotNull(), F.lit(name))
                              for i, (name, _) in enumerate(checks)])
    frame = frame.select(
        "_file", "_rec", "_broken",
        *[value.alias(name) for name, value in typed.items()],
        F.when(F.col("_broken"), F.lit(_STRUCTURAL)).otherwise(bad_column).alias("_bad_column"),
        F.when(F.col("_broken"), F.lit(_STRUCTURAL)).otherwise(reason).alias("_bad_reason"))
    return _staged_columns(table, frame, key_frame)


def _staged_columns(table: str, frame: Any, key_frame: Any) -> Any:
    """The checked frame in the order of `Table.staged`: the contact hash as its keyed
    pseudonym, a column the file lacks (or an empty optional value) as its default."""
    from pyspark.sql import functions as F

    spec = TABLES[table]
    keep = ["_file", "_rec", "_bad_column", "_bad_reason"]
    columns = []
    for name, _kind, column in spec.staged():
        if name == HASH_NUMBER:
            # substr(sha256(key || contact hash), 1, 32): DuckDB's UHUGEINT, as hex.
            columns.append(F.when(F.col(column).isNotNull(), F.substring(
                F.sha2(F.concat(F.col("_key"), F.col(column)), 256), 1, 32)).alias("pseudonym"))
        elif spec.default(column) != "NULL":
            columns.append(F.coalesce(F.col(column), F.expr(spec.default(column)))
                           .alias(column))
        else:
            columns.append(F.col(column))
    if any(name == HASH_NUMBER for name, _kind, _column in spec.staged()):
        frame = frame.crossJoin(F.broadcast(key_frame))
    return frame.select(*keep, *columns)


def _field_counts(spark: Any, parts: list[_Part]) -> dict[tuple[int, int], int]:
    """Fields in each record Spark found malformed (error path; raw lines stay in Spark)."""
    from pyspark.sql import functions as F

    def count_fields(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        for batch in batches:
            counts = []
            for text in batch.column("_corrupt").to_pylist():
                row = next(csv.reader(io.StringIO(text or "", newline="")), [])
                counts.append(len(row))
            yield pa.RecordBatch.from_arrays(
                [batch.column("_file"), batch.column("_rec"), pa.array(counts, pa.int64())],
                names=["_file", "_rec", "fields"])

    found: dict[tuple[int, int], int] = {}
    for part in parts:
        assert part.header is not None
        frame = _read_csv(spark, [part.item.location], len(part.header)).where(
            F.col("_corrupt").isNotNull())
        # c0 too: Spark refuses a query of the corrupt-record column alone.
        frame = frame.select(F.lit(part.index).alias("_file"),
                             F.col("_rec").cast("bigint").alias("_rec"), "_corrupt", "c0")
        for row in frame.mapInArrow(count_fields, "_file int, _rec bigint, fields bigint"
                                    ).collect():
            found[(int(row[0]), int(row[1]))] = int(row[2])
    return found


def _replacement_columns(spark: Any, part: _Part, records: list[int]) -> dict[int, int]:
    """The first field holding U+FFFD in each of these records of a non-UTF-8 file."""
    from pyspark.sql import functions as F

    assert part.header is not None
    frame = _read_csv(spark, [part.item.location], len(part.header)).where(
        F.col("_rec").isin(records))
    first = F.coalesce(*[F.when(F.coalesce(F.instr(F.col(f"c{i}"), _REPLACEMENT), F.lit(0)) > 0,
                                F.lit(i)) for i in range(len(part.header))])
    return {int(r[0]): int(r[1]) for r in frame.select("_rec", first.alias("i")).collect()
            if r[1] is not None}


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
                                 raw_contacts=any(_raw_column(table) in p.position
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
            self._record_rejects(table, readable, counts, bad)
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

    def _record_rejects(self, table: str, parts: list[_Part], counts: dict[int, tuple[int, int]],
                        bad: list[Any]) -> None:
        by_index = {p.index: p for p in parts}
        renames = loadplan.renames(self.incident, table)
        structural = [p for p in parts
                      if any(int(r[0]) == p.index and r[3] == _STRUCTURAL for r in bad)]
        fields = _field_counts(self.spark, [p for p in structural if p.item.format == "csv"]) \
            if structural else {}
        replaced: dict[int, dict[int, int]] = {}
        for part in structural:
            if not part.utf8:
                records = [int(r[1]) for r in bad
                           if int(r[0]) == part.index and r[3] == _STRUCTURAL
                           and (part.index, int(r[1])) not in fields]
                replaced[part.index] = _replacement_columns(self.spark, part, records)
        lines: dict[int, list[int] | None] = {}
        rows: list[tuple[str, str, int | None, str | None, str]] = []
        for file_index, record_value, column_name, found in sorted(
                bad, key=lambda r: (int(r[0]), int(r[1]))):
            part = by_index[int(file_index)]
            item = part.item
            header = part.header or []
            record = int(record_value)
            reason = str(found)
            column: str | None
            if found == _STRUCTURAL:
                count = fields.get((part.index, record))
                if count is not None and count < len(header):
                    column, reason = header[count], "missing columns"
                elif count is not None and count > len(header):
                    column, reason = None, "too many columns"
                elif part.index in replaced and record in replaced[part.index]:
                    column, reason = header[replaced[part.index][record]], "not valid UTF-8"
                else:
                    column, reason = None, "unreadable row"
            else:
                column = renames.get(str(column_name), str(column_name))
            if item.format != "csv":
                line: int | None = record + 1
            else:
                if part.index not in lines:
                    if item.uri is None:
                        physical = csv_record_lines(item)
                    else:  # read through Spark
                        from incidentscope.spark import files as spark_files

                        physical = spark_files.csv_record_lines(self.spark, item)
                    lines[part.index] = (physical if len(physical) == counts[part.index][0]
                                         else None)
                known = lines[part.index]
                line = known[record] if known is not None else record + 2
            rows.append((item.sha256, item.display, line, column, reason))
        self.rejects.extend(rows)

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
                    *[F.min(c).alias(c) for c in ("country", "region", "language")]
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
        where = f" (first: {first[1]} line {first[2]}, column {first[3]}: {first[4]})"
        raise BadDataError(f"--strict: {rejected} rows rejected{where}; nothing was loaded")
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
