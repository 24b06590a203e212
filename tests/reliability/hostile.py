"""Hostile text, and replay results built by hand around it, for the renderer cases.

Every value is synthetic. A value is "hostile" when it holds what a renderer could read as
structure: control characters (bare CR, NUL, ESC, U+2028), rich markup, Markdown and HTML
metacharacters, entity references, spreadsheet formula prefixes, edge whitespace, long runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from hypothesis import strategies as st

from incidentscope.config import Incident
from incidentscope.notification import Notification
from incidentscope.results import ReplayResult

CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F, 0x85, 0x9B)] + [
    "\r\n", "\u2028", "\u2029", "\u202e", "\u2066", "\xad", "\u200b", "\u200f", "\ufeff"]
MARKUP = ["[/x]", "[/]", "[bold]", "[link=https://example.org]", "[/link]", "[red on white]",
          ":smile:", "\x1b[31m", "\x1b]8;;https://example.org\x1b\\"]
MARKDOWN = ["#", "# ", "## x", "*", "**", "_", "__", "`", "```", "~~", "|", "\\", "[", "]",
            "](x)", "![a](b)", "<", ">", "> ", "- ", "+ ", "1. ", "2) ", "---", "===", "&amp;",
            "&#35;", "&#x41;", "&", "<b>", "</td>", "<!--", "<script>", "<?x", "    ", "\\|",
            "www.example.org", "https://example.org", "x@example.org", "\"", "'"]
FORMULA = ["=", "+", "-", "@", "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
           "=HYPERLINK(\"http://x\")"]
PLAIN = ["cmp_001", "adv", "Autumn push", "é", "ß", "Ω", "Ж", " ", "  ", "0", "-5", "x"]
TOKENS = CONTROL + MARKUP + MARKDOWN + FORMULA + PLAIN

# Letters the PDF font (DejaVu Sans) has, so that a value can be found in the PDF's text.
_FONT_SAFE = st.characters(codec="latin-1", exclude_categories=("Cs",))


@st.composite
def hostile_text(draw: st.DrawFn, *, max_tokens: int = 8, long: bool = True) -> str:
    """A value made of hostile tokens and letters; sometimes very long."""
    parts = draw(st.lists(st.one_of(st.sampled_from(TOKENS),
                                    st.text(_FONT_SAFE, min_size=1, max_size=6)),
                          min_size=1, max_size=max_tokens))
    text = "".join(parts)
    if long and draw(st.integers(0, 9)) == 0:
        text = text * draw(st.integers(20, 200))
    return text


def distinct(values: list[str]) -> bool:
    return len(set(values)) == len(values)


@dataclass(frozen=True)
class Hostile:
    """The values of one example: every id and name column, and the incident file's text."""

    campaigns: tuple[tuple[str, str, str], ...]  # (campaign_id, advertiser_id, name)
    countries: tuple[str, ...]
    account_ids: tuple[int, ...]
    title: str
    incident_id: str
    purpose: str
    report_text: str  # prose of [report] (paragraphs): may be long
    cell_text: str  # [report] text shown in a table cell: short (see the PDF's known defect)


@st.composite
def hostile_values(draw: st.DrawFn) -> Hostile:
    rows = draw(st.lists(st.tuples(hostile_text(), hostile_text(), hostile_text()),
                         min_size=1, max_size=4,
                         unique_by=(lambda r: r[0], lambda r: r[1], lambda r: r[2])))
    countries = draw(st.lists(hostile_text(max_tokens=3, long=False), min_size=1, max_size=3,
                              unique=True))
    account_ids = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=4,
                                unique=True))
    return Hostile(tuple(rows), tuple(countries), tuple(account_ids),
                   draw(hostile_text()), draw(hostile_text(max_tokens=4)),
                   draw(hostile_text(max_tokens=4, long=False)), draw(hostile_text()),
                   draw(hostile_text(long=False)))


def _figure(lower: int, upper: int) -> dict[str, int]:
    return {"lower": lower, "upper": upper}


