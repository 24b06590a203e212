"""Small cases of whole-window.md (replay semantics v2) with figures computed by hand.

Each case is a dict: ``name``, ``tables`` and ``incident`` (as ``oracle.oracle_report``
and ``casefiles.write_case`` take them), ``expected`` (a partial report: only the
figures the case is about; nested dicts are compared key by key, anything else
exactly) and optionally ``by_channel_rule``. The comment above each case derives its
figures from the text of whole-window.md, replay-semantics.md and the readings (R1..)
at the top of the v2 part of tests/oracle.py. None of these figures was produced by
running the oracle.

Every value is synthetic: reserved example domains, phone numbers of the fictional
555-01xx range, hashes of made-up strings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from casefiles import sha

Row = dict[str, Any]
Case = dict[str, Any]

# Accounts.
A, B, C, D, E, F, G = 201, 202, 203, 204, 205, 206, 207

# Contact values (normalized as the `twitter` profile does) and their hashes.
ALICE = "alice@example.com"
BOB = "bob@example.net"
CAROL = "carol@example.org"
ERIN = "erin@example.com"
GINA = "gina@example.org"
FILLER = "filler@example.com"
A_PHONE = "+14155550123"
SHARED_PHONE = "+14155550100"
H_ALICE, H_BOB, H_CAROL, H_FILLER = sha(ALICE), sha(BOB), sha(CAROL), sha(FILLER)
H_ERIN, H_GINA = sha(ERIN), sha(GINA)
H_A_PHONE, H_SHARED = sha(A_PHONE), sha(SHARED_PHONE)

# Snapshots (00:00 UTC of each day), the window and the fix.
S1, S2, S3 = date(2019, 8, 1), date(2019, 8, 11), date(2019, 8, 21)
WINDOW_START = datetime(2019, 7, 1)
FIX_AT = datetime(2019, 9, 1)

RESTRICTED = "two_factor"  # every label restricted
PERMITTED = "profile|two_factor"  # one label that is not

AUDIENCES: list[Row] = [
    {"audience_id": "aud-t1", "advertiser_id": "adv-1", "audience_type": "tailored"},
    {"audience_id": "aud-t2", "advertiser_id": "adv-2", "audience_type": "tailored"},
    {
        "audience_id": "aud-p1",
        "advertiser_id": "adv-3",
        "audience_type": "partner",
        "partner_id": "ptn-1",
    },
]
CAMPAIGNS: list[Row] = [
    {"campaign_id": f"cmp-{n}", "advertiser_id": adv, "name": None}
    for n, adv in ((1, "adv-1"), (2, "adv-1"), (3, "adv-2"), (4, "adv-3"))
]
# aud-t1 -> cmp-1, cmp-2; aud-t2 -> cmp-3; aud-p1 -> cmp-4.
CAMPAIGN_AUDIENCES: list[Row] = [
    {"campaign_id": "cmp-1", "audience_id": "aud-t1"},
    {"campaign_id": "cmp-2", "audience_id": "aud-t1"},
    {"campaign_id": "cmp-3", "audience_id": "aud-t2"},
    {"campaign_id": "cmp-4", "audience_id": "aud-p1"},
]


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


def key_states(account: int, channel: str, digest: str, *states: str | None) -> list[Row]:
    """Rows of one key at S1, S2, S3: a purposes string, or None for absent."""
    return [
        contact(day, account, channel, digest, purposes)
        for day, purposes in zip((S1, S2, S3), states, strict=True)
        if purposes is not None
    ]


def filler() -> list[Row]:
    """F's permitted email at S1, S2 and S3: makes every snapshot exist."""
    return key_states(F, "email", H_FILLER, PERMITTED, PERMITTED, PERMITTED)


