"""The result objects that the core returns and every renderer reads.

At the bottom of the import graph: the loader, the replay, the manifest and the
renderers import these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl


def iso_z(moment: datetime) -> str:
    """An instant (naive UTC) as the reports write it: ISO-8601 with Z, micros when set."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


@dataclass(frozen=True)
class FileLoad:
    table: str
    path: str
    sha256: str
    bytes: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    status: str  # "loaded", "already loaded", "empty", "header only"


@dataclass(frozen=True)
class LoadResult:
    load_id: str
    files: tuple[FileLoad, ...]
    extra_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    # data files in the data folder that no input table reads (inputs.unknown_files)
    unknown_files: tuple[str, ...] = ()

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def warnings(self) -> list[str]:
        """What this load's files told a reader to check (see `file_warnings`)."""
        return [*(f"{item.path}: {note}" for item in self.files
                  for note in file_warnings(item, self.extra_columns.get(item.path, ()))),
                *(f"{path}: not a file of an input table; not read"
                  for path in self.unknown_files)]


def file_warnings(item: FileLoad, extra_columns: tuple[str, ...]) -> list[str]:
    """A loaded file's warnings, without its path: an empty file, and header names the
    contract does not know (a misspelled optional column is ignored: the figures change).

    Loaders store them with the file (`load_warnings`), so that every later replay,
    report and manifest shows them too.
    """
    notes = []
    if item.status in ("empty", "header only"):
        notes.append(f"{item.status}, no rows loaded")
    if extra_columns:
        notes.append(f"extra columns ignored: {', '.join(extra_columns)}")
    return notes


# The per-person facts of the Art. 34 notices (report/art34.py): one row per (account,
# audience) with an in-window, in-scope match into that audience that is caused, uncertain
# or unexplained (permitted matches never make a row). Account ids only, never a contact.
#   account_id     the account (in ReplayResult.accounts)
#   certain        true when some in-window match of the account into the audience is caused
#   audience_id    the audience the account was placed in
#   audience_type  "tailored" or "partner"
#   advertiser_id  the audience's advertiser
#   partner_id     the data partner of a partner audience; null for a tailored audience
#   first_month    first and last such match of the account into the audience,
#   last_month     as "YYYY-MM" (UTC)
#   ads_served     true when a delivery to the account of a campaign that targets the audience
#                  is attributable to the incident (the upper rule of `deliveries`)
# Sorted by account_id, audience_id.
NOTICE_FACTS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Int64(), "certain": pl.Boolean(), "audience_id": pl.String(),
    "audience_type": pl.String(), "advertiser_id": pl.String(), "partner_id": pl.String(),
    "first_month": pl.String(), "last_month": pl.String(), "ads_served": pl.Boolean(),
}


def empty_notice_facts() -> pl.DataFrame:
    return pl.DataFrame(schema=NOTICE_FACTS_SCHEMA)


@dataclass(frozen=True)
class ReplayResult:
    """Everything the renderers show. `report` is the JSON contract (report.json)."""

    report: dict[str, Any]
    weekly_matches: pl.DataFrame = field(repr=False)  # week (date), match_class, matches
    campaigns: pl.DataFrame = field(repr=False)  # campaign_id, advertiser_id, name, lower, upper
    countries: pl.DataFrame = field(repr=False)  # country, lower, upper
    # Accounts in the upper bound, ids only: account_id, certain, probability,
    # first_caused_at, first_match_at, country (null without an accounts row).
    # Optional columns when `accounts` has them: region (ISO 3166-2), language.
    accounts: pl.DataFrame = field(repr=False)
    # The per-person facts of the Art. 34 notices (NOTICE_FACTS_SCHEMA above); empty until
    # the replay fills it.
    notice_facts: pl.DataFrame = field(default_factory=empty_notice_facts, repr=False)

    @property
    def affected(self) -> dict[str, int]:
        return dict(self.report["affected_accounts"])


# --- the investigation tools' results (investigate.py; report/investigate_text.py) -------

CONTACT_YOU_GAVE = "the contact you gave"
NO_EVIDENCE = "no evidence in the replayed data"


@dataclass(frozen=True)
class KeyRun:
    """A stretch of consecutive snapshots in which a key had the same purposes."""

    first_snapshot: date
    last_snapshot: date
    purposes: tuple[str, ...]
    state: str  # restricted | permitted


@dataclass(frozen=True)
class KeyHistory:
    """One contact key of an account, by fingerprint, with its purposes over time."""

    account_id: int
    channel: str
    fingerprint: str
    runs: tuple[KeyRun, ...]


