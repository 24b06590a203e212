"""Contact snapshots -> runs of unchanged purposes per contact key.

A key's row repeats in every snapshot while nothing changes; storing one run
per change keeps the workspace proportional to changes, not to snapshots.
Owner of `snapshots`, `purpose_sets` and `contact_runs`. The statements are written
once, in DuckDB's dialect, and run through an `Engine`: on the DuckDB workspace, or on
Spark temp views (`spark/engine.py` carries them over, INSERT and DELETE included).
"""

from __future__ import annotations

from incidentscope.engine import Engine

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
# (hash_no is one-to-one with the identifier: see the loader's `hash_dict`.)
_NEW_STATES = """
CREATE TEMP TABLE new_states AS
WITH grouped AS (
    SELECT snapshot_date, account_id, channel, hash_no,
           min(purposes) AS lowest, max(purposes) AS highest
    FROM {rows}
    GROUP BY snapshot_date, account_id, channel, hash_no
)
SELECT g.snapshot_date, g.account_id, g.channel, i.identifier_id, p.purposes
FROM grouped g
JOIN hash_identifier i ON i.hash_no = g.hash_no
JOIN purpose_texts p ON p.raw = g.lowest
WHERE g.lowest = g.highest
UNION ALL
SELECT s.snapshot_date, s.account_id, s.channel, i.identifier_id,
       array_to_string(list_sort(list_distinct(flatten(list(string_split(p.purposes, '|'))))),
                       '|') AS purposes
FROM {rows} s
JOIN grouped g ON g.snapshot_date = s.snapshot_date AND g.account_id = s.account_id
              AND g.channel = s.channel AND g.hash_no = s.hash_no
JOIN hash_identifier i ON i.hash_no = s.hash_no
JOIN purpose_texts p ON p.raw = s.purposes
WHERE g.lowest <> g.highest
GROUP BY s.snapshot_date, s.account_id, s.channel, i.identifier_id
"""

# The first load of contacts into an empty workspace, when the staged rows are distinct
# (the DuckDB loader removes identical rows per file, so this holds when no snapshot date
# came from two files; the Spark loader removes them per load): a (key, purposes) group has
# one row per snapshot. A key with a single group whose row count equals its span of snapshot
# positions is then one run, found by one small hash aggregate; only the rows of other
# keys (purposes that changed, or rows of one snapshot that disagree) take the general
# path below.
_SIMPLE_RUNS = """
CREATE TEMP TABLE simple_runs AS
WITH positions AS (
    SELECT snapshot_date, row_number() OVER (ORDER BY snapshot_date) AS position
    FROM (SELECT DISTINCT snapshot_date FROM stage_contacts) d
),
spans AS (
    SELECT s.account_id, s.channel, s.hash_no, s.purposes,
           min(s.snapshot_date) AS first_snapshot, max(s.snapshot_date) AS last_snapshot,
           count(*) = max(p.position) - min(p.position) + 1 AS contiguous,
           count(*) OVER (PARTITION BY s.account_id, s.channel, s.hash_no) AS groups
    FROM stage_contacts s JOIN positions p ON p.snapshot_date = s.snapshot_date
    GROUP BY s.account_id, s.channel, s.hash_no, s.purposes
)
SELECT sp.account_id, sp.channel, i.identifier_id, t.purposes, sp.hash_no,
       sp.first_snapshot, sp.last_snapshot
FROM spans sp
JOIN hash_identifier i ON i.hash_no = sp.hash_no
JOIN purpose_texts t ON t.raw = sp.purposes
WHERE sp.contiguous AND sp.groups = 1
"""

_REST_CONTACTS = """
CREATE TEMP TABLE rest_contacts AS
SELECT s.* FROM stage_contacts s
WHERE NOT EXISTS (SELECT 1 FROM simple_runs r WHERE r.account_id = s.account_id
                  AND r.channel = s.channel AND r.hash_no = s.hash_no)
"""

_NEW_PURPOSE_SETS = """
INSERT INTO purpose_sets
SELECT (SELECT coalesce(max(purposes_id), 0) FROM purpose_sets)
       + row_number() OVER (ORDER BY purposes), purposes
FROM (SELECT purposes FROM new_states UNION SELECT purposes FROM simple_runs) n
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
SELECT DISTINCT snapshot_date FROM stage_contacts
WHERE snapshot_date NOT IN (SELECT snapshot_date FROM snapshots)
"""

