"""Experiment (issue 19): optimistic validation and one pass per log table, measured.

    python bench/experiments/load_one_pass.py DATA_DIR [--table matches uploads]
                                                       [--memory-limit 3GB]

For a log table of a generated pre-hashed Parquet scenario (matches, uploads), runs in one
fresh in-memory DuckDB database, one after the other and each timed:

A. what the loader does today (src/incidentscope/ingest.py, SQL as the profile captured
   it): the distinct hashes into `hash_dict` (a scan of the file), the checked staging
   table with a reason per cell (a second scan, the join to `hash_dict` on the 64-digit
   text), per-file counts, the copy of the valid rows into `stage_<table>`, then the fold
   of identical rows with a copies count and the sorted insert into the log;
B. optimistic, one pass: one scan of the file into `stage_<table>` with the typed values,
   the normalized hash text and one validity flag per row (no reason text); the distinct
   hashes into `hash_dict` from that table (not the file); the invalid count per file (the
   file would be read again for reasons only when it is above zero); the fold, numbering
   and sorted insert in one statement;
C. as B, but the fold replaced by the sort alone (no copies count): what folding costs.

Pseudonyms are left out of both (the same statements either way): identifier ids are
the dictionary's numbers. Checks that A and B store the same rows (count and a hash).
Prints JSON with seconds per statement.
"""

# ruff: noqa: S608 - SQL assembled from this script's own constants and column names

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

TS_CHECK = ("CASE WHEN {c} IS NULL THEN 'missing value' WHEN NOT (CAST({c} AS TIMESTAMP) >= "
            "TIMESTAMP '1900-01-01 00:00:00' AND CAST({c} AS TIMESTAMP) < TIMESTAMP "
            "'2200-01-01 00:00:00') THEN 'outside the supported range' END")
CHANNEL = ("CASE WHEN r.channel IN ('email', 'phone') THEN r.channel "
           "ELSE lower(nullif(trim(r.channel), '')) END")
CHANNEL_CHECK = (f"CASE WHEN r.channel IN ('email', 'phone') THEN NULL WHEN nullif(trim("
                 f"r.channel), '') IS NULL THEN {{missing}} WHEN {CHANNEL} NOT IN ('email', "
                 "'phone') THEN 'channel is not email or phone' END")

SPECS = {
    # time column, other typed columns (name, expression over r, check or None), order
    "matches": ("matched_at", [
        ("account_id", "CAST(r.account_id AS BIGINT)",
         "CASE WHEN r.account_id IS NULL THEN 'missing value' END"),
        ("audience_id", "nullif(trim(r.audience_id), '')",
         "CASE WHEN nullif(trim(r.audience_id), '') IS NULL THEN 'missing value' END"),
        ("channel", CHANNEL, CHANNEL_CHECK.format(missing="NULL")),
    ], "account_id, identifier_id, matched_at"),
    "uploads": ("uploaded_at", [
        ("audience_id", "nullif(trim(r.audience_id), '')",
         "CASE WHEN nullif(trim(r.audience_id), '') IS NULL THEN 'missing value' END"),
        ("channel", CHANNEL, CHANNEL_CHECK.format(missing="'missing value'")),
    ], "identifier_id, uploaded_at, audience_id"),
}
HASH = "identifier_sha256"


def relation(table: str, con: duckdb.DuckDBPyConnection, path: str,
             with_record: bool = True) -> str:
    names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet($1)",
                                       [path]).fetchall()]
    cols = ", ".join(f"c{i}" for i in range(len(names)))
    time_col = SPECS[table][0]
    select = ["f.file_no"]
    if with_record:
        select.append("p.file_row_number AS record")
    for i, name in enumerate(names):
        select.append(f"p.c{i} AS {name}" if name in (time_col, "account_id")
                      else f"CAST(p.c{i} AS VARCHAR) AS {name}")
    row_number = "file_row_number = true, " if with_record else ""
    tail = "file_row_number, filename" if with_record else "filename"
    return (f"(SELECT {', '.join(select)} FROM read_parquet($paths, {row_number}"
            f"filename = true) AS p({cols}, {tail}) JOIN stage_files f ON f.path = p.filename)")