def match(
    moment: datetime,
    account: int,
    audience: str = "aud-t1",
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


def upload(
    moment: datetime,
    audience: str = "aud-t1",
    channel: str = "email",
    digest: str | None = None,
    raw: str | None = None,
    country: str | None = None,
) -> Row:
    return {
        "uploaded_at": moment,
        "audience_id": audience,
        "channel": channel,
        "identifier_sha256": digest,
        "contact": raw,
        "country": country,
    }


def case(
    name: str,
    contacts: list[Row],
    expected: dict[str, Any],
    *,
    uploads: list[Row] | None = None,
    matches: list[Row] | None = None,
    window_start: datetime | None = WINDOW_START,
    fix_at: datetime = FIX_AT,
    audience_types: tuple[str, ...] = ("tailored", "partner"),
    normalization: str = "twitter",
    min_audience_size: int | None = None,
    extra_audiences: list[Row] | None = None,
    by_channel_rule: str = "v2",
) -> Case:
    tables: dict[str, list[Row] | None] = {
        "contacts": contacts,
        "matches": list(matches or []),
        "audiences": [dict(row) for row in AUDIENCES + (extra_audiences or [])],
        "campaigns": [dict(row) for row in CAMPAIGNS],
        "campaign_audiences": [dict(row) for row in CAMPAIGN_AUDIENCES],
        "accounts": None,
        "deliveries": None,
        "uploads": uploads,
    }
    incident = {
        "window_start": window_start,
        "fix_at": fix_at,
        "restricted_purposes": ["two_factor", "account_recovery"],
        "audience_types": list(audience_types),
        "normalization": normalization,
        "min_audience_size": min_audience_size,
    }
    return {
        "name": name,
        "tables": tables,
        "incident": incident,
        "expected": expected,
        "by_channel_rule": by_channel_rule,
    }


def nothing_caused(entries: int) -> dict[str, Any]:
    """uploads figures when no pair is even possibly caused."""
    zero = {"lower": 0, "upper": 0}
    return {"entries": entries, "accounts": zero, "audiences": zero, "campaigns": zero}


CASES: list[Case] = []

# --- one case per outcome set O ----------------------------------------------
# Every case: W = [2019-07-01, 2019-09-01), snapshots S1 08-01, S2 08-11, S3 08-21
# (F's permitted filler key makes all three exist), one entry into aud-t1
# (campaigns cmp-1 and cmp-2) with A's email hash, no logged matches.

# O = {permitted}: A's key is permitted at S2; the entry is at S2 exactly, so
# S_k = {permitted} -> O = {permitted}: the fixed matcher matches too. No pair.
CASES.append(
    case(
        "outcome_permitted",
        filler() + key_states(A, "email", H_ALICE, PERMITTED, PERMITTED, PERMITTED),
        {
            "uploads": nothing_caused(1),
            "affected_accounts_whole_window": {"lower": 0, "upper": 0},
        },
        uploads=[upload(at(S2), digest=H_ALICE)],
    )
)

# O = {caused}: restricted at S2, entry at S2 -> S_k = {restricted} -> O = {caused}.
# (aud-t1, A) is certainly caused: accounts 1/1, audiences 1/1, campaigns
# {cmp-1, cmp-2} 2/2; whole window: v1 has no match, so {A} 1/1.
CASES.append(
    case(
        "outcome_caused",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "duplicates": 0,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 1, "upper": 1},
                "campaigns": {"lower": 2, "upper": 2},
            },
            "affected_accounts_whole_window": {"lower": 1, "upper": 1},
        },
        uploads=[upload(at(S2), digest=H_ALICE)],
    )
)

# O = {none}: A's key is restricted at S1 and S3 but absent from S2 (a full
# export: it did not exist then). Entry at S2 -> S_k = {absent} -> O = {none}.
CASES.append(
    case(
        "outcome_none",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, None, RESTRICTED),
        {
            "uploads": nothing_caused(1),
            "affected_accounts_whole_window": {"lower": 0, "upper": 0},
        },
        uploads=[upload(at(S2), digest=H_ALICE)],
    )
)

# O = {permitted, caused}: permitted at S1, restricted at S2; the entry on 08-05
# lies between -> S_k = {permitted, restricted} -> O = {permitted, caused}:
# possibly caused only. accounts 0/1, audiences 0/1, campaigns 0/2.
CASES.append(
    case(
        "outcome_permitted_caused",
        filler() + key_states(A, "email", H_ALICE, PERMITTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "accounts": {"lower": 0, "upper": 1},
                "audiences": {"lower": 0, "upper": 1},
                "campaigns": {"lower": 0, "upper": 2},
            },
            "affected_accounts_whole_window": {"lower": 0, "upper": 1},
        },
        uploads=[upload(at(date(2019, 8, 5), 12), digest=H_ALICE)],
    )
)

# O = {permitted, none}: permitted at S1, absent at S2; entry on 08-05 ->
# S_k = {permitted, absent} -> O = {permitted, none}: caused is not possible.
CASES.append(
    case(
        "outcome_permitted_none",
        filler() + key_states(A, "email", H_ALICE, PERMITTED, None, RESTRICTED),
        {
            "uploads": nothing_caused(1),
            "affected_accounts_whole_window": {"lower": 0, "upper": 0},
        },
        uploads=[upload(at(date(2019, 8, 5), 12), digest=H_ALICE)],
    )
)

# O = {caused, none}: restricted at S1, absent at S2; entry on 08-05 ->
# S_k = {restricted, absent} -> O = {caused, none}: possibly caused (0/1).
CASES.append(
    case(
        "outcome_caused_none",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, None, None),
        {
            "uploads": {
                "entries": 1,
                "accounts": {"lower": 0, "upper": 1},
                "audiences": {"lower": 0, "upper": 1},
                "campaigns": {"lower": 0, "upper": 2},
            },
            "affected_accounts_whole_window": {"lower": 0, "upper": 1},
        },
        uploads=[upload(at(date(2019, 8, 5), 12), digest=H_ALICE)],
    )
)

# O = {permitted, caused, none}: the entry on 07-15 is in W but before the first
# snapshot: every state is possible even though the key is restricted in every
# snapshot -> O = {permitted, caused, none}: possibly caused (0/1).
CASES.append(
    case(
        "outcome_permitted_caused_none",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "accounts": {"lower": 0, "upper": 1},
                "audiences": {"lower": 0, "upper": 1},
            },
            "affected_accounts_whole_window": {"lower": 0, "upper": 1},
        },
        uploads=[upload(at(date(2019, 7, 15), 9), digest=H_ALICE)],
    )
)

