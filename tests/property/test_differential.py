"""Differential test: the engine's report equals the oracle's on small random cases.

Hypothesis generates tiny synthetic investigations (a few accounts and snapshots,
up to 25 matches) aimed at the edges of the replay semantics: purposes that
change, appear and disappear between snapshots, duplicate contact rows, a phone
hash shared by two accounts, matches with and without channel and identifier,
exact duplicates, matches exactly at snapshot times, outside the snapshot range
and across fix_at, audiences in and out of scope or unknown, optional accounts
and deliveries. Each case is written as CSV files and run through
`incidentscope.api.run`; every v1 figure of the oracle (`oracle.V1_FIGURES`, with
v1's by_channel rule) must match. The v2 figures of whole-window.md are compared
by test_differential_v2.py, whose cases extend these (`case_parts`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import casefiles
import oracle
from casefiles import sha
from incidentscope import figures

Row = dict[str, Any]
Case = tuple[dict[str, list[Row] | None], dict[str, Any]]

BASE = datetime(2019, 8, 1)
SPAN_DAYS = 60
MINUTES_PER_DAY = 24 * 60
RESTRICTED_LABELS = ("two_factor", "account_recovery")
PERMITTED_LABELS = ("profile", "signup", "ads")
AUDIENCES: list[Row] = [
    {
        "audience_id": "aud-t1",
        "advertiser_id": "adv-1",
        "audience_type": "tailored",
        "partner_id": None,
    },
    {
        "audience_id": "aud-t2",
        "advertiser_id": "adv-2",
        "audience_type": "tailored",
        "partner_id": None,
    },
    {
        "audience_id": "aud-p1",
        "advertiser_id": "adv-1",
        "audience_type": "partner",
        "partner_id": "ptn-1",
    },
    {
        "audience_id": "aud-p2",
        "advertiser_id": "adv-3",
        "audience_type": "partner",
        "partner_id": "ptn-2",
    },
    {
        "audience_id": "aud-p3",
        "advertiser_id": "adv-3",
        "audience_type": "partner",
        "partner_id": None,
    },
]
# Matched into, but missing from the audiences table.
MISSING_AUDIENCE = "aud-missing"
CAMPAIGNS: list[Row] = [
    {"campaign_id": "cmp-1", "advertiser_id": "adv-1", "name": "synthetic one"},
    {"campaign_id": "cmp-2", "advertiser_id": "adv-2", "name": None},
    {"campaign_id": "cmp-3", "advertiser_id": "adv-3", "name": "synthetic three"},
    {"campaign_id": "cmp-4", "advertiser_id": "adv-1", "name": "synthetic four"},
]
COUNTRIES = ("DE", "FR", "US", "GB")

EXAMPLES = int(os.environ.get("INCIDENTSCOPE_EXAMPLES", "200"))
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def minutes(offset: int) -> datetime:
    return BASE + timedelta(minutes=offset)


@st.composite
def purposes_for(draw: st.DrawFn, state: str) -> list[str]:
    """One or two purpose strings for a present key (two: duplicate rows to unite)."""
    if state == "restricted":
        chosen = draw(st.lists(st.sampled_from(RESTRICTED_LABELS), min_size=1, unique=True))
    else:
        chosen = draw(
            st.lists(st.sampled_from(PERMITTED_LABELS), min_size=1, max_size=2, unique=True)
        )
        chosen += draw(st.lists(st.sampled_from(RESTRICTED_LABELS), unique=True))
        chosen = draw(st.permutations(chosen))
    separator = draw(st.sampled_from(["|", "|", "|", " | ", "||"]))
    if len(chosen) >= 2 and draw(st.booleans()):
        cut = draw(st.integers(1, len(chosen) - 1))
        return [separator.join(chosen[:cut]), separator.join(chosen[cut:])]
    text = separator.join(chosen)
    return [text, text] if draw(st.integers(0, 9)) == 0 else [text]


def synthetic_key_digest(number: int, channel: str, k: int) -> str:
    """The hash of key `k` of the `number`-th account: of a made-up string."""
    return sha(f"synthetic:{number}:{channel}:{k}")


SYNTHETIC_SHARED_PHONE = sha("synthetic:shared-phone")


@st.composite
def case_parts(
    draw: st.DrawFn,
    key_digest: Callable[[int, str, int], str] = synthetic_key_digest,
    shared_digest: str = SYNTHETIC_SHARED_PHONE,
    key_states: tuple[str, ...] = ("absent", "restricted", "permitted"),
) -> tuple[Case, dict[str, Any]]:
    """A case, and the parts it was drawn from (for test_differential_v2's uploads).

    `key_digest` and `shared_digest` name the contact hashes and `key_states` is
    what a key's state at a snapshot is drawn from; the defaults are what `cases()`
    has always used (its draws are unchanged).
    """
    # Account ids are any 64-bit integers: negative ones too (the delivery query's
    # slices by account id must place them as well).
    sign = draw(st.sampled_from([1, -1]))
    accounts = [sign * (9_000_000_000 + 37 * i) for i in range(draw(st.integers(2, 6)))]

    # Contact keys: 0-3 per account, plus maybe a phone hash shared by two accounts.
    keys: list[tuple[int, str, str]] = []
    for number, account in enumerate(accounts):
        for k in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3]))):
            channel = draw(st.sampled_from(["email", "phone"]))
            keys.append((account, channel, key_digest(number, channel, k)))
    if draw(st.booleans()):
        shared = shared_digest
        keys += [(accounts[0], "phone", shared), (accounts[1], "phone", shared)]

    # 0-5 snapshots; each key absent, restricted or permitted at each.
    # Draw the count first: lists() alone favours (too) few snapshots.
    count = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4, 5]))
    snapshot_days = sorted(
        draw(st.lists(st.integers(0, SPAN_DAYS), min_size=count, max_size=count, unique=True))
    )
    contacts: list[Row] = []
    for day in snapshot_days:
        snapshot = (BASE + timedelta(days=day)).date()
        for account, channel, digest in keys:
            state = draw(st.sampled_from(key_states))
            if state == "absent":
                continue
            for purposes in draw(purposes_for(state)):
                contacts.append(
                    {
                        "snapshot_date": snapshot,
                        "account_id": account,
                        "channel": channel,
                        "contact_sha256": digest,
                        "purposes": purposes,
                    }
                )
    contacts = draw(st.permutations(contacts))

    # fix_at inside the span (sometimes at midnight), window_start before it or none.
    fix_minute = draw(st.integers(5 * MINUTES_PER_DAY, (SPAN_DAYS + 5) * MINUTES_PER_DAY))
    if draw(st.booleans()):
        fix_minute -= fix_minute % MINUTES_PER_DAY
    fix_at = minutes(fix_minute)
    window_start: datetime | None = None
    start_minute: int | None = None
    if draw(st.booleans()):
        start_minute = draw(st.integers(-10 * MINUTES_PER_DAY, fix_minute - 1))
        if draw(st.booleans()):
            start_minute -= start_minute % MINUTES_PER_DAY
        window_start = minutes(start_minute)

    # Matches: at snapshot times, at fix_at / window_start, or anywhere around the span.
    moments = st.builds(
        minutes, st.integers(-10 * MINUTES_PER_DAY, (SPAN_DAYS + 10) * MINUTES_PER_DAY)
    )
    # Most matches fall inside the snapshot range and the window, where the
    # classification is most informative.
    low, high = -10 * MINUTES_PER_DAY, fix_minute - 1
    if snapshot_days:
        low, high = snapshot_days[0] * MINUTES_PER_DAY, snapshot_days[-1] * MINUTES_PER_DAY
    if start_minute is not None:
        low = max(low, start_minute)
    inside = st.builds(minutes, st.integers(min(low, high), max(low, high)))
    special = [BASE + timedelta(days=d) for d in snapshot_days] + [fix_at]
    if window_start is not None:
        special.append(window_start)
    audience_ids = [row["audience_id"] for row in AUDIENCES] + [MISSING_AUDIENCE]
    matches: list[Row] = []
    for _ in range(draw(st.integers(0, 25))):
        account = draw(st.sampled_from(accounts))
        own = [digest for acc, _, digest in keys if acc == account]
        others = [digest for acc, _, digest in keys if acc != account]
        identifier_pool: list[str | None] = [None, None, sha("synthetic:unknown-identifier")]
        identifier_pool += own + own + others
        matches.append(
            {
                "matched_at": draw(st.one_of(inside, inside, moments, st.sampled_from(special))),
                "account_id": account,
                "audience_id": draw(st.sampled_from(audience_ids)),
                "channel": draw(st.sampled_from([None, "email", "phone"])),
                "identifier_sha256": draw(st.sampled_from(identifier_pool)),
            }
        )
    if matches:
        copies = draw(st.lists(st.sampled_from(matches), max_size=4))
        matches = draw(st.permutations(matches + [dict(row) for row in copies]))

    campaign_audiences = draw(
        st.lists(
            st.sampled_from(
                [
                    {"campaign_id": c["campaign_id"], "audience_id": a["audience_id"]}
                    for c in CAMPAIGNS[:3]
                    for a in AUDIENCES
                ]
            ),
            min_size=1,
            max_size=8,
            unique_by=lambda row: (row["campaign_id"], row["audience_id"]),
        )
    )

    account_rows: list[Row] | None = None
    if draw(st.booleans()):
        account_rows = []
        for account in accounts:
            country = draw(st.sampled_from([None, *COUNTRIES]))
            if country is not None:
                account_rows.append({"account_id": account, "country": country})

    deliveries: list[Row] | None = None
    if draw(st.booleans()):
        deliveries = [
            {
                "served_at": draw(st.one_of(inside, moments, st.sampled_from(special))),
                "campaign_id": draw(st.sampled_from([c["campaign_id"] for c in CAMPAIGNS])),
                "account_id": draw(st.sampled_from(accounts)),
                "impressions": draw(st.one_of(st.none(), st.integers(1, 5))),
            }
            for _ in range(draw(st.integers(0, 8)))
        ]

    incident = {
        "window_start": window_start,
        "fix_at": fix_at,
        "restricted_purposes": draw(
            st.sampled_from([list(RESTRICTED_LABELS), list(RESTRICTED_LABELS), ["two_factor"]])
        ),
        "audience_types": draw(
            st.sampled_from(
                [["tailored", "partner"], ["tailored", "partner"], ["tailored"], ["partner"]]
            )
        ),
    }
    tables: dict[str, list[Row] | None] = {
        "contacts": contacts,
        "matches": matches,
        "audiences": list(AUDIENCES),
        "campaigns": list(CAMPAIGNS),
        "campaign_audiences": campaign_audiences,
        "accounts": account_rows,
        "deliveries": deliveries,
    }
    parts = {
        "accounts": accounts,
        "keys": keys,
        "snapshot_days": snapshot_days,
        "fix_at": fix_at,
        "window_start": window_start,
        "moments": moments,
        "inside": inside,
        "special": special,
    }
    return (tables, incident), parts


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case, _ = draw(case_parts())
    return case


def describe(case: Case) -> str:
    """The case as readable text, for a failing example's report."""
    tables, incident = case
    lines = [f"incident: {incident}"]
    for name, rows in tables.items():
        if name in ("audiences", "campaigns"):
            continue
        lines.append(f"{name}: {'None' if rows is None else len(rows)} rows")
        for row in rows or []:
            shown = {
                k: (v[:8] if isinstance(v, str) and len(v) == 64 else v) for k, v in row.items()
            }
            lines.append(f"  {shown}")
    return "\n".join(lines)


def assert_engine_matches_oracle(case: Case, omit_empty_optional_columns: bool,
                                 exposure_rows_per_slice: int | None = None) -> None:
    """`exposure_rows_per_slice`: small values split the delivery query into many slices."""
    tables, incident = case
    note(describe(case))
    # Every v1 figure (replay-semantics.md, by_channel as whole-window.md changes it); the
    # cases of this file have no uploads: the v2 figures are test_differential_v2.py's.
    report_v1 = oracle.oracle_report(
        {name: rows for name, rows in tables.items() if rows is not None}, incident)
    # Every figure of the oracle is either a v1 one (checked here) or a v2 one.
    assert set(report_v1) == set(oracle.V1_FIGURES) | set(oracle.V2_FIGURES)
    expected = {key: report_v1[key] for key in oracle.V1_FIGURES}
    per_slice = exposure_rows_per_slice or figures.EXPOSURE_ROWS_PER_SLICE
    with tempfile.TemporaryDirectory(prefix="incidentscope-diff-") as tmp, \
            mock.patch.object(figures, "EXPOSURE_ROWS_PER_SLICE", per_slice):
        report = casefiles.run_engine(
            tables,
            incident,
            Path(tmp),
            omit_empty_optional_columns=omit_empty_optional_columns,
        )
    accounts = report["affected_accounts"]
    assert accounts["lower"] <= accounts["estimate"] <= accounts["upper"]
    actual = casefiles.comparable(report)
    for key, value in expected.items():
        assert key in actual, f"report.json lacks {key!r}"
        assert actual[key] == value, f"{key}: engine {actual[key]!r} != oracle {value!r}"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=HEALTH)
@given(case=cases(), omit=st.booleans(), per_slice=st.sampled_from([None, 1, 4]))
def test_engine_matches_oracle(case: Case, omit: bool, per_slice: int | None) -> None:
    assert_engine_matches_oracle(case, omit, per_slice)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=HEALTH)
@given(case=cases(), omit=st.booleans(), per_slice=st.sampled_from([None, 1, 4]))
def test_engine_matches_oracle_slow(case: Case, omit: bool, per_slice: int | None) -> None:
    assert_engine_matches_oracle(case, omit, per_slice)


def test_oracle_alone_is_total() -> None:
    """The oracle handles every generated case (runs without the engine)."""

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=HEALTH)
    @given(case=cases())
    def check(case: Case) -> None:
        tables, incident = case
        report = oracle.oracle_report(
            {name: rows for name, rows in tables.items() if rows is not None}, incident
        )
        accounts = report["affected_accounts"]
        assert accounts["lower"] <= accounts["upper"]
        counts = report["matches"]
        assert sum(counts[c] for c in oracle.CLASSES) <= len(tables["matches"] or [])

    check()
