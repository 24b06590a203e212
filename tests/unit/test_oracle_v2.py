"""The oracle's v2 figures (whole-window.md) against cases computed by hand.

The cases and their hand computations are in tests/v2_cases.py. These tests check
the oracle against the specification. The engine is compared with the same hand
figures here and with the oracle by tests/property/test_differential_v2.py, both
skipped until the engine implements v2.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

import casefiles
import oracle
import v2_cases


def assert_partial(actual: Any, expected: Any, path: str = "") -> None:
    """Every figure of `expected` is in `actual`; nested dicts are compared key by key."""
    if isinstance(expected, dict) and expected:
        assert isinstance(actual, dict), f"{path or 'report'}: {actual!r} is not a dict"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_partial(actual[key], value, f"{path}.{key}" if path else key)
    else:
        assert actual == expected, f"{path}: oracle {actual!r} != hand {expected!r}"


def run_oracle(case: dict[str, Any]) -> dict[str, Any]:
    tables = {name: rows for name, rows in case["tables"].items() if rows is not None}
    return oracle.oracle_report(tables, case["incident"], by_channel_rule=case["by_channel_rule"])


@pytest.mark.parametrize("case", v2_cases.CASES, ids=[c["name"] for c in v2_cases.CASES])
def test_oracle_gives_the_hand_computed_figures(case: dict[str, Any]) -> None:
    assert_partial(run_oracle(case), case["expected"])


ENGINE_CASES = [c for c in v2_cases.CASES if c["by_channel_rule"] == "v2"]


@pytest.mark.parametrize("case", ENGINE_CASES, ids=[c["name"] for c in ENGINE_CASES])
def test_engine_gives_the_hand_computed_figures(case: dict[str, Any], tmp_path: Path) -> None:
    report = casefiles.run_engine(case["tables"], case["incident"], tmp_path)
    assert_partial(report, case["expected"])


def test_case_names_are_unique_and_every_outcome_set_has_a_case() -> None:
    names = [c["name"] for c in v2_cases.CASES]
    assert len(names) == len(set(names))
    for outcomes in (
        "permitted",
        "caused",
        "none",
        "permitted_caused",
        "permitted_none",
        "caused_none",
        "permitted_caused_none",
    ):
        assert f"outcome_{outcomes}" in names


@pytest.mark.parametrize("case", v2_cases.CASES, ids=[c["name"] for c in v2_cases.CASES])
def test_every_case_is_a_well_formed_report(case: dict[str, Any]) -> None:
    """Bounds are ordered; the whole window contains v1; every figure is v1 or v2."""
    report = run_oracle(case)
    assert set(report) == set(oracle.V1_FIGURES) | set(oracle.V2_FIGURES)
    exposed = report["exposed_accounts"]
    assert exposed["lower"] <= exposed["upper"]
    for figure in ("affected_accounts_whole_window", "audiences_targetable_only_by_incident"):
        if report[figure] is not None:
            assert report[figure]["lower"] <= report[figure]["upper"]
    uploads = report["uploads"]
    if uploads is None:
        assert case["tables"]["uploads"] is None
        assert report["affected_accounts_whole_window"] is None
        return
    for part in ("accounts", "audiences", "campaigns"):
        assert uploads[part]["lower"] <= uploads[part]["upper"]
    whole = report["affected_accounts_whole_window"]
    assert whole["lower"] >= report["affected_accounts"]["lower"]
    assert whole["upper"] >= report["affected_accounts"]["upper"]
    agreement = uploads["log_agreement"]
    assert agreement["logged_caused_pairs_with_upload"] <= agreement["logged_caused_pairs"]
    assert (
        agreement["replayed_caused_pairs_in_log"] <= agreement["replayed_caused_pairs_on_log_days"]
    )


def test_outcome_set_by_definition_equals_the_three_rules_of_the_spec() -> None:
    """O computed over every choice of states equals whole-window.md's listed rules."""
    subsets = [
        set(chosen)
        for size in (1, 2, 3)
        for chosen in itertools.combinations(sorted(oracle.ALL_STATES), size)
    ]
    for keys in (1, 2, 3):
        for state_sets in itertools.product(subsets, repeat=keys):
            listed = set()
            if any(oracle.PERMITTED in s for s in state_sets):
                listed.add(oracle.PERMITTED)
            if all(s - {oracle.PERMITTED} for s in state_sets) and any(
                oracle.RESTRICTED in s for s in state_sets
            ):
                listed.add(oracle.CAUSED)
            if all(oracle.ABSENT in s for s in state_sets):
                listed.add(oracle.NONE)
            assert oracle.outcome_set(list(state_sets)) == listed, state_sets


