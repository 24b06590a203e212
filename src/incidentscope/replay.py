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
import functools
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from incidentscope import figures
from incidentscope.config import Incident
from incidentscope.engine import DuckDBEngine, Engine, EngineLike, as_engine
from incidentscope.estimate import (
    MATCH_PROBABILITIES,
    UPLOAD_PROBABILITIES,
    account_probabilities,
    bounded_estimate,
    whole_window_probabilities,
)
from incidentscope.results import NOTICE_FACTS_SCHEMA, ReplayResult, iso_z

Progress = Callable[[str], None]

STEPS = (
    "01_scope_audiences",
    "02_brackets",
    "03_scoped_matches",
    "04_counted_uploads",
    "05_signatures",
    "06_candidate_states",
    "07_signature_states",
    "08_classified",
    "09_account_outcomes",
    "10_upload_pairs",
)
_TEMP_TABLES = ("param_audience_types", "param_snapshot_days", "purpose_state",
                "scope_audiences", "brackets", "scoped_matches", "counted_uploads",
                "signatures", "candidate_states", "signature_states", "classified",
                "account_outcomes", "upload_pairs")
# Steps run as one query per slice of accounts: the table each makes, and the rows that
# size its slices. At scale L (126M upload entries) step 10 in one query ran out of memory
# under a 4 GB limit, with 2 threads and with 1 (docs/benchmarks.md).
SLICED_STEPS = {"10_upload_pairs": ("upload_pairs", "SELECT count(*) FROM counted_uploads")}
# Upload entries per slice of step 10: one slice up to scale S.
UPLOAD_ROWS_PER_SLICE = 16_000_000
CLASSES = figures.CLASSES
# 2: whole-window.md (exposed_accounts, uploads, affected_accounts_whole_window,
# audiences_targetable_only_by_incident, by_channel v2), contacts_used, coverage times
SCHEMA_VERSION = 2


def step_sql(name: str) -> str:
    return figures.sql(name)


def all_step_sql() -> dict[str, str]:
    """The SQL of every replay step, figure query and the estimate, for the manifest."""
    return {**{name: step_sql(name) for name in (*STEPS, figures.DELIVERY_EXPOSURE)},
            **{f"figures/{name}": figures.figure_sql(name) for name in figures.FIGURES},
            "estimate": MATCH_PROBABILITIES, "estimate_uploads": UPLOAD_PROBABILITIES}


@functools.cache
def _statement_names() -> dict[str, str]:
    """Every replay statement's text, whitespace folded, to its name (all_step_sql)."""
    return {" ".join(text.split()): name for name, text in all_step_sql().items()}


def _slice_verbs(table: str) -> tuple[str, str]:
    """What a sliced step's query is prefixed with: the first slice makes the table, the
    others are inserted (_run_sliced)."""
    return f"CREATE TEMP TABLE {table} AS\n", f"INSERT INTO {table}\n"


def statement_name(sql: str) -> str | None:
    """The replay step, figure query or estimate whose SQL `sql` is (a sliced step's query
    made into its table or inserted, too), for an error or a profile to name; None for any
    other."""
    text = " ".join(sql.split())
    for table, _count_rows in SLICED_STEPS.values():
        for verb in _slice_verbs(table):
            text = text.removeprefix(" ".join(verb.split()) + " ")
    return _statement_names().get(text)


def earliest_match(con: EngineLike) -> datetime | None:
    row = as_engine(con).rows("SELECT min(matched_at) FROM matches")[0]
    value = row[0] if row else None
    return value if isinstance(value, datetime) else None


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
    params = {"window_start": window_start, "fix_at": incident.fix_at,
              "use_uploads": incident.use_uploads}
    _prepare_parameters(engine, incident)
    for step in STEPS:
        say(f"replay step {step}")
        if step in SLICED_STEPS:
            _run_sliced(engine, step, params)
        else:
            engine.execute(step_sql(step), params)
    return window_start, incident.fix_at


