"""The Spark load, reading: input files as frames of text columns, and reject lines.

A file's plan (`_Part`, from loadplan), its header, CSV and Parquet read as the DuckDB
loader reads them, each row tagged with its file and record number, and the rejects of
malformed rows named as DuckDB names them (reasons, physical CSV lines). See
spark/ingest.py for the whole load.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from incidentscope import loadplan
from incidentscope.config import Incident
from incidentscope.contract import TABLES, Column
from incidentscope.errors import BadDataError
from incidentscope.inputs import (
    InputFile,
    csv_header,
    csv_record_lines,
)
from incidentscope.validate import is_native

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


def rejected_rows(spark: Any, incident: Incident, table: str, parts: list[_Part],
                  counts: dict[int, tuple[int, int]], bad: list[Any]
                  ) -> list[tuple[str, str, int | None, str | None, str]]:
    """The rejects (file hash, path, line, column, reason) of the rows `bad` lists (file
    index, record, column, reason), with DuckDB's reasons and line numbers."""
    by_index = {p.index: p for p in parts}
    renames = loadplan.renames(incident, table)
    structural = [p for p in parts
                  if any(int(r[0]) == p.index and r[3] == _STRUCTURAL for r in bad)]
    fields = _field_counts(spark, [p for p in structural if p.item.format == "csv"]) \
        if structural else {}
    replaced: dict[int, dict[int, int]] = {}
    for part in structural:
        if not part.utf8:
            records = [int(r[1]) for r in bad
                       if int(r[0]) == part.index and r[3] == _STRUCTURAL
                       and (part.index, int(r[1])) not in fields]
            replaced[part.index] = _replacement_columns(spark, part, records)
    lines = _Lines(spark, counts)
    rows: list[tuple[str, str, int | None, str | None, str]] = []
    for file_index, record_value, column_name, found in sorted(
            bad, key=lambda r: (int(r[0]), int(r[1]))):
        part = by_index[int(file_index)]
        record = int(record_value)
        column: str | None
        if found == _STRUCTURAL:
            column, reason = _structural_reason(part, record, fields.get((part.index, record)),
                                                replaced.get(part.index, {}))
        else:
            column, reason = renames.get(str(column_name), str(column_name)), str(found)
        rows.append((part.item.sha256, part.item.display, lines.line(part, record), column,
                     reason))
    return rows


def _structural_reason(part: _Part, record: int, fields: int | None,
                       replaced: dict[int, int]) -> tuple[str | None, str]:
    """The column and reason of a row Spark found malformed, as DuckDB names them."""
    header = part.header or []
    if fields is not None and fields < len(header):
        return header[fields], "missing columns"
    if fields is not None and fields > len(header):
        return None, "too many columns"
    if record in replaced:
        return header[replaced[record]], "not valid UTF-8"
    return None, "unreadable row"


class _Lines:
    """A record's line: CSV physical lines as in DuckDB, Parquet rows from 1."""

    def __init__(self, spark: Any, counts: dict[int, tuple[int, int]]) -> None:
        self.spark = spark
        self.counts = counts
        self.known: dict[int, list[int] | None] = {}

    def line(self, part: _Part, record: int) -> int:
        item = part.item
        if item.format != "csv":
            return record + 1
        if part.index not in self.known:
            if item.uri is None:
                physical = csv_record_lines(item)
            else:  # read through Spark
                from incidentscope.spark import files as spark_files

                physical = spark_files.csv_record_lines(self.spark, item)
            self.known[part.index] = (physical if len(physical) == self.counts[part.index][0]
                                      else None)
        known = self.known[part.index]
        return known[record] if known is not None else record + 2
