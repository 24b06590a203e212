"""Edge cases of the replay semantics, with figures computed by hand.

Each test builds a tiny synthetic case, states the expected figures literally
(the comment next to them derives them from replay-semantics.md and
docs/semantics-decisions.md), and checks them on the oracle first and then on
the engine (`incidentscope.api.run` on CSV files written to `tmp_path`).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import casefiles
import oracle
from casefiles import sha
from incidentscope import figures

Row = dict[str, Any]

A, B, C, D = 101, 102, 103, 104
A_EMAIL = sha("synthetic:a:email")
A_PHONE = sha("synthetic:a:phone")
B_EMAIL = sha("synthetic:b:email")
B_PHONE = sha("synthetic:b:phone")
C_EMAIL = sha("synthetic:c:email")
D_EMAIL = sha("synthetic:d:email")
D_PHONE = sha("synthetic:d:phone")
SHARED_PHONE = sha("synthetic:shared:phone")
UNKNOWN = sha("synthetic:unknown")

# Snapshots one week apart: each is the state at 00:00 UTC of its day.
S1, S2, S3 = date(2019, 8, 5), date(2019, 8, 12), date(2019, 8, 19)
WINDOW_START = datetime(2019, 8, 1)
FIX_AT = datetime(2019, 9, 17)
RESTRICTED = "two_factor|account_recovery"


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second)


def contact(day: date, account: int, channel: str, digest: str, purposes: str) -> Row:
    return {
        "snapshot_date": day,
        "account_id": account,
        "channel": channel,
        "contact_sha256": digest,
        "purposes": purposes,
    }


def match(
    moment: datetime,
    account: int,
    audience: str = "aud-t",
    channel: str | None = None,
    identifier: str | None = None,
) -> Row:
    return {
        "matched_at": moment,
        "account_id": account,
        "audience_id": audience,
        "channel": channel,
        "identifier_sha256": identifier,
    }


def case(
    contacts: list[Row],
    matches: list[Row],
    *,
    accounts: list[Row] | None = None,
    deliveries: list[Row] | None = None,
    window_start: datetime | None = WINDOW_START,
    fix_at: datetime = FIX_AT,
    audience_types: tuple[str, ...] = ("partner", "tailored"),
) -> tuple[dict[str, list[Row] | None], dict[str, Any]]:
    """Two audiences (one of each type), each targeted by one campaign."""
    tables: dict[str, list[Row] | None] = {
        "contacts": contacts,
        "matches": matches,
        "audiences": [
            {
                "audience_id": "aud-t",
                "advertiser_id": "adv-1",
                "audience_type": "tailored",
                "partner_id": None,
            },
            {
                "audience_id": "aud-p",
                "advertiser_id": "adv-2",
                "audience_type": "partner",
                "partner_id": "ptn-1",
            },
        ],
        "campaigns": [
            {"campaign_id": "cmp-1", "advertiser_id": "adv-1", "name": "synthetic one"},
            {"campaign_id": "cmp-2", "advertiser_id": "adv-2", "name": "synthetic two"},
        ],
        "campaign_audiences": [
            {"campaign_id": "cmp-1", "audience_id": "aud-t"},
            {"campaign_id": "cmp-2", "audience_id": "aud-p"},
        ],
        "accounts": accounts,
        "deliveries": deliveries,
    }
    incident = {
        "window_start": window_start,
        "fix_at": fix_at,
        "restricted_purposes": ["two_factor", "account_recovery"],
        "audience_types": list(audience_types),
    }
    return tables, incident


def figure(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        value = value[part]
    return value


def check(
    tmp_path: Path,
    built: tuple[dict[str, list[Row] | None], dict[str, Any]],
    expected: dict[str, Any],
) -> dict[str, Any]:
    """The expected figures (dotted paths) hold for the oracle, then for the engine."""
    tables, incident = built
    from_oracle = oracle.oracle_report(
        {name: rows for name, rows in tables.items() if rows is not None}, incident)
    for path, value in expected.items():
        assert figure(from_oracle, path) == value, f"oracle: {path}"
    report = casefiles.run_engine(tables, incident, tmp_path)
    for path, value in expected.items():
        assert figure(report, path) == value, f"engine: {path}"
    accounts = report["affected_accounts"]
    assert accounts["lower"] <= accounts["estimate"] <= accounts["upper"]
    return report


def test_match_exactly_at_a_snapshot_time_uses_that_snapshot_alone(tmp_path: Path) -> None:
    # A's email: permitted at S1, restricted at S2 and S3.
    # Match at S2 00:00 -> S2 alone -> {restricted} -> caused (the bracket [S1, S2]
    # would have said uncertain). Match at S1 00:00 -> {permitted} -> permitted.
    built = case(
        [
            contact(S1, A, "email", A_EMAIL, "profile"),
            contact(S2, A, "email", A_EMAIL, "two_factor"),
            contact(S3, A, "email", A_EMAIL, "two_factor"),
        ],
        [match(at(S2), A), match(at(S1), A)],
    )
    check(
        tmp_path,
        built,
        {
            "matches.caused": 1,
            "matches.permitted": 1,
            "matches.uncertain": 0,
            "matches.unexplained": 0,
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
            "coverage.outside_snapshot_range": 0,
            # Three snapshots, a week apart.
            "coverage.snapshots": 3,
            "coverage.first_snapshot": "2019-08-05",
            "coverage.last_snapshot": "2019-08-19",
            "coverage.snapshot_cadence_days": 7,
        },
    )


def test_between_snapshots_restricted_then_permitted_is_uncertain(tmp_path: Path) -> None:
    # A's phone: restricted at S1, permitted at S2. A match on 2019-08-08 lies
    # between them -> {restricted, permitted} -> uncertain: upper only.
    built = case(
        [
            contact(S1, A, "phone", A_PHONE, RESTRICTED),
            contact(S2, A, "phone", A_PHONE, "two_factor|profile"),
        ],
        [match(datetime(2019, 8, 8, 12, 30), A)],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 0,
                "permitted": 0,
                "uncertain": 1,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 1,
        },
    )


def test_between_two_restricted_snapshots_is_caused(tmp_path: Path) -> None:
    # A's phone is restricted at S1 (two_factor) and at S2 (both restricted labels):
    # {restricted} -> caused; the account counts in lower and upper.
    built = case(
        [
            contact(S1, A, "phone", A_PHONE, "two_factor"),
            contact(S2, A, "phone", A_PHONE, "account_recovery|two_factor"),
        ],
        [match(datetime(2019, 8, 9, 7, 15), A, channel="phone")],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 1,
                "permitted": 0,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
            # The single caused match is into aud-t (tailored, adv-1, targeted by cmp-1).
            "affected_audiences": {"lower": 1, "upper": 1},
            "affected_campaigns": {"lower": 1, "upper": 1},
            "affected_advertisers": {"lower": 1, "upper": 1},
            "affected_partners": {"lower": 0, "upper": 0},
            "by_audience_type": {"tailored": {"lower": 1, "upper": 1}},
            "by_channel": {"phone": {"lower": 1, "upper": 1}},
        },
    )


def test_key_absent_then_restricted_is_caused(tmp_path: Path) -> None:
    # A's phone is missing from S1 (B's row makes S1 a snapshot) and restricted at
    # S2. Between them: {absent, restricted} minus absent = {restricted} -> caused.
    built = case(
        [
            contact(S1, B, "email", B_EMAIL, "profile"),
            contact(S2, A, "phone", A_PHONE, "account_recovery"),
            contact(S2, B, "email", B_EMAIL, "profile"),
        ],
        [match(datetime(2019, 8, 7), A)],
    )
    check(
        tmp_path,
        built,
        {
            "matches.caused": 1,
            "matches.uncertain": 0,
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
        },
    )


def test_before_the_first_snapshot_is_uncertain(tmp_path: Path) -> None:
    # 2019-08-03 is in the window (from 2019-08-01) but before S1: outside the
    # snapshot range, so A's key may be {restricted, permitted} -> uncertain,
    # even though it is restricted in every snapshot.
    built = case(
        [
            contact(S1, A, "email", A_EMAIL, "two_factor"),
            contact(S2, A, "email", A_EMAIL, "two_factor"),
        ],
        [match(datetime(2019, 8, 3, 9), A)],
    )
    check(
        tmp_path,
        built,
        {
            "matches.caused": 0,
            "matches.uncertain": 1,
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 1,
            "coverage.outside_snapshot_range": 1,
        },
    )


def test_after_the_last_snapshot(tmp_path: Path) -> None:
    # Both matches are on 2019-08-25, after S3 (outside the range: 2 matches).
    # A has a candidate key -> uncertain. B has no key in any snapshot -> no
    # candidate -> unexplained. lower 0; upper {A, B} = 2.
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2, S3)],
        [match(datetime(2019, 8, 25, 10), A), match(datetime(2019, 8, 25, 11), B)],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 0,
                "permitted": 0,
                "uncertain": 1,
                "unexplained": 1,
                "duplicates": 0,
            },
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 2,
            "coverage.outside_snapshot_range": 2,
        },
    )


def test_no_candidate_is_unexplained(tmp_path: Path) -> None:
    # A only has an email. A match logged on channel phone has no candidate; a match
    # logged with an identifier A never had has none either: both unexplained.
    # A match with B's email as identifier has no candidate among A's keys too.
    built = case(
        [contact(s, A, "email", A_EMAIL, "profile") for s in (S1, S2)]
        + [contact(s, B, "email", B_EMAIL, "two_factor") for s in (S1, S2)],
        [
            match(datetime(2019, 8, 8, 1), A, channel="phone"),
            match(datetime(2019, 8, 8, 2), A, identifier=UNKNOWN),
            match(datetime(2019, 8, 8, 3), A, channel="email", identifier=B_EMAIL),
        ],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 0,
                "permitted": 0,
                "uncertain": 0,
                "unexplained": 3,
                "duplicates": 0,
            },
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 1,
            # Unexplained: its logged channel, or "unknown" (the second has none).
            "by_channel": {"email": {"lower": 0, "upper": 1}, "phone": {"lower": 0, "upper": 1},
                           "unknown": {"lower": 0, "upper": 1}},
        },
    )


def test_unlogged_channel_restricted_phone_and_permitted_email_is_uncertain(
    tmp_path: Path,
) -> None:
    # No channel, no identifier: both of A's keys are candidates; the phone is
    # restricted and the email permitted at S1 and S2 -> P = {restricted, permitted}.
    built = case(
        [contact(s, A, "phone", A_PHONE, RESTRICTED) for s in (S1, S2)]
        + [contact(s, A, "email", A_EMAIL, "signup|profile") for s in (S1, S2)],
        [match(datetime(2019, 8, 8), A)],
    )
    check(
        tmp_path,
        built,
        {
            "matches.uncertain": 1,
            "matches.caused": 0,
            "matches.permitted": 0,
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 1,
            # No logged channel: the channels of the candidates that may have been
            # restricted (whole-window.md): the phone, not the email.
            "by_channel": {"phone": {"lower": 0, "upper": 1}},
        },
    )


def test_identifier_narrows_to_the_restricted_phone_is_caused(tmp_path: Path) -> None:
    # Same keys as above. Identifier = A's phone -> only the phone -> caused.
    # Channel phone alone -> only the phone -> caused. Channel email -> permitted.
    # by_channel: phone has 2 caused matches of A (1 account); email's upper is 0,
    # so it is not listed.
    built = case(
        [contact(s, A, "phone", A_PHONE, RESTRICTED) for s in (S1, S2)]
        + [contact(s, A, "email", A_EMAIL, "signup|profile") for s in (S1, S2)],
        [
            match(datetime(2019, 8, 8, 1), A, identifier=A_PHONE),
            match(datetime(2019, 8, 8, 2), A, channel="phone"),
            match(datetime(2019, 8, 8, 3), A, channel="email"),
        ],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 2,
                "permitted": 1,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
            "by_channel": {"phone": {"lower": 1, "upper": 1}},
        },
    )


def test_duplicates_counted_once_and_reported(tmp_path: Path) -> None:
    # One in-window caused row three times -> 1 caused match, 2 duplicates.
    # Two identical rows on 2019-07-20 (before the window) add 1 more duplicate
    # to the whole log: coverage.duplicate_rows = 2 + 1 = 3.
    row = match(datetime(2019, 8, 8, 14), A, channel="phone", identifier=A_PHONE)
    early = match(datetime(2019, 7, 20, 14), A, channel="phone", identifier=A_PHONE)
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2)],
        [row, dict(row), dict(row), early, dict(early)],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 1,
                "permitted": 0,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 2,
            },
            "coverage.duplicate_rows": 3,
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
        },
    )


def test_out_of_scope_audience_type_is_ignored(tmp_path: Path) -> None:
    # Only tailored audiences are in scope. A caused match into aud-p (partner) is
    # ignored; one into aud-missing (not in audiences) is out of scope and counted
    # in unknown_audience_matches; the match into aud-t on A's email is permitted.
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2)]
        + [contact(s, A, "email", A_EMAIL, "profile") for s in (S1, S2)],
        [
            match(datetime(2019, 8, 8, 1), A, audience="aud-p", channel="phone"),
            match(datetime(2019, 8, 8, 2), A, audience="aud-missing", channel="phone"),
            match(datetime(2019, 8, 8, 3), A, audience="aud-t", channel="email"),
        ],
        audience_types=("tailored",),
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 0,
                "permitted": 1,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 0,
            "affected_audiences": {"lower": 0, "upper": 0},
            "affected_partners": {"lower": 0, "upper": 0},
            "by_audience_type": {},
            "coverage.unknown_audience_matches": 1,
        },
    )


def test_caused_match_at_fix_at_means_the_fix_did_not_hold(tmp_path: Path) -> None:
    # fix_at = 2019-08-15 00:00. A match at exactly fix_at is not in the window
    # (matched_at < fix_at fails): it is post-fix. Between S2 and S3 the phone is
    # restricted both times -> caused -> post_fix.caused 1, fix_held false.
    # The in-window match on 2019-08-14 23:59:59 is caused too.
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2, S3)],
        [match(datetime(2019, 8, 15), A), match(datetime(2019, 8, 14, 23, 59, 59), A)],
        fix_at=datetime(2019, 8, 15),
    )
    check(
        tmp_path,
        built,
        {
            "matches.caused": 1,
            "affected_accounts.lower": 1,
            "post_fix": {
                "caused": 1,
                "permitted": 0,
                "uncertain": 0,
                "unexplained": 0,
                "fix_held": False,
            },
        },
    )


def test_shared_phone_between_two_accounts(tmp_path: Path) -> None:
    # A and B both list the same phone hash; a key includes the account. A gave it
    # for two_factor (restricted), B for profile (permitted). A's match with that
    # identifier -> only A's key -> caused; B's -> only B's key -> permitted.
    built = case(
        [contact(s, A, "phone", SHARED_PHONE, "two_factor") for s in (S1, S2)]
        + [contact(s, B, "phone", SHARED_PHONE, "profile") for s in (S1, S2)],
        [
            match(datetime(2019, 8, 8, 1), A, identifier=SHARED_PHONE),
            match(datetime(2019, 8, 8, 2), B, identifier=SHARED_PHONE),
        ],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 1,
                "permitted": 1,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 1,
        },
    )


@pytest.mark.parametrize("rows_per_slice", [None, 1, 3])
def test_deliveries_lower_upper_and_after_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              rows_per_slice: int | None) -> None:
    # rows_per_slice: the delivery query in one slice of accounts, or in many (1: about
    # one per row), whose figures must add up to the same.
    if rows_per_slice:
        monkeypatch.setattr(figures, "EXPOSURE_ROWS_PER_SLICE", rows_per_slice)
    # fix_at 2019-09-01. Matches into aud-t (targeted by cmp-1):
    #   A 08-08 caused (phone restricted throughout)
    #   B 08-08 uncertain (phone restricted at S1, permitted at S2)
    #   C 08-08 permitted (email profile)
    #   D 08-06 caused (phone) and D 08-09 permitted (email)
    # Deliveries (campaign, account, served_at, impressions) -> attributable?
    #   cmp-1 A 08-10 x3 -> [caused]               lower+upper, logged twice (two deliveries)
    #   cmp-1 B 08-10 x2 -> [uncertain]            upper
    #   cmp-1 C 08-10 x5 -> [permitted]            no
    #   cmp-1 A 08-07 x4 -> no match before it     no
    #   cmp-1 D 08-08 x1 -> [caused]               lower+upper
    #   cmp-1 D 08-10 x1 -> [caused, permitted]    no
    #   cmp-1 A 09-05 x(1) after fix -> [caused]   lower+upper
    #   cmp-2 B 09-05 x2 after fix -> no match of B into aud-p: no
    #   cmp-1 B 09-06 x7 after fix -> [uncertain]  upper
    # In window: accounts lower {A, D} = 2, upper {A, B, D} = 3;
    #            impressions lower 3 + 3 + 1 = 7, upper 3 + 3 + 2 + 1 = 9.
    # After fix: accounts lower {A} = 1, upper {A, B} = 2;
    #            impressions lower 1 (missing -> 1), upper 1 + 7 = 8.
    def delivery(moment: datetime, campaign: str, account: int, count: int | None) -> Row:
        return {
            "served_at": moment,
            "campaign_id": campaign,
            "account_id": account,
            "impressions": count,
        }

    contacts = (
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2)]
        + [
            contact(S1, B, "phone", B_PHONE, "two_factor"),
            contact(S2, B, "phone", B_PHONE, "profile"),
        ]
        + [contact(s, C, "email", C_EMAIL, "profile") for s in (S1, S2)]
        + [contact(s, D, "phone", D_PHONE, "account_recovery") for s in (S1, S2)]
        + [contact(s, D, "email", D_EMAIL, "profile") for s in (S1, S2)]
    )
    matches = [
        match(datetime(2019, 8, 8, 9), A),
        match(datetime(2019, 8, 8, 9), B),
        match(datetime(2019, 8, 8, 9), C),
        match(datetime(2019, 8, 6, 9), D, channel="phone"),
        match(datetime(2019, 8, 9, 9), D, channel="email"),
    ]
    deliveries = [
        delivery(datetime(2019, 8, 10, 12), "cmp-1", A, 3),
        delivery(datetime(2019, 8, 10, 12), "cmp-1", A, 3),
        delivery(datetime(2019, 8, 10, 12), "cmp-1", B, 2),
        delivery(datetime(2019, 8, 10, 12), "cmp-1", C, 5),
        delivery(datetime(2019, 8, 7, 12), "cmp-1", A, 4),
        delivery(datetime(2019, 8, 8, 12), "cmp-1", D, 1),
        delivery(datetime(2019, 8, 10, 12), "cmp-1", D, 1),
        delivery(datetime(2019, 9, 5, 12), "cmp-1", A, None),
        delivery(datetime(2019, 9, 5, 12), "cmp-2", B, 2),
        delivery(datetime(2019, 9, 6, 12), "cmp-1", B, 7),
    ]
    built = case(contacts, matches, deliveries=deliveries, fix_at=datetime(2019, 9, 1))
    check(
        tmp_path,
        built,
        {
            "deliveries": {
                "accounts": {"lower": 2, "upper": 3},
                "impressions": {"lower": 7, "upper": 9},
                "after_fix_accounts": {"lower": 1, "upper": 2},
                "after_fix_impressions": {"lower": 1, "upper": 8},
            },
            "matches": {
                "caused": 2,
                "permitted": 2,
                "uncertain": 1,
                "unexplained": 0,
                "duplicates": 0,
            },
        },
    )


def test_no_deliveries_table_gives_null(tmp_path: Path) -> None:
    # Without a deliveries file the block is null.
    built = case([contact(S1, A, "phone", A_PHONE, "two_factor")], [match(at(S1), A)])
    check(tmp_path, built, {"deliveries": None, "matches.caused": 1})


def test_deliveries_file_without_rows_gives_zeros(tmp_path: Path) -> None:
    # A deliveries file with a header only was loaded: the figures are zeros, not
    # null (docs/semantics-decisions.md, 13).
    built = case(
        [contact(S1, A, "phone", A_PHONE, "two_factor")], [match(at(S1), A)], deliveries=[]
    )
    zero = {"lower": 0, "upper": 0}
    check(
        tmp_path,
        built,
        {
            "deliveries": {
                "accounts": zero,
                "impressions": zero,
                "after_fix_accounts": zero,
                "after_fix_impressions": zero,
            },
        },
    )


def test_missing_log_days(tmp_path: Path) -> None:
    # Window 2019-08-01 00:00 to fix_at 2019-08-08 12:00: the days counted are
    # 08-01 .. 08-07 (d < date(fix_at) = 08-08), 7 days. Rows exist on 08-02,
    # 08-04 (an unknown audience still counts: any audience) and 08-05 23:59:59;
    # the row on 08-08 is on a day not counted. Missing: 08-01, 08-03, 08-06,
    # 08-07 = 4.
    built = case(
        [contact(S1, A, "phone", A_PHONE, "profile")],
        [
            match(datetime(2019, 8, 2, 10), A),
            match(datetime(2019, 8, 4, 10), A, audience="aud-missing"),
            match(datetime(2019, 8, 5, 23, 59, 59), A),
            match(datetime(2019, 8, 8, 6), A),
        ],
        fix_at=datetime(2019, 8, 8, 12),
    )
    check(
        tmp_path,
        built,
        {
            "coverage.missing_log_days": 4,
            "coverage.unknown_audience_matches": 1,
            # 08-02 and 08-05 are outside the range (one snapshot, S1 = 08-05 00:00):
            # uncertain; 08-08 06:00 is after S1 too: uncertain. 3 outside the range.
            "matches.uncertain": 3,
            "coverage.outside_snapshot_range": 3,
        },
    )


def test_default_window_start_is_the_earliest_match(tmp_path: Path) -> None:
    # No window_start: the window starts at the earliest match (2019-08-07 06:00,
    # into an unknown audience; any audience counts). fix_at 2019-08-10: days
    # 08-07, 08-08, 08-09; rows on 08-07 and 08-09 -> 1 missing day (08-08).
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2)],
        [
            match(datetime(2019, 8, 7, 6), A, audience="aud-missing"),
            match(datetime(2019, 8, 9, 6), A),
        ],
        window_start=None,
        fix_at=datetime(2019, 8, 10),
    )
    report = check(
        tmp_path,
        built,
        {
            "matches.caused": 1,
            "coverage.missing_log_days": 1,
            "coverage.unknown_audience_matches": 1,
        },
    )
    assert report["incident"]["window_start"] == "2019-08-07T06:00:00Z"


def test_purposes_of_duplicate_contact_rows_are_united(tmp_path: Path) -> None:
    # At S1 and S2, A's email has two rows: "two_factor" and "profile". United:
    # {two_factor, profile}, not all restricted -> permitted. The match at S1
    # 00:00 and the one between S1 and S2 are both permitted.
    built = case(
        [contact(s, A, "email", A_EMAIL, "two_factor") for s in (S1, S2)]
        + [contact(s, A, "email", A_EMAIL, "profile") for s in (S1, S2)],
        [match(at(S1), A), match(datetime(2019, 8, 8), A, channel="email")],
    )
    check(
        tmp_path,
        built,
        {
            "matches": {
                "caused": 0,
                "permitted": 2,
                "uncertain": 0,
                "unexplained": 0,
                "duplicates": 0,
            },
            "affected_accounts.lower": 0,
            "affected_accounts.upper": 0,
        },
    )


def test_affected_audiences_campaigns_advertisers_partners(tmp_path: Path) -> None:
    # A (phone restricted throughout) is matched into aud-t and aud-p: caused in
    # both. B (restricted at S1, permitted at S2) into aud-p: uncertain.
    # lower: audiences {aud-t, aud-p}; upper the same. Campaigns {cmp-1, cmp-2},
    # advertisers {adv-1, adv-2}, partners {ptn-1} (aud-t has none).
    # by_audience_type: tailored lower {A} upper {A}; partner lower {A} upper {A, B}.
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2)]
        + [
            contact(S1, B, "phone", B_PHONE, "two_factor"),
            contact(S2, B, "phone", B_PHONE, "signup"),
        ],
        [
            match(datetime(2019, 8, 8, 1), A, audience="aud-t"),
            match(datetime(2019, 8, 8, 2), A, audience="aud-p"),
            match(datetime(2019, 8, 8, 3), B, audience="aud-p"),
        ],
    )
    check(
        tmp_path,
        built,
        {
            "affected_audiences": {"lower": 2, "upper": 2},
            "affected_campaigns": {"lower": 2, "upper": 2},
            "affected_advertisers": {"lower": 2, "upper": 2},
            "affected_partners": {"lower": 1, "upper": 1},
            "by_audience_type": {
                "partner": {"lower": 1, "upper": 2},
                "tailored": {"lower": 1, "upper": 1},
            },
        },
    )


def test_breakdowns_by_country_and_month(tmp_path: Path) -> None:
    # A (DE) caused in August and uncertain in September (after the last snapshot
    # S3). B has no accounts row: unexplained in September, not in by_country.
    # C (FR) is only permitted: upper 0, so FR is not listed.
    # by_country: DE lower 1 upper 1.
    # by_month: 2019-08 lower {A} upper {A}; 2019-09 lower 0 upper {A, B}.
    built = case(
        [contact(s, A, "phone", A_PHONE, "two_factor") for s in (S1, S2, S3)]
        + [contact(s, C, "email", C_EMAIL, "profile") for s in (S1, S2, S3)],
        [
            match(datetime(2019, 8, 8), A),
            match(datetime(2019, 9, 2), A),
            match(datetime(2019, 9, 3), B),
            match(datetime(2019, 8, 9), C),
        ],
        accounts=[{"account_id": A, "country": "DE"}, {"account_id": C, "country": "FR"}],
    )
    check(
        tmp_path,
        built,
        {
            "by_country": {"DE": {"lower": 1, "upper": 1}},
            "by_month": {"2019-08": {"lower": 1, "upper": 1}, "2019-09": {"lower": 0, "upper": 2}},
            "affected_accounts.lower": 1,
            "affected_accounts.upper": 2,
        },
    )
