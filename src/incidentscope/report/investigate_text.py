"""Plain text, Markdown and JSON views of the investigation tools' results.

Contact keys appear as `k:` and an 8-hex fingerprint; a looked-up contact is
only ever named "the contact you gave". Text lines stay within 80 columns.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from incidentscope.report.document import printable
from incidentscope.results import (
    CONTACT_YOU_GAVE,
    HEADLINE_LABELS,
    NO_EVIDENCE,
    AccountExplanation,
    CandidateState,
    Coverage,
    KeyHistory,
    LookupResult,
    MatchEvidence,
    Scenario,
    SnapshotState,
    WhatIfResult,
)

_PERIOD = {"in_window": "in window", "post_fix": "after the fix",
           "before_window": "before the window"}
WHY = {
    "caused": "every candidate key may only have been restricted",
    "permitted": "every candidate key may only have been permitted",
    "uncertain": "the candidate keys' states allow both restricted and permitted",
    "unexplained": "no candidate key was present at the snapshots around it",
}


# --------------------------------------------------------------------------- JSON


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def to_json(result: AccountExplanation | LookupResult | WhatIfResult) -> dict[str, Any]:
    """A JSON-ready dict of a result (what-if: headline figures, not the whole reports)."""
    if isinstance(result, WhatIfResult):
        def scenario(item: Scenario) -> dict[str, Any]:
            data = dataclasses.asdict(item)
            data.pop("report")
            return dict(plain(data))
        return {"baseline": scenario(result.baseline),
                "variants": [scenario(v) for v in result.variants]}
    data = dict(plain(dataclasses.asdict(result)))
    if isinstance(result, LookupResult):
        data = {"contact": CONTACT_YOU_GAVE, **data}
    return data


# --------------------------------------------------------------------------- pieces


def _fp(fingerprint: str | None) -> str:
    return f"k:{fingerprint}" if fingerprint else "-"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _state(state: SnapshotState) -> str:
    if state.snapshot is None:
        return "no snapshot (unknown)"
    purposes = f" ({'|'.join(state.purposes)})" if state.purposes else ""
    return f"{state.snapshot.isoformat()} {state.state}{purposes}"


def candidate_line(candidate: CandidateState, mark: str | None) -> str:
    after = "" if candidate.after is None else f" -> {_state(candidate.after)}"
    you = f"  <- {CONTACT_YOU_GAVE}" if mark and candidate.fingerprint == mark else ""
    return (f"{_fp(candidate.fingerprint)} {candidate.channel}: {_state(candidate.before)}"
            f"{after}{you}")


def logged_text(match: MatchEvidence) -> str:
    channel = match.channel or "no channel"
    identifier = (f"identifier {_fp(match.identifier_fingerprint)}" if match.identifier_logged
                  else "no identifier")
    return f"log: {channel}, {identifier}"


def _where(match: MatchEvidence) -> str:
    if match.outside_snapshot_range:
        return "outside the snapshot range: the states there are unknown"
    return "at a snapshot time" if match.exact else "between two snapshots"


def _minute(moment: datetime | None) -> str:
    return "unknown" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def coverage_lines(coverage: Coverage | None) -> list[str]:
    """What "no evidence" rests on: the window, the log in it, its gaps, the snapshots."""
    if coverage is None:
        return []
    logged = (f"  logged matches in it from {_minute(coverage.first_logged_match)} to "
              f"{_minute(coverage.last_logged_match)} UTC;"
              if coverage.first_logged_match else "  no logged match in it;")
    return [f"Coverage: the window {_minute(coverage.window_start)} to the fix at "
            f"{_minute(coverage.fix_at)} UTC;", logged,
            f"  {coverage.missing_log_days:,} days of the window without match log; "
            f"{coverage.rejected_rows:,} input rows",
            f"  rejected at load; snapshots {coverage.first_snapshot or '-'} to "
            f"{coverage.last_snapshot or '-'}.",
            "  A match the log does not hold is not ruled out."]


def _headline(explanation: AccountExplanation) -> list[str]:
    counts = explanation.classes_in_window
    country = f" ({explanation.country})" if explanation.country else ""
    classes = ", ".join(f"{counts[c]} {c}" for c in ("caused", "uncertain", "unexplained",
                                                     "permitted"))
    lines = [f"Account {explanation.account_id}{country}: {explanation.outcome.upper()}",
             f"In-window matches: {classes}"]
    if explanation.outcome == NO_EVIDENCE:
        lines += coverage_lines(explanation.coverage)
    if explanation.post_fix_caused:
        lines.append(f"After the fix: {explanation.post_fix_caused} caused (the fix did not hold)")
    return lines


def _runs(history: KeyHistory) -> list[str]:
    return [f"{run.first_snapshot.isoformat()}..{run.last_snapshot.isoformat()} {run.state} "
            f"({'|'.join(run.purposes)})" for run in history.runs]


# --------------------------------------------------------------------------- explain


def explain_text(explanation: AccountExplanation, *, mark: str | None = None) -> str:
    lines = _headline(explanation)
    lines.append(f"Window {explanation.window_start:%Y-%m-%d %H:%M} to the fix at "
                 f"{explanation.fix_at:%Y-%m-%d %H:%M} UTC")
    lines.append(f"Restricted purposes: {', '.join(explanation.restricted_purposes)}")
    lines.append(f"Audience types: {', '.join(explanation.audience_types)}")
    lines.append("")
    lines.append("Contact keys (fingerprints, never values), state by snapshot:")
    if not explanation.keys:
        lines.append("  none in any snapshot")
    for history in explanation.keys:
        you = f"  <- {CONTACT_YOU_GAVE}" if mark and history.fingerprint == mark else ""
        lines.append(f"  {_fp(history.fingerprint)} {history.channel}{you}")
        lines.extend(f"    {line}" for line in _runs(history))
    lines.append("")
    lines.append(f"Matches in scope: {len(explanation.matches)}")
    for number, match in enumerate(explanation.matches, start=1):
        copies = f", {match.copies} copies in the log" if match.copies > 1 else ""
        lines.append(f"{number:>3}. {_time(match.matched_at)}  {_PERIOD[match.period]}  "
                     f"{match.match_class.upper()}")
        lines.append(f"     {_id(match.audience_id)} ({match.audience_type}) of "
                     f"{_id(match.advertiser_id)}; {logged_text(match)}{copies}")
        lines.append(f"     {_where(match)}; candidates:")
        if not match.candidates:
            lines.append("       none")
        for candidate in match.candidates:
            you = f"  <- {CONTACT_YOU_GAVE}" if mark and candidate.fingerprint == mark else ""
            lines.append(f"       {_fp(candidate.fingerprint)} {candidate.channel}{you}")
            if candidate.after is None:
                lines.append(f"         at     {_state(candidate.before)}")
            else:
                lines.append(f"         before {_state(candidate.before)}")
                lines.append(f"         after  {_state(candidate.after)}")
        lines.append(f"     => {match.match_class}: {WHY[match.match_class]}")
    lines += _upload_lines(explanation, mark)
    return "\n".join(lines) + "\n"


def _upload_lines(explanation: AccountExplanation, mark: str | None) -> list[str]:
    """The account's upload entries (whole-window.md): their possible outcomes."""
    if not explanation.uploads:
        return []
    lines = ["", f"Upload entries naming a key of the account: {len(explanation.uploads)}",
             "(outcomes: caused = the buggy matcher only; permitted = the fixed one too;",
             " none = the key did not exist then)"]
    for number, entry in enumerate(explanation.uploads, start=1):
        you = f"  <- {CONTACT_YOU_GAVE}" if mark and entry.key_fingerprint == mark else ""
        outside = ", outside the snapshot range" if entry.outside_snapshot_range else ""
        lines.append(f"{number:>3}. {_time(entry.uploaded_at)}  {_id(entry.audience_id)} "
                     f"({entry.audience_type})")
        lines.append(f"     of {_id(entry.advertiser_id)}; key {_fp(entry.key_fingerprint)} "
                     f"{entry.channel}{you}{outside}")
        lines.append(f"     => possible outcomes: {', '.join(entry.outcomes)}")
    return lines


