"""The severity of the breach after ENISA's methodology, and whether Art. 34 applies.

ENISA, "Recommendations for a methodology of the assessment of severity of personal data
breaches" (working document v1.0, December 2013):

    SE = DPC x EI + CB

- DPC, data processing context (1 to 4): the base score of the data type (simple 1,
  behavioural 2, financial 3, sensitive 4), adjusted by the context of the processing
  (`dpc_score` in [notification.risk] gives the adjusted score);
- EI, ease of identification: negligible 0.25, limited 0.5, significant 0.75, maximum 1;
- CB, circumstances of the breach, added: loss of confidentiality (exposed without evidence
  of unlawful processing 0, known recipients +0.25, unknown recipients +0.5), of integrity
  (recoverable +0.25, irrecoverable +0.5), of availability (temporary +0.25, permanent
  +0.5), malicious intent +0.5.

Level: SE < 2 low, 2 <= SE < 3 medium, 3 <= SE < 4 high, SE >= 4 very high.

The inputs are the controller's ([notification.risk]), except the loss of confidentiality,
which the tool derives from its own counts when the controller does not state it: if the
audiences of any advertiser or data partner held an affected account (the upper bounds of
`affected_advertisers` and `affected_partners`), the data reached known recipients.

Art. 34(1) applies when the breach is likely to result in a high risk: the tool reads an
ENISA level of high or very high as that, and applies the controller's Art. 34(3)
exception when one is stated. The number of people affected is not part of ENISA's score;
it is shown beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidentscope.notification import Notification

DPC_BASE = {"simple": 1.0, "behavioural": 2.0, "financial": 3.0, "sensitive": 4.0}
EI_SCORE = {"negligible": 0.25, "limited": 0.5, "significant": 0.75, "maximum": 1.0}
CONFIDENTIALITY_SCORE = {"none": 0.0, "exposed": 0.0, "known_recipients": 0.25,
                         "unknown_recipients": 0.5}
INTEGRITY_SCORE = {"none": 0.0, "recoverable": 0.25, "irrecoverable": 0.5}
AVAILABILITY_SCORE = {"none": 0.0, "temporary": 0.25, "permanent": 0.5}
MALICIOUS_SCORE = 0.5
LEVELS = ((2.0, "low"), (3.0, "medium"), (4.0, "high"))
HIGH_LEVELS = ("high", "very high")
METHOD = ("ENISA severity methodology (2013): SE = DPC x EI + CB; low below 2, medium "
          "below 3, high below 4, very high from 4.")


@dataclass(frozen=True)
class Component:
    """One input of the score: its value, its score, and where it comes from."""

    name: str
    value: str | None  # None: not provided
    score: float | None
    source: str  # computed | controller | not provided
    reason: str | None = None


@dataclass(frozen=True)
class Assessment:
    # dpc, ease_of_identification, confidentiality, integrity, availability, malicious
    components: tuple[Component, ...]
    score: float | None  # None while an input is missing
    level: str | None
    missing: tuple[str, ...]  # [notification.risk] keys the score still needs
    art34: str  # required | not_required | exception_a | exception_b | public_communication
    # | not_assessed
    art34_text: str

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def level(score: float) -> str:
    for bound, name in LEVELS:
        if score < bound:
            return name
    return "very high"


def severity(dpc: float, ei: float, circumstances: float) -> float:
    return dpc * ei + circumstances


def _choice(risk: Any, key: str, scores: dict[str, float]) -> Component:
    value = risk.get(key)
    if value is None:
        return Component(key, None, None, "not provided")
    return Component(key, str(value), scores[str(value)], "controller")


def _confidentiality(notification: Notification, report: dict[str, Any]) -> Component:
    given = notification.risk.get("confidentiality")
    reason = notification.risk.get("circumstances_reason")
    if given is not None:
        return Component("confidentiality", str(given), CONFIDENTIALITY_SCORE[str(given)],
                         "controller", str(reason) if reason else None)
    advertisers = report["affected_advertisers"]["upper"]
    partners = report.get("affected_partners", {"upper": 0})["upper"]
    if advertisers + partners:
        return Component("confidentiality", "known_recipients", 0.25, "computed",
                         f"the audiences of {advertisers:,} advertisers and {partners:,} data "
                         "partners held affected accounts (upper bounds)")
    return Component("confidentiality", "exposed", 0.0, "computed",
                     "no advertiser's or data partner's audience held an affected account")


def _dpc(notification: Notification) -> Component:
    risk = notification.risk
    reason = str(risk["dpc_reason"]) if risk.get("dpc_reason") else None
    data_type = risk.get("data_type")
    if risk.get("dpc_score") is not None:
        score = float(risk["dpc_score"])  # type: ignore[arg-type]
        label = f"{data_type} (adjusted to {score:g})" if data_type else f"{score:g}"
        return Component("dpc", label, score, "controller", reason)
    if data_type is None:
        return Component("dpc", None, None, "not provided")
    return Component("dpc", str(data_type), DPC_BASE[str(data_type)], "controller", reason)


def _art34(level_name: str | None, notification: Notification) -> tuple[str, str]:
    exception = notification.text("art34_exception") or "none"
    if level_name is None:
        return "not_assessed", ("not assessed: the severity score needs the inputs listed as "
                                "not provided")
    if level_name not in HIGH_LEVELS:
        return "not_required", (f"not required by Art. 34(1): the severity is {level_name}, "
                                "not high (the controller may inform people all the same)")
    if exception == "a":
        return "exception_a", ("not required: Art. 34(3)(a), the data was unintelligible to "
                               "anyone not authorised (the controller's statement)")
    if exception == "b":
        return "exception_b", ("not required: Art. 34(3)(b), subsequent measures ensure the "
                               "high risk is no longer likely (the controller's statement)")
    if exception == "c":
        return "public_communication", (
            "required, by public communication instead: Art. 34(3)(c), individual "
            "communication would involve disproportionate effort (the controller's statement)")
    return "required", f"required (Art. 34(1)): the severity is {level_name}"


def assess(notification: Notification, report: dict[str, Any]) -> Assessment:
    """The ENISA score of the controller's inputs and the tool's counts."""
    risk = notification.risk
    dpc = _dpc(notification)
    ease = _choice(risk, "ease_of_identification", EI_SCORE)
    if ease.value is not None and risk.get("ease_reason"):
        ease = Component(ease.name, ease.value, ease.score, ease.source,
                         str(risk["ease_reason"]))
    malicious = risk.get("malicious")
    components = (
        dpc, ease, _confidentiality(notification, report),
        _choice(risk, "integrity", INTEGRITY_SCORE),
        _choice(risk, "availability", AVAILABILITY_SCORE),
        Component("malicious", None, None, "not provided") if malicious is None else
        Component("malicious", "yes" if malicious else "no",
                  MALICIOUS_SCORE if malicious else 0.0, "controller"),
    )
    missing = tuple("data_type or dpc_score" if c.name == "dpc" else c.name
                    for c in components if c.score is None)
    score = name = None
    if not missing:
        scores = [c.score for c in components]
        assert all(s is not None for s in scores)
        score = severity(scores[0] or 0.0, scores[1] or 0.0, sum(s or 0.0 for s in scores[2:]))
        name = level(score)
    art34, text = _art34(name, notification)
    return Assessment(components, score, name, missing, art34, text)
