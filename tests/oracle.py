"""An independent, deliberately simple test oracle of the replay specification.

It implements ``shared/spec/replay-semantics.md`` with the readings of
``docs/semantics-decisions.md`` straight from the text: one match at a time, with
plain loops and sets. It shares no code with ``incidentscope`` and never imports
it; clarity matters more than speed here.

``oracle_report`` returns the ``report.json`` object of ``docs/report-json.md``
without ``schema_version``, the ``incident`` block and
``affected_accounts.estimate`` (the estimate is a documented model, not a replay
figure; the differential test only checks ``lower <= estimate <= upper``).

It also returns the figures of ``shared/spec/whole-window.md`` (replay semantics
v2): ``exposed_accounts``, ``uploads``, ``affected_accounts_whole_window``
(without its estimate) and ``audiences_targetable_only_by_incident``; and
``by_channel`` follows the v2 rule unless ``by_channel_rule="v1"`` is asked for
(the v1 rule: by the logged channel only). The readings of the v2 text are
listed at the top of the v2 part below.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers

ABSENT = "absent"
RESTRICTED = "restricted"
PERMITTED = "permitted"
ALL_STATES = frozenset({ABSENT, RESTRICTED, PERMITTED})

CAUSED = "caused"
UNCERTAIN = "uncertain"
UNEXPLAINED = "unexplained"
CLASSES = (CAUSED, PERMITTED, UNCERTAIN, UNEXPLAINED)
# "upper" counts everything that may have been caused by the incident.
UPPER_CLASSES = frozenset({CAUSED, UNCERTAIN, UNEXPLAINED})

Key = tuple[int, str, str]  # (account_id, channel, contact_sha256)
Row = dict[str, Any]

# The top-level figures of v1 (replay-semantics.md with docs/semantics-decisions.md)
# and those that whole-window.md adds. `by_channel` is a v1 figure whose rule v2
# changes (see `oracle_report(..., by_channel_rule=...)`).
V1_FIGURES = (
    "affected_accounts",
    "affected_audiences",
    "affected_campaigns",
    "affected_advertisers",
    "affected_partners",
    "matches",
    "by_audience_type",
    "by_channel",
    "by_country",
    "by_month",
    "deliveries",
    "post_fix",
    "coverage",
)
V2_FIGURES = (
    "exposed_accounts",
    "uploads",
    "affected_accounts_whole_window",
    "audiences_targetable_only_by_incident",
    # not in whole-window.md: the regulator notification's (docs/report-json.md)
    "contacts_used",
)


def to_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (naive input is already UTC)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def labels(purposes: str) -> set[str]:
    """Purpose labels: split on '|', trimmed, empty labels dropped."""
    return {label.strip() for label in purposes.split("|") if label.strip()}


@dataclass(frozen=True)
class Match:
    matched_at: datetime  # naive UTC
    account_id: int
    audience_id: str
    channel: str | None
    identifier: str | None


class ContactHistory:
    """The contacts table as snapshot times and per-snapshot key states."""

    def __init__(self, contact_rows: list[Row], restricted_purposes: Iterable[str]) -> None:
        restricted = set(restricted_purposes)
        purposes_at: dict[tuple[Key, datetime], set[str]] = defaultdict(set)
        times: set[datetime] = set()
        self.keys_of_account: dict[int, set[Key]] = defaultdict(set)
        for row in contact_rows:
            day: date = row["snapshot_date"]
            moment = datetime(day.year, day.month, day.day)
            key: Key = (int(row["account_id"]), row["channel"], row["contact_sha256"])
            times.add(moment)
            self.keys_of_account[key[0]].add(key)
            # Purposes of duplicate rows of one key at one snapshot are united.
            purposes_at[(key, moment)] |= labels(row["purposes"])
        self.times: list[datetime] = sorted(times)
        self._state: dict[tuple[Key, datetime], str] = {}
        for (key, moment), purposes in purposes_at.items():
            self._state[(key, moment)] = RESTRICTED if purposes <= restricted else PERMITTED

    def state(self, key: Key, moment: datetime) -> str:
        """The state of a key at one snapshot time."""
        return self._state.get((key, moment), ABSENT)

    def outside_range(self, moment: datetime) -> bool:
        """Before the first or after the last snapshot (always, without snapshots)."""
        return not self.times or moment < self.times[0] or moment > self.times[-1]

    def possible_states(self, key: Key, moment: datetime) -> set[str]:
        if self.outside_range(moment):
            return set(ALL_STATES)
        if moment in self.times:
            return {self.state(key, moment)}
        before = max(t for t in self.times if t < moment)
        after = min(t for t in self.times if t > moment)
        return {self.state(key, before), self.state(key, after)}

    def candidates(self, match: Match) -> list[Key]:
        """Keys of the account seen in any snapshot, narrowed by channel and identifier."""
        found = []
        for key in sorted(self.keys_of_account.get(match.account_id, set())):
            if match.channel is not None and key[1] != match.channel:
                continue
            if match.identifier is not None and key[2] != match.identifier:
                continue
            found.append(key)
        return found

    def restricted_accounts_at(self, moment: datetime) -> set[int]:
        """Accounts with a key whose state at the snapshot `moment` is restricted."""
        return {
            key[0]
            for (key, at), state in self._state.items()
            if at == moment and state == RESTRICTED
        }

    def accounts_with_keys(self) -> set[int]:
        """Accounts with a key (in any state) in any snapshot."""
        return {account for account, keys in self.keys_of_account.items() if keys}

    def keys_with(self, channel: str, identifier: str) -> dict[int, list[Key]]:
        """Per account: its keys seen in any snapshot with this channel and hash."""
        found: dict[int, list[Key]] = {}
        for account, keys in sorted(self.keys_of_account.items()):
            matching = sorted(k for k in keys if k[1] == channel and k[2] == identifier)
            if matching:
                found[account] = matching
        return found

    def classify(self, match: Match) -> str:
        union: set[str] = set()
        for key in self.candidates(match):
            # A logged match proves the identifier existed: drop `absent`.
            union |= self.possible_states(key, match.matched_at) - {ABSENT}
        if union == {RESTRICTED}:
            return CAUSED
        if union == {PERMITTED}:
            return PERMITTED
        if union == {RESTRICTED, PERMITTED}:
            return UNCERTAIN
        return UNEXPLAINED


def _optional(row: Row, name: str) -> Any:
    value = row.get(name)
    return None if value == "" else value


def _bounds(lower: set[Any], upper: set[Any]) -> dict[str, int]:
    return {"lower": len(lower), "upper": len(upper)}


def _breakdown(entries: list[tuple[str, int, str]]) -> dict[str, dict[str, int]]:
    """(group, account_id, class) entries -> accounts per group, non-zero upper, sorted."""
    lower: dict[str, set[int]] = defaultdict(set)
    upper: dict[str, set[int]] = defaultdict(set)
    for group, account_id, cls in entries:
        if cls == CAUSED:
            lower[group].add(account_id)
        if cls in UPPER_CLASSES:
            upper[group].add(account_id)
    return {group: _bounds(lower[group], upper[group]) for group in sorted(upper) if upper[group]}


def _cadence(times: list[datetime]) -> int | float | None:
    if len(times) < 2:
        return None
    gaps = [(b - a).days for a, b in itertools.pairwise(times)]
    median = statistics.median(gaps)
    return int(median) if float(median).is_integer() else float(median)


def oracle_report(
    tables: dict[str, list[Row]], incident: dict[str, Any], by_channel_rule: str = "v2"
) -> dict[str, Any]:
    """The report of one case, figure by figure from the specification.

    `by_channel_rule`: "v2" (whole-window.md, the default) or "v1" (by the logged
    channel only, as the engine does until it implements v2).
    """
    if by_channel_rule not in ("v1", "v2"):
        raise ValueError(f"by_channel_rule must be 'v1' or 'v2', not {by_channel_rule!r}")
    fix_at = to_utc(incident["fix_at"])
    history = ContactHistory(tables.get("contacts", []), incident["restricted_purposes"])
    audience_types = set(incident["audience_types"])
    audiences = {row["audience_id"]: row for row in tables.get("audiences", [])}

    # --- the match log: every row, then exact duplicates removed -------------
    all_rows = [
        Match(
            matched_at=to_utc(row["matched_at"]),
            account_id=int(row["account_id"]),
            audience_id=row["audience_id"],
            channel=_optional(row, "channel"),
            identifier=_optional(row, "identifier_sha256"),
        )
        for row in tables.get("matches", [])
    ]
    unique: list[Match] = []
    seen: set[Match] = set()
    for match in all_rows:
        if match not in seen:
            seen.add(match)
            unique.append(match)

    if incident.get("window_start") is not None:
        window_start: datetime | None = to_utc(incident["window_start"])
    elif all_rows:
        window_start = min(m.matched_at for m in all_rows)
    else:
        window_start = None

    def in_window(moment: datetime) -> bool:
        return window_start is not None and window_start <= moment < fix_at

    def audience_in_scope(audience_id: str) -> bool:
        audience = audiences.get(audience_id)
        return audience is not None and audience["audience_type"] in audience_types

    def in_scope(match: Match) -> bool:
        return audience_in_scope(match.audience_id)

    classes = {match: history.classify(match) for match in unique}
    scoped = [m for m in unique if in_scope(m)]
    window = [m for m in scoped if in_window(m.matched_at)]
    post_fix = [m for m in scoped if m.matched_at >= fix_at]

    # --- match counts --------------------------------------------------------
    scoped_window_rows = [m for m in all_rows if in_scope(m) and in_window(m.matched_at)]
    match_counts = {cls: sum(1 for m in window if classes[m] == cls) for cls in CLASSES}
    match_counts["duplicates"] = len(scoped_window_rows) - len(window)

    # --- affected accounts, audiences and what hangs off audiences -----------
    lower_accounts = {m.account_id for m in window if classes[m] == CAUSED}
    upper_accounts = {m.account_id for m in window if classes[m] in UPPER_CLASSES}
    lower_audiences = {m.audience_id for m in window if classes[m] == CAUSED}
    upper_audiences = {m.audience_id for m in window if classes[m] in UPPER_CLASSES}

    def campaigns_of(audience_ids: set[str]) -> set[str]:
        return {
            row["campaign_id"]
            for row in tables.get("campaign_audiences", [])
            if row["audience_id"] in audience_ids
        }

    def advertisers_of(audience_ids: set[str]) -> set[str]:
        return {audiences[a]["advertiser_id"] for a in audience_ids}

    def partners_of(audience_ids: set[str]) -> set[str]:
        found = set()
        for audience_id in audience_ids:
            partner = _optional(audiences[audience_id], "partner_id")
            if partner is not None:
                found.add(partner)
        return found

    # --- breakdowns ----------------------------------------------------------
    countries = {int(row["account_id"]): row["country"] for row in tables.get("accounts") or []}
    by_type = [
        (audiences[m.audience_id]["audience_type"], m.account_id, classes[m]) for m in window
    ]
    if by_channel_rule == "v1":
        by_channel = _breakdown(
            [(m.channel, m.account_id, classes[m]) for m in window if m.channel is not None]
        )
    else:
        by_channel = by_channel_v2(history, window, classes)
    by_country = [
        (countries[m.account_id], m.account_id, classes[m])
        for m in window
        if countries.get(m.account_id) is not None
    ]
    by_month = [
        (f"{m.matched_at.year:04d}-{m.matched_at.month:02d}", m.account_id, classes[m])
        for m in window
    ]

    # --- deliveries ----------------------------------------------------------
    # `null` when no deliveries file was loaded; zeros when it holds no rows (decision 13).
    deliveries: dict[str, dict[str, int]] | None = None
    if tables.get("deliveries") is not None:
        audiences_of_campaign: dict[str, set[str]] = defaultdict(set)
        for row in tables.get("campaign_audiences", []):
            audiences_of_campaign[row["campaign_id"]].add(row["audience_id"])
        served: dict[str, dict[str, set[int]]] = {
            period: {"lower": set(), "upper": set()} for period in ("window", "after")
        }
        impressions = {period: {"lower": 0, "upper": 0} for period in ("window", "after")}
        for row in tables["deliveries"]:
            served_at = to_utc(row["served_at"])
            account_id = int(row["account_id"])
            count = _optional(row, "impressions")
            count = 1 if count is None else int(count)
            if in_window(served_at):
                period = "window"
            elif served_at >= fix_at:
                period = "after"
            else:
                continue
            considered = [
                classes[m]
                for m in scoped
                if m.account_id == account_id
                and m.audience_id in audiences_of_campaign.get(row["campaign_id"], set())
                and m.matched_at < served_at
            ]
            if not considered:
                continue
            if all(cls == CAUSED for cls in considered):
                served[period]["lower"].add(account_id)
                impressions[period]["lower"] += count
            if all(cls in UPPER_CLASSES for cls in considered):
                served[period]["upper"].add(account_id)
                impressions[period]["upper"] += count
        deliveries = {
            "accounts": _bounds(served["window"]["lower"], served["window"]["upper"]),
            "impressions": dict(impressions["window"]),
            "after_fix_accounts": _bounds(served["after"]["lower"], served["after"]["upper"]),
            "after_fix_impressions": dict(impressions["after"]),
        }

    # --- post-fix control ----------------------------------------------------
    post_fix_counts: dict[str, Any] = {
        cls: sum(1 for m in post_fix if classes[m] == cls) for cls in CLASSES
    }
    post_fix_counts["fix_held"] = post_fix_counts[CAUSED] == 0

    # --- coverage ------------------------------------------------------------
    missing_log_days = 0
    if window_start is not None:
        logged_days = {m.matched_at.date() for m in all_rows}
        day = window_start.date()
        while day < fix_at.date():
            if day not in logged_days:
                missing_log_days += 1
            day += timedelta(days=1)
    times = history.times
    coverage = {
        "snapshots": len(times),
        "first_snapshot": times[0].date().isoformat() if times else None,
        "last_snapshot": times[-1].date().isoformat() if times else None,
        "snapshot_cadence_days": _cadence(times),
        "missing_log_days": missing_log_days,
        "outside_snapshot_range": sum(1 for m in window if history.outside_range(m.matched_at)),
        "duplicate_rows": len(all_rows) - len(unique),
        "unknown_audience_matches": sum(
            1 for m in unique if m.audience_id not in audiences and in_window(m.matched_at)
        ),
        "rejected_rows": 0,
        "rejected_rows_by_table": {},
        **match_times(window, classes),
    }

    report: dict[str, Any] = {
        "affected_accounts": _bounds(lower_accounts, upper_accounts),
        "affected_audiences": _bounds(lower_audiences, upper_audiences),
        "affected_campaigns": _bounds(campaigns_of(lower_audiences), campaigns_of(upper_audiences)),
        "affected_advertisers": _bounds(
            advertisers_of(lower_audiences), advertisers_of(upper_audiences)
        ),
        "affected_partners": _bounds(partners_of(lower_audiences), partners_of(upper_audiences)),
        "matches": match_counts,
        "by_audience_type": _breakdown(by_type),
        "by_channel": by_channel,
        "by_country": _breakdown(by_country),
        "by_month": _breakdown(by_month),
        "deliveries": deliveries,
        "post_fix": post_fix_counts,
        "coverage": coverage,
    }

    # --- v2 (whole-window.md; readings in the v2 part below) -------------------
    # Exposure: who held a security-only contact during the window.
    report["exposed_accounts"] = exposure(history, window_start, fix_at)

    # The uploads replay, and the whole-window affected accounts.
    report["uploads"] = None
    report["affected_accounts_whole_window"] = None
    if tables.get("uploads") is not None:
        profile = incident.get("normalization") or "twitter"
        valid_rows, rejected = parse_uploads(tables["uploads"], profile)
        coverage["rejected_rows"] += rejected
        if rejected:
            coverage["rejected_rows_by_table"] = {"uploads": rejected}
        # Exact duplicates (after parsing) count once; `duplicates` counts the
        # extra copies with t in W, whatever the audience.
        unique_entries = list(dict.fromkeys(valid_rows))
        window_rows = [e for e in valid_rows if in_window(e.uploaded_at)]
        upload_duplicates = len(window_rows) - len(set(window_rows))
        counted = [
            e
            for e in unique_entries
            if in_window(e.uploaded_at) and audience_in_scope(e.audience_id)
        ]
        # A log day: a UTC day with at least one valid match row (any audience).
        log_days = {m.matched_at.date() for m in all_rows}

        certainly: set[tuple[str, int]] = set()  # (audience, account) pairs
        possibly: set[tuple[str, int]] = set()
        with_upload: set[tuple[str, int]] = set()  # U
        replayed_on_log_days: set[tuple[str, int]] = set()  # Rd
        for entry in counted:
            for account, keys in history.keys_with(entry.channel, entry.identifier).items():
                pair = (entry.audience_id, account)
                with_upload.add(pair)
                outcomes = outcome_set(
                    [history.possible_states(key, entry.uploaded_at) for key in keys]
                )
                if CAUSED in outcomes:
                    possibly.add(pair)
                if outcomes == {CAUSED}:
                    certainly.add(pair)
                    if entry.uploaded_at.date() in log_days:
                        replayed_on_log_days.add(pair)

        logged = {(m.audience_id, m.account_id) for m in window}  # L
        logged_caused = {(m.audience_id, m.account_id) for m in window if classes[m] == CAUSED}
        certain_accounts = {account for _, account in certainly}
        possible_accounts = {account for _, account in possibly}
        certain_audiences = {audience for audience, _ in certainly}
        possible_audiences = {audience for audience, _ in possibly}
        report["uploads"] = {
            "entries": len(counted),
            "duplicates": upload_duplicates,
            "accounts": _bounds(certain_accounts, possible_accounts),
            "audiences": _bounds(certain_audiences, possible_audiences),
            "campaigns": _bounds(campaigns_of(certain_audiences), campaigns_of(possible_audiences)),
            "log_agreement": {
                "logged_caused_pairs": len(logged_caused),
                "logged_caused_pairs_with_upload": len(logged_caused & with_upload),
                "replayed_caused_pairs_on_log_days": len(replayed_on_log_days),
                "replayed_caused_pairs_in_log": len(replayed_on_log_days & logged),
            },
        }
        report["affected_accounts_whole_window"] = _bounds(
            lower_accounts | certain_accounts, upper_accounts | possible_accounts
        )

    # Audiences that were targetable only because of the incident.
    report["audiences_targetable_only_by_incident"] = None
    minimum = incident.get("min_audience_size")
    if minimum is not None:
        only_lower: set[str] = set()
        only_upper: set[str] = set()
        for audience_id in sorted(audiences):
            if not audience_in_scope(audience_id):
                continue
            into = [m for m in window if m.audience_id == audience_id]
            members = {m.account_id for m in into}  # M
            all_caused = {  # C
                a for a in members if all(classes[m] == CAUSED for m in into if m.account_id == a)
            }
            none_permitted = {  # Q
                a
                for a in members
                if all(classes[m] != PERMITTED for m in into if m.account_id == a)
            }
            if len(members) >= minimum and len(members) - len(all_caused) < minimum:
                only_lower.add(audience_id)
            if len(members) >= minimum and len(members) - len(none_permitted) < minimum:
                only_upper.add(audience_id)
        report["audiences_targetable_only_by_incident"] = _bounds(only_lower, only_upper)

    report["contacts_used"] = contacts_used(history, window, classes)
    return report


def _iso(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


def match_times(window: list[Match], classes: dict[Match, str]) -> dict[str, str | None]:
    """coverage's first and last in-window match: logged, caused, possibly caused
    (docs/report-json.md; not a figure of the specification)."""
    def first_last(name: str, keep: Iterable[Match]) -> dict[str, str | None]:
        times = sorted(m.matched_at for m in keep)
        return {f"first_{name}_match": _iso(times[0]) if times else None,
                f"last_{name}_match": _iso(times[-1]) if times else None}

    return {**first_last("logged", window),
            **first_last("caused", (m for m in window if classes[m] == CAUSED)),
            **first_last("possibly_caused",
                         (m for m in window if classes[m] in UPPER_CLASSES))}


def contacts_used(history: ContactHistory, window: list[Match],
                  classes: dict[Match, str]) -> dict[str, int]:
    """Distinct keys through which an in-window caused or uncertain match may have been
    caused (restricted among its possible states): lower, the only such key of a caused
    match; upper, every such key (docs/report-json.md)."""
    lower: set[Key] = set()
    upper: set[Key] = set()
    for match in window:
        if classes[match] not in (CAUSED, UNCERTAIN):
            continue
        used = [key for key in history.candidates(match)
                if RESTRICTED in history.possible_states(key, match.matched_at)]
        upper.update(used)
        if classes[match] == CAUSED and len(used) == 1:
            lower.update(used)
    return _bounds(lower, upper)


# =============================================================================
# v2: the whole window (shared/spec/whole-window.md)
# =============================================================================

"""Readings of whole-window.md where its text leaves a point open.