# --- keys absent at one snapshot and restricted at the next ----------------------
# A's key is absent at S1 and restricted at S2. The entry into aud-t1 on 08-05:
# S_k = {absent, restricted} -> O = {caused, none}: possibly caused only (0/1).
# A logged match of A into aud-t2 at the same moment is v1-caused (a logged match
# proves the key existed: absent dropped) -> affected_accounts 1/1, L = Lc =
# {(aud-t2, A)}. U = {(aud-t1, A)}: Lc ∩ U = {} -> 0. No O = {caused} -> Rd = {}.
# Whole window: lower {A} (v1), upper {A}.
CASES.append(
    case(
        "absent_then_restricted",
        filler() + key_states(A, "email", H_ALICE, None, RESTRICTED, RESTRICTED),
        {
            "affected_accounts": {"lower": 1, "upper": 1},
            "uploads": {
                "entries": 1,
                "accounts": {"lower": 0, "upper": 1},
                "audiences": {"lower": 0, "upper": 1},
                "campaigns": {"lower": 0, "upper": 2},
                "log_agreement": {
                    "logged_caused_pairs": 1,
                    "logged_caused_pairs_with_upload": 0,
                    "replayed_caused_pairs_on_log_days": 0,
                    "replayed_caused_pairs_in_log": 0,
                },
            },
            "affected_accounts_whole_window": {"lower": 1, "upper": 1},
        },
        uploads=[upload(at(date(2019, 8, 5), 12), digest=H_ALICE)],
        matches=[match(at(date(2019, 8, 5), 12), A, "aud-t2", "email", H_ALICE)],
    )
)

# --- entries before the first and after the last snapshot -----------------------
# A's key is restricted at S1, S2, S3. Entries: 07-15 into aud-t1 (before S1:
# O = {permitted, caused, none}), 08-25 into aud-t2 (after S3: the same), S3
# exactly into aud-p1 (O = {caused}). Certain pairs {(aud-p1, A)}; possible
# {(t1, A), (t2, A), (p1, A)}. accounts 1/1; audiences 1/3; campaigns: lower
# {cmp-4}, upper {cmp-1, cmp-2, cmp-3, cmp-4} -> 1/4.
CASES.append(
    case(
        "before_first_and_after_last_snapshot",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 3,
                "duplicates": 0,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 1, "upper": 3},
                "campaigns": {"lower": 1, "upper": 4},
            },
        },
        uploads=[
            upload(at(date(2019, 7, 15), 9), "aud-t1", digest=H_ALICE),
            upload(at(date(2019, 8, 25), 9), "aud-t2", digest=H_ALICE),
            upload(at(S3), "aud-p1", digest=H_ALICE),
        ],
    )
)

# --- one entry matching two accounts (a shared phone) -------------------------
# A's and B's phones have the same hash. A: restricted at S1, S2, S3. B:
# restricted at S1, permitted at S2 and S3. C has an *email* key with that same
# hash (restricted): an entry of channel phone never matches it (R6).
# Entry 1, S2 exactly, aud-t1: A {restricted} -> certain; B {permitted} -> no.
# Entry 2, 08-05 (between S1 and S2), aud-t2, raw "(415) 555-0100" with country US
# (= +14155550100): A {restricted} -> certain; B {restricted, permitted} ->
# O = {permitted, caused} -> possible.
# Certain {(t1, A), (t2, A)}; possible adds (t2, B). accounts 1/2; audiences 2/2;
# campaigns {cmp-1, cmp-2, cmp-3} 3/3; whole window 1/2.
CASES.append(
    case(
        "entry_matching_two_accounts",
        filler()
        + key_states(A, "phone", H_SHARED, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(B, "phone", H_SHARED, RESTRICTED, PERMITTED, PERMITTED)
        + key_states(C, "email", H_SHARED, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 2,
                "duplicates": 0,
                "accounts": {"lower": 1, "upper": 2},
                "audiences": {"lower": 2, "upper": 2},
                "campaigns": {"lower": 3, "upper": 3},
            },
            "affected_accounts_whole_window": {"lower": 1, "upper": 2},
        },
        uploads=[
            upload(at(S2), "aud-t1", "phone", digest=H_SHARED),
            upload(at(date(2019, 8, 5)), "aud-t2", "phone", raw="(415) 555-0100", country="US"),
        ],
    )
)

# --- duplicates -------------------------------------------------------------------
# A's key restricted at S1..S3. Rows (all A's email):
#  u1 S2, aud-t1, hashed            u2 = u1 again                      -> dup
#  u3 S2, aud-t1, raw " Alice@Example.COM " (same hash after parsing)  -> dup
#  u4 S2, aud-t2, hashed (another audience: a distinct entry)
#  u5 S2, aud-x (unknown), hashed;  u6 = u5 again                      -> dup
#  u7 09-05 (after fix_at), aud-t1; u8 = u7 again (dup, but t not in W: not counted)
#  u9 S2 + 1 s, aud-t1 (another instant: a distinct entry)
#  u10 S2 as 02:00+02:00, aud-t1 (the same instant as u1)              -> dup
# Valid rows with t in W: u1-u6, u9, u10 = 8; distinct among them: u1, u4, u5, u9
# = 4 -> duplicates 4. entries: distinct, in scope, in W: u1, u4, u9 = 3 (u5's
# audience is unknown). All three certainly caused (u9: between S2 and S3, both
# restricted): accounts 1/1, audiences {t1, t2} 2/2, campaigns 3/3.
_u1 = upload(at(S2), "aud-t1", digest=H_ALICE)
_u5 = upload(at(S2), "aud-x", digest=H_ALICE)
_u7 = upload(datetime(2019, 9, 5, 8), "aud-t1", digest=H_ALICE)
CASES.append(
    case(
        "duplicate_entries",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 3,
                "duplicates": 4,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 2, "upper": 2},
                "campaigns": {"lower": 3, "upper": 3},
            },
        },
        uploads=[
            _u1,
            dict(_u1),
            upload(at(S2), "aud-t1", raw=" Alice@Example.COM "),
            upload(at(S2), "aud-t2", digest=H_ALICE),
            _u5,
            dict(_u5),
            _u7,
            dict(_u7),
            upload(at(S2, second=1), "aud-t1", digest=H_ALICE),
            upload(
                datetime(2019, 8, 11, 2, tzinfo=timezone(timedelta(hours=2))),
                "aud-t1",
                digest=H_ALICE,
            ),
        ],
    )
)

