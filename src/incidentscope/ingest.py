"""Input files -> workspace: validate, normalize, pseudonymize, compact; all or nothing.

One load is one transaction. A CSV file is read into a temporary staging table (raw
contact values are replaced there by a keyed reference at once); a Parquet file is
read where it lies, its columns of the contract's type taken as they are. Every cell
is checked in SQL and the valid rows are added to the staging table of their input
table; rejected rows are recorded as (file, line, column, reason) without values.
Work that depends on a value, not on a row, is done once per distinct value: contact
hashes are checked and numbered in `hash_dict`, raw contacts normalized in
`contact_norm`, both for the whole load; pseudonyms are made once per hash at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from incidentscope import finishing, loadplan
from incidentscope.config import Incident
from incidentscope.contract import TABLES, Column, RawContacts
from incidentscope.engine import DuckDBEngine
from incidentscope.errors import (
    OUT_OF_MEMORY_HINT,
    BadDataError,
    ConfigError,
    IncidentScopeError,
    OutOfMemoryError,
    StorageError,
    caused_by_interrupt,
    storage_cause,
)
from incidentscope.inputs import (
    InputFile,
    check_unchanged,
    csv_header,
    csv_record_lines,
    csv_records,
    discover,
    unknown_files,
)
from incidentscope.normalize import NormalizationError, normalize, sha256_hex
from incidentscope.results import FileLoad, LoadResult, file_warnings
from incidentscope.sqlutil import bind
from incidentscope.validate import (
    convert,
    convert_native,
    hex64_ok,
    is_native,
    normalized_hex,
    problem,
    problem_by_dictionary,
    problem_native,
)
from incidentscope.workspace import PseudonymKey, lock_down, record_key_fingerprint, stored_time

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


def pseudonym_sql(ref: str) -> str:
    # Keyed SHA-256 of the contact hash, truncated to 128 bits: joins still work, while
    # the database alone does not allow checking a guessed phone number or email.
    return f"('0x' || substr(sha256($key || {ref}), 1, 32))::UHUGEINT"


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
        if self.item.format != "parquet" or _raw_column(self.item.table) in self.refs:
            return None  # CSV: its own staging table; raw contacts: normalized per file
        return (self.item.table, tuple(self.header), tuple(self.types),
                self.snapshot_from_name is None)


def _raw_column(table: str) -> str | None:
    """The column of a table's raw contact values (None: the table has none)."""
    raw = TABLES[table].raw_contacts
    return raw.raw if raw else None


def _raw_contacts(table: str) -> RawContacts:
    raw = TABLES[table].raw_contacts
    if raw is None:  # a programming error: only tables with raw contacts get here
        raise ValueError(f"table {table} has no raw contacts")
    return raw


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


