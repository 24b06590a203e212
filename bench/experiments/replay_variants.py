"""Experiment (issue 19): replay alternatives on a loaded workspace, against today's SQL.

    python bench/experiments/replay_variants.py WORKSPACE.duckdb INCIDENT.toml
        [--memory-limit 3GB] [--json OUT]

Works on a copy of the workspace (WORKSPACE.duckdb is not changed). In one process, each
statement timed, DuckDB's memory (`duckdb_memory()`) read after each:

1. today's replay steps 01 to 10 (src/incidentscope/sql), as `incidentscope replay` runs
   them, and every figure query that reads `classified` or `candidate_states`;
2. **candidate_states**: what the table costs (step 06, then step 07 from it) against
   step 07 computed directly from the signatures and the contact runs (as before issue
   16), and its four readers (step 10, by_channel, contacts_used, the two estimate
   queries) on the table against the same readers on a view of step 06's query;
3. **a replay that aggregates before it stores**: instead of `classified` (one row per
   in-scope match, 19 columns), `classified_flagged` (the matches that are not
   permitted, per match), `permitted_summary` (permitted matches counted per window,
   week: class counts, weekly chart, times) and `permitted_first` (the first permitted
   match per account and audience, only for accounts with a flagged match: all that the
   delivery figures and the notices' ads_served need of permitted matches: a delivery
   counts only when no earlier match of the account into the campaign's audiences is
   permitted). The figure queries are run on these tables (text substitution, and
   rewritten class_counts, weekly, times, delivery exposure and notice_facts), and their
   results compared with today's, figure by figure.

Prints JSON (and writes --json): seconds, memory, and whether each alternative gives the
same figures.
"""

# ruff: noqa: S608 - SQL assembled from the project's SQL files and this script's constants

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from incidentscope import figures, replay
from incidentscope.config import load_incident
from incidentscope.engine import DuckDBEngine
from incidentscope.estimate import MATCH_PROBABILITIES, UPLOAD_PROBABILITIES
from incidentscope.sqlutil import bind

DIRECT_SIGNATURE_STATES = """
CREATE TEMP TABLE signature_states_direct AS
SELECT s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact,
       s.outside,
       MAX(CASE WHEN s.outside THEN 1
                WHEN ps.restricted
                     AND ((r.first_snapshot <= s.sig_prev AND s.sig_prev <= r.last_snapshot)
                          OR (NOT s.exact AND r.first_snapshot <= s.sig_next
                              AND s.sig_next <= r.last_snapshot))
                THEN 1 ELSE 0 END) AS may_restricted,
       MAX(CASE WHEN s.outside THEN 1
                WHEN NOT ps.restricted
                     AND ((r.first_snapshot <= s.sig_prev AND s.sig_prev <= r.last_snapshot)
                          OR (NOT s.exact AND r.first_snapshot <= s.sig_next
                              AND s.sig_next <= r.last_snapshot))
                THEN 1 ELSE 0 END) AS may_permitted
FROM signatures s
JOIN contact_runs r
  ON r.account_id = s.account_id
 AND (s.sig_channel = '' OR r.channel = s.sig_channel)
 AND (s.sig_identifier = 0 OR r.identifier_id = s.sig_identifier)
JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
GROUP BY s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact,
         s.outside
"""

SIG = ("account_id", "sig_channel", "sig_identifier", "sig_prev", "sig_next", "exact",
       "outside")

# -- the compact classification --------------------------------------------------------
COMPACT_WEEKLY = """
SELECT week, match_class, CAST(SUM(n) AS BIGINT) AS matches FROM (
    SELECT CAST(date_trunc('week', matched_at) AS DATE) AS week, match_class,
           count(*) AS n
    FROM classified_flagged WHERE in_window OR post_fix GROUP BY 1, 2
    UNION ALL
    SELECT week, 'permitted', SUM(n) FROM permitted_summary
    WHERE in_window OR post_fix GROUP BY 1
) GROUP BY 1, 2 ORDER BY 1, 2
"""
COMPACT_CLASS_COUNTS = """
SELECT in_window, match_class, count(*), coalesce(sum(copies - 1), 0)
FROM classified_flagged WHERE in_window OR post_fix GROUP BY in_window, match_class
UNION ALL
SELECT in_window, 'permitted', SUM(n), SUM(extra_copies)
FROM permitted_summary WHERE in_window OR post_fix GROUP BY in_window
"""
COMPACT_TIMES = """
SELECT LEAST(f.a, p.a), GREATEST(f.b, p.b), f.c, f.d, f.e, f.f FROM (
    SELECT MIN(matched_at) AS a, MAX(matched_at) AS b,
           MIN(CASE WHEN match_class = 'caused' THEN matched_at END) AS c,
           MAX(CASE WHEN match_class = 'caused' THEN matched_at END) AS d,
           MIN(matched_at) AS e, MAX(matched_at) AS f
    FROM classified_flagged WHERE in_window) f,
  (SELECT MIN(first_at) AS a, MAX(last_at) AS b FROM permitted_summary WHERE in_window) p
"""
ALL_MATCHES = ("(SELECT account_id, audience_id, matched_at, match_class FROM "
               "classified_flagged UNION ALL SELECT account_id, audience_id, matched_at, "
               "'permitted' FROM permitted_first)")