# --- unknown and out-of-scope audiences -----------------------------------------
# audience_types = tailored only: aud-p1 (partner) is out of scope, aud-x unknown.
# A's key restricted at S1..S3; entries at S2 into aud-p1 (twice), aud-x and aud-t2.
# entries: only aud-t2 counts -> 1; duplicates: the second aud-p1 row -> 1 (any
# audience). Certain pairs {(aud-t2, A)}: accounts 1/1, audiences 1/1, campaigns
# {cmp-3} 1/1.
_p1 = upload(at(S2), "aud-p1", digest=H_ALICE)
CASES.append(
    case(
        "unknown_and_out_of_scope_audiences",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "duplicates": 1,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 1, "upper": 1},
                "campaigns": {"lower": 1, "upper": 1},
            },
        },
        uploads=[
            _p1,
            dict(_p1),
            upload(at(S2), "aud-x", digest=H_ALICE),
            upload(at(S2), "aud-t2", digest=H_ALICE),
        ],
        audience_types=("tailored",),
    )
)

# --- raw and hashed values (twitter profile) ------------------------------------
# A: email alice@example.com and phone +14155550123, both restricted at S1..S3;
# B: email bob@example.net, permitted. All rows at S2:
#  r1  aud-t1 raw " Alice@Example.COM " -> alice@example.com -> A certain (t1, A)
#  r2  aud-t2 phone raw "(415) 555-0123", country US -> +14155550123 -> (t2, A)
#  r3  aud-p1 phone raw "+1 415-555-0123", no country -> +14155550123 -> (p1, A)
#  r4  phone raw "415 555 0123", no country: no `+` and no region -> rejected
#  r5  email raw "not-an-email" -> rejected
#  r6  phone raw "call me", country US -> rejected
#  r7  aud-t1 hashed bob@example.net -> B permitted -> no pair
#  r8  aud-t1 raw "nobody@example.org" -> no candidate
#  r9  aud-t1 raw " Alice@Example.COM " AND identifier_sha256 = carol's hash: the
#      raw value wins (R2) -> the same entry as r1 -> a duplicate (were the hash
#      used, a distinct entry without candidate: entries 7, duplicates 0)
#  r10 identifier_sha256 "abc" -> rejected
#  r11 aud-t2 email, A's hash in upper case -> lower-cased (R2) -> (t2, A) again
#  r12 phone raw "+1 415-555-0123" with country "Germany": not two letters ->
#      rejected (R2), although a `+` number needs no country
# rejected_rows 5 (r4, r5, r6, r10, r12). Valid rows 7, distinct 6 -> duplicates 1,
# entries 6. Certain pairs {(t1, A), (t2, A), (p1, A)}: accounts 1/1, audiences 3/3,
# campaigns {cmp-1..cmp-4} 4/4.
CASES.append(
    case(
        "raw_and_hashed_twitter",
        filler()
        + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(A, "phone", H_A_PHONE, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(B, "email", H_BOB, PERMITTED, PERMITTED, PERMITTED),
        {
            "uploads": {
                "entries": 6,
                "duplicates": 1,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 3, "upper": 3},
                "campaigns": {"lower": 4, "upper": 4},
            },
            "coverage": {"rejected_rows": 5},
        },
        uploads=[
            upload(at(S2), "aud-t1", raw=" Alice@Example.COM "),
            upload(at(S2), "aud-t2", "phone", raw="(415) 555-0123", country="US"),
            upload(at(S2), "aud-p1", "phone", raw="+1 415-555-0123"),
            upload(at(S2), "aud-t1", "phone", raw="415 555 0123"),
            upload(at(S2), "aud-t1", raw="not-an-email"),
            upload(at(S2), "aud-t1", "phone", raw="call me", country="US"),
            upload(at(S2), "aud-t1", digest=H_BOB),
            upload(at(S2), "aud-t1", raw="nobody@example.org"),
            upload(at(S2), "aud-t1", digest=H_CAROL, raw=" Alice@Example.COM "),
            upload(at(S2), "aud-t1", digest="abc"),
            upload(at(S2), "aud-t2", digest=H_ALICE.upper()),
            upload(at(S2), "aud-p1", "phone", raw="+1 415-555-0123", country="Germany"),
        ],
    )
)

# --- raw values, google profile --------------------------------------------------
# A's key is the google-normalized janedoe@gmail.com, restricted at S1..S3.
# " Jane.Doe+ads@GMail.com " -> janedoe@gmail.com (aud-t1) -> certain (t1, A);
# "J a n e . D o e@googlemail.com" -> janedoe@googlemail.com: another value, no
# candidate; "jane.doe@gmail.com" (aud-t2) -> janedoe@gmail.com -> certain (t2, A);
# ".+x@gmail.com" -> empty local part -> rejected.
# entries 3; accounts 1/1; audiences 2/2; rejected 1.
CASES.append(
    case(
        "raw_google_profile",
        filler()
        + key_states(A, "email", sha("janedoe@gmail.com"), RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 3,
                "duplicates": 0,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 2, "upper": 2},
            },
            "coverage": {"rejected_rows": 1},
        },
        uploads=[
            upload(at(S2), "aud-t1", raw=" Jane.Doe+ads@GMail.com "),
            upload(at(S2), "aud-t1", raw="J a n e . D o e@googlemail.com"),
            upload(at(S2), "aud-t2", raw="jane.doe@gmail.com"),
            upload(at(S2), "aud-t1", raw=".+x@gmail.com"),
        ],
        normalization="google",
    )
)

