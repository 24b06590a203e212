"""The scan floor: one DuckDB query that reads every input column once (issue 19).

    python bench/scan_floor.py DATA_DIR [--repeat 3]

Every table of the data directory (a file `TABLE.parquet` / `TABLE.csv`, or a folder
`TABLE/` of such files) is read in one statement: per table the row count and, per
column, the XOR of DuckDB's `hash` of every value, the tables joined by UNION ALL. No
load can read its inputs in less time than this. Parquet columns are read with their
own types; CSV files as text (header, comma, all columns VARCHAR). Prints JSON: the
seconds of the query (best and first of --repeat runs, in this process), rows per
table and the bytes read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb


def tables(data: Path) -> dict[str, tuple[str, list[str]]]:
    """table -> (format, files)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(data.iterdir()):
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        files = [p for p in files if p.suffix in (".parquet", ".csv")]
        if files:
            name = path.name if path.is_dir() else path.name.split(".")[0]
            found[name] = (files[0].suffix[1:], [str(p) for p in files])
    return found


def floor_query(con: duckdb.DuckDBPyConnection, data: Path) -> tuple[str, dict[str, object]]:
    """The query and its parameters (each table's file list)."""
    parts, params = [], {}
    for number, (kind, files) in enumerate(tables(data).values()):
        params[f"files{number}"] = files
        source = (f"read_parquet($files{number})" if kind == "parquet" else
                  f"read_csv($files{number}, header = true, delim = ',', all_varchar = true)")
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}",  # noqa: S608
                                                 {f"files{number}": files}).fetchall()]
        hashes = ", ".join('bit_xor(hash("' + c.replace('"', '""') + '"))' for c in columns)
        parts.append(f"SELECT {number} AS t, count(*) AS n, [{hashes}] AS h "  # noqa: S608
                     f"FROM {source}")
    return "\nUNION ALL\n".join(parts), params


def measure(data: Path, repeat: int) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql, params = floor_query(con, data)
    names = list(tables(data))
    times, rows = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        result = con.execute(sql, params).fetchall()
        times.append(time.perf_counter() - started)
        rows = {names[int(r[0])]: int(r[1]) for r in result}
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return {"seconds": round(min(times), 3), "first_seconds": round(times[0], 3),
            "runs": len(times), "rows": rows, "input_mb": round(size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.data, args.repeat)))


if __name__ == "__main__":
    main()