class _Loader:
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

    def stage(self, plans: list[_Plan]) -> list[FileLoad]:
        """Check and stage one file, or several Parquet files of one table and schema.

        Several files are read in one statement: DuckDB splits a Parquet scan by row
        group, so a file of one row group is read on one thread, a batch on all of them.
        """
        first = plans[0]
        self.con.execute("DROP TABLE IF EXISTS stage_files")
        self.con.execute("CREATE TEMP TABLE stage_files (file_no INTEGER, path VARCHAR, "
                         "snapshot_from_name DATE)")
        self.con.executemany("INSERT INTO stage_files VALUES ($1, $2, $3)", [
            [number, str(plan.item.path), plan.snapshot_from_name]
            for number, plan in enumerate(plans)])
        if first.item.format == "csv":
            relation, bound = self._stage_csv(first.item, first.header, first.refs)
            native: dict[str, str] = {}
        else:
            relation, bound, native = self._parquet_relation(plans)
        structural = self._structural_rejects(first.item, first.header)
        raw = _raw_column(first.item.table)
        contact_map = self._contact_map(first) if raw in first.refs else None
        counts = self._typed_stage(plans, contact_map, relation, bound, native)
        self._merge_staged(first.item.table)
        self.con.execute("DROP TABLE stage_files")
        results = []
        for number, plan in enumerate(plans):
            rows_staged, value_rejects = counts.get(number, (0, 0))
            rows_read = rows_staged + len(structural)
            status = "header only" if rows_read == 0 else "loaded"
            results.append(FileLoad(plan.item.table, plan.item.display, plan.item.sha256,
                                    plan.item.bytes, rows_read, rows_staged - value_rejects,
                                    len(structural) + value_rejects, status))
        return results

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
        raw = _raw_column(item.table)
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
            if name == _raw_column(first.item.table):
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

    def _contact_map(self, plan: _Plan) -> str:
        """Normalize each distinct raw contact once per load, in memory; return the map.

        `contact_norm` keeps, for the whole load, each (keyed reference, channel, country)
        already normalized: a contact that repeats in every snapshot file is normalized once.
        """
        item, refs = plan.item, plan.refs
        # The same reader settings as staging (so that both see the same rows); its rejects
        # go to tables of their own, dropped below.
        source, bound = self._read_source(item, len(plan.header), rejects="csv_reject_map")
        bound["key"] = self.key.hex
        channel = refs["channel"]
        contact = refs[_raw_contacts(item.table).raw]
        region, join = self._region(item.table, refs, "s", text=True)
        sql = (f"SELECT DISTINCT v.channel, v.raw, v.country, v.contact_ref FROM ("
               f"SELECT lower(trim(s.{channel})) AS channel, s.{contact} AS raw, "
               f"{region} AS country, sha256($key || '|' || s.{contact}) AS contact_ref "
               f"FROM {source} s{join} "
               f"WHERE s.{contact} IS NOT NULL AND trim(s.{contact}) <> '') v "
               "WHERE NOT EXISTS (SELECT 1 FROM contact_norm n WHERE n.contact_ref = "
               "v.contact_ref AND n.channel IS NOT DISTINCT FROM v.channel AND n.country IS "
               "NOT DISTINCT FROM v.country)")
        with _reading(_unreadable([plan])):
            distinct = self.con.execute(sql, bind(sql, bound)).fetchall()
        self.con.execute("DROP TABLE IF EXISTS csv_reject_map_errors")
        self.con.execute("DROP TABLE IF EXISTS csv_reject_map_scans")
        if not distinct:
            return "contact_norm"
        refs_out: list[str] = []
        channels: list[str | None] = []
        countries: list[str | None] = []
        hashes: list[str | None] = []
        reasons: list[str | None] = []
        profile = self.incident.normalization
        for channel_value, raw, country, contact_ref in distinct:
            refs_out.append(contact_ref)
            channels.append(channel_value)
            countries.append(country)
            try:
                hashes.append(sha256_hex(normalize(channel_value or "", raw, profile, country)))
                reasons.append(None)
            except NormalizationError as exc:
                hashes.append(None)
                reasons.append(str(exc))
        del distinct
        frame = pl.DataFrame(
            {"contact_ref": refs_out, "channel": channels, "country": countries,
             "contact_sha256": hashes, "reason": reasons},
            schema={"contact_ref": pl.String, "channel": pl.String, "country": pl.String,
                    "contact_sha256": pl.String, "reason": pl.String},
        )
        self.con.register("contact_map_frame", frame.to_arrow())
        try:
            self._add_hashes([plan], "contact_map_frame", {}, "contact_sha256")
            self.con.execute("""
                INSERT INTO contact_norm
                SELECT m.contact_ref, m.channel, m.country, m.reason, d.hash_no
                FROM contact_map_frame m LEFT JOIN hash_dict d ON d.raw = m.contact_sha256""")
        finally:
            with contextlib.suppress(duckdb.Error):  # keep the error that brought us here
                self.con.unregister("contact_map_frame")
        return "contact_norm"

    @staticmethod
    def _region(table: str, refs: dict[str, str], alias: str, *, text: bool
                ) -> tuple[str, str]:
        """The default region of a raw phone, and the join it needs: the account's country
        (contacts) or the row's own `country` column (uploads). `text`: columns are the
        file's text columns (c0, c1, ...), else the relation's named columns."""
        def column(name: str) -> str:
            return f"{alias}.{refs[name] if text else name}"

        if _raw_contacts(table).region == "account":
            # (account_id may be a native BIGINT column: through text, as everywhere)
            return "a.country", (f" LEFT JOIN accounts_all a ON a.account_id = TRY_CAST("
                                 f"trim(CAST({column('account_id')} AS VARCHAR)) AS BIGINT)")
        if "country" not in refs:
            return "CAST(NULL AS VARCHAR)", ""
        return f"upper(nullif(trim(CAST({column('country')} AS VARCHAR)), ''))", ""

    def _add_hashes(self, plans: list[_Plan], relation: str, bound: dict[str, object],
                    column: str) -> None:
        """Add this file's distinct contact hashes to `hash_dict`, checked once each."""
        # One number per normalized hash (spellings that differ in case or blanks share it),
        # none for a blank value.
        sql = f"""
            INSERT INTO hash_dict
            WITH new AS (
                SELECT raw, {normalized_hex('raw')} AS hash
                FROM (SELECT DISTINCT {column} AS raw FROM {relation} r) v
                WHERE raw IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM hash_dict d WHERE d.raw = v.raw)
            ),
            -- only the new values' hashes: the whole dictionary grouped per file cost
            -- 40 of 94 ms per snapshot file at scale S (2,603 new values of 284,577)
            known AS (SELECT hash, min(hash_no) AS hash_no FROM hash_dict
                      WHERE hash IN (SELECT hash FROM new) GROUP BY hash)
            SELECT n.raw, n.hash, n.hash IS NOT NULL AND {hex64_ok('n.hash')},
                   CASE WHEN n.hash IS NOT NULL THEN coalesce(
                       k.hash_no,
                       (SELECT coalesce(max(hash_no), 0) FROM hash_dict)
                       + dense_rank() OVER (ORDER BY n.hash)) END
            FROM new n LEFT JOIN known k ON k.hash = n.hash"""
        with _reading(_unreadable(plans)):
            self.con.execute(sql, bind(sql, bound))

    def _typed_stage(self, plans: list[_Plan], contact_map: str | None, relation: str,
                     bound: dict[str, object], native: dict[str, str]
                     ) -> dict[int, tuple[int, int]]:
        """Check every cell; write valid rows to stage_<table>, rejects to `rejects`.

        Returns (rows read, rows rejected) by file number.
        """
        item, columns = plans[0].item, plans[0].columns
        tz = "$tz"
        checks: list[tuple[str, str]] = []
        typed: dict[str, str] = {}
        join = ""
        for column in columns:
            if column.name == _raw_column(item.table):
                continue
            ref = f"r.{column.name}"
            if column.name in native:
                checks.append((column.name, problem_native(column, ref)))
                typed[column.name] = convert_native(column, ref, native[column.name], tz)
            elif column.kind == "hex64":
                # Checked and numbered once per distinct value, not once per row.
                self._add_hashes(plans, relation, bound, column.name)
                alias = f"h_{column.name}"
                join += f" LEFT JOIN hash_dict {alias} ON {alias}.raw = {ref}"
                checks.append((column.name, problem_by_dictionary(column, alias)))
                typed[column.name] = f"{alias}.hash_no"
            else:
                checks.append((column.name, problem(column, ref, tz)))
                typed[column.name] = convert(column, ref, tz)
        spec = TABLES[item.table]
        raw = spec.raw_contacts
        if contact_map is not None and raw is not None:
            region, region_join = self._region(item.table, plans[0].refs, "r", text=False)
            join += (f"{region_join} LEFT JOIN {contact_map} m "
                     "ON m.contact_ref = r.contact_ref AND "
                     "m.channel IS NOT DISTINCT FROM lower(trim(r.channel)) AND "
                     f"m.country IS NOT DISTINCT FROM {region}")
            # A contact the map does not know (it cannot happen; never let it pass unhashed).
            checks.append((raw.raw, "CASE WHEN r.contact_ref IS NOT NULL THEN coalesce("
                                    "m.reason, CASE WHEN m.hash_no IS NULL THEN "
                                    "'unreadable row' END) END"))
            hashed = "m.hash_no"  # a raw value, when given, wins over a given hash
            if raw.hashed in typed:
                hashed = f"coalesce({hashed}, {typed[raw.hashed]})"
            typed[raw.hashed] = hashed
        if raw is not None:
            have = "r.contact_ref IS NOT NULL" if contact_map else "false"
            have_hash = f"{typed[raw.hashed]} IS NOT NULL" if raw.hashed in typed else "false"
            checks.append((raw.raw, f"CASE WHEN NOT ({have}) AND NOT ({have_hash}) "
                                    "THEN 'missing value' END"))
        if plans[0].snapshot_from_name is not None:
            typed["snapshot_date"] = "r.snapshot_from_name"
        reason_case = "CASE " + " ".join(
            f"WHEN ({expr}) IS NOT NULL THEN '{name}'" for name, expr in checks) + " END"
        reason_text = "coalesce(" + ", ".join(expr for _, expr in checks) + ")"
        typed_cols = ", ".join(f"{expr} AS {name}" for name, expr in typed.items())
        params: dict[str, object] = {**bound, "tz": self.incident.input_timezone}
        self.con.execute("DROP TABLE IF EXISTS stage_checked")
        sql = (f"CREATE TEMP TABLE stage_checked AS SELECT r.file_no, r.record, {typed_cols}, "
               f"{reason_case} AS bad_column, {reason_text} AS bad_reason "
               f"FROM {relation} r{join}")
        with _reading(_unreadable(plans)):
            self.con.execute(sql, bind(sql, params))
        counts = {int(number): (int(rows), int(bad)) for number, rows, bad in self.con.execute(
            "SELECT file_no, count(*), count(bad_column) FROM stage_checked GROUP BY file_no"
        ).fetchall()}
        if any(bad for _rows, bad in counts.values()):
            mapping = self.incident.inputs.get(item.table)
            renames = mapping.columns if mapping else {}
            for number, plan in enumerate(plans):
                if not counts.get(number, (0, 0))[1]:
                    continue
                line_of = self._line_of_record(plan.item)
                for record, column_name, reason in self.con.execute(
                        "SELECT record, bad_column, bad_reason FROM stage_checked "
                        "WHERE file_no = $1 AND bad_column IS NOT NULL ORDER BY record",
                        [number]).fetchall():
                    column = renames.get(column_name, column_name)
                    self._reject(plan.item, line_of(int(record)), column, reason)
        self._prepare_output(item.table)
        # Identical contact rows of one file are one state (see compaction._SIMPLE_RUNS).
        distinct = "DISTINCT " if spec.distinct_rows else ""
        sql = (f"INSERT INTO stage_{item.table} SELECT {distinct}"
               f"{_staged_select(item.table, set(typed))} "
               "FROM stage_checked WHERE bad_column IS NULL")
        self.con.execute(sql)
        if item.table == "contacts":
            self._check_snapshot_dates(plans)
            for (snapshot,) in self.con.execute(
                    "SELECT snapshot_date FROM (SELECT DISTINCT file_no, snapshot_date "
                    "FROM stage_checked WHERE bad_column IS NULL)").fetchall():
                self.files_per_snapshot[snapshot] = self.files_per_snapshot.get(snapshot, 0) + 1
        self.con.execute("DROP TABLE stage_checked")
        self.con.execute("DROP TABLE IF EXISTS stage_raw")
        return counts

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
            self.con.execute("""
                CREATE OR REPLACE TEMP TABLE accounts_all AS
                SELECT account_id, min(country) AS country, min(region) AS region,
                       min(language) AS language
                FROM (SELECT account_id, country, region, language FROM accounts_all
                      UNION ALL SELECT account_id, country, region, language FROM stage_accounts)
                GROUP BY account_id""")

    # -- finishing ---------------------------------------------------------------
    def finish(self) -> None:
        finishing.finish(DuckDBEngine(self.con), self.staged_tables, self,
                         # Rows are distinct per file: so per load when each date has one file.
                         contacts_distinct=all(
                             count == 1 for count in self.files_per_snapshot.values()))

    def make_pseudonyms(self, sources: str) -> None:
        """Pseudonymize each loaded contact hash once (finishing.Storage)."""
        sql = f"""
            CREATE TEMP TABLE hash_pseudonyms AS
            SELECT d.hash_no, {pseudonym_sql('d.hash')} AS pseudonym
            FROM (SELECT DISTINCT hash_no, hash FROM hash_dict WHERE ok) d
            WHERE d.hash_no IN ({sources})"""
        self.con.execute(sql, {"key": self.key.hex})

    def store_deliveries(self) -> None:
        self._insert_in_order(
            f"INSERT INTO delivery_log SELECT {stored_time('served_at')}, campaign_id, "
            "account_id, impressions FROM stage_deliveries ORDER BY account_id, served_at")

    def _insert_in_order(self, sql: str) -> None:
        """Run an INSERT ... ORDER BY keeping its order: rows of one account side by side
        (and, for matches, of one identifier of the account).

        An account's rows stored together compress to runs (its id once per run instead of
        once per row): at scale M the workspace is 41% smaller, the replay as fast. Matches
        ordered by identifier within the account: their identifier ids 44 -> 5 MB at M.
        """
        self.con.execute("SET preserve_insertion_order = true")
        try:
            self.con.execute(sql)
        finally:
            with contextlib.suppress(duckdb.Error):  # keep the first error, if any
                self.con.execute("SET preserve_insertion_order = false")

    def store_log(self, log: finishing.Log) -> None:
        """Add the staged rows of a log (matches, uploads), identical rows folded into one
        with a copies count, stored by `log.order` (finishing.Storage)."""
        new_rows = finishing.new_log_rows(log)
        stored = (f"SELECT {stored_time(log.columns[0])}, {', '.join(log.columns[1:])}, "
                  f"identifier_id, copies FROM ({{rows}}) ORDER BY {log.order}")
        if not self.con.execute(f"SELECT 1 FROM {log.stored} LIMIT 1").fetchall():
            # The first load of this log: no need to rewrite the table.
            self._insert_in_order(f"INSERT INTO {log.stored} " + stored.format(
                rows=finishing.folded_rows(log, new_rows)))
            return
        both = (f"SELECT {', '.join(log.columns)}, identifier_id, copies FROM {log.table} "
                f"UNION ALL {new_rows}")
        self.con.execute("CREATE TEMP TABLE merged_log AS " + finishing.folded_rows(log, both))
        self.con.execute(f"DELETE FROM {log.stored}")
        self._insert_in_order(f"INSERT INTO {log.stored} " + stored.format(
            rows="SELECT * FROM merged_log"))
        self.con.execute("DROP TABLE merged_log")


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


