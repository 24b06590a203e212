"""The replay: classify every logged match and compute the report's figures.

The classification runs as named SQL steps (`sql/*.sql`), in standard SQL so
that it can be carried to another engine; values are bound parameters and the
incident's lists arrive as small parameter tables. The figures are then read
with a handful of aggregate queries and assembled into one `ReplayResult`.

Every statement goes through an `Engine` (incidentscope.engine): the DuckDB
workspace connection, or Spark (incidentscope.spark.engine), which transpiles
the same SQL texts. Functions taking `con` accept either.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from incidentscope.config import Incident
from incidentscope.engine import DuckDBEngine, Engine, EngineLike, as_engine
from incidentscope.estimate import account_probabilities
from incidentscope.results import ReplayResult, iso_z

Progress = Callable[[str], None]

STEPS = (
    "01_scope_audiences",
    "02_brackets",
    "03_scoped_matches",
    "04_signature_states",
    "05_classified",
    "06_account_outcomes",
)
# The delivery figures: one query per slice of accounts, run by `_deliveries`.
DELIVERY_EXPOSURE = "07_delivery_exposure"
# In-scope matches plus deliveries per slice of that query: about 3.6 GB of peak memory
# at scale L under a 4 GB limit (docs/benchmarks.md); one slice up to scale M.
EXPOSURE_ROWS_PER_SLICE = 32_000_000
_TEMP_TABLES = ("param_audience_types", "param_snapshot_days", "purpose_state",
                "scope_audiences", "brackets", "scoped_matches", "signature_states",
                "classified", "account_outcomes", "audience_flags")
CLASSES = ("caused", "permitted", "uncertain", "unexplained")
SCHEMA_VERSION = 1


def step_sql(name: str) -> str:
    return resources.files("incidentscope").joinpath("sql", f"{name}.sql").read_text("utf-8")


def all_step_sql() -> dict[str, str]:
    """The SQL of every replay step, the delivery figures and the estimate, for the manifest."""
    from incidentscope.estimate import MATCH_PROBABILITIES

    return {**{name: step_sql(name) for name in (*STEPS, DELIVERY_EXPOSURE)},
            "estimate": MATCH_PROBABILITIES}


def _scalar(con: Engine, sql: str, params: dict[str, Any] | None = None) -> Any:
    row = con.rows(sql, params)[0]
    return row[0] if row else None


def earliest_match(con: EngineLike) -> datetime | None:
    value = _scalar(as_engine(con), "SELECT min(matched_at) FROM matches")
    return value if isinstance(value, datetime) else None


def _lower_upper(con: Engine, column: str, table: str = "classified",
                 where: str = "in_window", params: dict[str, Any] | None = None) -> dict[str, int]:
    # (neither count reads a permitted match: leave them out before counting)
    sql = (f"SELECT COUNT(DISTINCT CASE WHEN match_class = 'caused' THEN {column} END), "
           f"COUNT(DISTINCT {column}) "
           f"FROM {table} WHERE ({where}) AND match_class <> 'permitted'")
    row = con.rows(sql, params)[0]
    assert row is not None
    return {"lower": int(row[0]), "upper": int(row[1])}


# Each figure query reads several figures at once: on Spark every query is a job with a
# fixed overhead, so fewer, wider queries keep a small run fast (DuckDB does not mind).
# A breakdown counts caused (lower) and flagged (upper) matches' accounts and reports only
# keys with an upper count: permitted matches are left out before counting (at scale M,
# 9 of the window's 19M matches remain).
_FLAGGED = ("COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END), "
            "COUNT(DISTINCT c.account_id)")
_FLAGGED_IN_WINDOW = "c.in_window AND c.match_class <> 'permitted'"
_MONTH = ("CAST(CAST(EXTRACT(YEAR FROM c.matched_at) AS INTEGER) * 100 + "
          "CAST(EXTRACT(MONTH FROM c.matched_at) AS INTEGER) AS VARCHAR)")
_BREAKDOWNS = f"""
    SELECT 'by_audience_type' AS breakdown, c.audience_type AS k, {_FLAGGED}
    FROM classified c WHERE {_FLAGGED_IN_WINDOW} GROUP BY c.audience_type
    UNION ALL
    SELECT 'by_channel', c.channel, {_FLAGGED}
    FROM classified c WHERE {_FLAGGED_IN_WINDOW} AND c.channel IS NOT NULL
    GROUP BY c.channel
    UNION ALL
    SELECT 'by_country', acc.country, {_FLAGGED}
    FROM classified c JOIN accounts acc ON acc.account_id = c.account_id
    WHERE {_FLAGGED_IN_WINDOW} GROUP BY acc.country
    UNION ALL
    SELECT 'by_month', {_MONTH}, {_FLAGGED}
    FROM classified c WHERE {_FLAGGED_IN_WINDOW} GROUP BY {_MONTH}"""


def _breakdowns(con: Engine) -> dict[str, dict[str, dict[str, int]]]:
    """by_audience_type, by_channel, by_country and by_month: keys with a non-zero upper."""
    found: dict[str, dict[str, dict[str, int]]] = {
        name: {} for name in ("by_audience_type", "by_channel", "by_country", "by_month")}
    for breakdown, key, lower, upper in con.rows(_BREAKDOWNS):
        if key is not None and upper:
            found[str(breakdown)][str(key)] = {"lower": int(lower), "upper": int(upper)}
    result = {name: dict(sorted(values.items())) for name, values in found.items()}
    result["by_month"] = {f"{key[:4]}-{key[4:]}": value
                          for key, value in result["by_month"].items()}
    return result


def _entity_counts(con: Engine) -> dict[str, dict[str, int]]:
    """Audiences, campaigns, advertisers and partners touched by flagged matches."""
    con.execute("""
        CREATE TEMP TABLE audience_flags AS
        SELECT c.audience_id,
               MAX(CASE WHEN c.match_class = 'caused' THEN 1 ELSE 0 END) AS lower_flag,
               1 AS upper_flag
        FROM classified c WHERE c.in_window AND c.match_class <> 'permitted'
        GROUP BY c.audience_id""")
    parts = []
    for name, column, joins in (
        ("affected_audiences", "f.audience_id", ""),
        ("affected_campaigns", "ca.campaign_id",
         "JOIN campaign_audiences ca ON ca.audience_id = f.audience_id"),
        ("affected_advertisers", "a.advertiser_id",
         "JOIN audiences a ON a.audience_id = f.audience_id"),
        ("affected_partners", "a.partner_id", "JOIN audiences a ON a.audience_id = f.audience_id"),
    ):
        parts.append(f"SELECT '{name}' AS figure, "
                     f"COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN {column} END), "
                     f"COUNT(DISTINCT CASE WHEN f.upper_flag = 1 THEN {column} END) "
                     f"FROM audience_flags f {joins}")
    counts = {str(name): {"lower": int(lower), "upper": int(upper)}
              for name, lower, upper in con.rows(" UNION ALL ".join(parts))}
    con.drop_table("audience_flags")
    return {name: counts[name] for name in ("affected_audiences", "affected_campaigns",
                                            "affected_advertisers", "affected_partners")}


def _deliveries(con: Engine, params: dict[str, Any],
                loaded: bool) -> dict[str, Any] | None:
    # null when no deliveries file was loaded; a loaded file without rows gives zeros
    if not loaded:
        return None
    rows = int(_scalar(con, "SELECT (SELECT count(*) FROM classified) "
                            "+ (SELECT count(*) FROM deliveries)"))
    slices = max(1, math.ceil(rows / EXPOSURE_ROWS_PER_SLICE))
    sql = step_sql(DELIVERY_EXPOSURE)
    # per after_fix: accounts lower, upper, impressions lower, upper (the slices add up)
    totals = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}
    for part in range(slices):
        for after_fix, *figures in con.rows(sql, {**params, "slices": slices, "slice": part}):
            totals[bool(after_fix)] = [a + int(b) for a, b in zip(totals[bool(after_fix)],
                                                                  figures, strict=True)]
    result: dict[str, Any] = {}
    for prefix, after_fix in (("", False), ("after_fix_", True)):
        accounts_lower, accounts_upper, impressions_lower, impressions_upper = totals[after_fix]
        result[f"{prefix}accounts"] = {"lower": accounts_lower, "upper": accounts_upper}
        result[f"{prefix}impressions"] = {"lower": impressions_lower,
                                          "upper": impressions_upper}
    return result


def _coverage(con: Engine, window_start: datetime,
              fix_at: datetime) -> tuple[dict[str, Any], bool]:
    """The coverage figures, and whether a deliveries file was loaded."""
    dates = [r[0] for r in con.rows("SELECT snapshot_date FROM snapshots ORDER BY snapshot_date")]
    cadence: float | int | None = None
    if len(dates) >= 2:
        median = statistics.median((b - a).days for a, b in itertools.pairwise(dates))
        cadence = int(median) if float(median).is_integer() else float(median)
    first_day, end_day = window_start.date(), fix_at.date()
    logged_days = {
        r[0] for r in con.rows(
            "SELECT DISTINCT CAST(matched_at AS DATE) FROM matches "
            "WHERE matched_at >= $lo AND matched_at < $hi",
            {"lo": datetime(first_day.year, first_day.month, first_day.day),
             "hi": datetime(end_day.year, end_day.month, end_day.day)})
    }
    span = max((end_day - first_day).days, 0)
    params = {"window_start": window_start, "fix_at": fix_at}
    outside, duplicates, unknown, rejected, deliveries_files = con.rows("""
        SELECT
          (SELECT count(*) FROM classified WHERE in_window AND prev_date IS NULL) AS outside,
          (SELECT coalesce(sum(copies - 1), 0) FROM matches) AS duplicates,
          (SELECT count(*) FROM matches m WHERE m.matched_at >= $window_start
             AND m.matched_at < $fix_at
             AND NOT EXISTS (SELECT 1 FROM audiences a WHERE a.audience_id = m.audience_id))
            AS unknown,
          (SELECT count(*) FROM rejects) AS rejected,
          (SELECT count(*) FROM files WHERE table_name = 'deliveries') AS deliveries_files
        """, params)[0]
    load_warnings = [f"{path}: {warning}" for path, warning in con.rows(
        "SELECT DISTINCT path, warning FROM load_warnings ORDER BY path, warning")]
    return {
        "snapshots": len(dates),
        "first_snapshot": dates[0].isoformat() if dates else None,
        "last_snapshot": dates[-1].isoformat() if dates else None,
        "snapshot_cadence_days": cadence,
        "missing_log_days": span - len(logged_days),
        "outside_snapshot_range": int(outside),
        "duplicate_rows": int(duplicates),
        "unknown_audience_matches": int(unknown),
        "rejected_rows": int(rejected),
        "load_warnings": load_warnings,
    }, bool(deliveries_files)


def _class_counts(con: Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Matches by class in the window (with `duplicates`) and after the fix."""
    in_window: dict[str, int] = dict.fromkeys(CLASSES, 0)
    post_fix: dict[str, int] = dict.fromkeys(CLASSES, 0)
    duplicates = 0
    for window, match_class, count, copies in con.rows(
            "SELECT in_window, match_class, count(*), coalesce(sum(copies - 1), 0) "
            "FROM classified WHERE in_window OR post_fix GROUP BY in_window, match_class"):
        (in_window if window else post_fix)[str(match_class)] = int(count)
        duplicates += int(copies) if window else 0
    in_window["duplicates"] = duplicates
    return in_window, post_fix