@dataclass(frozen=True)
class SnapshotState:
    """A key at one snapshot: absent, restricted or permitted, with the purposes."""

    snapshot: date | None  # None: there is no snapshot on that side
    state: str  # restricted | permitted | absent | unknown
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class CandidateState:
    """A candidate key of a match, at the snapshots around it, and what it allows."""

    fingerprint: str
    channel: str
    before: SnapshotState
    after: SnapshotState | None  # None when the match lies exactly at a snapshot time
    possible: tuple[str, ...]  # the states the key may have had at the match (no `absent`)


@dataclass(frozen=True)
class MatchEvidence:
    matched_at: datetime
    audience_id: str
    advertiser_id: str
    audience_type: str
    channel: str | None  # as logged; None when the log has no channel
    identifier_logged: bool
    identifier_fingerprint: str | None
    copies: int
    period: str  # before_window | in_window | post_fix
    exact: bool  # at a snapshot time
    outside_snapshot_range: bool
    match_class: str
    candidates: tuple[CandidateState, ...]


@dataclass(frozen=True)
class Coverage:
    """What the replayed data covers: an account without evidence is judged only on it."""

    window_start: datetime
    fix_at: datetime
    first_logged_match: datetime | None  # in the window, in scope
    last_logged_match: datetime | None
    missing_log_days: int  # days of the window without a valid match row
    rejected_rows: int  # input rows rejected at load (any table)
    first_snapshot: str | None
    last_snapshot: str | None


@dataclass(frozen=True)
class UploadEvidence:
    """An in-window upload entry into an in-scope audience that named one of the account's
    keys (whole-window.md): what the buggy matcher may have done with it. Never the hash:
    the key is shown by its fingerprint."""

    uploaded_at: datetime
    audience_id: str
    advertiser_id: str
    audience_type: str
    channel: str
    key_fingerprint: str
    outside_snapshot_range: bool
    # the outcomes the entry may have had for the account: caused, permitted, none
    outcomes: tuple[str, ...]


@dataclass(frozen=True)
class AccountExplanation:
    account_id: int
    country: str | None
    # certainly affected | possibly affected | no evidence in the replayed data
    outcome: str
    window_start: datetime
    fix_at: datetime
    restricted_purposes: tuple[str, ...]
    audience_types: tuple[str, ...]
    classes_in_window: dict[str, int]
    post_fix_caused: int
    keys: tuple[KeyHistory, ...]
    matches: tuple[MatchEvidence, ...]
    coverage: Coverage | None = None
    uploads: tuple[UploadEvidence, ...] = ()


@dataclass(frozen=True)
class LookupResult:
    """Which accounts held the contact you gave, when, and the evidence for each.

    Accounts other than the requester's are shown only when asked for (`all_accounts`):
    the right of access must not affect the rights of others (GDPR Art. 15(4)).
    """

    channel: str
    found: bool
    fingerprint: str | None
    holdings: tuple[KeyHistory, ...]  # one per shown account that held the key in a snapshot
    logged_matches: int  # in-scope matches of the shown accounts whose log names it
    explanations: tuple[AccountExplanation, ...]
    shown: str = "all"  # all | requested | only holder | none
    other_accounts: int = 0  # accounts that held or were matched with it, not shown
    not_holding: tuple[int, ...] = ()  # requested accounts that never held it
    coverage: Coverage | None = None


@dataclass(frozen=True)
class Scenario:
    label: str
    changes: dict[str, str]
    window_start: str
    fix_at: str
    restricted_purposes: tuple[str, ...]
    audience_types: tuple[str, ...]
    headline: dict[str, int | None]
    report: dict[str, Any]


@dataclass(frozen=True)
class WhatIfResult:
    baseline: Scenario
    variants: tuple[Scenario, ...]


HEADLINE_LABELS: dict[str, str] = {
    "accounts_lower": "Accounts, certain (lower)",
    "accounts_estimate": "Accounts, estimate",
    "accounts_upper": "Accounts, upper (logged only)",
    "audiences_lower": "Audiences, lower",
    "audiences_upper": "Audiences, upper",
    "campaigns_lower": "Campaigns, lower",
    "campaigns_upper": "Campaigns, upper",
    "advertisers_lower": "Advertisers, lower",
    "advertisers_upper": "Advertisers, upper",
    "matches_caused": "Matches caused",
    "matches_uncertain": "Matches uncertain",
    "matches_unexplained": "Matches unexplained",
    "matches_permitted": "Matches permitted",
    "impressions_lower": "Impressions, lower",
    "impressions_upper": "Impressions, upper",
    "post_fix_caused": "Caused after the fix",
    "whole_window_lower": "Whole window, lower",
    "whole_window_estimate": "Whole window, estimate",
    "whole_window_upper": "Whole window, upper",
    "targetable_lower": "Targetable by incident only, lower",
    "targetable_upper": "Targetable by incident only, upper",
}
