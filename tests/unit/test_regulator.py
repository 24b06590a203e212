"""The regulator notification: the EDPB template's sections, sources, and wording no stronger
than the data, on report dicts with and without the whole-window (v2) figures; follow-ups
and diffs of runs that differ by one input file."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from incidentscope import api
from incidentscope.config import Incident, load_incident
from incidentscope.notification import Notification
from incidentscope.report import edpb, regulator
from incidentscope.report.edpb_fields import COMPUTED, CONTROLLER, NOT_PROVIDED
from incidentscope.report.markdown import to_markdown
from incidentscope.results import ReplayResult
from incidentscope.samples import sample_dir
from workspace_fixtures import write_small_case

GOLDEN_REPORT = Path(__file__).resolve().parents[1] / "golden" / "sample" / "report.json"
SECTIONS = {1: "Type of notification", 2: "Controller", 3: "Nature of the breach",
            4: "Likely consequences", 5: "Measures", 6: "Communication to data subjects"}


def golden() -> dict[str, Any]:
    return copy.deepcopy(json.loads(GOLDEN_REPORT.read_text()))


def logged_only() -> dict[str, Any]:
    """The golden report as a run without uploads gives it."""
    report = golden()
    report.update(affected_accounts_whole_window=None, uploads=None)
    return report


def schema_1() -> dict[str, Any]:
    """The golden report without what schema 2 added to coverage (an older report.json)."""
    report = logged_only()
    for key in ("first_logged_match", "last_logged_match", "first_caused_match",
                "last_caused_match", "first_possibly_caused_match",
                "last_possibly_caused_match", "rejected_rows_by_table"):
        del report["coverage"][key]
    report["coverage"]["rejected_rows"] = 16
    return report


def accounts() -> pl.DataFrame:
    return pl.DataFrame({
        "account_id": [11, 12, 13],
        "certain": [True, False, True],
        "probability": [1.0, 0.5, 1.0],
        "first_caused_at": [datetime(2019, 2, 3, 4, 5, 6), None, datetime(2019, 1, 5)],
        "first_match_at": [datetime(2019, 2, 3, 4, 5, 6), datetime(2019, 1, 2, 8),
                           datetime(2019, 1, 5)],
        "country": ["DE", "FR", None],
    })


def result(report: dict[str, Any], frame: pl.DataFrame | None = None) -> ReplayResult:
    empty = pl.DataFrame()
    return ReplayResult(report=report, weekly_matches=empty, campaigns=empty,
                        countries=empty, accounts=accounts() if frame is None else frame)


def sample_incident(**values: Any) -> Incident:
    incident = load_incident(sample_dir() / "incident.toml")
    note = incident.notification
    return incident.with_changes(notification=Notification({**note.values, **values},
                                                           note.risk))


def markdown(notice: edpb.Notice) -> str:
    return to_markdown(regulator.layout(notice))


# --------------------------------------------------------------------------- sections


def test_every_template_section_in_order_and_every_field_with_its_source() -> None:
    notice = edpb.build(result(golden()), sample_incident())
    data = json.loads(regulator.to_json(notice))
    assert [s["number"] for s in data["sections"]] == [1, 2, 3, 4, 5, 6]
    ids = set()
    for section in data["sections"]:
        assert section["title"].startswith(SECTIONS[section["number"]])
        assert section["fields"]
        for item in section["fields"]:
            assert item["source"] in (COMPUTED, CONTROLLER, NOT_PROVIDED)
            assert f"EDPB template {section['number']}" in item["answers"], item["id"]
            assert (item["value"] is None) == (item["source"] == NOT_PROVIDED), item["id"]
            if item["source"] == COMPUTED:
                assert item["method"], item["id"]
            assert item["id"] not in ids
            ids.add(item["id"])
    assert data["confidential"] is True
    for field_id, source in (("notification_type", CONTROLLER), ("controller", CONTROLLER),
                             ("affected_accounts", COMPUTED), ("risk_assessment", COMPUTED),
                             ("art34_required", COMPUTED), ("case_reference", NOT_PROVIDED),
                             ("measures_prevention", CONTROLLER),
                             ("data_subjects_informed", CONTROLLER),
                             ("discovery_method", CONTROLLER), ("root_cause", CONTROLLER),
                             ("breach_categories", CONTROLLER),
                             ("other_bodies_informed", CONTROLLER),
                             ("lead_authority", COMPUTED), ("contacts_used", COMPUTED)):
        assert notice.field(field_id).source == source, field_id


def test_a_missing_statement_is_not_provided_and_never_invented() -> None:
    incident = load_incident(sample_dir() / "incident.toml").with_changes(
        notification=Notification())
    notice = edpb.build(result(golden()), incident)
    for field_id in ("notification_type", "controller", "dpo_contact", "nature",
                     "consequences", "measures_mitigation", "data_subjects_informed"):
        item = notice.field(field_id)
        assert (item.source, item.value, item.text()) == (NOT_PROVIDED, None, "not provided")
    assert notice.field("risk_assessment").source == NOT_PROVIDED
    assert notice.field("art34_required").value == "not_assessed"
    text = markdown(notice)
    assert "No personal data was passed" not in text and "are informed" not in text


# --------------------------------------------------------------------------- honest bounds


def test_without_whole_window_figures_the_upper_bound_covers_logged_matches_only() -> None:
    report = schema_1()
    notice = edpb.build(result(report), sample_incident())
    text = markdown(notice)
    headline = notice.summary[0]
    assert "The upper bound of 71 covers logged matches only and is not a maximum" in headline
    assert "11 days of the window have no match log" in headline
    assert "16 input rows were rejected at load" in headline
    assert "first logged match is not in this run's report.json" in headline
    assert "At most" not in text and "upper (maximum)" not in text
    # "maximum" only where it is denied, or as ENISA's ease-of-identification answer
    for match in re.finditer("maximum", text):
        before = text[max(0, match.start() - 6):match.start()]
        line = text[text.rfind("\n", 0, match.start()):match.end()]
        assert before.endswith("not a ") or "ease of identification" in line
    value = notice.field("affected_accounts").value
    assert value["scope"] == "logged_matches_only"
    assert value["logged"] == report["affected_accounts"]


def test_the_window_before_the_first_logged_match_is_named() -> None:
    report = logged_only()
    assert report["coverage"]["first_logged_match"] == "2019-01-01T18:26:39Z"
    headline = edpb.build(result(report), sample_incident()).summary[0]
    assert ("the window from 2019-01-01T00:00:00Z to the first logged match at "
            "2019-01-01T18:26:39Z has no log") in headline
    assert "8 match log rows were rejected at load" in headline
    report["coverage"].update(missing_log_days=0, rejected_rows_by_table={"uploads": 6},
                              first_logged_match="2019-01-01T00:00:00Z")
    clean = edpb.build(result(report), sample_incident()).summary[0]
    assert "covers logged matches only and is not a maximum" in clean
    assert "no gap in the log was found" in clean


@pytest.mark.parametrize("whole", [None, {"lower": 60, "estimate": 70, "upper": 90}])
def test_the_whole_window_figures_are_the_headline_when_present(
        whole: dict[str, int] | None) -> None:
    report = golden()
    report["affected_accounts_whole_window"] = whole
    report["exposed_accounts"] = {"lower": 300, "upper": 340}
    report["audiences_targetable_only_by_incident"] = {"lower": 1, "upper": 2}
    notice = edpb.build(result(report), sample_incident())
    headline = notice.summary[0]
    text = markdown(notice)
    if whole is None:  # null: no uploads, as the whole-window spec says
        assert "covers logged matches only and is not a maximum" in headline
    else:
        assert headline.startswith("Between 60 and 90 accounts were affected over the whole "
                                   "window")
        assert "not a maximum" not in headline
        assert "| Accounts, whole window | 60 | 70 | 90 |" in text
        assert notice.field("affected_accounts").value["scope"] == "whole_window"
    assert "| Accounts, logged matches only | 56 | 64 | 71 |" in text
    assert notice.field("exposed_accounts").source == COMPUTED
    assert "between 300 and 340: the population at risk" in text
    assert "between 1 and 2 audiences reached the smallest targetable size" in text


def test_the_post_fix_control_states_what_it_cannot_rule_out() -> None:
    report = golden()
    text = edpb.build(result(report), sample_incident()).summary[1]
    assert "16 post-fix matches are uncertain and 0 unexplained" in text
    assert "the fix is not proven for them" in text
    assert "Between 0 and 1 accounts may have been served an ad" in text
    report["post_fix"].update(caused=3, fix_held=False)
    report["deliveries"] = None
    failed = edpb.build(result(report), sample_incident()).summary[1]
    assert "3 matches at or after the fix are explained only by a security contact: the fix " \
           "did not hold" in failed
    assert "No deliveries were loaded" in failed


def test_breach_start_and_end_come_from_the_data_beside_the_controllers_dates() -> None:
    report = schema_1()
    without = edpb.build(result(report), sample_incident()).field("breach_period_data")
    # first caused: the earliest first_caused_at; first possibly caused: first_match_at
    assert without.value == {"first_caused_match": "2019-01-05T00:00:00Z",
                             "last_caused_match": None,
                             "first_possibly_caused_match": "2019-01-02T08:00:00Z",
                             "last_possibly_caused_match": None}
    assert "not in this run's report.json" in (without.method or "")
    report["coverage"].update(first_caused_match="2019-01-03T01:00:00Z",
                              last_caused_match="2019-09-16T10:00:00Z",
                              first_possibly_caused_match="2019-01-02T00:01:25Z",
                              last_possibly_caused_match="2019-09-16T22:00:00Z")
    notice = edpb.build(result(report), sample_incident())
    item = notice.field("breach_period_data")
    assert item.value["last_caused_match"] == "2019-09-16T10:00:00Z"
    assert item.text() == ("caused matches from 2019-01-03T01:00:00Z to 2019-09-16T10:00:00Z; "
                           "caused, uncertain or unexplained matches from 2019-01-02T00:01:25Z "
                           "to 2019-09-16T22:00:00Z")
    assert notice.field("started_at").value == "2019-01-01"
    assert notice.field("started_at").source == CONTROLLER
    empty = edpb.build(result(schema_1(), accounts().clear()), sample_incident())
    assert empty.field("breach_period_data").source == NOT_PROVIDED


def test_follow_up_type_and_a_final_notification() -> None:
    incident = sample_incident(type="final")
    assert edpb.build(result(golden()), incident).field("notification_type").value == "final"


# --------------------------------------------------------------------------- sample run


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> api.RunResult:
    root = tmp_path_factory.mktemp("regulator")
    return api.run(sample_dir() / "incident.toml", sample_dir() / "data", root / "out",
                   db_path=root / "ws.duckdb")


def test_on_the_sample_the_computed_fields_equal_report_json(sample_run: api.RunResult) -> None:
    data = json.loads((sample_run.out_dir / "regulator.json").read_text())
    report = json.loads((sample_run.out_dir / "report.json").read_text())
    fields = {f["id"]: f for s in data["sections"] for f in s["fields"]}
    assert fields["affected_accounts"]["value"]["logged"] == report["affected_accounts"]
    # with the uploaded lists, the headline figure is the whole window
    assert {k: fields["affected_accounts"]["value"][k] for k in ("lower", "estimate", "upper")
            } == report["affected_accounts_whole_window"]
    assert fields["records"]["value"] == {
        "lower": report["matches"]["caused"],
        "upper": sum(report["matches"][k] for k in ("caused", "uncertain", "unexplained"))}
    assert fields["ads_served"]["value"] == report["deliveries"]
    assert fields["coverage"]["value"] == report["coverage"]
    assert fields["audiences_to_purge"]["value"]["audiences"] == report["affected_audiences"]
    assert fields["unauthorised_processing"]["value"]["caused_matches"] == (
        report["matches"]["caused"])
    post = fields["post_fix_control"]["value"]
    assert {k: post[k] for k in report["post_fix"]} == report["post_fix"]
    assert post["after_fix_accounts"] == report["deliveries"]["after_fix_accounts"]
    countries = {r["country"]: r for r in fields["data_subjects_by_jurisdiction"]["value"]
                 if r["region"] is None and r["country"]}
    assert {c: {"lower": r["lower"], "upper": r["upper"]} for c, r in countries.items()} == (
        report["by_country"])
    assert fields["risk_assessment"]["value"]["score"] == 2.25
    assert fields["risk_assessment"]["value"]["level"] == "medium"
    assert fields["notices_prepared"]["value"]["accounts"] == report["affected_accounts"][
        "upper"]


# --------------------------------------------------------------------------- diff, follow-up


ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Run A and run B (its own workspace) whose inputs differ by deliveries.csv only."""
    root = tmp_path_factory.mktemp("runs")
    incident_a, data_a = write_small_case(root / "a")
    api.run(incident_a, data_a, root / "a" / "out")
    incident_b, data_b = write_small_case(root / "b")
    with (data_b / "deliveries.csv").open("a") as handle:
        handle.write("2019-08-21T00:00:00Z,c1,1,4\n")
    api.run(incident_b, data_b, root / "b" / "out")
    return root / "a" / "out" / "manifest.json", root / "b" / "out" / "manifest.json", incident_b