def _prepare_parameters(con: Engine, incident: Incident) -> None:
    con.create_table("param_audience_types", pl.DataFrame(
        {"audience_type": list(incident.audience_types)}, schema={"audience_type": pl.String}))
    # Every day from the first snapshot to the last: the days a bracket covers (step 02).
    first, last = con.rows("SELECT min(snapshot_date), max(snapshot_date) FROM snapshots")[0]
    days = (pl.date_range(first, last, "1d", eager=True) if first is not None
            else pl.Series([], dtype=pl.Date))
    con.create_table("param_snapshot_days", pl.DataFrame({"day": days}))
    restricted = set(incident.restricted_purposes)
    rows = con.rows("SELECT purposes_id, purposes FROM purpose_sets")
    con.create_table("purpose_state", pl.DataFrame(
        [(int(pid), all(label in restricted for label in str(text).split("|")))
         for pid, text in rows],
        schema={"purposes_id": pl.Int32, "restricted": pl.Boolean}, orient="row"))


def drop_replay_tables(con: EngineLike) -> None:
    engine = as_engine(con)
    for name in _TEMP_TABLES:
        engine.drop_table(name)


def classify(con: EngineLike, incident: Incident,
             progress: Progress | None = None) -> tuple[datetime, datetime]:
    """Run the SQL steps; leaves the temp table `classified` for the figures and tools."""
    engine = as_engine(con)
    say = progress or (lambda _message: None)
    drop_replay_tables(engine)
    window_start = incident.window_start or earliest_match(engine) or incident.fix_at
    params = {"window_start": window_start, "fix_at": incident.fix_at}
    _prepare_parameters(engine, incident)
    for step in STEPS:
        say(f"replay step {step}")
        engine.execute(step_sql(step), params)
    return window_start, incident.fix_at


