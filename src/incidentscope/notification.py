"""The incident file's `[notification]` section: what the controller states in the notification.

The regulator notification (report/regulator.py) follows the sections of the EDPB's draft
common template. Each of its fields is computed by the tool, taken from here as the
controller's statement, or "not provided". This module only reads and validates the
section; it computes nothing. Where the template offers predefined answers, the key takes
one of a fixed list of values (`choice`, `choices`), so a typo is an error, not a new
category. docs/incident-file.md documents every key.

`[notification.risk]` holds the inputs of the ENISA severity assessment (report/risk.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from incidentscope.errors import ConfigError

Value = str | bool | float | tuple[str, ...]

# Predefined answers (the EDPB draft template and the national forms ask for these).
NOTIFICATION_TYPES = ("complete", "initial", "follow_up", "final")
DISCOVERY_METHODS = ("internal_review", "monitoring", "data_subject", "third_party", "media",
                     "supervisory_authority", "processor", "other")
BREACH_CATEGORIES = ("confidentiality", "integrity", "availability")
ROOT_CAUSES = ("software_error", "misconfiguration", "human_error", "process_failure",
               "malicious_internal", "malicious_external", "processor", "other")
CONSEQUENCE_TYPES = ("loss_of_control", "unwanted_advertising", "profiling",
                     "loss_of_confidentiality", "discrimination", "identity_theft", "fraud",
                     "financial_loss", "reputational_damage", "psychological_harm",
                     "physical_harm", "other")
OTHER_BODIES = ("none", "police", "csirt", "other_supervisory_authority", "sector_regulator",
                "insurer", "other")
INFORMED = ("yes", "planned", "no")
COMMUNICATION_CHANNELS = ("email", "in_app", "sms", "letter", "website", "public_notice",
                          "other")
ART34_EXCEPTIONS = ("none", "a", "b", "c")
# ENISA severity inputs (their scores are in report/risk.py)
DATA_TYPES = ("simple", "behavioural", "financial", "sensitive")
EASE_OF_IDENTIFICATION = ("negligible", "limited", "significant", "maximum")
CONFIDENTIALITY = ("none", "exposed", "known_recipients", "unknown_recipients")
INTEGRITY = ("none", "recoverable", "irrecoverable")
AVAILABILITY = ("none", "temporary", "permanent")

# A country (ISO 3166-1 alpha-2) or a subdivision (ISO 3166-2, e.g. DE-BY).
CODE_PATTERN = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


@dataclass(frozen=True)
class Key:
    """One key of [notification] (or [notification.risk]) and what it answers."""

    name: str
    kind: str  # text | instant | choice | choices | bool | score | code | codes
    choices: tuple[str, ...] = ()


def _keys(*keys: Key) -> dict[str, Key]:
    return {key.name: key for key in keys}


KEYS: dict[str, Key] = _keys(
    # 1. type of notification
    Key("type", "choice", NOTIFICATION_TYPES),
    Key("case_reference", "text"),
    Key("follow_up_reason", "text"),
    # 2. controller, reporting person, DPO, establishment
    Key("controller", "text"),
    Key("controller_contact", "text"),
    Key("reporting_person", "text"),
    Key("dpo_contact", "text"),
    Key("representative", "text"),
    Key("processors", "text"),
    Key("main_establishment", "code"),
    Key("establishments", "codes"),
    Key("lead_authority", "text"),
    # 3. nature: dates, discovery, category, cause, measures in place
    Key("started_at", "instant"),
    Key("ended_at", "instant"),
    Key("discovered_at", "instant"),
    Key("discovery_method", "choice", DISCOVERY_METHODS),
    Key("discovery_description", "text"),
    Key("notified_at", "instant"),
    Key("delay_reason", "text"),
    Key("nature", "text"),
    Key("breach_categories", "choices", BREACH_CATEGORIES),
    Key("root_cause", "choice", ROOT_CAUSES),
    Key("root_cause_description", "text"),
    Key("measures_in_place", "text"),
    # 4. likely consequences
    Key("consequences", "text"),
    Key("consequence_types", "choices", CONSEQUENCE_TYPES),
    # 5. measures to mitigate and to prevent
    Key("measures_mitigation", "text"),
    Key("measures_prevention", "text"),
    Key("other_bodies_informed", "choices", OTHER_BODIES),
    Key("other_bodies_description", "text"),
    # 6. communication with data subjects
    Key("data_subjects_informed", "choice", INFORMED),
    Key("data_subjects_informed_at", "instant"),
    Key("communication_channels", "choices", COMMUNICATION_CHANNELS),
    Key("communication_content", "text"),
    Key("art34_exception", "choice", ART34_EXCEPTIONS),
    Key("art34_exception_reason", "text"),
)

RISK_KEYS: dict[str, Key] = _keys(
    Key("data_type", "choice", DATA_TYPES),
    Key("dpc_score", "score"),
    Key("dpc_reason", "text"),
    Key("ease_of_identification", "choice", EASE_OF_IDENTIFICATION),
    Key("ease_reason", "text"),
    Key("confidentiality", "choice", CONFIDENTIALITY),
    Key("integrity", "choice", INTEGRITY),
    Key("availability", "choice", AVAILABILITY),
    Key("malicious", "bool"),
    Key("circumstances_reason", "text"),
)

# Free-text keys that [report] held before [notification] existed: where each one went.
MOVED_FROM_REPORT: dict[str, str] = {
    "controller": "controller", "controller_contact": "controller_contact",
    "dpo_contact": "dpo_contact", "started_at": "started_at",
    "discovered_at": "discovered_at", "notified_at": "notified_at", "nature": "nature",
    "consequences": "consequences", "measures": "measures_mitigation",
    "delay_reason": "delay_reason", "lead_authority": "lead_authority",
}


@dataclass(frozen=True)
class Notification:
    """The validated [notification] section: only the keys the file gives."""

    values: Mapping[str, Value] = field(default_factory=dict)
    risk: Mapping[str, Value] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value.strip() or None if isinstance(value, str) else None

    def items(self, key: str) -> tuple[str, ...]:
        value = self.values.get(key)
        return value if isinstance(value, tuple) else ()

    def instant(self, key: str) -> datetime | None:
        """A date/timestamp key as a naive UTC datetime (validated when parsed)."""
        from incidentscope.config import parse_instant

        value = self.text(key)
        return None if value is None else parse_instant(value, f"[notification].{key}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, sorted (the run manifest records it)."""
        def plain(values: Mapping[str, Value]) -> dict[str, Any]:
            return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(values.items())}
        return {**plain(self.values), "risk": plain(self.risk)} if self.risk else plain(
            self.values)


