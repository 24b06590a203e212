"""The regulator notification as data: the EDPB template's six sections, field by field.

Every field says where its value comes from:
- `computed`: incidentscope computed it from the replay (report.json, the per-account
  outcomes); the field carries its method;
- `controller`: the controller's statement in the incident file ([notification], or
  [incident] for the window), copied as written and not checked by the tool;
- `not provided`: neither; the value is null.

`regulator.py` lays a `Notice` out as Markdown, HTML and PDF; `as_json` is regulator.json
(docs/regulator-json.md). Sections 3 to 5 (the figures) are built in `edpb_figures.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from incidentscope.config import Incident
from incidentscope.diff import FollowUp
from incidentscope.report import edpb_figures as figures
from incidentscope.report.edpb_fields import (
    COMPUTED,
    CONTROLLER,
    NOT_PROVIDED,
    Field,
    Rows,
    controller_field,
    date_basis,
)
from incidentscope.results import ReplayResult

SCHEMA_VERSION = 1
TEMPLATE = ("EDPB draft common template for personal data breach notifications (adopted "
            "for public consultation on 10 June 2026)")
SOURCES = {
    COMPUTED: "computed by incidentscope from the replay; the field states its method",
    CONTROLLER: "the controller's statement in the incident file, copied as written; "
                "incidentscope does not check it",
    NOT_PROVIDED: "neither computed nor stated by the controller",
}


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Notice:
    title: str
    incident_id: str
    sections: tuple[Section, ...]
    summary: tuple[str, ...] = field(default=())  # the headline sentences

    def field(self, field_id: str) -> Field:
        return next(f for s in self.sections for f in s.fields if f.id == field_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "document": "personal data breach notification (GDPR Art. 33)",
            "confidential": True,
            "template": TEMPLATE,
            "incident": {"id": self.incident_id, "title": self.title},
            "sources": SOURCES,
            "summary": list(self.summary),
            "sections": [{"number": s.number, "title": s.title,
                          "fields": [f.as_json() for f in s.fields]} for s in self.sections],
        }


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(
        value, bool) else str(value)


def _count(number: int, noun: str) -> str:
    return "none" if not number else f"{number:,} {noun}{'' if number == 1 else 's'}"


def _follow_up_fields(follow_up: FollowUp, incident: Incident) -> list[Field]:
    """Section 1 of a follow-up: the notification it follows, what changed and why."""
    previous = follow_up.previous
    before = previous.notification
    a = "Art. 33(4); EDPB template 1"
    reference = {"run_id": previous.run_id, "started_at": previous.started_at,
                 "manifest": previous.manifest_path,
                 "manifest_sha256": previous.manifest_sha256,
                 "type": before.get("type"), "case_reference": before.get("case_reference"),
                 "notified_at": before.get("notified_at")}
    figures = follow_up.figures
    return [
        Field("previous_notification", "Follows the notification of", reference, COMPUTED, a,
              method="the previous run's manifest (--follow-up-of)",
              display=f"run {previous.run_id} of {previous.started_at} (manifest sha256 "
                      f"{previous.manifest_sha256[:16]}…)"
                      + (f", notified {before['notified_at']}" if before.get("notified_at")
                         else "")
                      + (f", case reference {before['case_reference']}"
                         if before.get("case_reference") else "")),
        Field("changed_figures", "Figures changed since then",
              [{"figure": r.key, "previous": r.a, "now": r.b} for r in figures], COMPUTED, a,
              method="every report.json figure of the previous run beside this replay's",
              display=_count(len(figures), "figure"),
              table=Rows(("figure", "previous", "now"), tuple(
                  (r.key, _cell(r.a), _cell(r.b)) for r in figures),
                  (False, True, True)) if figures else None),
        Field("changed_inputs", "Input files changed since then",
              [{"table": i.table, "path": i.path, "change": i.change,
                "previous_sha256": i.a_sha256, "sha256": i.b_sha256}
               for i in follow_up.inputs], COMPUTED, a,
              method="the previous manifest's input files beside the files loaded in the "
                     "workspace, by table and path, compared by SHA-256",
              display=_count(len(follow_up.inputs), "file"),
              table=Rows(("table", "file", "change"), tuple(
                  (i.table, i.path, i.change) for i in follow_up.inputs),
                  (False, False, False)) if follow_up.inputs else None),
        Field("change_reasons", "Why the figures changed", list(follow_up.reasons), COMPUTED,
              a, method="from the changed input files, incident file settings and tool "
                        "versions", display="; ".join(follow_up.reasons)),
        controller_field(incident.notification, "follow_up_reason", "follow_up_reason",
                         "Why the figures changed (the controller's account)", a),
    ]


def _type_fields(incident: Incident, follow_up: FollowUp | None) -> tuple[Field, ...]:
    """Section 1: the type of notification, references, and a follow-up's changes."""
    note = incident.notification
    answers = "Art. 33(4); EDPB template 1"
    given = note.text("type")
    if follow_up is not None and given != "final":
        kind = Field("notification_type", "Type of notification", "follow_up", COMPUTED,
                     answers, method="a follow-up of an earlier run's notification "
                     "(--follow-up-of)" + (f"; the incident file says {given}" if given
                                           else ""), display="follow-up")
    else:
        kind = controller_field(note, "type", "notification_type", "Type of notification",
                                answers)
    out = [
        kind,
        Field("controller_reference", "Controller's reference", incident.id, CONTROLLER,
              "EDPB template 1", display=incident.id, method="[incident].id"),
        controller_field(note, "case_reference", "case_reference",
                         "Supervisory authority's case reference", "EDPB template 1"),
    ]
    if follow_up is not None:
        out += _follow_up_fields(follow_up, incident)
    return tuple(out)