# --- raw values, meta profile ----------------------------------------------------
# A's phone key is the meta-normalized 4915123456789 (E.164 digits, no `+`),
# restricted at S1..S3. "0151 23456789" with country DE -> 4915123456789 ->
# certain (aud-t1, A). A hash of "+4915123456789" (the twitter form) into aud-t2
# has no candidate. entries 2; accounts 1/1; audiences 1/1.
CASES.append(
    case(
        "raw_meta_profile",
        filler() + key_states(A, "phone", sha("4915123456789"), RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 2,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 1, "upper": 1},
            },
            "coverage": {"rejected_rows": 0},
        },
        uploads=[
            upload(at(S2), "aud-t1", "phone", raw="0151 23456789", country="DE"),
            upload(at(S2), "aud-t2", "phone", digest=sha("+4915123456789")),
        ],
        normalization="meta",
    )
)

# --- an upload time with an offset -------------------------------------------------
# A's key: permitted at S1, restricted at S2, permitted at S3. 2019-08-11T02:00+02:00
# is S2 exactly -> {restricted} -> certain (1/1). (Read as 02:00 UTC it would lie
# between S2 and S3 -> O = {permitted, caused} -> 0/1.)
CASES.append(
    case(
        "upload_time_with_offset",
        filler() + key_states(A, "email", H_ALICE, PERMITTED, RESTRICTED, PERMITTED),
        {"uploads": {"entries": 1, "accounts": {"lower": 1, "upper": 1}}},
        uploads=[
            upload(datetime(2019, 8, 11, 2, tzinfo=timezone(timedelta(hours=2))), digest=H_ALICE)
        ],
    )
)

# --- window edges ------------------------------------------------------------------
# An entry at window_start exactly (2019-07-01, before S1: O has all three) counts;
# two copies at fix_at exactly do not (t not in W): entries 1, duplicates 0,
# accounts 0/1.
_at_fix = upload(FIX_AT, "aud-t2", digest=H_ALICE)
CASES.append(
    case(
        "entries_at_window_start_and_fix_at",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "duplicates": 0,
                "accounts": {"lower": 0, "upper": 1},
                "audiences": {"lower": 0, "upper": 1},
            },
        },
        uploads=[upload(WINDOW_START, "aud-t1", digest=H_ALICE), _at_fix, dict(_at_fix)],
    )
)

# No window_start and no match: the window is empty (decision 15, R1). Nothing
# counts: entries 0, duplicates 0 (two copies at S2), exposure 0/0.
_s2 = upload(at(S2), digest=H_ALICE)
CASES.append(
    case(
        "empty_window",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 0,
                "duplicates": 0,
                "accounts": {"lower": 0, "upper": 0},
            },
            "exposed_accounts": {"lower": 0, "upper": 0},
            "affected_accounts_whole_window": {"lower": 0, "upper": 0},
        },
        uploads=[_s2, dict(_s2)],
        window_start=None,
    )
)

# No window_start, and the only match (A, 09-05) is after fix_at: the default
# window_start is after fix_at, W is empty (R1): no entry counts and exposure is 0/0
# (without R1's rule the open range would give every account with a key, 2).
CASES.append(
    case(
        "empty_window_every_match_after_fix",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {"entries": 0, "duplicates": 0, "accounts": {"lower": 0, "upper": 0}},
            "exposed_accounts": {"lower": 0, "upper": 0},
            "post_fix": {"uncertain": 1},
        },
        uploads=[upload(at(S2), digest=H_ALICE), upload(datetime(2019, 9, 6), digest=H_ALICE)],
        matches=[match(datetime(2019, 9, 5, 10), A)],
        window_start=None,
    )
)

# No window_start: W starts at the earliest match, 08-12 10:00 (A, aud-t2, caused).
# The entry at S2 (08-11) is before W; the one on 08-13 (between S2 and S3, both
# restricted) is certainly caused. entries 1, accounts 1/1, audiences {t1} 1/1.
# Exposure: snapshots in [08-12, 09-01): S3 -> A restricted -> lower 1. upper: the
# latest snapshot <= 08-12 is S2, but none is >= 09-01: open -> every account with a
# key: A, F -> 2.
CASES.append(
    case(
        "default_window_start",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 1,
                "accounts": {"lower": 1, "upper": 1},
                "audiences": {"lower": 1, "upper": 1},
            },
            "exposed_accounts": {"lower": 1, "upper": 2},
        },
        uploads=[
            upload(at(S2), "aud-t1", digest=H_ALICE),
            upload(at(date(2019, 8, 13)), "aud-t1", digest=H_ALICE),
        ],
        matches=[match(at(date(2019, 8, 12), 10), A, "aud-t2")],
        window_start=None,
    )
)