def replay(con: EngineLike, incident: Incident, *,
           progress: Progress | None = None, persist: bool = True) -> ReplayResult:
    """Classify and compute every figure; with `persist`, store per-account outcomes.

    `persist` needs a DuckDB workspace (a Spark run has none: pass persist=False).
    """
    con = as_engine(con)
    if persist and not isinstance(con, DuckDBEngine):
        raise ValueError("persist=True needs the DuckDB workspace engine")
    con.lock_down()  # replay reads only tables: no file access, no setting changes
    window_start, fix_at = classify(con, incident, progress)
    params = {"window_start": window_start, "fix_at": fix_at}
    affected = _lower_upper(con, "account_id")
    matches, post_fix_counts = _class_counts(con)
    classified_matches = matches["caused"] + matches["permitted"]
    share = round(matches["caused"] / classified_matches, 12) if classified_matches else 0.5
    probabilities = account_probabilities(con, share)
    uncertain_mass = math.fsum(p for _, p in probabilities)
    estimate = affected["lower"] + round(uncertain_mass)
    estimate = min(max(estimate, affected["lower"]), affected["upper"])
    post_fix: dict[str, Any] = dict(post_fix_counts)
    post_fix["fix_held"] = post_fix["caused"] == 0
    coverage, deliveries_loaded = _coverage(con, window_start, fix_at)
    breakdowns = _breakdowns(con)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "window_start": iso_z(window_start),
            "fix_at": iso_z(fix_at),
            "restricted_purposes": list(incident.restricted_purposes),
            "audience_types": list(incident.audience_types),
            "normalization": incident.normalization,
        },
        "affected_accounts": {"lower": affected["lower"], "estimate": estimate,
                              "upper": affected["upper"]},
        **_entity_counts(con),
        "matches": matches,
        **breakdowns,
        "deliveries": _deliveries(con, params, deliveries_loaded),
        "post_fix": post_fix,
        "coverage": coverage,
    }
    weekly = con.frame("""
        SELECT CAST(date_trunc('week', matched_at) AS DATE) AS week, match_class,
               CAST(count(*) AS BIGINT) AS matches
        FROM classified WHERE in_window OR post_fix GROUP BY 1, 2 ORDER BY 1, 2""")
    campaigns = con.frame("""
        SELECT ca.campaign_id, cp.advertiser_id, cp.name,
               CAST(COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END)
                    AS BIGINT) AS lower,
               CAST(COUNT(DISTINCT CASE WHEN c.match_class <> 'permitted' THEN c.account_id END)
                    AS BIGINT) AS upper
        FROM classified c
        JOIN campaign_audiences ca ON ca.audience_id = c.audience_id
        LEFT JOIN campaigns cp ON cp.campaign_id = ca.campaign_id
        WHERE c.in_window AND c.match_class <> 'permitted'
        GROUP BY 1, 2, 3 ORDER BY upper DESC, lower DESC, 1""")
    countries = pl.DataFrame(
        [{"country": k, "lower": v["lower"], "upper": v["upper"]}
         for k, v in report["by_country"].items()],
        schema={"country": pl.String, "lower": pl.Int64, "upper": pl.Int64})
    accounts = _account_frame(con, probabilities)
    if persist:
        assert isinstance(con, DuckDBEngine)
        _persist_accounts(con, accounts)
    drop_replay_tables(con)
    return ReplayResult(report=report, weekly_matches=weekly, campaigns=campaigns,
                        countries=countries, accounts=accounts)


