"""Input files at a URI (hdfs://, s3a://, abfss://, gs://, file://, ...), found and read by Spark.

`--engine spark --data URI` reads the input contract from any file system Spark is
configured for. Everything goes through Spark's own readers, so it works the same on a
cluster and under Spark Connect (no py4j, no Hadoop client in Python):

- listing: one `binaryFile` scan of the data directory (`recursiveFileLookup`) that
  selects `path` and `length` only, so no file is opened. The files of each table are
  chosen from that listing with the rules of `inputs._candidates` (TABLE.csv,
  TABLE.csv.gz, TABLE.parquet, the files directly in a folder TABLE/, or an
  `[inputs.NAME].path` glob relative to the data directory, with Python's `glob` rules),
  and refused for the same reasons with the same messages;
- hashing: one `binaryFile` job over the chosen files, `sha2(content, 256)` computed in
  the executors. `binaryFile` holds a file in one byte array, so a file is limited to
  2 GiB (2,147,483,647 bytes); a larger file is refused by name before anything is read;
- CSV headers and the UTF-8 check: one `text` job over the CSV files. The text reader
  keeps each line's raw bytes (gzip decompressed), so `is_valid_utf8` on every line
  is the file's UTF-8 check; the first line of each file is its header;
- reject line numbers (error path only): the file's lines streamed to the driver in
  order (`toLocalIterator`) and read by the csv module exactly as for a local file.

Spark's listing skips names that start with `_` or `.` (Hadoop's hidden files such as
`_SUCCESS`); a local data directory does not. Messages name files by their path
relative to the data directory, never a value from inside them.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from incidentscope import inputs
from incidentscope.config import Incident
from incidentscope.contract import LOAD_ORDER, TABLES
from incidentscope.errors import (
    BadDataError,
    IncidentScopeError,
    MissingInputError,
    StorageError,
    UsageError,
)
from incidentscope.inputs import InputFile

# binaryFile reads a file into one byte array (Java's limit); larger files fail the job.
MAX_FILE_BYTES = 2_147_483_647
# scheme:[//authority]path, as Hadoop prints a path and as users write a URI.
_URI = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?://([^/]*))?(.*)$")
_MAGIC = re.compile(r"[*?[]")  # what Python's glob expands (glob.has_magic)

Progress = Callable[[str], None]


def is_uri(data: Path | str) -> bool:
    """Whether `--data` names a URI (read through Spark) rather than a local folder."""
    return isinstance(data, str) and inputs.is_uri(data)


def discover(spark: Any, data: str, incident: Incident, *,
             progress: Progress | None = None) -> list[InputFile]:
    """Every input file under the URI `data`, in load order, as `inputs.discover` finds
    the files of a local folder (the same rules, refusals and messages)."""
    say = progress or (lambda _message: None)
    root = _root(data)
    say(f"listing {data} through Spark")
    listed = _listing(spark, data, root)
    names = list(listed)
    chosen: list[tuple[str, str]] = []  # (table, relative path)
    for table in LOAD_ORDER:
        override = incident.inputs.get(table)
        found = candidates(names, table, override.path if override else None)
        if not found and TABLES[table].required:
            raise inputs.missing_table(data, table)
        for rel in found:
            full = f"{root}/{rel}"
            if inputs.has_glob_chars(full):
                # Spark would expand the name as a pattern and read other files instead.
                raise inputs.unsafe_name(rel)
            if "\\" in full:  # Hadoop's glob escape character
                raise UsageError(f"{rel}: a file path with a backslash cannot be read safely "
                                 "by Spark; rename it")
            chosen.append((table, rel))
    for _table, rel in chosen:
        if listed[rel][1] > MAX_FILE_BYTES:
            raise BadDataError(
                f"{rel}: {listed[rel][1]:,} bytes; a file of a URI data directory is hashed "
                f"through Spark's binaryFile reader, which takes files up to {MAX_FILE_BYTES:,} "
                "bytes (2 GiB): split it into smaller files")
    say(f"hashing {len({rel for _, rel in chosen}):,} input files through Spark")
    hashes = _hashes(spark, data, sorted({listed[rel][0] for _, rel in chosen}))
    result: list[InputFile] = []
    for table, rel in chosen:
        uri, size = listed[rel]
        fmt = inputs.file_format(Path(rel))
        if fmt is None:  # pragma: no cover - filtered by candidates
            continue
        digest = hashes.get(plain_key(uri))
        if digest is None:  # gone between the listing and the hashing
            raise MissingInputError(f"{rel}: input file not found when hashed")
        result.append(InputFile(
            table=table,
            path=Path(_split(uri)[2]),
            display=rel,
            format=fmt,
            sha256=digest,
            bytes=size,
            uri=uri,
        ))
    return result


# -- the data directory and its listing ----------------------------------------------------
def _split(uri: str) -> tuple[str, str, str]:
    """(scheme, authority, path) of a URI or a Hadoop path string, without decoding."""
    found = _URI.match(uri)
    if found is None:  # pragma: no cover - Spark lists fully qualified paths
        raise IncidentScopeError("Spark listed a file without a URI scheme")
    return found.group(1).lower(), found.group(2) or "", found.group(3)


def _root(data: str) -> str:
    """The data directory's path (normalized as Hadoop does, no trailing slash)."""
    if inputs.has_glob_chars(data) or "\\" in data:
        raise UsageError(f"{data}: a data directory URI with *, ?, [, ], {{, }} or a backslash "
                         "cannot be read safely by Spark")
    path = re.sub("/+", "/", _split(data)[2] or "/")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "".join(f"/{part}" for part in parts)