# Gaps and islands: consecutive snapshot positions with the same purposes form one run.
# A key has one state per snapshot, so a (key, purposes) group whose count equals its
# span of positions is one run: a hash aggregate settles almost every key, and only the
# others (a key whose purposes changed and changed back) are sorted into islands.
_RUNS = """
CREATE TEMP TABLE new_runs AS
WITH positions AS (
    SELECT snapshot_date, row_number() OVER (ORDER BY snapshot_date) AS position
    FROM snapshots
),
placed AS (
    SELECT a.account_id, a.channel, a.identifier_id, a.purposes_id, a.snapshot_date,
           p.position
    FROM all_states a JOIN positions p ON p.snapshot_date = a.snapshot_date
),
spans AS (
    SELECT account_id, channel, identifier_id, purposes_id,
           min(snapshot_date) AS first_snapshot, max(snapshot_date) AS last_snapshot,
           count(*) = max(position) - min(position) + 1 AS contiguous
    FROM placed
    GROUP BY account_id, channel, identifier_id, purposes_id
),
broken AS (
    SELECT p.account_id, p.channel, p.identifier_id, p.purposes_id, p.snapshot_date,
           p.position - row_number() OVER (
               PARTITION BY p.account_id, p.channel, p.identifier_id, p.purposes_id
               ORDER BY p.position) AS island
    FROM placed p
    JOIN spans s ON s.account_id = p.account_id AND s.channel = p.channel
                AND s.identifier_id = p.identifier_id AND s.purposes_id = p.purposes_id
    WHERE NOT s.contiguous
)
SELECT account_id, channel, identifier_id, purposes_id, first_snapshot, last_snapshot
FROM spans WHERE contiguous
UNION ALL
SELECT account_id, channel, identifier_id, purposes_id,
       min(snapshot_date), max(snapshot_date)
FROM broken
GROUP BY account_id, channel, identifier_id, purposes_id, island
"""


# The temporary tables `add_snapshots` makes (and drops when it is done).
TEMP_TABLES = ("purpose_texts", "simple_runs", "rest_contacts", "new_states", "all_states",
               "new_runs")


def add_snapshots(engine: Engine, *, rows_distinct: bool) -> None:
    """Fold the staged contact rows (`stage_contacts`) into `contact_runs`.

    `hash_identifier` (hash_no -> identifier_id) is the loader's map of this load's hashes;
    `rows_distinct`: no two staged rows are identical (snapshot date, key, purposes).
    """
    engine.execute(_PURPOSE_TEXTS)
    first_load = not engine.rows("SELECT 1 FROM snapshots LIMIT 1")
    if first_load and rows_distinct:
        engine.execute(_SIMPLE_RUNS)
        engine.execute(_REST_CONTACTS)
        rows = "rest_contacts"
    else:
        engine.execute("CREATE TEMP TABLE simple_runs AS SELECT NULL::BIGINT AS account_id, "
                       "NULL::VARCHAR AS channel, NULL::BIGINT AS identifier_id, "
                       "NULL::VARCHAR AS purposes, NULL::INTEGER AS hash_no, "
                       "NULL::DATE AS first_snapshot, NULL::DATE AS last_snapshot LIMIT 0")
        rows = "stage_contacts"
    engine.execute(_NEW_STATES.format(rows=rows))
    engine.execute(_NEW_PURPOSE_SETS)
    engine.execute(_ALL_STATES)
    engine.execute(_NEW_SNAPSHOTS)
    engine.execute(_RUNS)
    engine.execute("DELETE FROM contact_runs")
    engine.execute("INSERT INTO contact_runs SELECT * FROM new_runs")
    engine.execute("""
        INSERT INTO contact_runs
        SELECT r.account_id, r.channel, r.identifier_id, p.purposes_id, r.first_snapshot,
               r.last_snapshot
        FROM simple_runs r JOIN purpose_sets p ON p.purposes = r.purposes""")
    for name in TEMP_TABLES:
        engine.execute(f"DROP TABLE IF EXISTS {name}")