def add_hashes_sql(column: str, source: str) -> str:
    return f"""
        INSERT INTO hash_dict
        WITH new AS (
            SELECT raw, lower(nullif(trim(raw), '')) AS hash
            FROM (SELECT DISTINCT {column} AS raw FROM {source}) v
            WHERE raw IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM hash_dict d WHERE d.raw = v.raw)
        ),
        known AS (SELECT hash, min(hash_no) AS hash_no FROM hash_dict
                  WHERE hash IN (SELECT hash FROM new) GROUP BY hash)
        SELECT n.raw, n.hash, n.hash IS NOT NULL AND regexp_full_match(n.hash, '[0-9a-f]{{64}}'),
               CASE WHEN n.hash IS NOT NULL THEN coalesce(
                   k.hash_no,
                   (SELECT coalesce(max(hash_no), 0) FROM hash_dict)
                   + dense_rank() OVER (ORDER BY n.hash)) END
        FROM new n LEFT JOIN known k ON k.hash = n.hash"""


def stored(table: str, rows: str, fold: bool = True) -> str:
    time_col, others, order = SPECS[table]
    cols = [time_col, *(name for name, _, _ in others)]
    folded = (f"SELECT {', '.join(cols)}, identifier_id, sum(copies) AS copies FROM ({rows}) "
              "GROUP BY ALL") if fold else rows
    return (f"SELECT CAST(date_trunc('second', {time_col}) AS TIMESTAMP_S) AS t_s, "
            f"CAST(epoch_us({time_col}) - epoch_us(date_trunc('second', {time_col})) AS INTEGER)"
            f" AS t_us, {', '.join(cols[1:])}, identifier_id, copies FROM ({folded}) "
            f"ORDER BY {order}")


def variant_a(con: duckdb.DuckDBPyConnection, table: str, path: str) -> dict[str, float]:
    time_col, others, _ = SPECS[table]
    rel = relation(table, con, path)
    steps: dict[str, float] = {}

    def run(name: str, sql: str, params: dict[str, object] | None = None) -> None:
        started = time.perf_counter()
        con.execute(sql, params or {}).fetchall()
        steps[name] = round(time.perf_counter() - started, 3)

    paths = {"paths": [path]}
    run("A1 distinct hashes (scan 1)", add_hashes_sql(HASH, f"{rel} r"), paths)
    typed = [f"timezone('UTC', r.{time_col}) AS {time_col}",
             *(f"{expr} AS {name}" for name, expr, _ in others),
             f"h.hash_no AS {HASH}"]
    checks = [(time_col, TS_CHECK.format(c=f"r.{time_col}")),
              *((name, check) for name, _, check in others),
              (HASH, "CASE WHEN h.hash IS NULL THEN NULL WHEN NOT h.ok THEN "
                     "'not 64 hexadecimal characters' END")]
    reason_case = "CASE " + " ".join(f"WHEN ({expr}) IS NOT NULL THEN '{name}'"
                                     for name, expr in checks) + " END"
    reason_text = "coalesce(" + ", ".join(expr for _, expr in checks) + ")"
    run("A2 checked staging with reasons (scan 2, join on hash text)",
        f"CREATE TEMP TABLE stage_checked AS SELECT r.file_no, r.record, {', '.join(typed)}, "
        f"{reason_case} AS bad_column, {reason_text} AS bad_reason FROM {rel} r "
        f"LEFT JOIN hash_dict h ON h.raw = r.{HASH}", paths)
    run("A3 per-file counts", "SELECT file_no, count(*), count(bad_column) FROM stage_checked "
        "GROUP BY file_no")
    cols = [time_col, *(name for name, _, _ in others)]
    run("A4 valid rows into stage_<table>",
        f"CREATE TEMP TABLE stage_a AS SELECT {', '.join(cols)}, {HASH} AS hash_no "
        "FROM stage_checked WHERE bad_column IS NULL")
    con.execute("DROP TABLE stage_checked")
    con.execute("SET preserve_insertion_order = true")
    rows = f"SELECT {', '.join(cols)}, hash_no AS identifier_id, 1 AS copies FROM stage_a"
    run("A5 fold, sort, store", f"CREATE TABLE log_a AS {stored(table, rows)}")
    con.execute("SET preserve_insertion_order = false")
    return steps