# --- the log agreement -------------------------------------------------------------
# Keys: A alice restricted at S1..S3; B bob permitted at S1..S3; C carol and G gina
# restricted at S2 only; E erin restricted at S1..S3; D none.
# Matches: m1 08-11 10:00 A aud-t1 (between S2, S3: caused); m2 08-12 B aud-t1
# (permitted); m3 08-13 A aud-t2 (caused); m4 08-14 D aud-t1 (no candidate:
# unexplained); m5 08-15 C aud-t2 and m7 08-15 G aud-t1 ({restricted, absent} minus
# absent: caused); m6 06-20 A aud-t1 (before W), m8 09-05 A aud-p1 (post-fix) and
# m9 08-17 D aud-x (unknown audience): not in L, but their days are log days.
# L = {(t1,A), (t1,B), (t2,A), (t1,D), (t2,C), (t1,G)};
# Lc = {(t1,A), (t2,A), (t2,C), (t1,G)} -> 4.
# Log days: 06-20, 08-11 .. 08-15, 08-17, 09-05.
# Entries: u1 08-11 09:00 t1 alice -> O = {caused}, log day; u2 08-16 t2 alice ->
# {caused}, no log that day; u3 08-12 t2 bob -> {permitted}; u4 08-13 t1 carol ->
# C {restricted, absent} -> {caused, none}; u5 08-14 t2 alice -> {caused}, log day;
# u6 08-12 p1 alice -> {caused}, log day; u7 06-20 t1 alice -> before W, not
# counted; u8 08-16 t1 erin -> {caused}, no log that day; u9 S1 t1 gina -> G absent
# at S1 -> {none} (still a candidate key: the pair is in U); u10 08-17 p1 erin ->
# {caused}, a log day (only through m9).
# entries 9. U = {(t1,A), (t2,A), (t2,B), (t1,C), (p1,A), (t1,E), (t1,G), (p1,E)}:
# Lc ∩ U = {(t1,A), (t2,A), (t1,G)} -> 3 ((t2,C) has no entry).
# Rd = {(t1,A), (t2,A), (p1,A), (p1,E)} -> 4 ((t1,E) is not on a log day);
# Rd ∩ L = {(t1,A), (t2,A)} -> 2 ((p1,A) is only logged after the fix).
# Certain pairs: (t1,A), (t2,A), (p1,A), (t1,E), (p1,E): accounts {A, E} 2,
# audiences 3;
# possible adds (t1,C): accounts {A, C, E} 3, audiences 3; campaigns 4/4.
# v1: lower {A, C, G} 3, upper {A, C, D, G} 4. Whole window: lower {A, C, E, G} 4,
# upper {A, C, D, E, G} 5.
CASES.append(
    case(
        "log_agreement",
        filler()
        + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(B, "email", H_BOB, PERMITTED, PERMITTED, PERMITTED)
        + key_states(C, "email", H_CAROL, None, RESTRICTED, None)
        + key_states(E, "email", H_ERIN, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(G, "email", H_GINA, None, RESTRICTED, None),
        {
            "affected_accounts": {"lower": 3, "upper": 4},
            "uploads": {
                "entries": 9,
                "duplicates": 0,
                "accounts": {"lower": 2, "upper": 3},
                "audiences": {"lower": 3, "upper": 3},
                "campaigns": {"lower": 4, "upper": 4},
                "log_agreement": {
                    "logged_caused_pairs": 4,
                    "logged_caused_pairs_with_upload": 3,
                    "replayed_caused_pairs_on_log_days": 4,
                    "replayed_caused_pairs_in_log": 2,
                },
            },
            "affected_accounts_whole_window": {"lower": 4, "upper": 5},
        },
        matches=[
            match(at(date(2019, 8, 11), 10), A, "aud-t1", "email", H_ALICE),
            match(at(date(2019, 8, 12), 10), B, "aud-t1"),
            match(at(date(2019, 8, 13), 10), A, "aud-t2"),
            match(at(date(2019, 8, 14), 10), D, "aud-t1"),
            match(at(date(2019, 8, 15), 10), C, "aud-t2"),
            match(at(date(2019, 6, 20), 10), A, "aud-t1"),
            match(at(date(2019, 8, 15), 10), G, "aud-t1"),
            match(at(date(2019, 9, 5), 10), A, "aud-p1"),
            match(at(date(2019, 8, 17), 10), D, "aud-x"),
        ],
        uploads=[
            upload(at(date(2019, 8, 11), 9), "aud-t1", digest=H_ALICE),
            upload(at(date(2019, 8, 16), 9), "aud-t2", digest=H_ALICE),
            upload(at(date(2019, 8, 12), 9), "aud-t2", digest=H_BOB),
            upload(at(date(2019, 8, 13), 9), "aud-t1", digest=H_CAROL),
            upload(at(date(2019, 8, 14), 9), "aud-t2", digest=H_ALICE),
            upload(at(date(2019, 8, 12), 12), "aud-p1", digest=H_ALICE),
            upload(at(date(2019, 6, 20), 12), "aud-t1", digest=H_ALICE),
            upload(at(date(2019, 8, 16), 9), "aud-t1", digest=H_ERIN),
            upload(at(S1), "aud-t1", digest=H_GINA),
            upload(at(date(2019, 8, 17), 9), "aud-p1", digest=H_ERIN),
        ],
    )
)

# --- whole window beyond the log; null and empty uploads -------------------------
# A restricted (a logged caused match on 08-12: v1 1/1); B restricted at S1..S3 and
# never logged, entry at S2 -> certain; C permitted at S1, restricted at S2, entry
# on 08-05 -> {permitted, caused} -> possible. Whole window: lower {A, B} 2, upper
# {A, B, C} 3.
CASES.append(
    case(
        "whole_window_beyond_the_log",
        filler()
        + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(B, "email", H_BOB, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(C, "email", H_CAROL, PERMITTED, RESTRICTED, RESTRICTED),
        {
            "affected_accounts": {"lower": 1, "upper": 1},
            "uploads": {"accounts": {"lower": 1, "upper": 2}},
            "affected_accounts_whole_window": {"lower": 2, "upper": 3},
        },
        matches=[match(at(date(2019, 8, 12)), A)],
        uploads=[upload(at(S2), digest=H_BOB), upload(at(date(2019, 8, 5)), digest=H_CAROL)],
    )
)

# No uploads table: uploads and the whole-window figure are null; no
# min_audience_size: the targetable figure is null too.
CASES.append(
    case(
        "no_uploads_table",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "affected_accounts": {"lower": 1, "upper": 1},
            "uploads": None,
            "affected_accounts_whole_window": None,
            "audiences_targetable_only_by_incident": None,
        },
        matches=[match(at(date(2019, 8, 12)), A)],
    )
)

# An uploads table without rows: zeros, and the whole window is v1's (1/1) (R10).
CASES.append(
    case(
        "empty_uploads_table",
        filler() + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED),
        {
            "uploads": {
                "entries": 0,
                "duplicates": 0,
                "accounts": {"lower": 0, "upper": 0},
                "audiences": {"lower": 0, "upper": 0},
                "campaigns": {"lower": 0, "upper": 0},
                "log_agreement": {
                    "logged_caused_pairs": 1,
                    "logged_caused_pairs_with_upload": 0,
                    "replayed_caused_pairs_on_log_days": 0,
                    "replayed_caused_pairs_in_log": 0,
                },
            },
            "affected_accounts_whole_window": {"lower": 1, "upper": 1},
        },
        matches=[match(at(date(2019, 8, 12)), A)],
        uploads=[],
    )
)