def _whole(text: str, old: str, new: str) -> str:
    return re.sub(rf"\b{old}\b", new, text)


def compact_sql(name: str, text: str) -> str:
    """A figure query on the compact tables instead of `classified`."""
    if name == "figures/weekly":
        return COMPACT_WEEKLY
    if name == "figures/class_counts":
        return COMPACT_CLASS_COUNTS
    if name == "figures/times":
        return COMPACT_TIMES
    if name == "11_delivery_exposure":
        assert "    FROM classified\n    WHERE" in text, "11_delivery_exposure changed"
        return text.replace("""    SELECT account_id, audience_id, matched_at, match_class
    FROM classified
    WHERE""", f"""    SELECT account_id, audience_id, matched_at, match_class
    FROM {ALL_MATCHES} m
    WHERE""")
    if name == "figures/notice_facts":
        assert "JOIN classified m ON" in text, "notice_facts changed"
        text = text.replace("JOIN classified m ON", f"JOIN {ALL_MATCHES} m ON")
        return _whole(text, "classified", "classified_flagged")
    return _whole(text, "classified", "classified_flagged")


class Timer:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.sampler = con.cursor()
        self.log: list[dict[str, Any]] = []

    def memory_mb(self) -> tuple[float, float]:
        row = self.sampler.execute("SELECT coalesce(sum(memory_usage_bytes), 0), coalesce(sum("
                                   "temporary_storage_bytes), 0) FROM duckdb_memory()"
                                   ).fetchall()[0]
        return round(int(row[0]) / 2**20, 1), round(int(row[1]) / 2**20, 1)

    def run(self, label: str, sql: str, params: dict[str, Any] | None = None) -> Any:
        started = time.perf_counter()
        rows = self.con.execute(sql, bind(sql, dict(params or {}))).fetchall()
        seconds = round(time.perf_counter() - started, 3)
        memory, spilled = self.memory_mb()
        self.log.append({"label": label, "seconds": seconds, "memory_mb": memory,
                         "spilled_mb": spilled})
        return rows

    def seconds(self, label: str) -> float:
        return sum(e["seconds"] for e in self.log if e["label"] == label)


