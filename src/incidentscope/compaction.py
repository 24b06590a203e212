"""Contact snapshots -> runs of unchanged purposes per contact key.

A key's row repeats in every snapshot while nothing changes; storing one run
per change keeps the workspace proportional to changes, not to snapshots.
Owner of `snapshots`, `purpose_sets` and `contact_runs`.
"""

from __future__ import annotations

import duckdb

# Purposes arrive as typed ('signup | profile'); each distinct text is made canonical
# (labels trimmed, de-duplicated, sorted) once, not once per row.
_PURPOSE_TEXTS = """
CREATE TEMP TABLE purpose_texts AS
SELECT raw,
       array_to_string(list_sort(list_distinct(list_filter(
           list_transform(string_split(raw, '|'), lambda x: trim(x)),
           lambda x: x <> ''))), '|') AS purposes
FROM (SELECT DISTINCT purposes AS raw FROM stage_contacts) t
"""

# One state per key and snapshot. Duplicate rows of a key in one snapshot have their
# purposes united; that is rare, so only keys whose rows disagree pay for list work.
_NEW_STATES = """
CREATE TEMP TABLE new_states AS
WITH keyed AS (
    SELECT s.snapshot_date, s.account_id, s.channel, i.identifier_id, p.purposes
    FROM stage_contacts s
    JOIN identifiers i ON i.pseudonym = s.pseudonym
    JOIN purpose_texts p ON p.raw = s.purposes
),
grouped AS (
    SELECT snapshot_date, account_id, channel, identifier_id,
           min(purposes) AS lowest, max(purposes) AS highest
    FROM keyed
    GROUP BY snapshot_date, account_id, channel, identifier_id
)
SELECT snapshot_date, account_id, channel, identifier_id, lowest AS purposes
FROM grouped WHERE lowest = highest
UNION ALL
SELECT k.snapshot_date, k.account_id, k.channel, k.identifier_id,
       array_to_string(list_sort(list_distinct(flatten(list(string_split(k.purposes, '|'))))),
                       '|') AS purposes
FROM keyed k
JOIN grouped g ON g.snapshot_date = k.snapshot_date AND g.account_id = k.account_id
              AND g.channel = k.channel AND g.identifier_id = k.identifier_id
WHERE g.lowest <> g.highest
GROUP BY k.snapshot_date, k.account_id, k.channel, k.identifier_id
"""

_NEW_PURPOSE_SETS = """
INSERT INTO purpose_sets
SELECT (SELECT coalesce(max(purposes_id), 0) FROM purpose_sets)
       + row_number() OVER (ORDER BY purposes), purposes
FROM (SELECT DISTINCT purposes FROM new_states) n
WHERE NOT EXISTS (SELECT 1 FROM purpose_sets p WHERE p.purposes = n.purposes)
"""

# Existing runs are expanded over the snapshots known BEFORE this load, so a new
# snapshot between two old ones takes its states from its own file alone.
_ALL_STATES = """
CREATE TEMP TABLE all_states AS
SELECT s.snapshot_date, r.account_id, r.channel, r.identifier_id, r.purposes_id
FROM contact_runs r
JOIN snapshots s ON s.snapshot_date BETWEEN r.first_snapshot AND r.last_snapshot
UNION ALL
SELECT n.snapshot_date, n.account_id, n.channel, n.identifier_id, p.purposes_id
FROM new_states n JOIN purpose_sets p ON p.purposes = n.purposes
"""

_NEW_SNAPSHOTS = """
INSERT INTO snapshots
SELECT DISTINCT snapshot_date FROM new_states
WHERE snapshot_date NOT IN (SELECT snapshot_date FROM snapshots)
"""

# Gaps and islands: consecutive snapshot positions with the same purposes form one run.
_RUNS = """
CREATE TEMP TABLE new_runs AS
WITH positions AS (
    SELECT snapshot_date, row_number() OVER (ORDER BY snapshot_date) AS position
    FROM snapshots
),
numbered AS (
    SELECT a.account_id, a.channel, a.identifier_id, a.purposes_id, a.snapshot_date,
           p.position - row_number() OVER (
               PARTITION BY a.account_id, a.channel, a.identifier_id, a.purposes_id
               ORDER BY p.position) AS island
    FROM all_states a JOIN positions p ON p.snapshot_date = a.snapshot_date
)
SELECT account_id, channel, identifier_id, purposes_id,
       min(snapshot_date) AS first_snapshot, max(snapshot_date) AS last_snapshot
FROM numbered
GROUP BY account_id, channel, identifier_id, purposes_id, island
"""


def add_snapshots(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the staged contact rows (`stage_contacts`) into `contact_runs`."""
    con.execute(_PURPOSE_TEXTS)
    con.execute(_NEW_STATES)
    con.execute(_NEW_PURPOSE_SETS)
    con.execute(_ALL_STATES)
    con.execute(_NEW_SNAPSHOTS)
    con.execute(_RUNS)
    con.execute("DELETE FROM contact_runs")
    con.execute("INSERT INTO contact_runs SELECT * FROM new_runs")
    for name in ("purpose_texts", "new_states", "all_states", "new_runs"):
        con.execute(f"DROP TABLE {name}")