# No snapshots at all: no key is seen in any snapshot, so no entry has a candidate
# (entries 1, nothing caused); exposure: every account with a key -> none (R11).
CASES.append(
    case(
        "no_snapshots",
        [],
        {
            "uploads": nothing_caused(1),
            "exposed_accounts": {"lower": 0, "upper": 0},
        },
        uploads=[upload(at(S2), digest=H_ALICE)],
    )
)

# --- audiences targetable only because of the incident (min_audience_size 3) ------
# Keys (S1..S3, constant): A email restricted + phone permitted; B email
# restricted; C email permitted at S1, S2 and restricted at S3; D email permitted;
# E none; F permitted (filler). Matches on 08-12 10:00 (between S2 and S3):
# aud-t1: A email (caused), B (caused), C (uncertain), D (permitted).
#   M 4, C {A, B}, Q {A, B, C}: 4-2 < 3 -> lower; 4-3 < 3 -> upper.
# aud-t2: A email (caused), C (uncertain), E (unexplained), D (permitted).
#   M 4, C {A}, Q {A, C, E}: 4-1 = 3 not < 3; 4-3 < 3 -> upper only.
# aud-t3: A email (caused) and A phone (permitted), B (caused), D, F (permitted).
#   M 4, C {B}, Q {B}: 3 and 3, not < 3 -> neither (A is in neither C nor Q).
# aud-p1: A email, B (caused); C on 09-02 is post-fix, not in M. M 2 < 3 -> neither.
# -> lower 1, upper 2.
_T3 = {"audience_id": "aud-t3", "advertiser_id": "adv-1", "audience_type": "tailored"}
_noon = at(date(2019, 8, 12), 10)
CASES.append(
    case(
        "targetable_only_by_incident",
        filler()
        + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(A, "phone", H_A_PHONE, PERMITTED, PERMITTED, PERMITTED)
        + key_states(B, "email", H_BOB, RESTRICTED, RESTRICTED, RESTRICTED)
        + key_states(C, "email", H_CAROL, PERMITTED, PERMITTED, RESTRICTED)
        + key_states(D, "email", sha("dave@example.com"), PERMITTED, PERMITTED, PERMITTED),
        {
            "audiences_targetable_only_by_incident": {"lower": 1, "upper": 2},
            "uploads": None,
        },
        matches=[
            match(_noon, A, "aud-t1", "email"),
            match(_noon, B, "aud-t1"),
            match(_noon, C, "aud-t1"),
            match(_noon, D, "aud-t1"),
            match(_noon, A, "aud-t2", "email"),
            match(_noon, C, "aud-t2"),
            match(_noon, E, "aud-t2"),
            match(_noon, D, "aud-t2"),
            match(_noon, A, "aud-t3", "email"),
            match(_noon, A, "aud-t3", "phone"),
            match(_noon, B, "aud-t3"),
            match(_noon, D, "aud-t3"),
            match(_noon, F, "aud-t3"),
            match(_noon, A, "aud-p1", "email"),
            match(_noon, B, "aud-p1"),
            match(datetime(2019, 9, 2, 10), C, "aud-p1"),
        ],
        min_audience_size=3,
        extra_audiences=[_T3],
    )
)

