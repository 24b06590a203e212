"""The replay on Spark equals the replay on DuckDB, figure for figure ("replay-only").

Each case is loaded into a DuckDB workspace, replayed there, then its tables are copied
into Spark temp views (sparkcopy) and the same replay code runs on the Spark engine:
any difference comes from the replay, not from the ingest. Compared: the whole report
dict and the weekly, campaign, country and account frames.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal
from sparkcopy import copy_workspace

import casefiles
from casefiles import sha
from incidentscope import api, figures, workspace
from incidentscope import replay as replay_engine
from incidentscope.config import load_incident
from incidentscope.generator import ScenarioParams, generate
from incidentscope.manifest import figure_differences
from incidentscope.results import ReplayResult

FRAMES = ("weekly_matches", "campaigns", "countries", "accounts")


def assert_same_result(duck: ReplayResult, spark: ReplayResult) -> None:
    assert figure_differences(duck.report, spark.report) == []
    assert duck.report == spark.report
    for name in FRAMES:
        assert_frame_equal(getattr(duck, name), getattr(spark, name))


def replay_both(spark: Any, incident_path: Path, data_dir: Path,
                tmp_path: Path) -> tuple[ReplayResult, ReplayResult]:
    from incidentscope.spark.engine import SparkEngine

    db = tmp_path / "ws.duckdb"
    api.load(incident_path, data_dir, db_path=db)
    incident = load_incident(incident_path)
    con = workspace.connect(db)
    try:
        duck = replay_engine.replay(con, incident, persist=False)
        copy_workspace(con, spark)
    finally:
        con.close()
    return duck, replay_engine.replay(SparkEngine(spark), incident, persist=False)


def test_generated_medium_case_replays_the_same_on_spark(spark: Any, tmp_path: Path) -> None:
    # Damage (lost log days, duplicates, malformed rows), half the matches without an
    # identifier, snapshots starting after the window and ending before the fix.
    params = ScenarioParams(accounts=4000, seed=11, snapshot_every_days=21,
                            identifier_share=0.5, snapshots_from=date(2019, 2, 11),
                            snapshots_until=date(2019, 8, 26))
    generate(tmp_path / "case", params)
    duck, on_spark = replay_both(spark, tmp_path / "case" / "incident.toml",
                                 tmp_path / "case" / "data", tmp_path)
    report = duck.report
    assert report["coverage"]["outside_snapshot_range"] > 0
    assert report["coverage"]["missing_log_days"] > 0
    assert report["coverage"]["duplicate_rows"] > 0
    assert report["matches"]["unexplained"] + report["matches"]["uncertain"] > 0
    assert_same_result(duck, on_spark)


def test_edge_case_default_window_no_deliveries_unknown_audience(spark: Any,
                                                                 tmp_path: Path) -> None:
    """No window_start (the earliest match), no deliveries file, matches before the first and
    after the last snapshot, at a snapshot instant, into an unknown audience, duplicated."""
    restricted, permitted = "two_factor", "profile"
    tables: dict[str, list[dict[str, Any]] | None] = {
        "contacts": [
            {"snapshot_date": date(2019, 3, 1), "account_id": 1, "channel": "phone",
             "contact_sha256": sha("p1"), "purposes": restricted},
            {"snapshot_date": date(2019, 4, 1), "account_id": 1, "channel": "phone",
             "contact_sha256": sha("p1"), "purposes": f"{restricted}|{permitted}"},
            {"snapshot_date": date(2019, 3, 1), "account_id": 2, "channel": "email",
             "contact_sha256": sha("e2"), "purposes": permitted},
            {"snapshot_date": date(2019, 4, 1), "account_id": 3, "channel": "email",
             "contact_sha256": sha("e3"), "purposes": restricted},
        ],
        "matches": [
            {"matched_at": datetime(2019, 2, 20, 8), "account_id": 1, "audience_id": "aud-1",
             "channel": "phone", "identifier_sha256": sha("p1")},
            {"matched_at": datetime(2019, 3, 1), "account_id": 1, "audience_id": "aud-1",
             "channel": "phone", "identifier_sha256": sha("p1")},
            {"matched_at": datetime(2019, 3, 15, 12, 30), "account_id": 1,
             "audience_id": "aud-2", "channel": None, "identifier_sha256": None},
            {"matched_at": datetime(2019, 3, 15, 12, 30), "account_id": 1,
             "audience_id": "aud-2", "channel": None, "identifier_sha256": None},
            {"matched_at": datetime(2019, 3, 20), "account_id": 2, "audience_id": "aud-1",
             "channel": "email", "identifier_sha256": None},
            {"matched_at": datetime(2019, 3, 21, 1), "account_id": 3, "audience_id": "aud-2",
             "channel": "email", "identifier_sha256": sha("e3")},
            {"matched_at": datetime(2019, 4, 5), "account_id": 3, "audience_id": "aud-1",
             "channel": None, "identifier_sha256": None},
            {"matched_at": datetime(2019, 4, 6), "account_id": 4, "audience_id": "aud-x",
             "channel": "phone", "identifier_sha256": sha("p4")},
            {"matched_at": datetime(2019, 5, 2), "account_id": 1, "audience_id": "aud-1",
             "channel": "phone", "identifier_sha256": sha("p1")},
        ],
        "audiences": [
            {"audience_id": "aud-1", "advertiser_id": "adv-1", "audience_type": "tailored",
             "partner_id": None},
            {"audience_id": "aud-2", "advertiser_id": "adv-2", "audience_type": "partner",
             "partner_id": "ptn-1"},
        ],
        "campaigns": [{"campaign_id": "cmp-1", "advertiser_id": "adv-1", "name": None}],
        "campaign_audiences": [{"campaign_id": "cmp-1", "audience_id": "aud-1"}],
        "accounts": [{"account_id": 1, "country": "DE"}, {"account_id": 3, "country": "FR"}],
        "deliveries": None,
    }
    incident = {"window_start": None, "fix_at": datetime(2019, 5, 1),
                "restricted_purposes": [restricted, "account_recovery"],
                "audience_types": ["tailored", "partner"]}
    incident_path, data_dir = casefiles.write_case(tables, incident, tmp_path / "case")
    duck, on_spark = replay_both(spark, incident_path, data_dir, tmp_path)
    assert duck.report["incident"]["window_start"] == "2019-02-20T08:00:00Z"
    assert duck.report["deliveries"] is None
    assert duck.report["coverage"]["outside_snapshot_range"] > 0
    assert duck.report["coverage"]["unknown_audience_matches"] == 1
    assert_same_result(duck, on_spark)


def test_every_replay_statement_transpiles(spark: Any) -> None:
    from incidentscope.spark.engine import SparkEngine

    engine = SparkEngine(spark)
    params = {"window_start": datetime(2019, 1, 1), "fix_at": datetime(2019, 9, 17),
              "caused_share": 0.25, "slices": 2, "slice": 1, "lo": datetime(2019, 1, 1),
              "hi": datetime(2019, 9, 17), "lower_first": date(2019, 1, 7),
              "lower_last": date(2019, 9, 9), "upper_first": date(2018, 12, 31),
              "upper_last": date(2019, 9, 23), "open": False, "min_size": 100,
              "use_uploads": True}
    queries = ("estimate", "estimate_uploads", figures.DELIVERY_EXPOSURE,
               *replay_engine.SLICED_STEPS)  # a query per slice of accounts
    for name, sql in replay_engine.all_step_sql().items():
        text = engine.transpile(sql, params)
        assert "$" not in text and "epoch" not in text.lower(), name
        if name == "03_scoped_matches":  # a view, computed where it is read
            assert "CREATE TEMPORARY VIEW scoped_matches AS SELECT" in text
        elif name not in queries and not name.startswith("figures/"):
            assert text.startswith("CACHE TABLE "), name


@pytest.mark.parametrize("value", [object(), b"bytes"])
def test_unsupported_parameter_types_are_refused(spark: Any, value: object) -> None:
    from incidentscope.spark.engine import SparkEngine, TranspileError

    with pytest.raises(TranspileError):
        SparkEngine(spark).transpile("SELECT $x", {"x": value})