def _account_frame(con: Engine,
                   probabilities: list[tuple[int, float]]) -> pl.DataFrame:
    """Every account in the upper bound with its outcome, sorted by account id."""
    uncertain = pl.DataFrame(probabilities, schema={"account_id": pl.Int64, "p": pl.Float64},
                             orient="row")
    con.register("uncertain_probability", uncertain)
    try:
        frame = con.frame("""
            SELECT o.account_id, o.certain = 1 AS certain,
                   CASE WHEN o.certain = 1 THEN 1.0 ELSE coalesce(u.p, 0.0) END AS probability,
                   o.first_caused_at, o.first_match_at, a.country
            FROM account_outcomes o
            LEFT JOIN uncertain_probability u ON u.account_id = o.account_id
            LEFT JOIN accounts a ON a.account_id = o.account_id
            ORDER BY o.account_id""")
    finally:
        con.unregister("uncertain_probability")
    return frame


def _persist_accounts(engine: DuckDBEngine, accounts: pl.DataFrame) -> None:
    """The per-account outcome of the latest replay (account ids only), for the tools."""
    con = engine.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM affected_accounts")
        con.register("account_frame", accounts.to_arrow())
        con.execute("""
            INSERT INTO affected_accounts
            SELECT account_id, certain, probability, first_caused_at, first_match_at
            FROM account_frame""")
        con.unregister("account_frame")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # keep the error that brought us here
            con.execute("ROLLBACK")
        raise