def _kind(exc: BaseException) -> str:
    """Spark's error condition, or the exception's type: never its message (may quote data)."""
    for name in ("getCondition", "getErrorClass"):
        getter = getattr(exc, name, None)
        if getter is None:
            continue
        try:
            condition = getter()
        except Exception:
            condition = None
        if condition:
            return str(condition)
    return type(exc).__name__


def _listing(spark: Any, data: str, root: str) -> dict[str, tuple[str, int]]:
    """relative path -> (file URI as Spark lists it, bytes), every file under the directory."""
    try:
        rows = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                .load(data).select("path", "length").collect())
    except Exception as exc:
        kind = _kind(exc)
        if kind == "PATH_NOT_FOUND":
            raise MissingInputError(f"{data}: data directory not found") from None
        raise StorageError(f"{data}: Spark cannot list the data directory ({kind}); is its "
                           "file system configured (connector and credentials)?") from None
    listed: dict[str, tuple[str, int]] = {}
    for uri, size in rows:
        path = _split(str(uri))[2]
        if path == root:  # the URI names a file, not a directory
            raise MissingInputError(f"{data}: data directory not found")
        if not path.startswith(root + "/"):
            raise UsageError(f"{PurePosixPath(path).name}: resolves outside the data "
                             "directory; refused")
        listed[path[len(root) + 1:]] = (str(uri), int(size))
    return listed


def _hashes(spark: Any, data: str, uris: list[str]) -> dict[tuple[str, str, str], str]:
    """plain_key(uri) -> SHA-256 of the file's bytes, computed in the executors."""
    from pyspark.sql import functions as F

    if not uris:
        return {}
    try:
        rows = (spark.read.format("binaryFile").load(uris)
                .select("path", F.sha2(F.col("content"), 256)).collect())
    except Exception as exc:
        raise StorageError(f"{data}: Spark cannot read the input files to hash them "
                           f"({_kind(exc)})") from None
    return {plain_key(str(uri)): str(digest) for uri, digest in rows}


# -- the rules of inputs._candidates on a listing -------------------------------------------
class _Tree:
    """Listed files and the folders they imply, by path relative to the data directory."""

    def __init__(self, files: Iterable[str]) -> None:
        self.files = set(files)
        self.entries: dict[str, set[str]] = {"": set()}  # folder -> names in it
        for rel in self.files:
            parts = rel.split("/")
            for i, name in enumerate(parts):
                self.entries.setdefault("/".join(parts[:i]), set()).add(name)

    def is_dir(self, rel: str) -> bool:
        return rel in self.entries

    def exists(self, rel: str) -> bool:
        return rel in self.files or rel in self.entries

    def names(self, folder: str, dironly: bool) -> list[str]:
        return sorted(name for name in self.entries.get(folder, ())
                      if not dironly or self.is_dir(_join(folder, name)))

    def files_in(self, folder: str) -> list[str]:
        """The files directly in a folder that have an input format, sorted."""
        return sorted(rel for rel in (_join(folder, n) for n in self.entries.get(folder, ()))
                      if rel in self.files and inputs.file_format(Path(rel)))


