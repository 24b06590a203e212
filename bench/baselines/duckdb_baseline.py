"""Baseline (a): a straightforward hand-written DuckDB query over the input files.

It computes only the core figures (in-window match classes and affected accounts
lower/upper) the way an engineer would write it directly: snapshot rows joined
to each match through the snapshot before and after it. Inputs: the generator's
pre-hashed Parquet layout (contacts/contacts_YYYY-MM-DD.parquet, matches.parquet,
audiences.parquet), without damage.

    python bench/baselines/duckdb_baseline.py DATA_DIR WINDOW_START FIX_AT
prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import duckdb

QUERY = """
WITH contact_rows AS (
    SELECT CAST(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2})', 1) AS DATE) AS snapshot_date,
           account_id, channel, contact_sha256, purposes
    FROM read_parquet($contacts, filename = true)
),
states AS (  -- one row per key and snapshot; restricted when every purpose is a security one
    SELECT snapshot_date, account_id, channel, contact_sha256,
           bool_and(list_has_all(['two_factor', 'account_recovery'],
                                 string_split(purposes, '|'))) AS restricted
    FROM contact_rows GROUP BY ALL
),
snapshot_list AS (SELECT DISTINCT snapshot_date FROM states),
keys AS (SELECT DISTINCT account_id, channel, contact_sha256 FROM states),
m AS (
    SELECT DISTINCT x.matched_at, x.account_id, x.audience_id, x.channel, x.identifier_sha256
    FROM read_parquet($matches) x
    JOIN read_parquet($audiences) a ON a.audience_id = x.audience_id
    WHERE a.audience_type IN ('tailored', 'partner')
      AND x.matched_at >= $window_start AND x.matched_at < $fix_at
),
bracketed AS (
    SELECT m.*,
           (SELECT max(snapshot_date) FROM snapshot_list s
            WHERE CAST(s.snapshot_date AS TIMESTAMP) <= m.matched_at) AS prev_date,
           (SELECT min(snapshot_date) FROM snapshot_list s
            WHERE CAST(s.snapshot_date AS TIMESTAMP) > m.matched_at) AS next_date
    FROM m
),
framed AS (
    SELECT *, row_number() OVER () AS match_no,
           prev_date IS NOT NULL AND CAST(prev_date AS TIMESTAMP) = matched_at AS exact,
           prev_date IS NULL OR next_date IS NULL
               AND CAST(prev_date AS TIMESTAMP) <> matched_at AS outside
    FROM bracketed
),
candidate_states AS (
    SELECT f.match_no, s.restricted
    FROM framed f JOIN states s
      ON s.account_id = f.account_id
     AND (f.channel IS NULL OR s.channel = f.channel)
     AND (f.identifier_sha256 IS NULL OR s.contact_sha256 = f.identifier_sha256)
     AND (s.snapshot_date = f.prev_date OR (NOT f.exact AND s.snapshot_date = f.next_date))
    WHERE NOT f.outside
),
outside_candidates AS (
    SELECT DISTINCT f.match_no
    FROM framed f JOIN keys k
      ON k.account_id = f.account_id
     AND (f.channel IS NULL OR k.channel = f.channel)
     AND (f.identifier_sha256 IS NULL OR k.contact_sha256 = f.identifier_sha256)
    WHERE f.outside
),
classified AS (
    SELECT f.match_no, f.account_id,
           CASE WHEN o.match_no IS NOT NULL THEN 'uncertain'
                WHEN bool_or(c.restricted) AND bool_or(NOT c.restricted) THEN 'uncertain'
                WHEN bool_or(c.restricted) THEN 'caused'
                WHEN bool_or(NOT c.restricted) THEN 'permitted'
                ELSE 'unexplained' END AS match_class
    FROM framed f
    LEFT JOIN candidate_states c ON c.match_no = f.match_no
    LEFT JOIN outside_candidates o ON o.match_no = f.match_no
    GROUP BY f.match_no, f.account_id, o.match_no
)
SELECT
    count(*) FILTER (WHERE match_class = 'caused'),
    count(*) FILTER (WHERE match_class = 'permitted'),
    count(*) FILTER (WHERE match_class = 'uncertain'),
    count(*) FILTER (WHERE match_class = 'unexplained'),
    count(DISTINCT account_id) FILTER (WHERE match_class = 'caused'),
    count(DISTINCT account_id) FILTER (WHERE match_class <> 'permitted')
FROM classified
"""


def figures(data_dir: str, window_start: str, fix_at: str) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    limit = os.environ.get("BASELINE_MEMORY_LIMIT")
    if limit:  # only for scale L, which needs more than this machine's memory otherwise
        con.execute("SET memory_limit = $1", [limit])
        con.execute("SET temp_directory = $1", [tempfile.mkdtemp(prefix="baseline-spill-")])
    row = con.execute(QUERY, {
        "contacts": f"{data_dir}/contacts/*.parquet", "matches": f"{data_dir}/matches.parquet",
        "audiences": f"{data_dir}/audiences.parquet",
        "window_start": window_start, "fix_at": fix_at,
    }).fetchall()[0]
    return {
        "matches": dict(zip(("caused", "permitted", "uncertain", "unexplained"), row[:4],
                            strict=True)),
        "affected_accounts": {"lower": row[4], "upper": row[5]},
    }


if __name__ == "__main__":
    print(json.dumps(figures(*sys.argv[1:4])))