def canon(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("incident", type=Path)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="replay-variants-", dir=args.workspace.parent))
    try:
        copy = scratch / "ws.duckdb"
        shutil.copy(args.workspace, copy)
        out = experiment(copy, args.incident, args.memory_limit, args.threads, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(out, indent=1, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


def experiment(db: Path, incident_path: Path, memory_limit: str, threads: int | None,
               scratch: Path) -> dict[str, Any]:
    incident = load_incident(incident_path)
    config: dict[str, Any] = {"memory_limit": memory_limit}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(db), config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = $1", [str(scratch / "tmp")])
    engine = DuckDBEngine(con)
    timer = Timer(con)
    window_start = incident.window_start or replay.earliest_match(engine) or incident.fix_at
    params = {"window_start": window_start, "fix_at": incident.fix_at,
              "use_uploads": incident.use_uploads}
    replay._prepare_parameters(engine, incident)  # the replay's own parameter tables
    out: dict[str, Any] = {"memory_limit": memory_limit, "threads": threads}
    steps = {name: replay.step_sql(name) for name in replay.STEPS}
    for name in replay.STEPS[:5]:
        timer.run(name, steps[name], params)
    base = timer.memory_mb()[0]
    timer.run("06_candidate_states", steps["06_candidate_states"])
    out["candidate_states_mb"] = round(timer.memory_mb()[0] - base, 1)
    timer.run("07_signature_states", steps["07_signature_states"])
    timer.run("07_direct", DIRECT_SIGNATURE_STATES)
    cols = ", ".join((*SIG, "may_restricted", "may_permitted"))
    diff = timer.run("check", f"SELECT count(*) FROM (SELECT {cols} FROM signature_states "
                              f"EXCEPT SELECT {cols} FROM signature_states_direct UNION ALL "
                              f"SELECT {cols} FROM signature_states_direct EXCEPT SELECT "
                              f"{cols} FROM signature_states)")
    out["direct_signature_states_equal"] = int(diff[0][0]) == 0
    con.execute("DROP TABLE signature_states_direct")
    before = timer.memory_mb()[0]
    timer.run("08_classified", steps["08_classified"], params)
    out["classified_mb"] = round(timer.memory_mb()[0] - before, 1)
    out["classified_rows"] = con.execute("SELECT count(*) FROM classified").fetchall()[0][0]
    timer.run("09_account_outcomes", steps["09_account_outcomes"], params)
    timer.run("10_upload_pairs", "CREATE TEMP TABLE upload_pairs AS\n"
              + steps["10_upload_pairs"], {**params, "slices": 1, "slice": 0})
    share = round(float(con.execute(
        "SELECT SUM(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END) / SUM(CASE WHEN "
        "match_class IN ('caused', 'permitted') THEN 1 ELSE 0 END) FROM classified "
        "WHERE in_window").fetchall()[0][0] or 0.5), 12)

    # -- 2. candidate_states: table against view ------------------------------------
    readers = {"10_upload_pairs": "SELECT count(*) FROM (" + steps["10_upload_pairs"] + ")",
               "figures/by_channel": figures.figure_sql("by_channel"),
               "figures/contacts_used": figures.figure_sql("contacts_used"),
               "estimate": MATCH_PROBABILITIES, "estimate_uploads": UPLOAD_PROBABILITIES}
    reader_params = {**params, "caused_share": share, "slices": 1, "slice": 0}
    results: dict[str, Any] = {}
    for name, sql in readers.items():
        results[name] = canon(timer.run(f"table: {name}", sql, reader_params))
    con.execute("ALTER TABLE candidate_states RENAME TO candidate_states_table")
    select = steps["06_candidate_states"].split("CREATE TEMP TABLE candidate_states AS", 1)[1]
    con.execute(f"CREATE TEMP VIEW candidate_states AS {select}")
    same = True
    for name, sql in readers.items():
        same &= canon(timer.run(f"view: {name}", sql, reader_params)) == results[name]
    con.execute("DROP VIEW candidate_states")
    con.execute("ALTER TABLE candidate_states_table RENAME TO candidate_states")
    out["candidate_states"] = {
        "table_06": timer.seconds("06_candidate_states"),
        "07_from_table": timer.seconds("07_signature_states"),
        "07_direct": timer.seconds("07_direct"),
        "readers_on_table": round(sum(timer.seconds(f"table: {n}") for n in readers), 3),
        "readers_on_view": round(sum(timer.seconds(f"view: {n}") for n in readers), 3),
        "view_same_figures": same}

    # -- 3. the compact classification ----------------------------------------------
    figure_names = ["figures/affected", "figures/class_counts", "figures/breakdowns",
                    "figures/by_channel", "figures/campaigns", "figures/entities",
                    "figures/contacts_used", "figures/coverage", "figures/times",
                    "figures/weekly", "figures/notice_facts", "figures/uploads"]
    texts = {name: figures.figure_sql(name.split("/", 1)[1]) for name in figure_names}
    texts["09_account_outcomes"] = steps["09_account_outcomes"].replace(
        "CREATE TEMP TABLE account_outcomes AS", "")
    texts["11_delivery_exposure"] = figures.sql(figures.DELIVERY_EXPOSURE)
    texts["estimate"] = MATCH_PROBABILITIES
    fig_params = {**params, "caused_share": share, "slices": 1, "slice": 0}
    current = {name: canon(timer.run(f"current: {name}", sql, fig_params))
               for name, sql in texts.items()}
    classify_select = steps["08_classified"].split("CREATE TEMP TABLE classified AS", 1)[1]
    before = timer.memory_mb()[0]
    timer.run("compact: classified_flagged",
              f"CREATE TEMP TABLE classified_flagged AS SELECT * FROM ({classify_select}) c "
              "WHERE match_class <> 'permitted'", params)
    timer.run("compact: permitted_summary", f"""
        CREATE TEMP TABLE permitted_summary AS
        SELECT in_window, post_fix, CAST(date_trunc('week', matched_at) AS DATE) AS week,
               count(*) AS n, coalesce(sum(copies - 1), 0) AS extra_copies,
               MIN(matched_at) AS first_at, MAX(matched_at) AS last_at
        FROM ({classify_select}) c WHERE match_class = 'permitted' GROUP BY 1, 2, 3""",
              params)
    timer.run("compact: permitted_first", f"""
        CREATE TEMP TABLE permitted_first AS
        SELECT account_id, audience_id, MIN(matched_at) AS matched_at
        FROM ({classify_select}) c
        WHERE match_class = 'permitted'
          AND account_id IN (SELECT account_id FROM classified_flagged)
        GROUP BY account_id, audience_id""", params)
    out["compact_mb"] = round(timer.memory_mb()[0] - before, 1)
    out["compact_rows"] = {name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                           for name in ("classified_flagged", "permitted_summary",
                                        "permitted_first")}
    equal = {}
    for name, sql in texts.items():
        found = canon(timer.run(f"compact: {name}", compact_sql(name, sql), fig_params))
        equal[name] = found == current[name]
    out["compact"] = {
        "build_classified": timer.seconds("08_classified"),
        "build_compact": round(sum(timer.seconds(f"compact: {n}") for n in (
            "classified_flagged", "permitted_summary", "permitted_first")), 3),
        "readers_current": round(sum(timer.seconds(f"current: {n}") for n in texts), 3),
        "readers_compact": round(sum(timer.seconds(f"compact: {n}") for n in texts), 3),
        "same_figures": equal}
    out["statements"] = timer.log
    con.close()
    return out


if __name__ == "__main__":
    main()