def _id(value: str) -> str:
    """An id from the inputs as one line: control characters shown as escapes."""
    return printable(value)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def explain_md(explanation: AccountExplanation, *, mark: str | None = None,
               level: int = 2) -> str:
    head = "#" * level
    lines = [f"{head} Account {explanation.account_id}: {explanation.outcome}", ""]
    lines.extend(f"- {line}" for line in _headline(explanation)[1:])
    lines.append(f"- Window {explanation.window_start:%Y-%m-%d %H:%M} to the fix at "
                 f"{explanation.fix_at:%Y-%m-%d %H:%M} UTC; restricted purposes: "
                 f"{', '.join(explanation.restricted_purposes)}")
    lines += ["", f"{head}# Contact keys", "", "| key | channel | snapshots | state | purposes |",
              "|---|---|---|---|---|"]
    for history in explanation.keys:
        you = f" ({CONTACT_YOU_GAVE})" if mark and history.fingerprint == mark else ""
        for run in history.runs:
            lines.append(f"| `{_fp(history.fingerprint)}`{you} | {history.channel} | "
                         f"{run.first_snapshot}..{run.last_snapshot} | {run.state} | "
                         f"{_md_cell('|'.join(run.purposes))} |")
    lines += ["", f"{head}# Matches", "",
              "| time (UTC) | audience | advertiser | type | period | logged | class | "
              "candidate keys: before -> after |", "|---|---|---|---|---|---|---|---|"]
    for match in explanation.matches:
        candidates = "<br>".join(_md_cell(candidate_line(c, mark)) for c in match.candidates)
        lines.append(
            f"| {match.matched_at:%Y-%m-%d %H:%M:%S} | {_md_cell(_id(match.audience_id))} | "
            f"{_md_cell(_id(match.advertiser_id))} | {match.audience_type} | "
            f"{_PERIOD[match.period]} | "
            f"{_md_cell(logged_text(match)[5:])} | **{match.match_class}** | "
            f"{candidates or 'none'} |")
    if explanation.uploads:
        lines += ["", f"{head}# Upload entries", "",
                  "| time (UTC) | audience | advertiser | type | key | possible outcomes |",
                  "|---|---|---|---|---|---|"]
        for entry in explanation.uploads:
            you = f" ({CONTACT_YOU_GAVE})" if mark and entry.key_fingerprint == mark else ""
            lines.append(f"| {entry.uploaded_at:%Y-%m-%d %H:%M:%S} | "
                         f"{_md_cell(_id(entry.audience_id))} | "
                         f"{_md_cell(_id(entry.advertiser_id))} | {entry.audience_type} | "
                         f"`{_fp(entry.key_fingerprint)}`{you} {entry.channel} | "
                         f"{', '.join(entry.outcomes)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- lookup


_WITHHELD = {
    "none": ["Not shown: the data of other people must not be disclosed to a requester",
             "(GDPR Art. 15(4)). Give the requester's account with --account ID, or",
             "--all-accounts for the controller's own investigation."],
    "requested": ["Shown: the account(s) given with --account. The others are not shown",
                  "(GDPR Art. 15(4)); --all-accounts lists them."],
}


def _lookup_head(result: LookupResult) -> list[str]:
    if not result.found:
        return [f"{CONTACT_YOU_GAVE.capitalize()} ({result.channel}) is not in this workspace:",
                "no snapshot holds it and no logged match names it: "
                f"{NO_EVIDENCE}.", *coverage_lines(result.coverage)]
    lines = [f"{CONTACT_YOU_GAVE.capitalize()} ({result.channel}) is key "
             f"{_fp(result.fingerprint)}."]
    total = len(result.explanations) + result.other_accounts
    if result.shown in _WITHHELD:
        lines.append(f"{total} account(s) held it in the snapshots or were matched with it.")
        lines += _WITHHELD[result.shown]
    for account in result.not_holding:
        lines.append(f"  account {account}: never held it, and no logged match names it "
                     "with that account")
    if not result.explanations:
        return lines
    lines.append(f"Held by {len(result.holdings)} shown account(s) in the snapshots; named in "
                 f"{result.logged_matches} logged in-scope match(es).")
    for history in result.holdings:
        runs = history.runs
        lines.append(f"  account {history.account_id}: from {runs[0].first_snapshot} to "
                     f"{runs[-1].last_snapshot}")
        lines.extend(f"    {line}" for line in _runs(history))
    return lines


def lookup_text(result: LookupResult) -> str:
    lines = _lookup_head(result)
    text = "\n".join(lines) + "\n"
    for explanation in result.explanations:
        text += "\n" + explain_text(explanation, mark=result.fingerprint)
    return text


def lookup_md(result: LookupResult) -> str:
    lines = ["# Lookup of the contact you gave", ""]
    lines.extend(f"    {line}" if line.startswith("  ") else line
                 for line in _lookup_head(result))
    text = "\n".join(lines) + "\n"
    for explanation in result.explanations:
        text += "\n" + explain_md(explanation, mark=result.fingerprint)
    return text


# --------------------------------------------------------------------------- what-if


def _figure(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _base_parameters(result: WhatIfResult) -> list[str]:
    base = result.baseline
    return [f"window_start {base.window_start[:10]}",
            f"fix_at {base.fix_at[:16].replace('T', ' ')} UTC",
            f"restricted_purposes {','.join(base.restricted_purposes)}",
            f"audience_types {','.join(base.audience_types)}"]


def what_if_text(result: WhatIfResult, *, per_block: int = 4) -> str:
    """Rows are figures, columns the runs; at most `per_block` alternatives per block."""
    scenarios = [result.baseline, *result.variants]
    names = ["incident", *(f"#{n}" for n in range(1, len(scenarios)))]
    width = 28
    lines = ["What if: the incident file's run beside each alternative (nothing saved)", "",
             "incident file:", *(f"  {part}" for part in _base_parameters(result)),
             *(variant.label for variant in result.variants)]
    for start in range(1, max(len(scenarios), 2), per_block):
        block = [0, *range(start, min(start + per_block, len(scenarios)))]
        lines.append("")
        lines.append(f"{'':<{width}}" + "".join(f"{names[i]:>10}" for i in block))
        for key, label in HEADLINE_LABELS.items():
            lines.append(f"{label:<{width}}" + "".join(
                f"{_figure(scenarios[i].headline[key]):>10}" for i in block))
    return "\n".join(lines) + "\n"


def what_if_md(result: WhatIfResult) -> str:
    scenarios = [result.baseline, *result.variants]
    names = ["incident file", *(f"#{n}" for n in range(1, len(scenarios)))]
    lines = ["# What if", "", "Replays under alternative parameters; nothing is saved.", "",
             f"- incident file: {', '.join(_base_parameters(result))}",
             *(f"- {variant.label}" for variant in result.variants)]
    lines += ["", "| figure | " + " | ".join(names) + " |",
              "|---|" + "---:|" * len(names)]
    for key, label in HEADLINE_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(_figure(s.headline[key]) for s in scenarios)
                     + " |")
    return "\n".join(lines) + "\n"