def build(values: Hostile) -> tuple[ReplayResult, Incident]:
    """A replay result shaped as the replay makes it (report.json's contract), holding
    `values` in every column that reaches a report."""
    window_start, fix_at = datetime(2019, 1, 1), datetime(2019, 9, 17)
    n_campaigns = len(values.campaigns)
    by_country = {code: _figure(1, 2 + i) for i, code in enumerate(values.countries)}
    report: dict[str, Any] = {
        "schema_version": 2,
        "incident": {"id": values.incident_id, "title": values.title,
                     "window_start": "2019-01-01T00:00:00Z", "fix_at": "2019-09-17T00:00:00Z",
                     "restricted_purposes": [values.purpose], "audience_types": ["tailored"],
                     "normalization": "twitter", "min_audience_size": 3},
        "exposed_accounts": _figure(9, 12),
        "affected_accounts": {"lower": 3, "estimate": 5, "upper": 8},
        "affected_accounts_whole_window": {"lower": 4, "estimate": 6, "upper": 10},
        "affected_audiences": _figure(1, 2),
        "affected_campaigns": _figure(n_campaigns, n_campaigns),
        "affected_advertisers": _figure(1, 2), "affected_partners": _figure(0, 1),
        "matches": {"caused": 4, "permitted": 9, "uncertain": 2, "unexplained": 1,
                    "duplicates": 0},
        "by_audience_type": {"tailored": _figure(3, 8)},
        "by_channel": {"email": _figure(1, 3), "phone": _figure(2, 5)},
        "by_country": by_country,
        "by_month": {"2019-08": _figure(3, 8)},
        "deliveries": {key: _figure(1, 2) for key in
                       ("accounts", "impressions", "after_fix_accounts",
                        "after_fix_impressions")},
        "post_fix": {"caused": 0, "permitted": 1, "uncertain": 0, "unexplained": 0,
                     "fix_held": True},
        "uploads": {"entries": 20, "duplicates": 1, "accounts": _figure(4, 6),
                    "audiences": _figure(1, 2), "campaigns": _figure(1, n_campaigns),
                    "log_agreement": {"logged_caused_pairs": 4,
                                      "logged_caused_pairs_with_upload": 4,
                                      "replayed_caused_pairs_on_log_days": 3,
                                      "replayed_caused_pairs_in_log": 3}},
        "audiences_targetable_only_by_incident": _figure(0, 1),
        "contacts_used": _figure(3, 9),
        "coverage": {"snapshots": 2, "first_snapshot": "2019-08-05",
                     "last_snapshot": "2019-08-12", "snapshot_cadence_days": 7,
                     "missing_log_days": 0, "outside_snapshot_range": 0, "duplicate_rows": 0,
                     "unknown_audience_matches": 0, "rejected_rows": 0,
                     "rejected_rows_by_table": {}, "load_warnings": [],
                     "first_logged_match": "2019-01-02T00:00:00Z",
                     "last_logged_match": "2019-09-16T00:00:00Z",
                     "first_caused_match": "2019-01-03T00:00:00Z",
                     "last_caused_match": "2019-09-15T00:00:00Z",
                     "first_possibly_caused_match": "2019-01-02T00:00:00Z",
                     "last_possibly_caused_match": "2019-09-16T00:00:00Z"},
    }
    campaigns = pl.DataFrame(
        {"campaign_id": [r[0] for r in values.campaigns],
         "advertiser_id": [r[1] for r in values.campaigns],
         "name": [r[2] for r in values.campaigns],
         "lower": list(range(n_campaigns, 0, -1)), "upper": list(range(n_campaigns + 5, 5, -1))},
        schema={"campaign_id": pl.String, "advertiser_id": pl.String, "name": pl.String,
                "lower": pl.Int64, "upper": pl.Int64})
    countries = pl.DataFrame(
        {"country": list(values.countries), "lower": [1] * len(values.countries),
         "upper": [2 + i for i in range(len(values.countries))]},
        schema={"country": pl.String, "lower": pl.Int64, "upper": pl.Int64})
    n = len(values.account_ids)
    accounts = pl.DataFrame(
        {"account_id": list(values.account_ids), "certain": [i % 2 == 0 for i in range(n)],
         "probability": [1.0] * n, "first_caused_at": [datetime(2019, 8, 6)] * n,
         "first_match_at": [datetime(2019, 8, 6)] * n,
         "country": [values.countries[i % len(values.countries)] for i in range(n)]},
        schema={"account_id": pl.Int64, "certain": pl.Boolean, "probability": pl.Float64,
                "first_caused_at": pl.Datetime("us"), "first_match_at": pl.Datetime("us"),
                "country": pl.String})
    weekly = pl.DataFrame({"week": [datetime(2019, 8, 5).date()], "match_class": ["caused"],
                           "matches": [4]})
    result = ReplayResult(report=report, weekly_matches=weekly, campaigns=campaigns,
                          countries=countries, accounts=accounts)
    incident = Incident(
        id=values.incident_id, title=values.title, window_start=window_start, fix_at=fix_at,
        restricted_purposes=(values.purpose,), audience_types=("tailored",),
        notification=Notification(values={
            "controller": values.cell_text, "nature": values.report_text,
            "measures_mitigation": values.report_text, "lead_authority": values.cell_text}))
    return result, incident
