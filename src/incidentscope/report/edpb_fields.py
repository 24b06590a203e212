"""One field of the regulator notification: value, source, the article it answers, method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from incidentscope.config import Incident
from incidentscope.notification import Notification

COMPUTED, CONTROLLER, NOT_PROVIDED = "computed", "controller", "not provided"
SOURCE_WORDS = {COMPUTED: "computed", CONTROLLER: "controller's statement",
                NOT_PROVIDED: "not provided"}


@dataclass(frozen=True)
class Rows:
    """A field's value as a table in the documents."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    value: Any  # JSON: str, int, float, bool, list, dict, or None (not provided)
    source: str  # computed | controller | not provided
    answers: str  # the GDPR article and the template section it answers
    method: str | None = None  # how a computed value was obtained (or which key gave it)
    display: str | None = None  # the value in words, as the documents show it
    table: Rows | None = None  # a tabular value, shown below the section's fields

    def text(self) -> str:
        if self.display is not None:
            return self.display
        if self.value is None:
            return NOT_PROVIDED
        if isinstance(self.value, bool):
            return "yes" if self.value else "no"
        if isinstance(self.value, int):
            return f"{self.value:,}"
        if isinstance(self.value, list | tuple):
            return ", ".join(str(v).replace("_", " ") for v in self.value) or "none"
        return str(self.value)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "label": self.label, "value": self.value,
                                "source": self.source, "answers": self.answers,
                                "text": self.text()}
        if self.method is not None:
            data["method"] = self.method
        return data


def n(value: int) -> str:
    return f"{value:,}"


def controller_field(note: Notification, key: str, field_id: str, label: str,
                     answers: str) -> Field:
    """A [notification] key as the controller's statement, or "not provided"."""
    value = note.values.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return Field(field_id, label, None, NOT_PROVIDED, answers,
                     method=f"[notification].{key}")
    plain: Any = list(value) if isinstance(value, tuple) else value
    display = None
    if isinstance(value, str) and "_" in value and " " not in value:
        display = value.replace("_", " ")  # a predefined answer such as follow_up
    return Field(field_id, label, plain, CONTROLLER, answers,
                 method=f"[notification].{key}", display=display)


def date_basis(incident: Incident) -> tuple[date, str]:
    """The date that chooses the authorities: notified_at, else discovered_at, else fix_at."""
    note = incident.notification
    for key in ("notified_at", "discovered_at"):
        moment = note.instant(key)
        if moment is not None:
            return moment.date(), f"[notification].{key}"
    return incident.fix_at.date(), "[incident].fix_at (no notified_at or discovered_at given)"