The oracle implements these; the engine must implement the same.

R1. Window. W = [window_start, fix_at) with v1's window_start (decision 2: by
    default the earliest valid match row; uploads never move it). When W is
    empty (no window_start and no match row, decision 15, or a default
    window_start at or after fix_at), no upload entry counts (entries = 0,
    duplicates = 0) and exposed_accounts is {lower 0, upper 0}: the open-range
    rule applies only to a non-empty window.
R2. Rejected upload rows. A row is rejected (it counts in
    coverage.rejected_rows and nowhere else: neither an entry nor a duplicate)
    when uploaded_at, audience_id or channel is missing, the channel is not
    `email` or `phone`, it has neither `contact` nor `identifier_sha256`, its
    `contact` does not normalize (R3), its `identifier_sha256` is not 64 hex
    characters, or its `country` is given but is not two ASCII letters (the
    shape check of `accounts.country`; whatever the row's channel). When both
    `contact` and `identifier_sha256` are filled, the raw `contact` is used,
    even when it is rejected (as for contacts in docs/input-contract.md).
    `identifier_sha256` of any case is accepted and lower-cased.
R3. Raw values are normalized by the incident's profile (default `twitter`).
    Email: twitter and meta strip surrounding whitespace and lower-case; google
    removes all whitespace, lower-cases and, for gmail.com and googlemail.com,
    cuts the local part at its first `+` and drops its dots. The result must
    have exactly one `@`, no whitespace, a non-empty local part and a domain of
    at least two non-empty dot-separated labels. Phone: the region is the row's
    `country` (upper-cased) when given; a value that does not start with `+`
    (after stripping) and has no country is rejected; otherwise
    phonenumbers.parse(value, region) must succeed and is_possible_number hold;
    the value is E.164 (`meta`: without the `+`). Uploads have no account: the
    accounts table's country is never used for them, and `country` means
    nothing for an email. The hash is SHA-256 (hex) of the UTF-8 bytes of the
    normalized value.
R4. Exact duplicates: valid rows with equal (uploaded_at as a UTC instant,
    audience_id, channel, hash); the form (raw or hashed) and `country` are not
    compared. duplicates = (valid rows with t in W) - (distinct entries with t
    in W), over all audiences (unknown and out-of-scope ones included).
R5. Counted entries: distinct entries with t in W into an in-scope audience
    (decision 3: in `audiences`, type in audience_types); `entries` counts them.
    Only counted entries make pairs (uploads.accounts/audiences/campaigns, U,
    Rd, affected_accounts_whole_window). Entries at or after fix_at have no
    post-fix figure.
R6. Candidate keys of account a for entry e: a's keys (a, e.channel, e.hash)
    seen in any snapshot; the channel must be equal (an email entry never
    matches a phone key with the same hash). A key being (account, channel,
    hash), an account has at most one. S_k = v1's possible states at t,
    `absent` included: at a snapshot time that snapshot's state alone; strictly
    between two snapshots the states at both; before the first or after the
    last snapshot (or without snapshots) {absent, restricted, permitted}.
R7. O is computed from its definition: over every choice of one state per
    candidate key, the outcome is permitted if a chosen state is permitted,
    caused if none is permitted and one is restricted, none otherwise (a unit
    test checks that this equals the spec's three rules). An account without a
    candidate key is in no pair.
R8. uploads.accounts / .audiences: the distinct accounts / audiences of the
    certainly caused (lower) and possibly caused (upper) pairs. .campaigns: the
    campaign_ids of campaign_audiences rows whose audience is one of those
    audiences (as v1's affected_campaigns; `campaigns` is not consulted).
R9. Log agreement. L: (audience, account) pairs of in-window, in-scope,
    de-duplicated match rows of any class; Lc: the pairs of L with at least one
    caused such match. U: (audience of a counted entry, account with a
    candidate key for it), whatever O. A log day is the UTC date of any valid
    match row (any audience, any time, in or out of W, duplicates included).
    Rd: pairs with O = {caused} for a counted entry whose t has a log day as its
    UTC date.
R10. affected_accounts_whole_window: lower = v1 affected_accounts.lower accounts
    united with the accounts of certainly caused pairs; upper = v1 upper
    accounts united with those of possibly caused pairs. `uploads` and this
    figure are null only when no uploads table is given; a given table without
    valid rows gives zeros and whole-window bounds equal to v1's.
R11. Exposure. A key's state at a snapshot is v1's (purposes of duplicate rows
    united). lower: accounts with a key restricted at a snapshot time s with
    window_start <= s < fix_at. upper: with s0 the latest snapshot time <=
    window_start and s1 the earliest >= fix_at, accounts with a key restricted
    at a snapshot s with s0 <= s <= s1 (both ends included); when s0 or s1 does
    not exist (no snapshots at all included), every account with a contact row
    in any snapshot (none without snapshots).
R12. Targetable audiences: each in-scope audience (decision 3). M, C and Q come
    from the in-window, in-scope, de-duplicated logged matches into it (not from
    uploads): M their accounts; C the accounts of M all of whose such matches
    are caused; Q those none of whose such matches is permitted.
R13. by_channel (v2). Over in-window, in-scope, de-duplicated matches (post-fix
    ones are not in it). Cause channels of a caused or uncertain match: the
    channels of its v1 candidates c (narrowed by the logged channel and
    identifier, decision 6) with `restricted` in S_c (v1's S_c, `absent`
    dropped); of an unexplained match: its logged channel, or "unknown". upper[c]:
    accounts with a caused, uncertain or unexplained match having c among its
    cause channels; lower[c]: accounts with a caused match whose cause channels
    are exactly {c}. Keys with a non-zero upper only, sorted ("email" < "phone"
    < "unknown").
R14. uploaded_at is read like matched_at (an offset converts to UTC; without one,
    input_timezone); the oracle takes datetimes, naive meaning UTC.
"""

NONE = "none"  # an entry's outcome for an account that neither matcher matches
UNKNOWN_CHANNEL = "unknown"
HEX64 = re.compile(r"[0-9a-f]{64}")
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


@dataclass(frozen=True)
class Entry:
    """One parsed upload row: equal entries are exact duplicates (R4)."""

    uploaded_at: datetime  # naive UTC
    audience_id: str
    channel: str
    identifier: str  # SHA-256 hex of the normalized value


def _is_email(text: str) -> bool:
    if text.count("@") != 1 or any(char.isspace() for char in text):
        return False
    local, domain = text.split("@")
    parts = domain.split(".")
    return bool(local) and len(parts) >= 2 and all(parts)


def normalize_raw(channel: str, raw: str, country: str | None, profile: str) -> str | None:
    """The normalized value of a raw upload contact, or None when it is rejected (R3)."""
    if channel == "email":
        if profile == "google":
            text = "".join(raw.split()).lower()
            if text.count("@") == 1:
                local, domain = text.split("@")
                if domain in GMAIL_DOMAINS:
                    local = local.split("+", 1)[0].replace(".", "")
                text = f"{local}@{domain}"
        else:
            text = raw.strip().lower()
        return text if _is_email(text) else None
    text = raw.strip()
    region = country.strip().upper() if country else None
    if not text.startswith("+") and not region:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164.removeprefix("+") if profile == "meta" else e164


def parse_uploads(rows: list[Row], profile: str) -> tuple[list[Entry], int]:
    """Every valid row as an entry, in order and with its duplicates; and the rejected count."""
    entries: list[Entry] = []
    rejected = 0
    for row in rows:
        uploaded_at = row.get("uploaded_at")
        audience_id = _optional(row, "audience_id")
        channel = _optional(row, "channel")
        raw = _optional(row, "contact")
        digest = _optional(row, "identifier_sha256")
        country = _optional(row, "country")
        well_formed = (
            uploaded_at is not None
            and audience_id is not None
            and channel in ("email", "phone")
            and (country is None or re.fullmatch(r"[A-Za-z]{2}", country) is not None)
        )
        identifier: str | None = None
        if not well_formed:
            identifier = None
        elif raw is not None:
            normalized = normalize_raw(channel, raw, country, profile)
            if normalized is not None:
                identifier = hashlib.sha256(normalized.encode("utf-8")).hexdigest()
        elif digest is not None and HEX64.fullmatch(digest.lower()):
            identifier = digest.lower()
        if identifier is None:
            rejected += 1
            continue
        entries.append(Entry(to_utc(uploaded_at), audience_id, channel, identifier))
    return entries, rejected


def outcome(chosen_states: tuple[str, ...]) -> str:
    """The outcome of one choice of a state per candidate key."""
    if PERMITTED in chosen_states:
        return PERMITTED  # the fixed matcher matches too
    if RESTRICTED in chosen_states:
        return CAUSED
    return NONE


def outcome_set(state_sets: list[set[str]]) -> set[str]:
    """O: the outcomes possible over all choices of one state per key (R7)."""
    return {outcome(choice) for choice in itertools.product(*(sorted(s) for s in state_sets))}


def exposure(
    history: ContactHistory, window_start: datetime | None, fix_at: datetime
) -> dict[str, int]:
    """exposed_accounts (R1, R11)."""
    if window_start is None or window_start >= fix_at:
        return _bounds(set(), set())
    lower: set[int] = set()
    for moment in history.times:
        if window_start <= moment < fix_at:
            lower |= history.restricted_accounts_at(moment)
    at_or_before = [moment for moment in history.times if moment <= window_start]
    at_or_after = [moment for moment in history.times if moment >= fix_at]
    if not at_or_before or not at_or_after:
        # Part of the window lies outside the snapshot range.
        return _bounds(lower, history.accounts_with_keys())
    first, last = max(at_or_before), min(at_or_after)
    upper: set[int] = set()
    for moment in history.times:
        if first <= moment <= last:
            upper |= history.restricted_accounts_at(moment)
    return _bounds(lower, upper)


def cause_channels(history: ContactHistory, match: Match, cls: str) -> set[str]:
    """The channels through which a not-permitted match may have been caused (R13)."""
    if cls == UNEXPLAINED:
        return {match.channel if match.channel is not None else UNKNOWN_CHANNEL}
    return {
        key[1]
        for key in history.candidates(match)
        if RESTRICTED in history.possible_states(key, match.matched_at) - {ABSENT}
    }


def by_channel_v2(
    history: ContactHistory, window: list[Match], classes: dict[Match, str]
) -> dict[str, dict[str, int]]:
    lower: dict[str, set[int]] = defaultdict(set)
    upper: dict[str, set[int]] = defaultdict(set)
    for match in window:
        cls = classes[match]
        if cls == PERMITTED:
            continue
        channels = cause_channels(history, match, cls)
        for channel in channels:
            upper[channel].add(match.account_id)
        if cls == CAUSED and len(channels) == 1:
            lower[next(iter(channels))].add(match.account_id)
    return {c: _bounds(lower[c], upper[c]) for c in sorted(upper) if upper[c]}