def _join(folder: str, name: str) -> str:
    if not folder:
        return name
    return f"{folder}/{name}" if name else folder


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _iglob(tree: _Tree, parts: tuple[str, ...], dironly: bool) -> Iterator[str]:
    """glob._iglob(DATA_DIR/pattern, recursive=True) on the tree (pattern given as parts)."""
    if not any(_MAGIC.search(part) for part in parts):
        rel = "/".join(parts)
        if tree.exists(rel):
            yield rel
        return
    head, basename = parts[:-1], parts[-1]
    folders: Iterable[str] = (_iglob(tree, head, True)
                              if any(_MAGIC.search(part) for part in head) else ["/".join(head)])
    for folder in folders:
        if basename == "**":
            names: Iterable[str] = _glob2(tree, folder, dironly)
        elif _MAGIC.search(basename):
            names = _glob1(tree, folder, basename, dironly)
        else:
            names = [basename] if tree.exists(_join(folder, basename)) else []
        for name in names:
            yield _join(folder, name)


def _glob1(tree: _Tree, folder: str, pattern: str, dironly: bool) -> list[str]:
    names = tree.names(folder, dironly)
    if not _hidden(pattern):
        names = [name for name in names if not _hidden(name)]
    return fnmatch.filter(names, pattern)


def _glob2(tree: _Tree, folder: str, dironly: bool) -> Iterator[str]:
    yield ""
    yield from _rlistdir(tree, folder, dironly)


def _rlistdir(tree: _Tree, folder: str, dironly: bool) -> Iterator[str]:
    for name in tree.names(folder, dironly):
        if not _hidden(name):
            yield name
            for below in _rlistdir(tree, _join(folder, name), dironly):
                yield f"{name}/{below}"