# The worked examples of docs/input-contract.md (Normalization), for an upload row's
# `country` in place of the account's country. None: rejected.
NORMALIZATION_EXAMPLES = [
    (
        "email",
        " Jane.Doe+ads@GMail.com ",
        None,
        ("jane.doe+ads@gmail.com", "janedoe@gmail.com", "jane.doe+ads@gmail.com"),
    ),
    (
        "email",
        "Jane.Doe@Example.COM",
        None,
        ("jane.doe@example.com", "jane.doe@example.com", "jane.doe@example.com"),
    ),
    ("email", "J a n e@example.org", None, (None, "jane@example.org", None)),
    ("email", ".+x@gmail.com", None, (".+x@gmail.com", None, ".+x@gmail.com")),
    ("phone", "(415) 555-0100", "US", ("+14155550100", "+14155550100", "14155550100")),
    ("phone", "+1 415-555-0100", None, ("+14155550100", "+14155550100", "14155550100")),
    ("phone", "0151 23456789", "DE", ("+4915123456789", "+4915123456789", "4915123456789")),
    ("phone", "020 7946 0018", "GB", ("+442079460018", "+442079460018", "442079460018")),
    ("phone", "+44 20 7946 0018", "DE", ("+442079460018", "+442079460018", "442079460018")),
    ("phone", "020 7946 0018", None, (None, None, None)),
    ("phone", "020 7946 0018", "US", (None, None, None)),
    ("phone", "call me", "DE", (None, None, None)),
]


@pytest.mark.parametrize(("channel", "raw", "country", "by_profile"), NORMALIZATION_EXAMPLES)
def test_raw_values_normalize_as_the_input_contract_shows(
    channel: str, raw: str, country: str | None, by_profile: tuple[str | None, ...]
) -> None:
    for profile, expected in zip(("twitter", "google", "meta"), by_profile, strict=True):
        assert oracle.normalize_raw(channel, raw, country, profile) == expected, profile


def test_by_channel_rule_is_checked() -> None:
    case = v2_cases.CASES[0]
    with pytest.raises(ValueError, match="by_channel_rule"):
        oracle.oracle_report(
            {k: v for k, v in case["tables"].items() if v is not None},
            case["incident"],
            by_channel_rule="v3",
        )


def test_the_oracle_does_not_use_incidentscope() -> None:
    source = Path(oracle.__file__).read_text(encoding="utf-8")
    assert "import incidentscope" not in source
    assert "from incidentscope" not in source


@pytest.mark.parametrize("case", v2_cases.CASES, ids=[c["name"] for c in v2_cases.CASES])
def test_every_case_writes_as_input_files(case: dict[str, Any], tmp_path: Path) -> None:
    """The cases are ready for the engine: uploads.csv and the incident additions."""
    incident_path, data_dir = casefiles.write_case(case["tables"], case["incident"], tmp_path)
    text = incident_path.read_text(encoding="utf-8")
    assert f'normalization = "{case["incident"]["normalization"]}"' in text
    minimum = case["incident"]["min_audience_size"]
    assert ("min_audience_size" in text) == (minimum is not None)
    uploads = case["tables"]["uploads"]
    assert (data_dir / "uploads.csv").exists() == (uploads is not None)
    if uploads is not None:
        lines = (data_dir / "uploads.csv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == "uploaded_at,audience_id,channel,identifier_sha256,contact,country"
        assert len(lines) == 1 + len(uploads)
