"""An independent, deliberately simple test oracle of the replay specification.

It implements ``shared/spec/replay-semantics.md`` with the readings of
``docs/semantics-decisions.md`` straight from the text: one match at a time, with
plain loops and sets. It shares no code with ``incidentscope`` and never imports
it; clarity matters more than speed here.

``oracle_report`` returns the ``report.json`` object of ``docs/report-json.md``
without ``schema_version``, the ``incident`` block and
``affected_accounts.estimate`` (the estimate is a documented model, not a replay
figure; the differential test only checks ``lower <= estimate <= upper``).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


def oracle_report(tables: dict[str, list[Row]], incident: dict[str, Any]) -> dict[str, Any]:
    """The report of one case, figure by figure from the specification."""
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

    def in_scope(match: Match) -> bool:
        audience = audiences.get(match.audience_id)
        return audience is not None and audience["audience_type"] in audience_types

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
    by_channel = [(m.channel, m.account_id, classes[m]) for m in window if m.channel is not None]
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
    }

    return {
        "affected_accounts": _bounds(lower_accounts, upper_accounts),
        "affected_audiences": _bounds(lower_audiences, upper_audiences),
        "affected_campaigns": _bounds(campaigns_of(lower_audiences), campaigns_of(upper_audiences)),
        "affected_advertisers": _bounds(
            advertisers_of(lower_audiences), advertisers_of(upper_audiences)
        ),
        "affected_partners": _bounds(partners_of(lower_audiences), partners_of(upper_audiences)),
        "matches": match_counts,
        "by_audience_type": _breakdown(by_type),
        "by_channel": _breakdown(by_channel),
        "by_country": _breakdown(by_country),
        "by_month": _breakdown(by_month),
        "deliveries": deliveries,
        "post_fix": post_fix_counts,
        "coverage": coverage,
    }