def _path_order(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/")) if rel else ()


def candidates(files: Iterable[str], table: str, override: str | None) -> list[str]:
    """`inputs._candidates` on a listing: the relative paths of `table`'s files."""
    tree = _Tree(files)
    if override is not None:
        inputs.check_override(table, override)
        # As glob.glob(str(data_dir / override), recursive=True): pathlib drops '.', empty
        # components and a trailing slash before glob sees the pattern.
        matched = sorted(_iglob(tree, PurePosixPath(override).parts, False), key=_path_order)
        found: list[str] = []
        for rel in matched:
            if tree.is_dir(rel):
                found.extend(tree.files_in(rel))
            elif rel in tree.files and inputs.file_format(Path(rel)):
                found.append(rel)
        return found
    chosen = [f"{table}{suffix}" for suffix in inputs.SUFFIXES
              if f"{table}{suffix}" in tree.files]
    if tree.is_dir(table):
        chosen.extend(tree.files_in(table))
    return chosen


# -- file names as Spark spells them --------------------------------------------------------
def plain_key(uri: str) -> tuple[str, str, str]:
    """A file's identity from its listed URI (Hadoop's Path.toString: not percent-encoded)."""
    return _split(uri)


def reported_key(uri: str) -> tuple[str, str, str]:
    """A file's identity from a URI a reader reports (inputFiles, _metadata.file_path).

    Readers percent-encode the path (a space is %20, '%' is %25, non-ASCII letters stay).
    """
    scheme, authority, path = _split(uri)
    return scheme, authority, unquote(path)


def spellings(reported: str) -> set[str]:
    """A reported URI as `inputFiles()` and `_metadata.file_path` spell it (file:///x, file:/x)."""
    scheme, authority, path = _split(reported)
    if authority:
        return {reported}
    return {reported, f"{scheme}:{path}", f"{scheme}://{path}"}


# -- reading CSV files through Spark --------------------------------------------------------
@dataclass(frozen=True)
class CsvProbe:
    """What the load needs of a CSV file before reading it: its first line, its encoding."""

    first_line: str | None  # None: the file has no line at all
    utf8: bool


def probe_csv(spark: Any, files: list[InputFile]) -> dict[str, CsvProbe]:
    """uri -> first line and UTF-8 validity of every non-empty CSV file at a URI (one job)."""
    from pyspark.sql import functions as F

    remote = [f for f in files if f.uri is not None and f.format == "csv" and f.bytes > 0]
    if not remote:
        return {}
    uris = sorted({f.uri for f in remote if f.uri is not None})
    by_key = {plain_key(uri): uri for uri in uris}
    start = F.col("_metadata.file_block_start")
    # Each partition sends one row per file: the first line of the block at offset 0
    # (the header) and whether every line of its block is UTF-8. No data line travels.
    # Lines travel as bytes and are decoded here, as a local file is read (errors replaced):
    # Arrow (Spark Connect) refuses strings that are not UTF-8.
    frame = spark.read.text(uris).select(
        F.col("_metadata.file_path").alias("p"), "value",
        F.when(start == 0, F.monotonically_increasing_id()).alias("o"))
    try:
        rows = frame.groupBy("p").agg(F.min_by(F.col("value").cast("binary"), "o"),
                                      F.bool_and(F.is_valid_utf8("value"))).collect()
    except Exception:
        for item in remote:  # which file? (error path: a job per file)
            try:
                spark.read.text(item.uri).agg(F.count(F.lit(1))).collect()
            except Exception:
                raise BadDataError(f"{item.display}: cannot read the CSV header") from None
        raise IncidentScopeError("reading the CSV headers through Spark failed") from None
    found = {by_key[reported_key(str(p))]: CsvProbe(
        None if first is None else _text(first), bool(utf8)) for p, first, utf8 in rows}
    return {uri: found.get(uri, CsvProbe(None, True)) for uri in uris}


def csv_header(spark: Any, item: InputFile, probes: dict[str, CsvProbe]) -> list[str] | None:
    """`inputs.csv_header` of a file at a URI (its first line from `probe_csv`)."""
    assert item.uri is not None
    probe = probes.get(item.uri)
    if probe is None or probe.first_line is None:
        return None
    lines = [probe.first_line]
    if probe.first_line.count('"') % 2:  # a quoted name goes on past the first line
        lines = _first_lines(spark, item.uri)
    return inputs.header_of_lines((line + "\n" for line in lines), item)


def _first_lines(spark: Any, uri: str) -> list[str]:
    """Enough first lines of a file for the csv module to read its first record."""
    from pyspark.sql import functions as F

    wanted = 64
    while True:
        lines = [_text(row[0]) for row in spark.read.text(uri).select(
            F.col("value").cast("binary")).limit(wanted).collect()]
        reader = csv.reader(line + "\n" for line in lines)
        try:
            next(reader, None)
        except csv.Error:
            return lines
        if reader.line_num < len(lines) or len(lines) < wanted or wanted >= 1 << 20:
            return lines
        wanted *= 16


def is_utf8(item: InputFile, probes: dict[str, CsvProbe]) -> bool:
    """Whether a CSV file at a URI is valid UTF-8 (from `probe_csv`)."""
    assert item.uri is not None
    probe = probes.get(item.uri)
    return probe.utf8 if probe is not None else True


def _text(line: Any) -> str:
    """A line's bytes as the local reader decodes them (UTF-8, errors replaced)."""
    return bytes(line).decode("utf-8", errors="replace")


class _OutOfOrder(Exception):
    pass


def csv_record_lines(spark: Any, item: InputFile) -> list[int]:
    """`inputs.csv_record_lines`, for a local file or one at a URI (error path only).

    A file at a URI is streamed to the driver line by line, in file order, and read by
    the csv module as a local file is. Should Spark hand the blocks of a file over out of
    order, the result is empty and the loader numbers rejects by record instead.
    """
    from pyspark.sql import functions as F

    if item.uri is None:
        return inputs.csv_record_lines(item)
    rows = spark.read.text(item.uri).select(
        F.col("value").cast("binary"), F.col("_metadata.file_block_start")).toLocalIterator()

    def lines() -> Iterator[str]:
        last = -1
        for value, start in rows:
            if int(start) < last:
                raise _OutOfOrder
            last = int(start)
            yield _text(value) + "\n"

    try:
        return inputs.data_record_lines(inputs.records_of_lines(lines()))
    except _OutOfOrder:
        return []