def test_diff_of_two_runs_that_differ_by_one_input_file(
        two_runs: tuple[Path, Path, Path]) -> None:
    a, b, _incident = two_runs
    result = api.diff_runs(a, b)
    assert [(i.table, i.path, i.change) for i in result.inputs] == [
        ("deliveries", "deliveries.csv", "changed")]
    assert result.inputs_unchanged > 5
    changed = {row.key: (row.a, row.b) for row in result.changed_figures}
    # the new delivery follows a permitted match too: only the upper bound counts it
    assert changed == {"deliveries.impressions.upper": (3, 7)}
    assert {row.key for row in result.figures} >= {"affected_accounts.lower", "matches.caused"}
    assert result.incident == () and result.tool == ()
    done = subprocess.run([sys.executable, "-m", "incidentscope", "diff", str(a), str(b)],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "changed  deliveries" in done.stdout
    assert re.search(r"\* deliveries\.impressions\.upper +3 +7", done.stdout)
    assert re.search(r"\n  deliveries\.impressions\.lower +0 +0\n", done.stdout)
    as_json = subprocess.run([sys.executable, "-m", "incidentscope", "diff", str(a), str(b),
                              "--format", "json"], capture_output=True, text=True, env=ENV,
                             timeout=120)
    rows = json.loads(as_json.stdout)["figures"]
    assert sum(r["changed"] for r in rows) == 1


def test_a_follow_up_references_the_initial_notification_and_says_what_changed(
        two_runs: tuple[Path, Path, Path]) -> None:
    a, _b, incident = two_runs
    replayed = api.replay(incident)
    follow = api.follow_up(incident, a, replayed)
    notice = edpb.build(replayed, load_incident(incident), follow)
    assert notice.field("notification_type").value == "follow_up"
    reference = notice.field("previous_notification").value
    assert reference["run_id"] == json.loads(a.read_text())["run_id"]
    assert reference["manifest"] == str(a)
    figures = {r["figure"]: (r["previous"], r["now"])
               for r in notice.field("changed_figures").value}
    assert figures == {"deliveries.impressions.upper": (3, 7)}
    assert notice.field("changed_inputs").value == [{
        "table": "deliveries", "path": "deliveries.csv", "change": "changed",
        "previous_sha256": follow.inputs[0].a_sha256, "sha256": follow.inputs[0].b_sha256}]
    assert notice.field("change_reasons").value == [
        "1 input file changed (deliveries): deliveries.csv"]
    text = markdown(notice)
    assert "| Follows the notification of (Art. 33(4)) | run " in text
    assert "| deliveries.impressions.upper | 3 | 7 |" in text
    # through the command line: the four regulator files of the follow-up into a folder
    out = a.parent.parent / "followup"
    done = subprocess.run([sys.executable, "-m", "incidentscope", "report", str(incident),
                           "--format", "regulator", "--out", str(out), "--follow-up-of",
                           str(a), "-q"], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "regulator.json").read_text())
    assert data["sections"][0]["fields"][0]["value"] == "follow_up"
    assert "deliveries.csv" in (out / "regulator.md").read_text()
