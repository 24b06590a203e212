"""The computed fields of the regulator notification (sections 2 to 6), worded no stronger
than the data.

An upper bound is a maximum only over what was replayed. Without the whole-window figures
(`affected_accounts_whole_window` of replay semantics v2, from the uploaded lists), the
upper bound covers logged matches only, and every sentence that states it says so and
names what the log misses: days without a log, rows rejected at load, and the part of the
window before the first logged match.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from incidentscope.config import Incident
from incidentscope.report import authorities as auth
from incidentscope.report import risk as risk_model
from incidentscope.report.edpb_fields import (
    COMPUTED,
    CONTROLLER,
    NOT_PROVIDED,
    Field,
    Rows,
    controller_field,
    date_basis,
    n,
)
from incidentscope.report.notes import (
    coverage_gaps,
    headline,
    instant,
    post_fix_text,
    upper_scope,
    whole_window,
)
from incidentscope.results import ReplayResult, iso_z

CHANNEL_NAMES = {"email": "email addresses", "phone": "phone numbers"}
METHOD = ("every logged audience match of the window was replayed against the periodic "
          "snapshots of the contact data: the lower bound counts accounts with a match that "
          "only a contact held for security explains; the upper bound adds every account "
          "with a match the snapshots cannot clear; the estimate weighs those by how likely "
          "each match was caused (docs/estimation.md)")
A3 = "Art. 33(3)(a); EDPB template 3"


def summary(result: ReplayResult) -> tuple[str, ...]:
    control = post_fix_text(result.report)
    return headline(result.report), f"Control after the fix: {control[0].lower()}{control[1:]}"


# --------------------------------------------------------------------------- section 3


def _outcome_bound(result: ReplayResult, column: str) -> str | None:
    frame = result.accounts
    if frame.height == 0 or column not in frame.columns:
        return None
    value = frame[column].drop_nulls().min()
    return iso_z(value) if isinstance(value, datetime) else None


def _period_field(result: ReplayResult) -> Field:
    coverage = result.report["coverage"]
    values: dict[str, str | None] = {}
    methods = []
    for kind, column in (("caused", "first_caused_at"), ("possibly_caused", "first_match_at")):
        for end in ("first", "last"):
            key = f"{end}_{kind}_match"
            if key in coverage:
                values[key] = coverage[key]
            elif end == "first":
                values[key] = _outcome_bound(result, column)
                methods.append(f"{key}: the earliest {column} of the per-account outcomes "
                               f"(report.json has no coverage.{key})")
            else:
                values[key] = None
                methods.append(f"{key}: not in this run's report.json")

    def span(kind: str) -> str:
        first, last = values[f"first_{kind}_match"], values[f"last_{kind}_match"]
        return f"{first or 'unknown'} to {last or 'unknown'}"

    known = any(v is not None for v in values.values())
    return Field(
        "breach_period_data", "Breach period in the data (in-window logged matches)",
        values, COMPUTED if known else NOT_PROVIDED, A3,
        method="first and last in-window, in-scope match that was caused (certain), and "
               "that was caused, uncertain or unexplained (possible)"
               + ("; " + "; ".join(methods) if methods else ""),
        display=(f"caused matches from {span('caused')}; caused, uncertain or unexplained "
                 f"matches from {span('possibly_caused')}" if known else NOT_PROVIDED))


def _window_field(report: dict[str, Any]) -> Field:
    coverage, run = report["coverage"], report["incident"]
    value = {"window_start": run["window_start"], "fix_at": run["fix_at"],
             "first_logged_match": coverage.get("first_logged_match"),
             "last_logged_match": coverage.get("last_logged_match")}
    logged = (f"; logged matches in it from {value['first_logged_match']} to "
              f"{value['last_logged_match'] or 'unknown'}" if value["first_logged_match"]
              else "; the first and last logged match are not in this run's report.json")
    return Field("window_replayed", "Window replayed", value, COMPUTED, A3,
                 method="[incident].window_start (or the earliest match) and fix_at; the "
                        "logged matches from report.json coverage",
                 display=f"from {run['window_start']} to the fix at {run['fix_at']}{logged}")


def _hours(incident: Incident) -> float | None:
    found = incident.notification.instant("discovered_at")
    told = incident.notification.instant("notified_at")
    return None if found is None or told is None else (told - found).total_seconds() / 3600


def _timeline_fields(result: ReplayResult, incident: Incident) -> list[Field]:
    note = incident.notification
    hours = _hours(incident)
    out = [
        _period_field(result),
        controller_field(note, "started_at", "started_at", "Breach started", A3),
        controller_field(note, "ended_at", "ended_at", "Breach ended", A3),
        Field("fixed_at", "Fixed", result.report["incident"]["fix_at"], CONTROLLER, A3,
              method="[incident].fix_at"),
        _window_field(result.report),
        controller_field(note, "discovered_at", "discovered_at",
                         "Controller became aware", "Art. 33(1); EDPB template 3"),
        controller_field(note, "discovery_method", "discovery_method", "How it was discovered",
                         "EDPB template 3"),
        controller_field(note, "discovery_description", "discovery_description",
                         "Discovery, described", "EDPB template 3"),
        controller_field(note, "notified_at", "notified_at", "Notified",
                         "Art. 33(1); EDPB template 3"),
        Field("hours_to_notification", "Hours from awareness to notification",
              None if hours is None else round(hours, 1),
              NOT_PROVIDED if hours is None else COMPUTED, "Art. 33(1); EDPB template 3",
              method="notified_at minus discovered_at",
              display=None if hours is None else f"{hours:,.0f}"),
    ]
    delay = controller_field(note, "delay_reason", "delay_reason",
                             "Reasons for the delay (over 72 hours)",
                             "Art. 33(1); EDPB template 3")
    if delay.value is None and hours is not None and hours <= 72:
        delay = Field(delay.id, delay.label, None, NOT_PROVIDED, delay.answers,
                      method=delay.method, display="not needed: notified within 72 hours")
    return [*out, delay]


def _counts_rows(report: dict[str, Any]) -> Rows:
    matches = report["matches"]
    whole = whole_window(report)
    affected = report["affected_accounts"]
    rows: list[tuple[str, ...]] = []
    if whole is not None:
        rows.append(("Accounts, whole window", n(whole["lower"]), n(whole["estimate"]),
                     n(whole["upper"])))
    rows.append(("Accounts, logged matches only", n(affected["lower"]),
                 n(affected["estimate"]), n(affected["upper"])))
    rows.append(("Audience matches (records), logged", n(matches["caused"]), "",
                 n(matches["caused"] + matches["uncertain"] + matches["unexplained"])))
    for label, key in (("Audiences", "affected_audiences"), ("Campaigns", "affected_campaigns"),
                       ("Advertisers", "affected_advertisers"),
                       ("Data partners", "affected_partners")):
        rows.append((f"{label}, logged matches", n(report[key]["lower"]), "",
                     n(report[key]["upper"])))
    return Rows(("", "lower (certain)", "estimate", "upper bound"), tuple(rows))


def _subject_fields(result: ReplayResult) -> list[Field]:
    report = result.report
    run = report["incident"]
    whole = whole_window(report)
    matches = report["matches"]
    channels = [CHANNEL_NAMES.get(c, c) for c in report["by_channel"]]
    value: dict[str, Any] = dict(whole or report["affected_accounts"])
    value.update(scope="whole_window" if whole else "logged_matches_only",
                 logged=report["affected_accounts"], gaps=coverage_gaps(report))
    records = {"lower": matches["caused"],
               "upper": matches["caused"] + matches["uncertain"] + matches["unexplained"]}
    out = [
        Field("data_subject_categories", "Categories of data subjects",
              "holders of user accounts", COMPUTED, A3,
              method="the replay's subject: accounts matched into audiences",
              display="holders of user accounts whose contact data, given only for "
                      f"{', '.join(run['restricted_purposes'])}, was matched into "
                      f"{', '.join(run['audience_types'])} audiences"),
        Field("data_categories", "Categories of personal data",
              {"channels": list(report["by_channel"]) or None,
               "restricted_purposes": run["restricted_purposes"],
               "audience_types": run["audience_types"]}, COMPUTED, A3,
              method="the channels of the logged matches, the incident's restricted purposes",
              display=f"{', '.join(channels) or 'contact data (the log names no channel)'} "
                      "given for security; membership of the account in advertisers' and "
                      "data partners' audiences"),
        Field("affected_accounts", "Approximate number of data subjects", value, COMPUTED,
              A3, method=METHOD, display=headline(report), table=_counts_rows(report)),
        Field("records", "Approximate number of records (audience matches)", records,
              COMPUTED, A3, method="in-window, in-scope, de-duplicated logged matches: "
              "caused (lower), caused, uncertain or unexplained (upper)",
              display=f"between {n(records['lower'])} and {n(records['upper'])} logged "
                      "audience matches"),
    ]
    exposed = report.get("exposed_accounts")
    out.append(Field(
        "exposed_accounts", "Accounts that held a security-only contact in the window",
        exposed, COMPUTED if exposed else NOT_PROVIDED, A3,
        method="report.json exposed_accounts (replay semantics v2)",
        display=(f"between {n(exposed['lower'])} and {n(exposed['upper'])}: the population "
                 "at risk" if exposed else "not in this run's report.json")))
    contacts = report.get("contacts_used")
    out.append(Field(
        "contacts_used", "Distinct contacts used for matching", contacts,
        COMPUTED if contacts else NOT_PROVIDED, A3, method="report.json contacts_used",
        display=(f"between {n(contacts['lower'])} and {n(contacts['upper'])} distinct "
                 "contacts" if contacts else "not in this run's report.json")))
    deliveries = report.get("deliveries")
    out.append(Field(
        "ads_served", "Ads served because of the incident", deliveries,
        COMPUTED if deliveries is not None else NOT_PROVIDED, A3,
        method="a delivery counts when every earlier match of the account into the "
               "campaign's audiences is caused (lower) or not permitted (upper)",
        display=(f"through logged matches, in the window to between "
                 f"{n(deliveries['accounts']['lower'])} and "
                 f"{n(deliveries['accounts']['upper'])} accounts "
                 f"({n(deliveries['impressions']['lower'])} to "
                 f"{n(deliveries['impressions']['upper'])} impressions); after the fix to "
                 f"between {n(deliveries['after_fix_accounts']['lower'])} and "
                 f"{n(deliveries['after_fix_accounts']['upper'])} accounts"
                 if deliveries is not None else "no deliveries were loaded")))
    return out


def _coverage_field(report: dict[str, Any]) -> Field:
    coverage, run = report["coverage"], report["incident"]

    def given(key: str) -> str:
        value = coverage.get(key)
        return "not in this run's report.json" if value is None else (
            n(value) if isinstance(value, int) else str(value))

    before_snapshots = "none"
    first_snapshot = coverage.get("first_snapshot")
    if first_snapshot and date.fromisoformat(first_snapshot) > instant(
            run["window_start"]).date():
        before_snapshots = (f"from {run['window_start']} to {first_snapshot}: contact states "
                            "unknown there")
    rows = [
        ("First logged match in the window", given("first_logged_match")),
        ("Last logged match in the window", given("last_logged_match")),
        ("Days of the window without match log", given("missing_log_days")),
        ("Input rows rejected at load", given("rejected_rows")),
        ("Contact snapshots", f"{given('snapshots')} from {given('first_snapshot')} to "
                              f"{given('last_snapshot')}, every "
                              f"{given('snapshot_cadence_days')} days (median)"),
        ("Window before the first snapshot", before_snapshots),
        ("In-window matches outside the snapshot range", given("outside_snapshot_range")),
        ("Duplicate log rows removed", given("duplicate_rows")),
        ("In-window matches naming an unknown audience", given("unknown_audience_matches")),
    ]
    uploads = report.get("uploads", "absent")
    if uploads == "absent":
        rows.append(("Uploaded lists replayed", "not in this run's report.json"))
    elif uploads is None:
        rows.append(("Uploaded lists replayed", "none loaded: the window beyond the log is "
                                                "not replayed"))
    else:
        agreement = uploads["log_agreement"]
        rows.append(("Uploaded lists replayed", f"{n(uploads['entries'])} entries"))
        rows.append(("Logged caused pairs found in the uploads",
                     f"{n(agreement['logged_caused_pairs_with_upload'])} of "
                     f"{n(agreement['logged_caused_pairs'])}"))
    gaps = coverage_gaps(report)
    return Field("coverage", "Coverage of the data", dict(coverage), COMPUTED, A3,
                 method="report.json coverage",
                 display=("the upper bound covers the whole window" if whole_window(report)
                          else "gaps of the match log: " + ("; ".join(gaps) or "none found")),
                 table=Rows(("", ""), tuple(rows), (False, False)))


def jurisdiction_field(result: ReplayResult, on: date) -> Field:
    rows = auth.jurisdiction_counts(result.accounts)
    values = []
    table = []
    for row in rows:
        code = row.region or row.country or "unknown"
        authority = auth.authority(row.country, row.region, on) if row.country else None
        status = auth.status(row.country, on) if row.country else "no country recorded"
        values.append({"country": row.country or None, "region": row.region,
                       "status": status, "regime": auth.regime(row.country, on),
                       "authority": authority, "lower": row.lower, "estimate": row.estimate,
                       "upper": row.upper})
        table.append(("  " + code if row.region else code, status,
                      authority or "-", n(row.lower), n(row.estimate), n(row.upper)))
    return Field(
        "data_subjects_by_jurisdiction", "Data subjects by country and region", values,
        COMPUTED, "Art. 33(3)(a), Art. 4(22)(b); EDPB template 3",
        method=f"accounts in the upper bound by the country (and region, where given) of "
               f"accounts, status and authorities as of {on.isoformat()}; logged matches "
               "only; a group's estimate is its certain accounts plus its other accounts' "
               "probabilities, rounded",
        display=f"{len([r for r in rows if r.region is None])} countries; see the table",
        table=Rows(("jurisdiction", f"status on {on.isoformat()}", "supervisory authority",
                    "lower", "estimate", "upper (logged matches)"), tuple(table),
                   (False, False, False, True, True, True)))


def nature_fields(result: ReplayResult, incident: Incident) -> tuple[Field, ...]:
    report = result.report
    note = incident.notification
    on, _basis = date_basis(incident)
    caused, lower = report["matches"]["caused"], report["affected_accounts"]["lower"]
    return (
        *_timeline_fields(result, incident),
        controller_field(note, "nature", "nature", "What happened", A3),
        Field("unauthorised_processing", "Why this is a personal data breach",
              {"caused_matches": caused, "accounts_lower": lower}, COMPUTED,
              "Art. 4(12); EDPB template 3",
              method="caused matches: in-window matches that only a contact held for the "
                     "restricted purposes explains",
              display=(f"unauthorised processing: contact data held only for "
                       f"{', '.join(report['incident']['restricted_purposes'])} was used to "
                       f"match accounts into audiences ({n(caused)} caused matches, "
                       f"{n(lower)} accounts for certain)" if caused else
                       "no match is explained only by a security contact: the replay shows "
                       "no unauthorised processing for certain")),
        controller_field(note, "breach_categories", "breach_categories",
                         "Category (confidentiality, integrity, availability)",
                         "EDPB template 3"),
        controller_field(note, "root_cause", "root_cause", "Root cause", "EDPB template 3"),
        controller_field(note, "root_cause_description", "root_cause_description",
                         "Root cause, described", "EDPB template 3"),
        *_subject_fields(result),
        _coverage_field(report),
        jurisdiction_field(result, on),
        controller_field(note, "measures_in_place", "measures_in_place",
                         "Security measures in place before the breach",
                         "Art. 32; EDPB template 3"),
    )


# --------------------------------------------------------------------------- section 2


def authority_fields(result: ReplayResult, incident: Incident, on: date,
                     basis: str) -> list[Field]:
    note = incident.notification
    rows = auth.jurisdiction_counts(result.accounts)
    found = auth.lead_and_concerned(rows, on, note.text("main_establishment"),
                                    note.items("establishments"), note.text("lead_authority"))
    a = "Art. 55, 56; EDPB template 2"
    method = f"the dated table of authorities as of {on.isoformat()} ({basis})"
    lead_source = (CONTROLLER if note.text("lead_authority") and found.lead else
                   COMPUTED if found.lead or found.mode == "no_eu_establishment"
                   else NOT_PROVIDED)
    return [
        Field("lead_authority", "Lead supervisory authority", found.lead, lead_source, a,
              method=f"{found.lead_basis}; {method}",
              display=f"{found.lead} ({found.lead_basis})" if found.lead else
              found.lead_basis),
        Field("concerned_authorities", "Supervisory authorities concerned",
              list(found.concerned), COMPUTED, "Art. 4(22); EDPB template 2",
              method="every EU/EEA country (German Land, by region) with an account in the "
                     "upper bound, and every establishment; " + method,
              display="; ".join(found.concerned) or "none"),
        Field("separate_notifications", "Notifications outside the GDPR",
              list(found.separate), COMPUTED, "UK GDPR Art. 33; EDPB template 2",
              method=method,
              display="; ".join(found.separate) or "none"),
        Field("authorities_undetermined", "Accounts whose authority cannot be chosen",
              list(found.undetermined), COMPUTED, "Art. 4(22); EDPB template 2",
              method=method,
              display="; ".join(found.undetermined) or "none"),
    ]


# --------------------------------------------------------------------------- sections 4-6


def risk_field(result: ReplayResult, incident: Incident) -> Field:
    report = result.report
    assessment = risk_model.assess(incident.notification, report)
    names = {"dpc": "data processing context (DPC)",
             "ease_of_identification": "ease of identification (EI)",
             "confidentiality": "loss of confidentiality", "integrity": "loss of integrity",
             "availability": "loss of availability", "malicious": "malicious intent"}
    rows = tuple((names[c.name], (c.value or NOT_PROVIDED).replace("_", " "),
                  "-" if c.score is None else f"{c.score:g}", c.source, c.reason or "")
                 for c in assessment.components)
    people = whole_window(report) or report["affected_accounts"]
    value = {"score": assessment.score, "level": assessment.level,
             "missing": list(assessment.missing), "art34": assessment.art34,
             "art34_text": assessment.art34_text,
             "components": [{"criterion": c.name, "value": c.value, "score": c.score,
                             "source": c.source, "reason": c.reason}
                            for c in assessment.components],
             "accounts": {"lower": people["lower"], "upper": people["upper"],
                          "scope": upper_scope(report)}}
    if assessment.score is None:
        display = ("not assessed: [notification.risk] does not give "
                   + ", ".join(assessment.missing))
    else:
        display = (f"severity {assessment.score:.2f}, {assessment.level} (SE = DPC x EI + CB); "
                   f"the number of people, which ENISA's score leaves out, is weighed beside "
                   f"it: at least {n(people['lower'])} accounts, an upper bound of "
                   f"{n(people['upper'])} ({upper_scope(report)})")
    return Field("risk_assessment", "Risk assessment (likelihood and severity)", value,
                 COMPUTED if assessment.score is not None else NOT_PROVIDED,
                 "Art. 33(3)(c), 34(1); EDPB template 4", method=risk_model.METHOD,
                 display=display, table=Rows(("criterion", "value", "score", "source",
                                              "reason"), rows,
                                             (False, False, True, False, False)))


def measure_fields(result: ReplayResult, incident: Incident) -> tuple[Field, ...]:
    report = result.report
    note = incident.notification
    a = "Art. 33(3)(d); EDPB template 5"
    audiences = report["affected_audiences"]
    value: dict[str, Any] = {"audiences": audiences,
                             "advertisers": report["affected_advertisers"],
                             "partners": report["affected_partners"]}
    text = (f"remove the memberships created by the incident from between "
            f"{n(audiences['lower'])} audiences (with a caused match) and "
            f"{n(audiences['upper'])} (with a caused, uncertain or unexplained match; logged "
            "matches only), of "
            f"{n(report['affected_advertisers']['upper'])} advertisers and "
            f"{n(report['affected_partners']['upper'])} data partners; letters per recipient "
            "with the audiences and counts: art34/letters.md")
    targetable = report.get("audiences_targetable_only_by_incident", "absent")
    if isinstance(targetable, dict):
        value["targetable_only_by_incident"] = targetable
        text += (f"; between {n(targetable['lower'])} and {n(targetable['upper'])} audiences "
                 "reached the smallest targetable size only through the incident")
    post = report["post_fix"]
    return (
        controller_field(note, "measures_mitigation", "measures_mitigation",
                         "Measures taken or proposed to mitigate", a),
        Field("audiences_to_purge", "Audiences to purge", value, COMPUTED, a,
              method="affected_audiences, affected_advertisers, affected_partners of "
                     "report.json (logged matches)", display=text),
        Field("post_fix_control", "Control after the fix",
              {k: post[k] for k in ("caused", "uncertain", "unexplained", "permitted",
                                    "fix_held")}
              | {"after_fix_accounts": (report.get("deliveries") or {}).get(
                  "after_fix_accounts")},
              COMPUTED, a, method="matches at or after fix_at classified like the window's",
              display=post_fix_text(report)),
        controller_field(note, "measures_prevention", "measures_prevention",
                         "Measures to prevent recurrence", a),
        controller_field(note, "other_bodies_informed", "other_bodies_informed",
                         "Other bodies informed", "EDPB template 5"),
        controller_field(note, "other_bodies_description", "other_bodies_description",
                         "Other bodies, described", "EDPB template 5"),
    )


def notices_field(result: ReplayResult) -> Field:
    from incidentscope.report.art34 import recipients

    frame = recipients(result)
    if frame.height == 0:
        return Field("notices_prepared", "Notices prepared (Art. 34 pack)", {"accounts": 0},
                     COMPUTED, "Art. 34(2); EDPB template 6", method="art34/notices.csv",
                     display="none: no account is in the upper bound")
    counts = frame.group_by("language").len().sort("language")
    languages = {str(k): int(v) for k, v in counts.iter_rows()}
    certain = int(frame["certain"].sum())
    return Field(
        "notices_prepared", "Notices prepared (Art. 34 pack)",
        {"accounts": frame.height, "certain": certain, "possible": frame.height - certain,
         "languages": languages}, COMPUTED, "Art. 34(2); EDPB template 6",
        method="one notice per account in the upper bound (art34/notices.csv); language from "
               "the account's language, else its country, else English",
        display=f"{n(frame.height)} notices ({n(certain)} affected for certain, "
                f"{n(frame.height - certain)} possibly); languages: "
                + ", ".join(f"{k} {n(v)}" for k, v in languages.items()))