def _value(key: Key, raw: object, where: str) -> Value:
    from incidentscope.config import parse_instant

    if key.kind in ("text", "instant"):
        if isinstance(raw, date | datetime):
            raw = raw.isoformat()
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: expected a string")
        if key.kind == "instant":
            parse_instant(raw, where)
        return raw
    if key.kind == "bool":
        if not isinstance(raw, bool):
            raise ConfigError(f"{where}: expected true or false")
        return raw
    if key.kind == "score":
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 1 <= raw <= 4:
            raise ConfigError(f"{where}: a number from 1 to 4")
        return float(raw)
    if key.kind in ("choice", "code"):
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: expected a string")
        return _checked(key, raw.strip(), where)
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(sorted({_checked(key, v.strip(), where) for v in raw}))


def _checked(key: Key, value: str, where: str) -> str:
    if key.kind in ("code", "codes"):
        if key.kind == "code" and value.lower() == "none":
            return "none"
        code = value.upper()
        if not CODE_PATTERN.match(code):
            raise ConfigError(f"{where}: a country code (ISO 3166-1 alpha-2, e.g. IE) or a "
                              "subdivision (ISO 3166-2, e.g. DE-BY)"
                              + (", or \"none\"" if key.kind == "code" else ""))
        return code
    if value not in key.choices:
        raise ConfigError(f"{where}: one of {', '.join(key.choices)}")
    return value


def _section(table: object, keys: dict[str, Key], where: str,
             nested: tuple[str, ...] = ()) -> dict[str, Value]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - set(keys) - set(nested))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'")
    return {name: _value(keys[name], table[name], f"{where}.{name}")
            for name in sorted(table) if name in keys}


def parse_notification(raw: object, name: str) -> Notification:
    """[notification] of the incident file `name` (an empty table when absent)."""
    where = f"{name}: [notification]"
    values = _section(raw, KEYS, where, nested=("risk",))
    assert isinstance(raw, dict)
    risk = _section(raw.get("risk", {}), RISK_KEYS, f"{where}.risk")
    return Notification(values, risk)


def reject_moved_report_keys(report: Mapping[str, object], name: str) -> None:
    """[report] held the notification's free text once: say where a key went."""
    for key in sorted(report):
        if key in MOVED_FROM_REPORT:
            raise ConfigError(f"{name}: [report].{key}: moved to [notification]."
                              f"{MOVED_FROM_REPORT[key]} (docs/incident-file.md)")
