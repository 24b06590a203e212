"""Coverage warnings every format shows (no rendering library here: the core imports it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Agreement between the uploads replay and the log below this share: the inputs (uploads,
# snapshots, normalization profile) do not describe the matcher that ran.
LOW_AGREEMENT = 0.9


def _n(value: int) -> str:
    return f"{value:,}"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def whole_window(report: dict[str, Any]) -> dict[str, int] | None:
    figure = report.get("affected_accounts_whole_window")
    return figure if isinstance(figure, dict) else None


def coverage_gaps(report: dict[str, Any]) -> list[str]:
    """What the match log does not cover, in words (empty: no gap found)."""
    coverage = report["coverage"]
    gaps = []
    if coverage.get("missing_log_days"):
        gaps.append(f"{_n(coverage['missing_log_days'])} days of the window have no match log")
    by_table = coverage.get("rejected_rows_by_table")
    if by_table is None:  # a report.json of schema 1: rejects of every table together
        if coverage.get("rejected_rows"):
            gaps.append(f"{_n(coverage['rejected_rows'])} input rows were rejected at load")
    elif by_table.get("matches"):
        gaps.append(f"{_n(by_table['matches'])} match log rows were rejected at load")
    start = report["incident"]["window_start"]
    first = coverage.get("first_logged_match")
    if "first_logged_match" not in coverage:  # schema 1
        gaps.append("the time of the first logged match is not in this run's report.json, "
                    "so a part of the window before it cannot be ruled out")
    elif first is None:
        gaps.append("no match of the window is logged at all")
    elif instant(first) > instant(start):
        gaps.append(f"the window from {start} to the first logged match at {first} has no "
                    "log")
    return gaps


def upper_scope(report: dict[str, Any]) -> str:
    return ("whole window" if whole_window(report) is not None
            else "logged matches only")


def headline(report: dict[str, Any]) -> str:
    """The affected accounts in one sentence, as strong as the data allows."""
    whole = whole_window(report)
    if whole is not None:
        entries = report["uploads"]["entries"]
        return (f"Between {_n(whole['lower'])} and {_n(whole['upper'])} accounts were affected "
                f"over the whole window, as far as the logged matches and the uploaded lists "
                f"({_n(entries)} entries replayed) describe it; the best estimate is "
                f"{_n(whole['estimate'])}.")
    figure = report["affected_accounts"]
    gaps = coverage_gaps(report)
    missing = ("; ".join(gaps) + ": people matched there are not counted" if gaps else
               "no gap in the log was found, but matches that were never logged cannot be "
               "counted")
    return (f"At least {_n(figure['lower'])} accounts were affected for certain; the best "
            f"estimate is {_n(figure['estimate'])}. The upper bound of {_n(figure['upper'])} "
            f"covers logged matches only and is not a maximum: {missing}.")


def post_fix_text(report: dict[str, Any]) -> str:
    post = report["post_fix"]
    if not post["fix_held"]:
        text = (f"{_n(post['caused'])} matches at or after the fix are explained only by a "
                "security contact: the fix did not hold.")
    else:
        doubtful = post["uncertain"] + post["unexplained"]
        text = "No match at or after the fix is explained only by a security contact."
        if doubtful:
            text += (f" {_n(post['uncertain'])} post-fix matches are uncertain and "
                     f"{_n(post['unexplained'])} unexplained: the snapshots cannot tell "
                     "whether they were caused, so the fix is not proven for them.")
    deliveries = report.get("deliveries")
    if deliveries is not None:
        after = deliveries["after_fix_accounts"]
        if after["upper"]:
            text += (f" Between {_n(after['lower'])} and {_n(after['upper'])} accounts may have "
                     "been served an ad because of the incident after the fix.")
        else:
            text += " No ad served after the fix is attributable to the incident."
    else:
        text += " No deliveries were loaded: ads served after the fix are not known."
    return text


def agreement_warning(report: dict[str, Any]) -> str | None:
    """The uploads replay checked against the log (whole-window.md): a warning when the
    logged caused pairs are not found among the uploads' pairs, or the replay's caused pairs
    of log days not in the log, often."""
    uploads = report.get("uploads")
    if not isinstance(uploads, dict):
        return None
    agreement = uploads["log_agreement"]
    shares = []
    for found, total in (("logged_caused_pairs_with_upload", "logged_caused_pairs"),
                         ("replayed_caused_pairs_in_log", "replayed_caused_pairs_on_log_days")):
        if agreement[total]:
            shares.append(agreement[found] / agreement[total])
    if not shares or min(shares) >= LOW_AGREEMENT:
        return None
    return (f"the uploads replay agrees with the log in only {min(shares):.0%} of caused "
            "(audience, account) pairs: the uploaded lists, the snapshots or the "
            "normalization profile do not describe the matcher that ran; the whole-window "
            "figures are not reliable")


def warnings(report: dict[str, Any]) -> list[str]:
    """Coverage problems a reader must see before trusting the figures."""
    notes = []
    coverage = report["coverage"]
    if not report["post_fix"]["fix_held"]:
        notes.append(f"{_n(report['post_fix']['caused'])} caused matches at or after the fix: "
                     "the fix did not hold")
    if coverage["snapshots"] == 0:
        notes.append("no contact snapshots: every match is unexplained")
    if coverage["missing_log_days"]:
        notes.append(f"{_n(coverage['missing_log_days'])} days in the window have no match log")
    if coverage["outside_snapshot_range"]:
        notes.append(f"{_n(coverage['outside_snapshot_range'])} in-window matches lie outside "
                     "the snapshot range")
    if coverage["rejected_rows"]:
        notes.append(f"{_n(coverage['rejected_rows'])} input rows were rejected at load")
    if coverage["unknown_audience_matches"]:
        notes.append(f"{_n(coverage['unknown_audience_matches'])} in-window matches name an "
                     "audience missing from audiences")
    if whole_window(report) is None:
        gaps = coverage_gaps(report)
        notes.append("no uploaded lists: the upper bound covers logged matches only and is not "
                     "a maximum" + (f" ({'; '.join(gaps)})" if gaps else ""))
    agreement = agreement_warning(report)
    if agreement:
        notes.append(agreement)
    notes += [f"load warning: {note}" for note in coverage.get("load_warnings", [])]
    return notes