# Parquet files of one table and schema staged in one statement (see _Loader.stage): enough
# to keep every thread busy, few enough that the staging table stays small.
MAX_BATCH_FILES = 8


def _load(con: duckdb.DuckDBPyConnection, incident: Incident, files: list[InputFile],
          key: PseudonymKey, *, strict: bool, say: Progress, batch_files: bool) -> LoadResult:
    loader = _Loader(con, incident, key, say)
    results: list[FileLoad] = []
    _check_time_zone(con, incident)
    con.execute("BEGIN TRANSACTION")
    try:
        record_key_fingerprint(con, key)
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
        pending: list[tuple[int, _Plan]] = []  # new files to stage together

        def record(index: int, item: InputFile, file_load: FileLoad, seconds: float) -> None:
            results.append(file_load)
            say(f"[{index}/{len(files)}] {item.table}: {item.display}: "
                f"{file_load.rows_read:,} rows ({file_load.rows_read / seconds:,.0f} rows/s), "
                f"{file_load.rows_rejected:,} rejected")
            con.execute(
                "INSERT INTO files VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                [item.sha256, loader.snapshot_date_from_name(item), item.table, item.display,
                 item.bytes, file_load.rows_read, file_load.rows_loaded,
                 file_load.rows_rejected, loader.load_id,
                 datetime.now(UTC).replace(tzinfo=None)],
            )
            for note in file_warnings(file_load, loader.extra_columns.get(item.display, ())):
                con.execute("INSERT INTO load_warnings VALUES ($1, $2, $3)",
                            [item.sha256, item.display, note])

        def stage_pending() -> None:
            if not pending:
                return
            started = time.perf_counter()
            loads = loader.stage([plan for _index, plan in pending])
            rows = sum(file_load.rows_read for file_load in loads)
            # A batch's files share its time, by rows.
            seconds = max(time.perf_counter() - started, 1e-6)
            for (index, plan), file_load in zip(pending, loads, strict=True):
                share = file_load.rows_read / rows if rows else 1 / len(loads)
                record(index, plan.item, file_load, max(seconds * share, 1e-6))
            pending.clear()

        for index, item in enumerate(files, 1):
            identity = (item.sha256, loader.snapshot_date_from_name(item))
            if identity in known:
                stage_pending()
                results.append(FileLoad(item.table, item.display, item.sha256, item.bytes,
                                        0, 0, 0, "already loaded"))
                continue
            known.add(identity)
            started = time.perf_counter()
            plan = loader.plan(item)
            if isinstance(plan, FileLoad):  # empty
                stage_pending()
                record(index, item, plan, max(time.perf_counter() - started, 1e-6))
                continue
            batch_key = plan.batch_key() if batch_files else None
            if pending and (batch_key is None or batch_key != pending[0][1].batch_key()
                            or len(pending) >= MAX_BATCH_FILES):
                stage_pending()
            pending.append((index, plan))
            if batch_key is None:
                stage_pending()
        stage_pending()
        rejected = sum(r.rows_rejected for r in results)
        if strict and rejected:
            first = con.execute(
                "SELECT r.path, r.line, r.column_name, r.reason FROM rejects r JOIN files f "
                "USING (file_sha256, path) WHERE f.load_id = $1 ORDER BY r.path, r.line LIMIT 1",
                [loader.load_id]).fetchall()[0]
            where = ""
            if first:
                where = f" (first: {first[0]} line {first[1]}, column {first[2]}: {first[3]})"
            raise BadDataError(f"--strict: {rejected} rows rejected{where}; nothing was loaded")
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
        if caused_by_interrupt(exc):  # whatever error the interrupt left behind
            raise KeyboardInterrupt from None
        if isinstance(exc, IncidentScopeError):
            raise
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise OutOfMemoryError("the load ran out of memory within DuckDB's memory limit; "
                                   f"{OUT_OF_MEMORY_HINT}; the workspace is unchanged"
                                   ) from None
        # A failed COMMIT (full disk: the WAL cannot be written) is a TransactionException.
        if isinstance(exc, duckdb.IOException | duckdb.TransactionException | OSError):
            raise StorageError(f"load failed while writing the workspace ({storage_cause(exc)}); "
                               "the workspace is unchanged") from None
        raise
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