def variant_b(con: duckdb.DuckDBPyConnection, table: str, path: str,
              fold: bool = True) -> dict[str, float]:
    time_col, others, _ = SPECS[table]
    rel = relation(table, con, path, with_record=False)
    steps: dict[str, float] = {}
    tag = "B" if fold else "C"

    def run(name: str, sql: str, params: dict[str, object] | None = None) -> None:
        started = time.perf_counter()
        con.execute(sql, params or {}).fetchall()
        steps[f"{tag}{name}"] = round(time.perf_counter() - started, 3)

    paths = {"paths": [path]}
    ok = " AND ".join(f"({check}) IS NULL" for check in
                      [TS_CHECK.format(c=f"r.{time_col}"), *(c for _, _, c in others)])
    cols = [time_col, *(name for name, _, _ in others)]
    run("1 one scan: typed values, hash text, validity flag",
        f"CREATE TEMP TABLE stage_{tag} AS SELECT r.file_no, "
        f"timezone('UTC', r.{time_col}) AS {time_col}, "
        + ", ".join(f"{expr} AS {name}" for name, expr, _ in others)
        + f", r.{HASH} AS raw_hash, {ok} AS row_ok FROM {rel} r", paths)
    con.execute(f"CREATE TEMP TABLE dict_{tag} AS SELECT * FROM hash_dict LIMIT 0")
    run("2 distinct hashes from the staged table",
        add_hashes_sql("raw_hash", f"stage_{tag}").replace("hash_dict", f"dict_{tag}"))
    run("3 invalid rows per file (re-read a file only when > 0)",
        f"SELECT s.file_no, count(*), count(*) FILTER (NOT s.row_ok OR NOT coalesce(d.ok, "
        f"true)) FROM stage_{tag} s LEFT JOIN dict_{tag} d ON d.raw = s.raw_hash "
        "GROUP BY s.file_no")
    con.execute("SET preserve_insertion_order = true")
    rows = (f"SELECT {', '.join(f's.{c}' for c in cols)}, d.hash_no AS identifier_id, "
            f"1 AS copies FROM stage_{tag} s LEFT JOIN dict_{tag} d ON d.raw = s.raw_hash "
            "WHERE s.row_ok AND coalesce(d.ok, true)")
    run("4 number, fold, sort, store in one statement",
        f"CREATE TABLE log_{tag} AS {stored(table, rows, fold)}")
    con.execute("SET preserve_insertion_order = false")
    return steps


def checksum(con: duckdb.DuckDBPyConnection, name: str) -> list[object]:
    return list(con.execute(f"SELECT count(*), sum(copies), bit_xor(hash(t_s, t_us, "
                            f"identifier_id)) FROM {name}").fetchall()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--table", nargs="+", default=["matches", "uploads"],
                        choices=sorted(SPECS))
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--order", default="ABC")
    args = parser.parse_args()
    out = {}
    for table in args.table:
        path = str(args.data / f"{table}.parquet")
        results: dict[str, object] = {}
        for variant in args.order:
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET memory_limit = $1", [args.memory_limit])
            con.execute("CREATE TEMP TABLE stage_files (file_no INTEGER, path VARCHAR, "
                        "snapshot_from_name DATE)")
            con.execute("INSERT INTO stage_files VALUES (0, $1, NULL)", [path])
            con.execute("CREATE TEMP TABLE hash_dict (raw VARCHAR, hash VARCHAR, ok BOOLEAN, "
                        "hash_no INTEGER)")
            started = time.perf_counter()
            steps = (variant_a(con, table, path) if variant == "A" else
                     variant_b(con, table, path, fold=variant == "B"))
            total = round(time.perf_counter() - started, 2)
            name = {"A": "log_a", "B": "log_B", "C": "log_C"}[variant]
            results[variant] = {"seconds": total, "steps": steps,
                                "check": checksum(con, name)}
            con.close()
        if "A" in results and "B" in results:
            results["same_rows"] = results["A"]["check"] == results["B"]["check"]  # type: ignore[index]
        out[table] = results
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