def _run_sliced(engine: Engine, step: str, params: dict[str, Any]) -> None:
    """A step that is a query per slice of accounts: the first slice makes its table, the
    others are inserted (SLICED_STEPS)."""
    table, count_rows = SLICED_STEPS[step]
    slices = max(1, math.ceil(int(engine.rows(count_rows)[0][0]) / UPLOAD_ROWS_PER_SLICE))
    query = step_sql(step)
    create, insert = _slice_verbs(table)
    for part in range(slices):
        engine.execute((create if part == 0 else insert) + query,
                       {**params, "slices": slices, "slice": part})


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
    affected = figures.affected(con)
    matches, post_fix_counts = figures.class_counts(con)
    classified_matches = matches["caused"] + matches["permitted"]
    share = round(matches["caused"] / classified_matches, 12) if classified_matches else 0.5
    probabilities = account_probabilities(con, share)
    estimate = bounded_estimate(affected["lower"], affected["upper"], probabilities)
    post_fix: dict[str, Any] = dict(post_fix_counts)
    post_fix["fix_held"] = post_fix["caused"] == 0
    coverage, loaded = figures.coverage(con, window_start, fix_at)
    replayed_uploads = loaded["uploads"] and incident.use_uploads
    whole: dict[str, int] | None = None
    if replayed_uploads:
        bounds = figures.whole_window(con)
        whole = {"lower": bounds["lower"],
                 "estimate": bounded_estimate(bounds["lower"], bounds["upper"],
                                              whole_window_probabilities(con, share)),
                 "upper": bounds["upper"]}
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
            "min_audience_size": incident.min_audience_size,
        },
        "exposed_accounts": figures.exposed_accounts(
            con, figures.snapshot_dates(con), window_start, fix_at),
        "affected_accounts": {"lower": affected["lower"], "estimate": estimate,
                              "upper": affected["upper"]},
        "affected_accounts_whole_window": whole,
        **figures.entity_counts(con),
        "matches": matches,
        **figures.breakdowns(con),
        "deliveries": figures.deliveries(con, params, loaded["deliveries"]),
        "post_fix": post_fix,
        "uploads": figures.uploads(con, params) if replayed_uploads else None,
        "audiences_targetable_only_by_incident": figures.targetable(
            con, incident.min_audience_size),
        "contacts_used": figures.contacts_used(con),
        "coverage": coverage,
    }
    weekly = con.frame(figures.figure_sql("weekly"))
    campaigns = con.frame(figures.figure_sql("campaigns"))
    countries = pl.DataFrame(
        [{"country": k, "lower": v["lower"], "upper": v["upper"]}
         for k, v in report["by_country"].items()],
        schema={"country": pl.String, "lower": pl.Int64, "upper": pl.Int64})
    accounts = _account_frame(con, probabilities)
    notice_facts = _notice_facts(con, params)
    if persist:
        assert isinstance(con, DuckDBEngine)
        _persist_accounts(con, accounts)
    drop_replay_tables(con)
    return ReplayResult(report=report, weekly_matches=weekly, campaigns=campaigns,
                        countries=countries, accounts=accounts, notice_facts=notice_facts)


def _notice_facts(con: Engine, params: dict[str, Any]) -> pl.DataFrame:
    """The per-person facts of the Art. 34 notices (results.NOTICE_FACTS_SCHEMA), sorted by
    account and audience; queried per slice of accounts (figures.NOTICE_ROWS_PER_SLICE)."""
    slices = figures.delivery_slices(con, figures.NOTICE_ROWS_PER_SLICE)
    text = figures.figure_sql("notice_facts")
    frame = pl.concat([con.frame(text, {**params, "slices": slices, "slice": part})
                       for part in range(slices)], how="vertical_relaxed")
    frame = frame.sort("account_id", "audience_id")
    month = pl.col("^(first|last)_month$").cast(pl.Utf8)
    return frame.with_columns(month.str.slice(0, 4) + "-" + month.str.slice(4, 2)).select(
        [pl.col(name).cast(kind) for name, kind in NOTICE_FACTS_SCHEMA.items()])


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
