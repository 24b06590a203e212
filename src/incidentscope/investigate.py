"""Investigation tools over a loaded workspace: explain an account, look up a contact, what-if.

Every function here reads the workspace and returns plain frozen dataclasses
(rendered by `report.investigate_text`). Contact keys only ever leave this module
as short fingerprints of their keyed pseudonyms; a contact value given to
`lookup` lives in memory for the time it takes to hash it and is never part of
a result, a message or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import duckdb

from incidentscope import figures
from incidentscope import replay as replay_engine
from incidentscope.config import AUDIENCE_TYPES, Incident, parse_instant
from incidentscope.engine import as_engine
from incidentscope.errors import MissingInputError, UsageError
from incidentscope.ingest import pseudonym_sql
from incidentscope.normalize import NormalizationError, contact_sha256
from incidentscope.results import (
    CONTACT_YOU_GAVE,
    NO_EVIDENCE,
    AccountExplanation,
    CandidateState,
    Coverage,
    KeyHistory,
    KeyRun,
    LookupResult,
    MatchEvidence,
    Scenario,
    SnapshotState,
    UploadEvidence,
    WhatIfResult,
    iso_z,
)
from incidentscope.sqlutil import bind
from incidentscope.workspace import PseudonymKey

RESTRICTED, PERMITTED, ABSENT = "restricted", "permitted", "absent"
CONTACT_CHANNELS = ("email", "phone")

# A short, one-way name for a contact key: 32 bits of a hash of its keyed pseudonym.
# It tells keys apart within one workspace; without the key file nothing leads back
# to a value, and the pseudonym itself is never shown.
_FINGERPRINT_SQL = ("substr(sha256('incidentscope-contact-fingerprint:' || "
                    "CAST({ref} AS VARCHAR)), 1, 8)")


def _fingerprint_sql(ref: str) -> str:
    return _FINGERPRINT_SQL.format(ref=ref)


# --------------------------------------------------------------------------- helpers


def class_of(possible: set[str]) -> str:
    """The class of a match from the union P of its candidates' possible states."""
    if possible == {RESTRICTED}:
        return "caused"
    if possible == {PERMITTED}:
        return "permitted"
    if possible == {RESTRICTED, PERMITTED}:
        return "uncertain"
    return "unexplained"