# --- by_channel (v2) -----------------------------------------------------------------
# Keys (constant at S1..S3): A email + phone restricted; B email restricted, phone
# permitted; C email restricted; D none; E email restricted; F permitted (filler).
# Matches on 08-12 10:00 into aud-t1, without channel unless given:
#  A: caused, cause channels {email, phone} -> upper email, phone; no lower
#  A (aud-t2) with identifier = A's phone hash: caused via {phone} -> lower phone
#  B: uncertain (P = {restricted, permitted}), cause {email} -> upper email
#  C: caused via {email} -> lower and upper email
#  D: unexplained, no logged channel -> "unknown" upper
#  E: channel phone, no phone key -> unexplained -> phone upper
#  F: permitted -> nowhere
# email {lower {C} 1, upper {A, B, C} 3}; phone {lower {A} 1, upper {A, E} 2};
# unknown {0, 1}.
_BY_CHANNEL_CONTACTS = (
    filler()
    + key_states(A, "email", H_ALICE, RESTRICTED, RESTRICTED, RESTRICTED)
    + key_states(A, "phone", H_A_PHONE, RESTRICTED, RESTRICTED, RESTRICTED)
    + key_states(B, "email", H_BOB, RESTRICTED, RESTRICTED, RESTRICTED)
    + key_states(B, "phone", sha("+14155550142"), PERMITTED, PERMITTED, PERMITTED)
    + key_states(C, "email", H_CAROL, RESTRICTED, RESTRICTED, RESTRICTED)
    + key_states(E, "email", H_ERIN, RESTRICTED, RESTRICTED, RESTRICTED)
)
_BY_CHANNEL_MATCHES = [
    match(_noon, A),
    match(_noon, A, "aud-t2", identifier=H_A_PHONE),
    match(_noon, B),
    match(_noon, C),
    match(_noon, D),
    match(_noon, E, channel="phone"),
    match(_noon, F),
]
CASES.append(
    case(
        "by_channel_v2",
        _BY_CHANNEL_CONTACTS,
        {
            "matches": {"caused": 3, "uncertain": 1, "unexplained": 2, "permitted": 1},
            "by_channel": {
                "email": {"lower": 1, "upper": 3},
                "phone": {"lower": 1, "upper": 2},
                "unknown": {"lower": 0, "upper": 1},
            },
        },
        matches=_BY_CHANNEL_MATCHES,
    )
)
# The same case under v1's rule: only E's match has a logged channel (phone).
CASES.append(
    case(
        "by_channel_v1_rule",
        _BY_CHANNEL_CONTACTS,
        {"by_channel": {"phone": {"lower": 0, "upper": 1}}},
        matches=_BY_CHANNEL_MATCHES,
        by_channel_rule="v1",
    )
)

# --- exposure ------------------------------------------------------------------------
# Snapshots T0 07-01, T1 08-01, T2 08-15, T3 09-01, T4 09-15. A restricted at T1
# only; B at T0 only; C at T3 only; D at T4 only; E permitted at every snapshot; F at
# T2 with a restricted and a permitted row (purposes united: permitted).
T0, T1, T2, T3, T4 = (
    date(2019, 7, 1),
    date(2019, 8, 1),
    date(2019, 8, 15),
    date(2019, 9, 1),
    date(2019, 9, 15),
)
_EXPOSURE_CONTACTS = [
    contact(T1, A, "email", H_ALICE, RESTRICTED),
    contact(T0, B, "email", H_BOB, RESTRICTED),
    contact(T3, C, "phone", H_SHARED, "account_recovery"),
    contact(T4, D, "email", H_CAROL, RESTRICTED),
    *[contact(t, E, "email", H_ERIN, PERMITTED) for t in (T0, T1, T2, T3, T4)],
    contact(T2, F, "email", H_FILLER, "two_factor"),
    contact(T2, F, "email", H_FILLER, "profile"),
]

# W = [07-10, 08-20). lower: snapshots in W are T1, T2 -> {A} 1. upper: the last
# snapshot <= 07-10 is T0, the first >= 08-20 is T3: T0..T3 -> {A, B, C} 3.
CASES.append(
    case(
        "exposure_closed_range",
        _EXPOSURE_CONTACTS,
        {"exposed_accounts": {"lower": 1, "upper": 3}},
        window_start=datetime(2019, 7, 10),
        fix_at=datetime(2019, 8, 20),
    )
)

# W = [06-01, 08-20): no snapshot at or before 06-01, so part of W lies before the
# snapshot range: upper = every account with a key in any snapshot, A..F -> 6.
# lower: T0, T1, T2 in W -> {B, A} 2.
CASES.append(
    case(
        "exposure_open_range_at_the_start",
        _EXPOSURE_CONTACTS,
        {"exposed_accounts": {"lower": 2, "upper": 6}},
        window_start=datetime(2019, 6, 1),
        fix_at=datetime(2019, 8, 20),
    )
)

# W = [07-10, 10-01): no snapshot at or after 10-01: upper 6. lower: T1..T4 in W ->
# {A, C, D} 3.
CASES.append(
    case(
        "exposure_open_range_at_the_end",
        _EXPOSURE_CONTACTS,
        {"exposed_accounts": {"lower": 3, "upper": 6}},
        window_start=datetime(2019, 7, 10),
        fix_at=datetime(2019, 10, 1),
    )
)

# W = [T1, T3) exactly. lower: T1, T2 (T3 is not < fix_at) -> {A} 1. upper: the last
# snapshot <= T1 is T1, the first >= T3 is T3: T1..T3 -> {A, C} 2.
CASES.append(
    case(
        "exposure_window_edges_on_snapshots",
        _EXPOSURE_CONTACTS,
        {"exposed_accounts": {"lower": 1, "upper": 2}},
        window_start=at(T1),
        fix_at=at(T3),
    )
)
