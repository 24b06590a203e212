"""The ENISA severity score and the Art. 34 decision, from hand-computed cases."""

from __future__ import annotations

from typing import Any

import pytest

from incidentscope.notification import (
    AVAILABILITY,
    CONFIDENTIALITY,
    DATA_TYPES,
    EASE_OF_IDENTIFICATION,
    INTEGRITY,
    Notification,
)
from incidentscope.report import risk


def report(advertisers: int = 5, partners: int = 2) -> dict[str, Any]:
    return {"affected_accounts": {"lower": 56, "estimate": 64, "upper": 71},
            "affected_advertisers": {"lower": advertisers, "upper": advertisers},
            "affected_partners": {"lower": partners, "upper": partners}}


FULL: dict[str, Any] = {"data_type": "simple", "ease_of_identification": "maximum",
                        "integrity": "none", "availability": "none", "malicious": False}


def test_every_predefined_answer_has_a_score() -> None:
    assert set(risk.DPC_BASE) == set(DATA_TYPES)
    assert set(risk.EI_SCORE) == set(EASE_OF_IDENTIFICATION)
    assert set(risk.CONFIDENTIALITY_SCORE) == set(CONFIDENTIALITY)
    assert set(risk.INTEGRITY_SCORE) == set(INTEGRITY)
    assert set(risk.AVAILABILITY_SCORE) == set(AVAILABILITY)


@pytest.mark.parametrize(("score", "level"), [
    (0.25, "low"), (1.99, "low"), (2.0, "medium"), (2.99, "medium"), (3.0, "high"),
    (3.99, "high"), (4.0, "very high"), (5.5, "very high")])
def test_levels_at_their_bounds(score: float, level: str) -> None:
    assert risk.level(score) == level


@pytest.mark.parametrize(("inputs", "expected"), [
    # simple data, fully identifiable, known recipients (computed from the counts)
    ({}, 1 * 1.0 + 0.25),
    ({"dpc_score": 2}, 2 * 1.0 + 0.25),
    ({"data_type": "sensitive", "ease_of_identification": "limited"}, 4 * 0.5 + 0.25),
    ({"data_type": "financial", "ease_of_identification": "significant",
      "confidentiality": "unknown_recipients", "integrity": "irrecoverable",
      "availability": "temporary", "malicious": True}, 3 * 0.75 + 0.5 + 0.5 + 0.25 + 0.5),
    ({"data_type": "behavioural", "ease_of_identification": "negligible",
      "confidentiality": "exposed"}, 2 * 0.25),
])
def test_severity_is_dpc_times_ei_plus_circumstances(inputs: dict[str, Any],
                                                     expected: float) -> None:
    result = risk.assess(Notification({}, {**FULL, **inputs}), report())
    assert result.score == pytest.approx(expected)
    assert result.level == risk.level(expected)
    assert result.missing == ()


def test_confidentiality_comes_from_the_counts_unless_the_controller_states_it() -> None:
    known = risk.assess(Notification({}, FULL), report())
    assert known.component("confidentiality").value == "known_recipients"
    assert known.component("confidentiality").source == "computed"
    assert "5 advertisers and 2 data partners" in (known.component("confidentiality").reason
                                                    or "")
    nobody = risk.assess(Notification({}, FULL), report(0, 0))
    assert (nobody.component("confidentiality").value, nobody.score) == ("exposed", 1.0)
    stated = risk.assess(Notification({}, {**FULL, "confidentiality": "unknown_recipients"}),
                         report())
    assert stated.component("confidentiality").source == "controller"
    assert stated.score == pytest.approx(1.5)


def test_missing_inputs_leave_the_score_unassessed() -> None:
    result = risk.assess(Notification({}, {"data_type": "simple"}), report())
    assert result.score is None and result.level is None
    assert result.missing == ("ease_of_identification", "integrity", "availability",
                              "malicious")
    assert result.art34 == "not_assessed"
    empty = risk.assess(Notification(), report())
    assert empty.missing[0] == "data_type or dpc_score"


@pytest.mark.parametrize(("inputs", "exception", "decision"), [
    ({}, None, "not_required"),  # 1.25: low
    ({"data_type": "sensitive"}, None, "required"),  # 4.25: very high
    ({"data_type": "sensitive"}, "none", "required"),
    ({"data_type": "sensitive"}, "a", "exception_a"),
    ({"data_type": "sensitive"}, "b", "exception_b"),
    ({"data_type": "sensitive"}, "c", "public_communication"),
    ({"data_type": "financial"}, None, "required"),  # 3.25: high
    ({"data_type": "behavioural"}, "c", "not_required"),  # 2.25: medium, no exception needed
])
def test_art34_follows_the_level_and_the_exception(inputs: dict[str, Any], exception: str | None,
                                                    decision: str) -> None:
    values = {} if exception is None else {"art34_exception": exception}
    result = risk.assess(Notification(values, {**FULL, **inputs}), report())
    assert result.art34 == decision
    assert result.art34_text
