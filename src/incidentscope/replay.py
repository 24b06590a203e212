"""The replay: classify every logged match and compute the report's figures.

The classification runs as named SQL steps (`sql/*.sql`), in standard SQL so
that it can be carried to another engine; values are bound parameters and the
incident's lists arrive as small parameter tables. The figures are then read
with a handful of aggregate queries and assembled into one `ReplayResult`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from incidentscope.config import Incident
from incidentscope.estimate import account_probabilities
from incidentscope.sqlutil import bind
from incidentscope.workspace import lock_down

Progress = Callable[[str], None]

STEPS = (
    "01_scope_audiences",
    "02_brackets",
    "03_scoped_matches",
    "04_signature_states",
    "05_classified",
    "06_account_outcomes",
    "07_delivery_flags",
)
_TEMP_TABLES = ("param_audience_types", "purpose_state", "scope_audiences", "brackets",
                "scoped_matches", "signature_states", "classified", "account_outcomes",
                "delivery_flags")
CLASSES = ("caused", "permitted", "uncertain", "unexplained")
SCHEMA_VERSION = 1


def step_sql(name: str) -> str:
    return resources.files("incidentscope").joinpath("sql", f"{name}.sql").read_text("utf-8")


def all_step_sql() -> dict[str, str]:
    """The SQL of every replay step and of the estimate, for the manifest."""
    from incidentscope.estimate import MATCH_PROBABILITIES

    return {**{name: step_sql(name) for name in STEPS}, "estimate": MATCH_PROBABILITIES}


@dataclass(frozen=True)
class ReplayResult:
    """Everything the renderers show. `report` is the JSON contract (report.json)."""

    report: dict[str, Any]
    weekly_matches: pl.DataFrame = field(repr=False)  # week (date), match_class, matches
    campaigns: pl.DataFrame = field(repr=False)  # campaign_id, advertiser_id, name, lower, upper
    countries: pl.DataFrame = field(repr=False)  # country, lower, upper
    # Accounts in the upper bound, ids only: account_id, certain, probability,
    # first_caused_at, first_match_at, country (null without an accounts row).
    accounts: pl.DataFrame = field(repr=False)

    @property
    def affected(self) -> dict[str, int]:
        return dict(self.report["affected_accounts"])


def iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> Any:
    row = con.execute(sql, bind(sql, params or {})).fetchall()[0]
    return row[0] if row else None


def earliest_match(con: duckdb.DuckDBPyConnection) -> datetime | None:
    value = _scalar(con, "SELECT min(matched_at) FROM matches")
    return value if isinstance(value, datetime) else None


def _lower_upper(con: duckdb.DuckDBPyConnection, column: str, table: str = "classified",
                 where: str = "in_window", params: dict[str, Any] | None = None) -> dict[str, int]:
    sql = (f"SELECT COUNT(DISTINCT CASE WHEN match_class = 'caused' THEN {column} END), "
           f"COUNT(DISTINCT CASE WHEN match_class <> 'permitted' THEN {column} END) "
           f"FROM {table} WHERE {where}")
    row = con.execute(sql, bind(sql, params or {})).fetchall()[0]
    assert row is not None
    return {"lower": int(row[0]), "upper": int(row[1])}


def _breakdown(con: duckdb.DuckDBPyConnection, key_sql: str, joins: str = "",
               where: str = "TRUE") -> dict[str, dict[str, int]]:
    sql = (f"SELECT {key_sql} AS k, "
           "COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END), "
           "COUNT(DISTINCT CASE WHEN c.match_class <> 'permitted' THEN c.account_id END) "
           f"FROM classified c {joins} WHERE c.in_window AND ({where}) GROUP BY 1 ORDER BY 1")
    result = {}
    for key, lower, upper in con.execute(sql).fetchall():
        if key is not None and upper:
            result[str(key)] = {"lower": int(lower), "upper": int(upper)}
    return result


def _entity_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Audiences, campaigns, advertisers and partners touched by flagged matches."""
    con.execute("""
        CREATE TEMP TABLE audience_flags AS
        SELECT c.audience_id,
               MAX(CASE WHEN c.match_class = 'caused' THEN 1 ELSE 0 END) AS lower_flag,
               MAX(CASE WHEN c.match_class <> 'permitted' THEN 1 ELSE 0 END) AS upper_flag
        FROM classified c WHERE c.in_window GROUP BY c.audience_id""")
    figures = {}
    for name, column, joins in (
        ("affected_audiences", "f.audience_id", ""),
        ("affected_campaigns", "ca.campaign_id",
         "JOIN campaign_audiences ca ON ca.audience_id = f.audience_id"),
        ("affected_advertisers", "a.advertiser_id",
         "JOIN audiences a ON a.audience_id = f.audience_id"),
        ("affected_partners", "a.partner_id", "JOIN audiences a ON a.audience_id = f.audience_id"),
    ):
        row = con.execute(
            f"SELECT COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN {column} END), "
            f"COUNT(DISTINCT CASE WHEN f.upper_flag = 1 THEN {column} END) "
            f"FROM audience_flags f {joins}").fetchall()[0]
        assert row is not None
        figures[name] = {"lower": int(row[0]), "upper": int(row[1])}
    con.execute("DROP TABLE audience_flags")
    return figures


