"""The DuckDB load, reading and staging: a file's plan, its rows as text, rejects.

A CSV file is read into a temporary staging table (raw contact values are replaced
there by a keyed reference at once); a Parquet file is read where it lies, its columns
of the contract's type taken as they are. Rows DuckDB cannot parse are rejected here
(`_structural_rejects`); the cells are checked in ingest_check.py. Part of the DuckDB
loader: ingest.py runs the load, ingest_check.py checks and stages, ingest_finish.py
stores what was staged.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb

from incidentscope import loadplan
from incidentscope.config import Incident
from incidentscope.contract import TABLES, Column, raw_column, stored_names
from incidentscope.errors import (
    BadDataError,
)
from incidentscope.inputs import (
    InputFile,
    csv_header,
    csv_record_lines,
    csv_records,
)
from incidentscope.results import FileLoad
from incidentscope.sqlutil import bind
from incidentscope.validate import (
    is_native,
)
from incidentscope.workspace import PseudonymKey

Progress = Callable[[str], None]


_CSV_ERRORS = {
    "CAST": "cannot be read as text",
    "MISSING COLUMNS": "missing columns",
    "TOO MANY COLUMNS": "too many columns",
    "UNQUOTED VALUE": "unterminated or misplaced quote",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "not valid UTF-8",
    "INVALID STATE": "unreadable CSV structure",
}



@dataclass(frozen=True)
class _Plan:
    """A file to stage: its header and how its columns map to the table's contract."""

    item: InputFile
    header: list[str]
    types: list[str]  # Parquet: each column's DuckDB type; CSV: none
    columns: list[Column]  # the contract's columns the file has
    refs: dict[str, str]  # contract column -> the file's column (c0, c1, ...)
    snapshot_from_name: str | None  # a contacts file's date, when only its name gives it

    def batch_key(self) -> tuple[object, ...] | None:
        """Files with the same key are staged in one statement; None: on its own."""
        if self.item.format != "parquet" or raw_column(self.item.table) in self.refs:
            return None  # CSV: its own staging table; raw contacts: normalized per file
        return (self.item.table, tuple(self.header), tuple(self.types),
                self.snapshot_from_name is None)






def _staged_select(table: str, present: set[str]) -> str:
    """The checked values of `stage_checked` in the order of `Table.staged`: a column the
    file lacks is its default (or NULL), an empty optional value too."""
    spec = TABLES[table]
    parts = []
    for _name, _kind, column in spec.staged():
        default = spec.default(column)
        if column not in present:
            parts.append(default)
        elif default != "NULL":
            parts.append(f"coalesce({column}, {default})")
        else:
            parts.append(column)
    return ", ".join(parts)


class _BatchUnreadable(BadDataError):
    """A file of a batch cannot be read: the load is retried file by file to name it."""


def _unreadable(plans: list[_Plan]) -> BadDataError:
    if len(plans) > 1:
        return _BatchUnreadable(f"one of {len(plans)} {plans[0].item.table} files cannot be read")
    item = plans[0].item
    return BadDataError(f"{item.display}: cannot be read as {item.format.upper()}")


@contextlib.contextmanager
def _reading(error: BadDataError) -> Iterator[None]:
    """DuckDB failing to read an input file raises `error` (which names the file, never a
    value). Running out of memory is not the file's fault: it goes on to `load`, which
    says so."""
    try:
        yield
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error:
        raise error from None