def _rows(con: duckdb.DuckDBPyConnection, sql: str,
          params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    return con.execute(sql, bind(sql, params or {})).fetchall()


def _key_histories(con: duckdb.DuckDBPyConnection, where: str,
                   params: dict[str, Any]) -> list[tuple[int, KeyHistory]]:
    """(identifier_id, history) of the keys selected by `where` over contact_runs r.

    Needs the temp table `purpose_state` (made by `replay.classify`).
    """
    # `where` is one of this module's own fragments; values are bound
    sql = f"""
        SELECT r.account_id, r.channel, r.identifier_id,
               {_fingerprint_sql('i.pseudonym')} AS fingerprint,
               r.first_snapshot, r.last_snapshot, p.purposes, ps.restricted
        FROM contact_runs r
        JOIN identifiers i ON i.identifier_id = r.identifier_id
        JOIN purpose_sets p ON p.purposes_id = r.purposes_id
        JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
        WHERE {where}
        ORDER BY r.account_id, r.channel, fingerprint, r.first_snapshot"""  # noqa: S608
    grouped: dict[tuple[int, str, int], tuple[str, list[KeyRun]]] = {}
    for account, channel, identifier, fingerprint, first, last, purposes, restricted in _rows(
            con, sql, params):
        entry = grouped.setdefault((int(account), str(channel), int(identifier)),
                                   (str(fingerprint), []))
        entry[1].append(KeyRun(first, last, tuple(str(purposes).split("|")),
                               RESTRICTED if restricted else PERMITTED))
    return [(identifier, KeyHistory(account, channel, fingerprint, tuple(runs)))
            for (account, channel, identifier), (fingerprint, runs) in grouped.items()]


def _state_at(history: KeyHistory, snapshot: date | None) -> SnapshotState:
    if snapshot is None:
        return SnapshotState(None, "unknown", ())
    for run in history.runs:
        if run.first_snapshot <= snapshot <= run.last_snapshot:
            return SnapshotState(snapshot, run.state, run.purposes)
    return SnapshotState(snapshot, ABSENT, ())


def _nearest(snapshots: Sequence[date], moment: datetime) -> tuple[date | None, date | None]:
    """The last snapshot at or before `moment` and the first one after it."""
    before = [d for d in snapshots if datetime(d.year, d.month, d.day) <= moment]
    after = [d for d in snapshots if datetime(d.year, d.month, d.day) > moment]
    return (before[-1] if before else None), (after[0] if after else None)


def _candidate(history: KeyHistory, matched_at: datetime, prev_date: date | None,
               next_date: date | None, exact: bool,
               snapshots: Sequence[date]) -> CandidateState:
    if prev_date is None:  # outside the snapshot range: the states there are unknown
        before_date, after_date = _nearest(snapshots, matched_at)
        return CandidateState(history.fingerprint, history.channel,
                              _state_at(history, before_date), _state_at(history, after_date),
                              (RESTRICTED, PERMITTED))
    before = _state_at(history, prev_date)
    after = None if exact else _state_at(history, next_date)
    states = {before.state} | ({after.state} if after is not None else set())
    possible = tuple(s for s in (RESTRICTED, PERMITTED) if s in states)
    return CandidateState(history.fingerprint, history.channel, before, after, possible)


def _account_exists(con: duckdb.DuckDBPyConnection, account_id: int) -> bool:
    sql = """SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $a)
                 OR EXISTS (SELECT 1 FROM contact_runs WHERE account_id = $a)
                 OR EXISTS (SELECT 1 FROM matches WHERE account_id = $a)"""
    return bool(_rows(con, sql, {"a": account_id})[0][0])


def _explain_classified(con: duckdb.DuckDBPyConnection, incident: Incident,
                        window: tuple[datetime, datetime], account_id: int,
                        snapshots: Sequence[date]) -> AccountExplanation:
    """The explanation of one account; the temp tables of `replay.classify` must exist."""
    keyed = _key_histories(con, "r.account_id = $a", {"a": account_id})
    histories = {identifier: history for identifier, history in keyed}
    country_rows = _rows(con, "SELECT min(country) FROM accounts WHERE account_id = $a",
                         {"a": account_id})
    country = country_rows[0][0] if country_rows else None
    sql = f"""
        SELECT c.matched_at, c.audience_id, a.advertiser_id, c.audience_type, c.channel,
               c.identifier_id,
               CASE WHEN c.identifier_id IS NULL THEN NULL
                    ELSE {_fingerprint_sql('i.pseudonym')} END,
               c.copies, c.in_window, c.post_fix, c.prev_date, c.next_date, c.exact,
               c.match_class
        FROM classified c
        JOIN scope_audiences a ON a.audience_id = c.audience_id
        LEFT JOIN identifiers i ON i.identifier_id = c.identifier_id
        WHERE c.account_id = $a
        ORDER BY c.matched_at, c.audience_id, c.channel NULLS FIRST, c.identifier_id
    """  # noqa: S608
    matches = []
    for (matched_at, audience_id, advertiser_id, audience_type, channel, identifier_id,
         identifier_fp, copies, in_window, post_fix, prev_date, next_date, exact,
         match_class) in _rows(con, sql, {"a": account_id}):
        candidates = tuple(
            _candidate(history, matched_at, prev_date, next_date, bool(exact), snapshots)
            for identifier, history in histories.items()
            if (channel is None or history.channel == channel)
            and (identifier_id is None or identifier == identifier_id))
        period = "in_window" if in_window else "post_fix" if post_fix else "before_window"
        matches.append(MatchEvidence(
            matched_at=matched_at, audience_id=str(audience_id),
            advertiser_id=str(advertiser_id), audience_type=str(audience_type),
            channel=channel, identifier_logged=identifier_id is not None,
            identifier_fingerprint=identifier_fp, copies=int(copies), period=period,
            exact=bool(exact), outside_snapshot_range=prev_date is None,
            match_class=str(match_class), candidates=candidates))
    in_window = dict.fromkeys(replay_engine.CLASSES, 0)
    for match in matches:
        if match.period == "in_window":
            in_window[match.match_class] += 1
    post_fix_caused = sum(1 for m in matches if m.period == "post_fix"
                          and m.match_class == "caused")
    uploads = _upload_evidence(con, account_id)
    if in_window["caused"] or any(u.outcomes == ("caused",) for u in uploads):
        outcome = "certainly affected"
    elif (in_window["uncertain"] or in_window["unexplained"]
          or any("caused" in u.outcomes for u in uploads)):
        outcome = "possibly affected"
    else:
        outcome = NO_EVIDENCE
    return AccountExplanation(
        account_id=account_id, country=country, outcome=outcome, window_start=window[0],
        fix_at=window[1], restricted_purposes=tuple(incident.restricted_purposes),
        audience_types=tuple(incident.audience_types), classes_in_window=in_window,
        post_fix_caused=post_fix_caused, keys=tuple(histories.values()),
        matches=tuple(matches), coverage=coverage(con, window), uploads=uploads)


_UPLOAD_OUTCOMES = {0: "none", 1: "permitted", 2: "caused"}


def _upload_evidence(con: duckdb.DuckDBPyConnection,
                     account_id: int) -> tuple[UploadEvidence, ...]:
    """The account's upload entries and their possible outcomes (the candidate states of
    the replay's `10_upload_pairs`); the temp tables of `replay.classify` must exist."""
    sql = f"""
        SELECT e.uploaded_at, e.audience_id, a.advertiser_id, a.audience_type, e.channel,
               {_fingerprint_sql('i.pseudonym')}, e.outside, e.exact, c.state_prev,
               c.state_next
        FROM counted_uploads e
        JOIN candidate_states c
          ON c.sig_channel = e.channel AND c.sig_identifier = e.identifier_id
         AND c.sig_prev = e.sig_prev AND c.sig_next = e.sig_next AND c.exact = e.exact
         AND c.outside = e.outside
        JOIN scope_audiences a ON a.audience_id = e.audience_id
        JOIN identifiers i ON i.identifier_id = e.identifier_id
        WHERE c.account_id = $a
        ORDER BY e.uploaded_at, e.audience_id, e.channel
    """  # noqa: S608
    evidence = []
    for (uploaded_at, audience_id, advertiser_id, audience_type, channel, fingerprint,
         outside, exact, state_prev, state_next) in _rows(con, sql, {"a": account_id}):
        states = ({0, 1, 2} if outside else
                  {int(state_prev)} if exact else {int(state_prev), int(state_next)})
        outcomes = tuple(_UPLOAD_OUTCOMES[s] for s in (2, 1, 0) if s in states)
        evidence.append(UploadEvidence(
            uploaded_at=uploaded_at, audience_id=str(audience_id),
            advertiser_id=str(advertiser_id), audience_type=str(audience_type),
            channel=str(channel), key_fingerprint=str(fingerprint),
            outside_snapshot_range=bool(outside), outcomes=outcomes))
    return tuple(evidence)


def coverage(con: duckdb.DuckDBPyConnection, window: tuple[datetime, datetime]) -> Coverage:
    """The coverage of the replayed data; the temp table `classified` must exist."""
    coverage_figures, _loaded = figures.coverage(as_engine(con), *window)
    first, last = _rows(con, "SELECT min(matched_at), max(matched_at) FROM classified "
                             "WHERE in_window")[0]
    return Coverage(window[0], window[1], first, last,
                    int(coverage_figures["missing_log_days"]),
                    int(coverage_figures["rejected_rows"]), coverage_figures["first_snapshot"],
                    coverage_figures["last_snapshot"])


def _snapshots(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [r[0] for r in _rows(con, "SELECT snapshot_date FROM snapshots ORDER BY 1")]


# --------------------------------------------------------------------------- explain


def explain(con: duckdb.DuckDBPyConnection, incident: Incident,
            account_id: int) -> AccountExplanation:
    """The evidence for one account: its in-scope matches, their classes, and why."""
    if not _account_exists(con, account_id):
        raise MissingInputError(f"account {account_id}: not in this workspace (no accounts "
                                "row, no contact and no logged match)")
    window = replay_engine.classify(con, incident)
    try:
        return _explain_classified(con, incident, window, account_id, _snapshots(con))
    finally:
        replay_engine.drop_replay_tables(con)


# --------------------------------------------------------------------------- lookup


def lookup(con: duckdb.DuckDBPyConnection, incident: Incident, key: PseudonymKey,
           channel: str, raw: str, region: str | None = None, *,
           accounts: Sequence[int] = (), all_accounts: bool = False) -> LookupResult:
    """Normalize and pseudonymize a contact as ingest does, then find who held it.

    The value is hashed at once and never kept; errors give a reason only. `accounts`: the
    requester's account(s); other accounts are shown only with `all_accounts`, or when one
    account alone held the contact.
    """
    if channel not in CONTACT_CHANNELS:
        raise UsageError(f"lookup: channel must be one of {', '.join(CONTACT_CHANNELS)}")
    try:
        hashed = contact_sha256(channel, raw, incident.normalization, region)
    except NormalizationError as exc:
        reason = str(exc)
        if channel == "phone" and region is None:
            reason = "not a phone number in international form (+...); give its country"
        raise UsageError(f"{CONTACT_YOU_GAVE}: {reason}") from None
    return lookup_hash(con, incident, key, channel, hashed, accounts=accounts,
                       all_accounts=all_accounts)


def lookup_hash(con: duckdb.DuckDBPyConnection, incident: Incident, key: PseudonymKey,
                channel: str, hashed: str, *, accounts: Sequence[int] = (),
                all_accounts: bool = False) -> LookupResult:
    """`lookup` for a contact given as the SHA-256 of its normalized value."""
    sql = (f"SELECT identifier_id, {_fingerprint_sql('pseudonym')} FROM identifiers "  # noqa: S608
           f"WHERE pseudonym = {pseudonym_sql('$hashed')}")
    found = _rows(con, sql, {"key": key.hex, "hashed": hashed})
    window = replay_engine.classify(con, incident)
    try:
        if not found:
            return LookupResult(channel, False, None, (), 0, (), shown="none",
                                not_holding=tuple(sorted(set(accounts))),
                                coverage=coverage(con, window))
        identifier_id, fingerprint = int(found[0][0]), str(found[0][1])
        params = {"i": identifier_id, "c": channel}
        holdings = tuple(history for _, history in _key_histories(
            con, "r.identifier_id = $i AND r.channel = $c", params))
        logged = {int(account): int(n) for account, n in _rows(
            con, "SELECT account_id, count(*) FROM classified WHERE identifier_id = $i "
                 "AND (channel IS NULL OR channel = $c) GROUP BY 1", params)}
        every = sorted({h.account_id for h in holdings} | set(logged))
        if all_accounts:
            shown, scope = every, "all"
        elif accounts:
            shown, scope = [a for a in every if a in set(accounts)], "requested"
        elif len(every) == 1:
            shown, scope = every, "only holder"
        else:
            shown, scope = [], "none"
        snapshots = _snapshots(con)
        explanations = tuple(_explain_classified(con, incident, window, account, snapshots)
                             for account in shown)
        return LookupResult(
            channel, True, fingerprint, tuple(h for h in holdings if h.account_id in shown),
            sum(logged.get(a, 0) for a in shown), explanations, scope,
            len(every) - len(shown),
            tuple(sorted(set(accounts) - set(every))) if scope == "requested" else (),
            coverage(con, window))
    finally:
        replay_engine.drop_replay_tables(con)


# --------------------------------------------------------------------------- what-if


def _split_list(value: str, option: str) -> tuple[str, ...]:
    items = tuple(sorted({part.strip() for part in value.split(",") if part.strip()}))
    if not items:
        raise UsageError(f"{option}: give a comma-separated list, e.g. two_factor,account_recovery")
    return items


def _audience_types(text: str) -> tuple[str, ...]:
    types = _split_list(text, "--audience-types")
    for audience_type in types:
        if audience_type not in AUDIENCE_TYPES:
            raise UsageError(f"--audience-types: '{audience_type}' is not one of "
                             f"{', '.join(AUDIENCE_TYPES)}")
    return types


def variants_from_options(
    *,
    window_starts: Sequence[str] = (),
    fix_ats: Sequence[str] = (),
    restricted_purposes: Sequence[str] = (),
    audience_types: Sequence[str] = (),
    min_audience_sizes: Sequence[int] = (),
    without_uploads: bool = False,
    combine: bool = False,
) -> list[dict[str, Any]]:
    """Parse the what-if options into incident changes, one dict per alternative run.

    Each value is its own alternative, differing from the incident file in that
    one parameter; with `combine`, all options form one alternative (each option
    may then be given once).
    """
    parsed: list[tuple[str, Any]] = []
    for text in window_starts:
        parsed.append(("window_start", parse_instant(text, "--window-start")))
    for text in fix_ats:
        parsed.append(("fix_at", parse_instant(text, "--fix-at")))
    for text in restricted_purposes:
        parsed.append(("restricted_purposes", _split_list(text, "--restricted-purposes")))
    for text in audience_types:
        parsed.append(("audience_types", _audience_types(text)))
    for size in min_audience_sizes:
        if size < 1:
            raise UsageError("--min-audience-size: a whole number >= 1")
        parsed.append(("min_audience_size", size))
    if without_uploads:
        parsed.append(("use_uploads", False))
    if not parsed:
        raise UsageError("what-if: give at least one alternative (--window-start, --fix-at, "
                         "--restricted-purposes, --audience-types, --min-audience-size or "
                         "--without-uploads)")
    if not combine:
        return [{name: value} for name, value in parsed]
    names = [name for name, _ in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--combine: give each option once (repeated: {', '.join(repeated)})")
    return [dict(parsed)]


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        text = iso_z(value)
        return text[:10] if text.endswith("T00:00:00Z") else text
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def headline(report: Mapping[str, Any]) -> dict[str, int | None]:
    """The figures a what-if comparison shows, from a report.json dict."""
    deliveries = report.get("deliveries")
    figures: dict[str, int | None] = {
        "accounts_lower": report["affected_accounts"]["lower"],
        "accounts_estimate": report["affected_accounts"]["estimate"],
        "accounts_upper": report["affected_accounts"]["upper"],
    }
    for name in ("audiences", "campaigns", "advertisers"):
        figures[f"{name}_lower"] = report[f"affected_{name}"]["lower"]
        figures[f"{name}_upper"] = report[f"affected_{name}"]["upper"]
    for match_class in ("caused", "uncertain", "unexplained", "permitted"):
        figures[f"matches_{match_class}"] = report["matches"][match_class]
    figures["impressions_lower"] = deliveries["impressions"]["lower"] if deliveries else None
    figures["impressions_upper"] = deliveries["impressions"]["upper"] if deliveries else None
    figures["post_fix_caused"] = report["post_fix"]["caused"]
    whole = report.get("affected_accounts_whole_window")
    for bound in ("lower", "estimate", "upper"):
        figures[f"whole_window_{bound}"] = whole[bound] if whole else None
    targetable = report.get("audiences_targetable_only_by_incident")
    for bound in ("lower", "upper"):
        figures[f"targetable_{bound}"] = targetable[bound] if targetable else None
    return figures


def _scenario(con: duckdb.DuckDBPyConnection, incident: Incident, label: str,
              changes: Mapping[str, Any]) -> Scenario:
    changed = incident.with_changes(**changes)
    if changed.window_start is not None and changed.window_start >= changed.fix_at:
        raise UsageError(f"what-if {label}: window_start must be before fix_at")
    report = replay_engine.replay(con, changed, persist=False).report
    params = report["incident"]
    return Scenario(
        label=label, changes={name: _show(value) for name, value in changes.items()},
        window_start=str(params["window_start"]), fix_at=str(params["fix_at"]),
        restricted_purposes=tuple(params["restricted_purposes"]),
        audience_types=tuple(params["audience_types"]), headline=headline(report),
        report=report)


def what_if(con: duckdb.DuckDBPyConnection, incident: Incident,
            variants: Sequence[Mapping[str, Any]]) -> WhatIfResult:
    """Replay under each set of changed parameters, beside the incident file's own run.

    Nothing is persisted: no per-account outcomes, no run record, no report file.
    """
    for changes in variants:
        unknown = sorted(set(changes) - {"window_start", "fix_at", "restricted_purposes",
                                          "audience_types", "min_audience_size",
                                          "use_uploads"})
        if unknown:
            raise UsageError(f"what-if: cannot vary '{unknown[0]}'")
    baseline = _scenario(con, incident, "incident file", {})
    scenarios = []
    for number, changes in enumerate(variants, start=1):
        label = f"#{number} " + "; ".join(f"{name} {_show(value)}"
                                          for name, value in changes.items())
        scenarios.append(_scenario(con, incident, label, changes))
    return WhatIfResult(baseline, tuple(scenarios))