def _deliveries(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, Any] | None:
    # null when no deliveries file was loaded; a loaded file without rows gives zeros
    if not _scalar(con, "SELECT count(*) FROM files WHERE table_name = 'deliveries'"):
        return None
    sql = """
        SELECT
          COUNT(DISTINCT CASE WHEN n_caused = n_matches THEN account_id END),
          COUNT(DISTINCT CASE WHEN n_flagged = n_matches THEN account_id END),
          COALESCE(SUM(CASE WHEN n_caused = n_matches THEN impressions END), 0),
          COALESCE(SUM(CASE WHEN n_flagged = n_matches THEN impressions END), 0)
        FROM delivery_flags WHERE {period}"""
    figures: dict[str, Any] = {}
    for prefix, period in (("", "served_at >= $window_start AND served_at < $fix_at"),
                           ("after_fix_", "served_at >= $fix_at")):
        query = sql.format(period=period)
        row = con.execute(query, bind(query, params)).fetchall()[0]
        assert row is not None
        figures[f"{prefix}accounts"] = {"lower": int(row[0]), "upper": int(row[1])}
        figures[f"{prefix}impressions"] = {"lower": int(row[2]), "upper": int(row[3])}
    return {key: figures[key] for key in ("accounts", "impressions", "after_fix_accounts",
                                          "after_fix_impressions")}


def _coverage(con: duckdb.DuckDBPyConnection, window_start: datetime,
              fix_at: datetime) -> dict[str, Any]:
    dates = [r[0] for r in con.execute(
        "SELECT snapshot_date FROM snapshots ORDER BY snapshot_date").fetchall()]
    cadence: float | int | None = None
    if len(dates) >= 2:
        median = statistics.median((b - a).days for a, b in itertools.pairwise(dates))
        cadence = int(median) if float(median).is_integer() else float(median)
    first_day, end_day = window_start.date(), fix_at.date()
    logged_days = {
        r[0] for r in con.execute(
            "SELECT DISTINCT CAST(matched_at AS DATE) FROM matches "
            "WHERE matched_at >= $lo AND matched_at < $hi",
            {"lo": datetime(first_day.year, first_day.month, first_day.day),
             "hi": datetime(end_day.year, end_day.month, end_day.day)}).fetchall()
    }
    span = max((end_day - first_day).days, 0)
    params = {"window_start": window_start, "fix_at": fix_at}
    unknown_sql = ("SELECT count(*) FROM matches m WHERE m.matched_at >= $window_start AND "
                   "m.matched_at < $fix_at AND NOT EXISTS (SELECT 1 FROM audiences a "
                   "WHERE a.audience_id = m.audience_id)")
    return {
        "snapshots": len(dates),
        "first_snapshot": dates[0].isoformat() if dates else None,
        "last_snapshot": dates[-1].isoformat() if dates else None,
        "snapshot_cadence_days": cadence,
        "missing_log_days": span - len(logged_days),
        "outside_snapshot_range": int(_scalar(
            con, "SELECT count(*) FROM classified WHERE in_window AND prev_date IS NULL")),
        "duplicate_rows": int(_scalar(con, "SELECT coalesce(sum(copies - 1), 0) FROM matches")),
        "unknown_audience_matches": int(_scalar(con, unknown_sql, params)),
        "rejected_rows": int(_scalar(con, "SELECT count(*) FROM rejects")),
    }