class Reader:
    """The load's state, and reading files: plans, text relations, rejects."""

    def __init__(self, con: duckdb.DuckDBPyConnection, incident: Incident, key: PseudonymKey,
                 progress: Progress) -> None:
        self.con = con
        self.incident = incident
        self.key = key
        self.progress = progress
        self.load_id = uuid.uuid4().hex
        self.extra_columns: dict[str, tuple[str, ...]] = {}
        self.staged_tables: set[str] = set()
        self.files_per_snapshot: dict[object, int] = {}  # snapshot date -> files, this load

    def snapshot_date_from_name(self, item: InputFile) -> str | None:
        """The snapshot date a contacts file takes from its name (it has no date column)."""
        if item.table != "contacts" or item.date_in_name is None:
            return None
        return loadplan.snapshot_date_from_name(self.incident, item, self._header(item))

    # -- staging -----------------------------------------------------------------
    def _read_source(self, item: InputFile, n_columns: int,
                     rejects: str = "csv_reject") -> tuple[str, dict[str, object]]:
        """The file as a relation of text columns c0..cN, and its bound parameters.

        CSV rows DuckDB cannot parse go to the temporary tables `<rejects>_errors` and
        `<rejects>_scans`.
        """
        names = {f"c{i}": "VARCHAR" for i in range(n_columns)}
        if item.format == "csv":
            return (
                "read_csv($path, header = true, delim = ',', quote = '\"', escape = '\"', "
                "auto_detect = false, columns = $columns, store_rejects = true, "
                f"rejects_table = '{rejects}_errors', rejects_scan = '{rejects}_scans')",
                {"path": str(item.path), "columns": names},
            )
        aliases = ", ".join(names)
        # Every column as text, so one set of checks serves CSV and typed Parquet alike.
        return (f"(SELECT * FROM (SELECT CAST(COLUMNS(*) AS VARCHAR) FROM read_parquet($path)) "
                f"AS src({aliases}))", {"path": str(item.path)})

    def _header(self, item: InputFile) -> list[str] | None:
        if item.format == "csv":
            if item.bytes == 0:
                return None
            return csv_header(item)
        return [name for name, _type in self._parquet_columns(item)]

    def _parquet_columns(self, item: InputFile) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each top-level column of a Parquet file."""
        with _reading(BadDataError(f"{item.display}: not a readable Parquet file")):
            rows = self.con.execute("DESCRIBE SELECT * FROM read_parquet($1)",
                                    [str(item.path)]).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def plan(self, item: InputFile) -> _Plan | FileLoad:
        """How a file's columns map to its table's contract (a FileLoad if it is empty)."""
        table = TABLES[item.table]
        types: list[str] = []  # Parquet: each column's type, from the same schema read
        if item.format == "csv":
            header = self._header(item)
        else:
            described = self._parquet_columns(item)
            header, types = [n for n, _ in described], [t for _, t in described]
        if header is None:
            return FileLoad(item.table, item.display, item.sha256, item.bytes, 0, 0, 0, "empty")
        mapped = loadplan.map_columns(
            item, header, self.incident,
            [loadplan.duckdb_type_family(t) for t in types] if types else None)
        if mapped.extra:
            self.extra_columns[item.display] = mapped.extra
        position = mapped.position
        snapshot_from_name = mapped.snapshot_from_name
        columns = [c for c in table.columns if c.name in position]
        refs = {c.name: f"c{position[c.name]}" for c in columns}
        return _Plan(item, header, types, columns, refs, snapshot_from_name)

    @staticmethod
    def _contact_ref(ref: str) -> str:
        # Raw contact values never reach a table: only a keyed reference of them does.
        # A blank contact has no reference: it is a missing value, not a contact.
        return (f"CASE WHEN nullif(trim({ref}), '') IS NOT NULL THEN "
                f"sha256($key || '|' || {ref}) END")

    def _stage_csv(self, item: InputFile, header: list[str],
                   refs: dict[str, str]) -> tuple[str, dict[str, object]]:
        """Read a CSV file into `stage_raw`; return the relation (record, columns...)."""
        source, bound = self._read_source(item, len(header))
        raw = raw_column(item.table)
        select = [f"{ref} AS {name}" for name, ref in refs.items() if name != raw]
        if raw in refs:
            select.append(f"{self._contact_ref(refs[raw])} AS contact_ref")
            bound["key"] = self.key.hex
        self.con.execute("DROP TABLE IF EXISTS stage_raw")
        self.con.execute("SET preserve_insertion_order = true")  # rowid = record order
        try:
            sql = f"CREATE TEMP TABLE stage_raw AS SELECT {', '.join(select)} FROM {source}"
            with _reading(BadDataError(f"{item.display}: cannot be read as CSV")):
                self.con.execute(sql, bind(sql, bound))
        finally:
            # After a failed read the transaction is aborted: keep the BadDataError.
            with contextlib.suppress(duckdb.Error):
                self.con.execute("SET preserve_insertion_order = false")
        # Inside a transaction row ids start at a large offset: count from the first one.
        return ("(SELECT s.rowid - (SELECT min(rowid) FROM stage_raw) AS record, f.file_no, "
                "f.snapshot_from_name, s.* FROM stage_raw s, stage_files f)", {})

    def _parquet_relation(self, plans: list[_Plan]
                          ) -> tuple[str, dict[str, object], dict[str, str]]:
        """Parquet files of one schema as one relation (file_no, record, columns...), read
        where they lie.

        Columns whose Parquet type already is the contract's type are taken as they are
        (returned as name -> type); all others are read as text and checked like CSV.
        """
        first = plans[0]
        by_name = {c.name: c for c in first.columns}
        native: dict[str, str] = {}
        select = ["f.file_no", "p.file_row_number AS record", "f.snapshot_from_name"]
        bound: dict[str, object] = {"paths": [str(plan.item.path) for plan in plans]}
        for name, ref in first.refs.items():
            source_type = first.types[int(ref[1:])]
            if name == raw_column(first.item.table):
                select.append(
                    f"{self._contact_ref(f'CAST(p.{ref} AS VARCHAR)')} AS contact_ref")
                bound["key"] = self.key.hex
            elif is_native(by_name[name], source_type):
                native[name] = source_type
                select.append(f"p.{ref} AS {name}")
            else:
                select.append(f"CAST(p.{ref} AS VARCHAR) AS {name}")
        aliases = ", ".join(f"c{i}" for i in range(len(first.types)))
        relation = (f"(SELECT {', '.join(select)} FROM read_parquet($paths, file_row_number = "
                    f"true, filename = true) AS p({aliases}, file_row_number, filename) "
                    "JOIN stage_files f ON f.path = p.filename)")
        return relation, bound, native

    def _structural_rejects(self, item: InputFile, header: list[str]) -> list[int]:
        if item.format != "csv":
            return []
        rows = self.con.execute(
            "SELECT line, column_name, error_type FROM csv_reject_errors "
            "ORDER BY line, column_idx").fetchall()
        self.con.execute("DROP TABLE IF EXISTS csv_reject_errors")
        self.con.execute("DROP TABLE IF EXISTS csv_reject_scans")
        if not rows:
            return []
        # DuckDB counts a record spanning lines as one line: name the physical line instead.
        starts = [line for line, _blank in csv_records(item)]
        seen: set[int] = set()
        for line, column_name, error_type in rows:
            duck_line = int(line)
            physical = starts[duck_line - 1] if 0 < duck_line <= len(starts) else duck_line
            if physical in seen:  # one reject per row: the first problem found
                continue
            seen.add(physical)
            if str(error_type) == "UNQUOTED VALUE":
                # The reader lost track of quoting: the following rows may be inside this one.
                raise BadDataError(
                    f"{item.display}: line {physical}: unterminated or misplaced quote; the rest "
                    "of the file cannot be read reliably; nothing was loaded")
            name = None
            if column_name and str(column_name).startswith("c"):
                index = int(str(column_name)[1:])
                name = header[index] if index < len(header) else None
            self._reject(item, physical, name,
                         _CSV_ERRORS.get(str(error_type), "unreadable row"))
        return sorted(seen)

    def _reject(self, item: InputFile, line: int | None, column: str | None, reason: str) -> None:
        self.con.execute("INSERT INTO rejects VALUES ($1, $2, $3, $4, $5)",
                         [item.sha256, item.display, line, column, reason])

    def _line_of_record(self, item: InputFile) -> Callable[[int], int | None]:
        """Maps a staged record's index to its line (CSV) or row number (Parquet)."""
        if item.format != "csv":
            return lambda index: index + 1
        rejected = {
            r[0] for r in self.con.execute(
                "SELECT line FROM rejects WHERE file_sha256 = $1 AND path = $2",
                [item.sha256, item.display]).fetchall()}
        lines = [line for line in csv_record_lines(item) if line not in rejected]
        return lambda index: lines[index] if index < len(lines) else None

    def _prepare_output(self, table: str) -> None:
        if table not in self.staged_tables:
            columns = ", ".join(f"{name} {kind}" for name, kind, _ in TABLES[table].staged())
            self.con.execute(f"CREATE TEMP TABLE stage_{table} ({columns})")
            self.staged_tables.add(table)

    def _check_snapshot_dates(self, plans: list[_Plan]) -> None:
        """A snapshot date already in the workspace may not be loaded again with other content."""
        rows = self.con.execute(
            "SELECT CAST(c.snapshot_date AS VARCHAR), min(c.file_no) FROM stage_checked c "
            "JOIN snapshots w ON w.snapshot_date = c.snapshot_date WHERE c.bad_column IS NULL "
            "GROUP BY 1 ORDER BY 1 LIMIT 1").fetchall()
        if rows:
            raise BadDataError(
                f"{plans[int(rows[0][1])].item.display}: snapshot {rows[0][0]} is already "
                "loaded from other content; a snapshot cannot be changed (use a new workspace)")

    def _merge_staged(self, table: str) -> None:
        if table == "accounts":
            # Countries of this load are needed at once: phones parse with them.
            # One country per account (the first alphabetically when the inputs disagree), so
            # that joins on accounts never multiply rows.
            # (region and language likewise, each the first given)
            columns = ", ".join(stored_names("accounts"))
            firsts = ", ".join(f"min({name}) AS {name}" for name in stored_names("accounts")[1:])
            self.con.execute(f"""
                CREATE OR REPLACE TEMP TABLE accounts_all AS
                SELECT account_id, {firsts}
                FROM (SELECT {columns} FROM accounts_all
                      UNION ALL SELECT {columns} FROM stage_accounts)
                GROUP BY account_id""")
