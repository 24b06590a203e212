"""Finding an investigation's input files and reading their headers.

Only paths the user named are read: the data directory, or an `[inputs.NAME]`
path inside it. Paths that leave the data directory, URLs and symlinks that
point outside are refused.

This module reads local folders. The Spark engine also takes a data directory URI
(hdfs://, s3a://, file://, ...): `incidentscope.spark.files` finds and reads those files
through Spark, with the rules of `_candidates`; its `InputFile`s carry the file's `uri`.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from incidentscope.config import Incident
from incidentscope.contract import LOAD_ORDER, TABLES, in_time_range
from incidentscope.errors import BadDataError, MissingInputError, UsageError

SUFFIXES = (".csv", ".csv.gz", ".parquet")
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})(?=\.(?:csv|csv\.gz|parquet)$)")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB_CHARS = "*?[]{}"


def is_uri(text: str) -> bool:
    """Whether a data directory or path is a URI (scheme://...) rather than a local path."""
    return bool(_URL.match(text))


@dataclass(frozen=True)
class InputFile:
    table: str
    path: Path  # resolved absolute path; for a file at a URI, the URI's path (not a local file)
    display: str  # path relative to the data directory, for messages and the manifest
    format: str  # "csv" or "parquet"
    sha256: str
    bytes: int
    # The file's URI as Spark's file system lists it (scheme://authority/path, not
    # percent-encoded) when the data directory is a URI; None for a local file.
    uri: str | None = None
    # (size, modification time in ns) when it was hashed; a local file only. A file that
    # changes during a load is refused (`check_unchanged`): the hash must be of the bytes read.
    stamp: tuple[int, int] | None = None

    @property
    def location(self) -> str:
        """The file as a reader is given it: its URI, or its local path."""
        return self.uri if self.uri is not None else str(self.path)

    @property
    def date_in_name(self) -> str | None:
        found = _DATE_IN_NAME.search(self.path.name)
        if not found:
            return None
        try:
            day = date.fromisoformat(found.group(1))
        except ValueError:
            return None  # not a calendar date: the file needs a snapshot_date column
        return found.group(1) if in_time_range(day) else None


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _changed(path: Path, display: str) -> BadDataError:
    return BadDataError(f"{display}: changed while it was being read; nothing was loaded "
                        "(load again once the file is complete)")


def _hash_stamped(path: Path, root: Path) -> tuple[str, tuple[int, int]]:
    """The file's SHA-256 and its (size, mtime), which must be the same before and after."""
    before = _stamp(path)
    digest = sha256_file(path)
    after = _stamp(path)
    if before != after:
        raise _changed(path, path.resolve().relative_to(root).as_posix())
    return digest, after


def check_unchanged(files: Iterable[InputFile]) -> None:
    """Refuse the load if a local input file changed since it was hashed (appended to, say):
    the workspace records each file by the hash of exactly the bytes that were read."""
    for item in files:
        if item.stamp is None:
            continue
        try:
            same = _stamp(item.path) == item.stamp
        except OSError:
            same = False
        if not same:
            raise _changed(item.path, item.display)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def has_glob_chars(path: str) -> bool:
    return any(ch in path for ch in _GLOB_CHARS)


def unsafe_name(display: str) -> UsageError:
    """The refusal of a file whose path a reader would expand as a pattern."""
    return UsageError(f"{display}: a file path with *, ?, [, ] or {{ cannot be read safely; "
                      "rename it")


def check_override(table: str, override: str) -> None:
    """Refuse an `[inputs.NAME].path` that is not a relative path inside the data directory."""
    if _URL.match(override) or Path(override).is_absolute() or ".." in Path(override).parts:
        raise UsageError(f"[inputs.{table}].path: must be a relative path inside the data "
                         "directory")


def _candidates(data_dir: Path, table: str, override: str | None) -> list[Path]:
    if override is not None:
        check_override(table, override)
        matched = sorted(Path(p) for p in glob.glob(str(data_dir / override), recursive=True))
        found: list[Path] = []
        for path in matched:
            if path.is_dir():
                found.extend(sorted(p for p in path.iterdir() if file_format(p)))
            elif file_format(path):
                found.append(path)
        return found
    found = [data_dir / f"{table}{suffix}" for suffix in SUFFIXES]
    files = [p for p in found if p.is_file()]
    folder = data_dir / table
    if folder.is_dir():
        files.extend(sorted(p for p in folder.iterdir() if p.is_file() and file_format(p)))
    return files


def missing_table(data: str, table: str) -> MissingInputError:
    """The error for a required table without files (local folder or URI alike)."""
    return MissingInputError(
        f"{data}: no files for table '{table}' "
        f"(expected {table}.csv, {table}.csv.gz, {table}.parquet or a folder {table}/)")


def discover(data_dir: Path, incident: Incident) -> list[InputFile]:
    """Every input file, in load order; missing required tables are an error."""
    if not data_dir.is_dir():
        raise MissingInputError(f"{data_dir}: data directory not found")
    root = data_dir.resolve()
    if has_glob_chars(root.as_posix()):
        # DuckDB would expand the path as a pattern: the folder, not a file, is at fault
        raise UsageError(f"{data_dir}: the data folder's path contains *, ?, [, ] or {{, "
                         "which cannot be read safely; rename or move the folder")
    found: list[tuple[str, Path, str]] = []  # (table, path, format)
    for table in LOAD_ORDER:
        override = incident.inputs.get(table)
        paths = _candidates(data_dir, table, override.path if override else None)
        if not paths and TABLES[table].required:
            raise missing_table(str(data_dir), table)
        for path in paths:
            if not _inside(path, root):
                raise UsageError(f"{path.name}: resolves outside the data directory; refused")
            if has_glob_chars(path.resolve().as_posix()):
                # DuckDB would expand the name as a pattern and read other files instead.
                raise unsafe_name(path.resolve().relative_to(root).as_posix())
            fmt = file_format(path)
            if fmt is None:  # pragma: no cover - filtered by _candidates
                continue
            found.append((table, path, fmt))
    # Hashing reads every input byte: two files at a time (hashlib releases the GIL).
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = list(pool.map(lambda path: _hash_stamped(path, root),
                                [path for _table, path, _fmt in found]))
    return [
        InputFile(
            table=table,
            path=path.resolve(),
            display=path.resolve().relative_to(root).as_posix(),
            format=fmt,
            sha256=digest,
            bytes=stamp[0],
            stamp=stamp,
        )
        for (table, path, fmt), (digest, stamp) in zip(found, digests, strict=True)
    ]


# A CSV value may be longer than the csv module's default limit (128 KiB); DuckDB reads it,
# so the readers that name lines and headers must too.
csv.field_size_limit(2**31 - 1)


def unknown_files(data_dir: Path, files: Iterable[InputFile]) -> tuple[str, ...]:
    """Data files (CSV, Parquet) in the data folder or its first-level folders that no
    table reads: a table the contract does not know, or a misspelled name. Listed so that
    a user sees them (before uploads were a table, uploads.csv was ignored silently)."""
    root = data_dir.resolve()
    used = {item.path for item in files}
    found = []
    for path in sorted(root.iterdir()):
        candidates = sorted(path.iterdir()) if path.is_dir() and not path.is_symlink() else [
            path]
        for candidate in candidates:
            if candidate.is_file() and file_format(candidate) and (
                    candidate.resolve() not in used):
                found.append(candidate.relative_to(root).as_posix())
    return tuple(found)


def _local(item: InputFile) -> Path:
    if item.uri is not None:  # a programming error: such files are read through Spark
        raise ValueError("a file at a URI is read through Spark (incidentscope.spark.files)")
    return item.path


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace",
                                newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def csv_header(item: InputFile) -> list[str] | None:
    """The header's column names, or None for an empty file."""
    try:
        with _open_text(_local(item)) as handle:
            return header_of_lines(handle, item)
    except (OSError, EOFError, csv.Error):
        raise BadDataError(f"{item.display}: cannot read the CSV header") from None


def header_of_lines(lines: Iterable[str], item: InputFile) -> list[str] | None:
    """The header's column names from the file's first lines (with their line ends)."""
    try:
        row = next(csv.reader(lines), None)
    except (OSError, EOFError, csv.Error):
        raise BadDataError(f"{item.display}: cannot read the CSV header") from None
    if row is None:
        return None
    if row and row[0].startswith("\ufeff"):
        row[0] = row[0][1:]
    return [name.strip() for name in row]


def csv_records(item: InputFile) -> list[tuple[int, bool]]:
    """(first physical line, is blank) of every record, the header included.

    DuckDB numbers a record by its position among these (a blank line counts, a quoted
    value spanning lines does not): record n of this list is DuckDB's line n.
    Used only on the error path, to name the line of a rejected row.
    """
    with _open_text(_local(item)) as handle:
        return records_of_lines(handle)


def records_of_lines(lines: Iterable[str]) -> list[tuple[int, bool]]:
    """`csv_records` of a file given as its physical lines (with their line ends)."""
    records: list[tuple[int, bool]] = []
    reader = csv.reader(lines)
    previous_end = 0
    for row in reader:
        records.append((previous_end + 1, not row))
        previous_end = reader.line_num
    return records


def csv_record_lines(item: InputFile) -> list[int]:
    """The first physical line of every data record (header and blank lines excluded)."""
    return data_record_lines(csv_records(item))


def data_record_lines(records: list[tuple[int, bool]]) -> list[int]:
    """The lines of the data records among `csv_records` (header and blank lines excluded)."""
    return [line for line, blank in records[1:] if not blank]