def _class_counts(con: duckdb.DuckDBPyConnection, where: str) -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, 0)
    for match_class, count in con.execute(
            f"SELECT match_class, count(*) FROM classified WHERE {where} GROUP BY 1").fetchall():
        counts[str(match_class)] = int(count)
    return counts


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _prepare_parameters(con: duckdb.DuckDBPyConnection, incident: Incident) -> None:
    con.execute("CREATE TEMP TABLE param_audience_types (audience_type VARCHAR)")
    con.executemany("INSERT INTO param_audience_types VALUES ($1)",
                    [[t] for t in incident.audience_types])
    restricted = set(incident.restricted_purposes)
    rows = con.execute("SELECT purposes_id, purposes FROM purpose_sets").fetchall()
    con.execute("CREATE TEMP TABLE purpose_state (purposes_id INTEGER, restricted BOOLEAN)")
    if rows:
        con.executemany("INSERT INTO purpose_state VALUES ($1, $2)", [
            [pid, all(label in restricted for label in str(text).split("|"))]
            for pid, text in rows])


def drop_replay_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def classify(con: duckdb.DuckDBPyConnection, incident: Incident,
             progress: Progress | None = None) -> tuple[datetime, datetime]:
    """Run the SQL steps; leaves the temp table `classified` for the figures and tools."""
    say = progress or (lambda _message: None)
    drop_replay_tables(con)
    window_start = incident.window_start or earliest_match(con) or incident.fix_at
    params = {"window_start": window_start, "fix_at": incident.fix_at}
    _prepare_parameters(con, incident)
    for step in STEPS:
        say(f"replay step {step}")
        sql = step_sql(step)
        con.execute(sql, bind(sql, params))
    return window_start, incident.fix_at


def replay(con: duckdb.DuckDBPyConnection, incident: Incident, *,
           progress: Progress | None = None, persist: bool = True) -> ReplayResult:
    """Classify and compute every figure; with `persist`, store per-account outcomes."""
    lock_down(con)  # replay reads only tables: no file access, no setting changes
    window_start, fix_at = classify(con, incident, progress)
    params = {"window_start": window_start, "fix_at": fix_at}
    affected = _lower_upper(con, "account_id")
    probabilities = account_probabilities(con)
    uncertain_mass = math.fsum(p for _, p in probabilities)
    estimate = affected["lower"] + round(uncertain_mass)
    estimate = min(max(estimate, affected["lower"]), affected["upper"])
    matches = _class_counts(con, "in_window")
    matches["duplicates"] = int(_scalar(
        con, "SELECT coalesce(sum(copies - 1), 0) FROM classified WHERE in_window"))
    post_fix: dict[str, Any] = _class_counts(con, "post_fix")
    post_fix["fix_held"] = post_fix["caused"] == 0
    month = "CAST(EXTRACT(YEAR FROM c.matched_at) AS INTEGER) * 100 + " \
            "CAST(EXTRACT(MONTH FROM c.matched_at) AS INTEGER)"
    by_month = {f"{key[:4]}-{key[4:]}": value
                for key, value in _breakdown(con, month).items()}
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
        "by_audience_type": _breakdown(con, "c.audience_type"),
        "by_channel": _breakdown(con, "c.channel", where="c.channel IS NOT NULL"),
        "by_country": _breakdown(con, "acc.country",
                                 joins="JOIN accounts acc ON acc.account_id = c.account_id"),
        "by_month": by_month,
        "deliveries": _deliveries(con, params),
        "post_fix": post_fix,
        "coverage": _coverage(con, window_start, fix_at),
    }
    weekly = _frame(con, """
        SELECT CAST(date_trunc('week', matched_at) AS DATE) AS week, match_class,
               CAST(count(*) AS BIGINT) AS matches
        FROM classified WHERE in_window OR post_fix GROUP BY 1, 2 ORDER BY 1, 2""")
    campaigns = _frame(con, """
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
        _persist_accounts(con, accounts)
    drop_replay_tables(con)
    return ReplayResult(report=report, weekly_matches=weekly, campaigns=campaigns,
                        countries=countries, accounts=accounts)


def _account_frame(con: duckdb.DuckDBPyConnection,
                   probabilities: list[tuple[int, float]]) -> pl.DataFrame:
    """Every account in the upper bound with its outcome, sorted by account id."""
    uncertain = pl.DataFrame(probabilities, schema={"account_id": pl.Int64, "p": pl.Float64},
                             orient="row")
    con.register("uncertain_probability", uncertain.to_arrow())
    try:
        frame = _frame(con, """
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


def _persist_accounts(con: duckdb.DuckDBPyConnection, accounts: pl.DataFrame) -> None:
    """The per-account outcome of the latest replay (account ids only), for the tools."""
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
        con.execute("ROLLBACK")
        raise