def _controller_fields(incident: Incident, result: ReplayResult,
                       on: date, basis: str) -> tuple[Field, ...]:
    note = incident.notification
    b = "Art. 33(3)(b); EDPB template 2"
    out = [
        controller_field(note, "controller", "controller", "Controller", "EDPB template 2"),
        controller_field(note, "controller_contact", "controller_contact",
                         "Contact point for this notification", b),
        controller_field(note, "reporting_person", "reporting_person",
                         "Person reporting the breach", "EDPB template 2"),
        controller_field(note, "dpo_contact", "dpo_contact",
                         "Data protection officer", b),
        controller_field(note, "main_establishment", "main_establishment",
                         "Main establishment in the EU/EEA", "Art. 56(1); EDPB template 2"),
        controller_field(note, "establishments", "establishments",
                         "Other establishments in the EU/EEA", "Art. 4(22)(a); EDPB template 2"),
        controller_field(note, "representative", "representative",
                         "Representative in the Union", "Art. 27; EDPB template 2"),
        controller_field(note, "processors", "processors", "Processors involved",
                         "Art. 33(2); EDPB template 2"),
    ]
    out += figures.authority_fields(result, incident, on, basis)
    return tuple(out)


def _communication_fields(result: ReplayResult, incident: Incident,
                          risk_field: Field) -> tuple[Field, ...]:
    note = incident.notification
    a = "Art. 34; EDPB template 6"
    return (
        Field("art34_required", "Communication to data subjects required?",
              risk_field.value["art34"] if risk_field.value else None,
              COMPUTED if risk_field.value else NOT_PROVIDED, "Art. 34(1), 34(3); EDPB "
              "template 6", method="from the severity level (section 4) and the "
              "controller's Art. 34(3) exception",
              display=risk_field.value["art34_text"] if risk_field.value else NOT_PROVIDED),
        controller_field(note, "art34_exception", "art34_exception",
                         "Art. 34(3) exception", "Art. 34(3); EDPB template 6"),
        controller_field(note, "art34_exception_reason", "art34_exception_reason",
                         "Why the exception applies", "Art. 34(3); EDPB template 6"),
        controller_field(note, "data_subjects_informed", "data_subjects_informed",
                         "Data subjects informed?", a),
        controller_field(note, "data_subjects_informed_at", "data_subjects_informed_at",
                         "When", a),
        controller_field(note, "communication_channels", "communication_channels", "How", a),
        controller_field(note, "communication_content", "communication_content",
                         "Content of the communication", "Art. 34(2); EDPB template 6"),
        figures.notices_field(result),
    )


def build(result: ReplayResult, incident: Incident,
          follow_up: FollowUp | None = None) -> Notice:
    """The notification of `result` under the incident file's [notification] statements;
    with `follow_up`, a follow-up notification that references the previous one."""
    report = result.report
    on, basis = date_basis(incident)
    risk = figures.risk_field(result, incident)
    sections = (
        Section(1, "Type of notification", _type_fields(incident, follow_up)),
        Section(2, "Controller, reporting person and data protection officer",
                _controller_fields(incident, result, on, basis)),
        Section(3, "Nature of the breach: date, time and duration; data subjects and "
                   "personal data; measures in place", figures.nature_fields(result, incident)),
        Section(4, "Likely consequences", (
            controller_field(incident.notification, "consequences", "consequences",
                             "Likely consequences", "Art. 33(3)(c); EDPB template 4"),
            controller_field(incident.notification, "consequence_types", "consequence_types",
                             "Kinds of consequence", "Art. 33(3)(c); EDPB template 4"),
            risk)),
        Section(5, "Measures taken or proposed to mitigate and to prevent",
                figures.measure_fields(result, incident)),
        Section(6, "Communication to data subjects",
                _communication_fields(result, incident, risk)),
    )
    return Notice(report["incident"]["title"], report["incident"]["id"], sections,
                  figures.summary(result))
