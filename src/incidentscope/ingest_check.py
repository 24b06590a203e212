"""The DuckDB load, checking: every cell in SQL, valid rows to `stage_<table>`.

Work that depends on a value, not on a row, is done once per distinct value: contact
hashes are checked and numbered in `hash_dict`, raw contacts normalized in
`contact_norm`, both for the whole load. Rejected rows are recorded as (file, line,
column, reason) without values.
"""

from __future__ import annotations

import contextlib

import duckdb
import polars as pl

from incidentscope.contract import TABLES, raw_column, raw_contacts
from incidentscope.ingest_read import (
    Reader,
    _Plan,
    _reading,
    _staged_select,
    _unreadable,
)
from incidentscope.normalize import NormalizationError, normalize, sha256_hex
from incidentscope.results import FileLoad
from incidentscope.sqlutil import bind
from incidentscope.validate import (
    convert,
    convert_native,
    hex64_ok,
    normalized_hex,
    problem,
    problem_by_dictionary,
    problem_native,
)


class Checker(Reader):
    """Checking and staging, on top of reading."""

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
        raw = raw_column(first.item.table)
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
        contact = refs[raw_contacts(item.table).raw]
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

        if raw_contacts(table).region == "account":
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
        checks, typed, join = self._cell_checks(plans, relation, bound, native)
        join += self._contact_checks(plans, contact_map, checks, typed)
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
            self._reject_checked(plans, counts)
        self._add_checked(plans, set(typed))
        self.con.execute("DROP TABLE stage_checked")
        self.con.execute("DROP TABLE IF EXISTS stage_raw")
        return counts

    def _cell_checks(self, plans: list[_Plan], relation: str, bound: dict[str, object],
                     native: dict[str, str]
                     ) -> tuple[list[tuple[str, str]], dict[str, str], str]:
        """Each column's check (name, SQL of its problem or NULL) and typed value, and the
        joins they need, for every column but the raw contact."""
        item, columns = plans[0].item, plans[0].columns
        tz = "$tz"
        checks: list[tuple[str, str]] = []
        typed: dict[str, str] = {}
        join = ""
        for column in columns:
            if column.name == raw_column(item.table):
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
        return checks, typed, join

    def _contact_checks(self, plans: list[_Plan], contact_map: str | None,
                        checks: list[tuple[str, str]], typed: dict[str, str]) -> str:
        """Add the raw contact's checks and its hash to `checks` and `typed`; the join to the
        load's normalized contacts they need."""
        item = plans[0].item
        raw = TABLES[item.table].raw_contacts
        if raw is None:
            return ""
        join = ""
        if contact_map is not None:
            region, region_join = self._region(item.table, plans[0].refs, "r", text=False)
            join = (f"{region_join} LEFT JOIN {contact_map} m "
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
        have = "r.contact_ref IS NOT NULL" if contact_map else "false"
        have_hash = f"{typed[raw.hashed]} IS NOT NULL" if raw.hashed in typed else "false"
        checks.append((raw.raw, f"CASE WHEN NOT ({have}) AND NOT ({have_hash}) "
                                "THEN 'missing value' END"))
        return join

    def _reject_checked(self, plans: list[_Plan], counts: dict[int, tuple[int, int]]) -> None:
        """Record the rows of `stage_checked` that failed a check, by line."""
        mapping = self.incident.inputs.get(plans[0].item.table)
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

    def _add_checked(self, plans: list[_Plan], present: set[str]) -> None:
        """Add the valid rows of `stage_checked` to stage_<table>."""
        table = plans[0].item.table
        self._prepare_output(table)
        # Identical contact rows of one file are one state (see compaction._SIMPLE_RUNS).
        distinct = "DISTINCT " if TABLES[table].distinct_rows else ""
        sql = (f"INSERT INTO stage_{table} SELECT {distinct}"
               f"{_staged_select(table, present)} "
               "FROM stage_checked WHERE bad_column IS NULL")
        self.con.execute(sql)
        if table == "contacts":
            self._check_snapshot_dates(plans)
            for (snapshot,) in self.con.execute(
                    "SELECT snapshot_date FROM (SELECT DISTINCT file_no, snapshot_date "
                    "FROM stage_checked WHERE bad_column IS NULL)").fetchall():
                self.files_per_snapshot[snapshot] = self.files_per_snapshot.get(snapshot, 0) + 1
