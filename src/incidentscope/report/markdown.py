"""The Markdown form of a document (report/document.py), and the postmortem document.

The postmortem (`report.md`, `report.html`) and the regulator report (`regulator.*`) are
built once as a list of blocks; `markdown.py`, `html.py` and the PDF writer in
`regulator.py` only lay them out, so every format says the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from incidentscope.report.charts import TITLES, funnel_stages
from incidentscope.report.document import (
    Block,
    Bullets,
    Chart,
    Heading,
    Para,
    Table,
    printable,
)
from incidentscope.report.notes import headline, post_fix_text, warnings
from incidentscope.results import ReplayResult

# Characters that would start Markdown syntax anywhere in a line: backslash, code, emphasis,
# links and images, table pipes, strikethrough (GFM), ATX heading marks (also a heading's
# closing sequence), raw HTML and autolinks (`<` before a letter, `/`, `!`, `?`), entity
# and character references; `_` only at a word edge (`cmp_002` is plain).
_MD_SPECIAL = re.compile(
    r"[\\`*\[\]|~#]|<(?=[A-Za-z/!?])|&(?=#?[A-Za-z0-9]+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# What opens a block at the start of a paragraph or a list item: a block quote, a bullet,
# a setext underline or thematic break, an ordered list marker (`1.`, `1)`).
_MD_BLOCK_START = re.compile(r"^(?:[>+=-]|(?P<number>\d{1,9})(?=[.)]))")


def _edge(char: str) -> str:
    """A space at either end, which Markdown would strip, as a character reference."""
    return f"&#{ord(char)};" if char.isspace() else char


def _block_start(match: re.Match[str]) -> str:
    number = match.group("number")
    return f"{number}\\" if number else "\\" + match.group(0)


def escape(text: str, *, block_start: bool = False) -> str:
    """Markdown-escape one line of text (free text from the incident file, data values).

    Control characters are shown as escapes first (the document model has done so
    already). With `block_start` the text opens a paragraph or a list item, where `>`,
    `-`, `+`, `=` and `1.` would start a block of their own.
    """
    out = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), printable(text))
    if block_start:
        out = _MD_BLOCK_START.sub(_block_start, out, count=1)
    if len(out) > 1:
        out = out[:-1] + _edge(out[-1])
    return _edge(out[0]) + out[1:] if out else out


def to_markdown(blocks: Sequence[Block], chart_dir: str | None = "charts") -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + escape(block.text), ""]
        elif isinstance(block, Para):
            text = escape(block.text, block_start=not block.strong)
            lines += [f"**{text}**" if block.strong else text, ""]
        elif isinstance(block, Bullets):
            lines += [f"- {escape(item, block_start=True)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(escape(h) for h in block.header) + " |")
            lines.append("|" + "|".join("---:" if block.right(i) else "---"
                                        for i in range(len(block.header))) + "|")
            lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif chart_dir is not None:
            lines += [f"![{escape(block.alt)}]({chart_dir}/{block.name}.png)", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def n(value: int) -> str:
    return f"{value:,}"


def _pair(figure: dict[str, int]) -> tuple[str, str]:
    return n(figure["lower"]), n(figure["upper"])


def postmortem(result: ReplayResult, top: int = 10) -> list[Block]:
    """The postmortem for the team: every figure, exact (an internal document)."""
    report = result.report
    incident = report["incident"]
    affected = report["affected_accounts"]
    blocks: list[Block] = [
        Heading(1, incident["title"]),
        Para(f"Incident {incident['id']}: replay of the window from {incident['window_start']} "
             f"to the fix at {incident['fix_at']}. Restricted purposes: "
             f"{', '.join(incident['restricted_purposes'])}; audience types in scope: "
             f"{', '.join(incident['audience_types'])}; contact normalization: "
             f"{incident['normalization']}."),
        Para("Internal document: counts are exact (no small-count suppression). The "
             "notification to the supervisory authority (regulator.md) is confidential and "
             "exact too; the figures for publication, with small counts suppressed, are in "
             "public-notice.md and accounts_by_country.csv."),
        Heading(2, "From exposure to ads"),
        Para(headline(report)),
        Table(("stage", "lower", "upper"), tuple(
            (label, *(_pair(figure) if figure is not None else ("no data", "no data")))
            for label, figure in funnel_stages(report))),
        Chart("funnel", TITLES["funnel"]),
        *_whole_window_blocks(report),
        Heading(2, "Affected accounts, logged matches"),
        Table(("certain (lower)", "estimate", "upper (logged matches only)"),
              ((n(affected["lower"]), n(affected["estimate"]), n(affected["upper"])),),
              (True, True, True)),
        Para("The lower bound counts accounts with a match that only a security-only contact "
             "explains; the upper bound adds every account with an uncertain or unexplained "
             "logged match (matches the log lost are in neither); the estimate weighs the "
             "uncertain ones by the snapshots (docs/estimation.md)."),
        Chart("estimate_range", TITLES["estimate_range"]),
        Table(("", "lower", "upper"), tuple(
            (label, *_pair(report[key])) for label, key in (
                ("audiences", "affected_audiences"), ("campaigns", "affected_campaigns"),
                ("advertisers", "affected_advertisers"),
                ("data partners", "affected_partners")))),
        Heading(2, "Matches in the window"),
        Table(("class", "matches"), tuple(
            (name, n(report["matches"][name])) for name in
            ("caused", "uncertain", "unexplained", "permitted", "duplicates"))),
        Chart("matches_per_week", TITLES["matches_per_week"]),
    ]
    campaigns = result.campaigns.head(top)
    blocks += [Heading(2, f"Top campaigns ({min(top, result.campaigns.height)} of "
                          f"{result.campaigns.height})"),
               Table(("campaign", "advertiser", "name", "accounts lower", "upper"), tuple(
                   (str(r["campaign_id"]), str(r["advertiser_id"] or ""), str(r["name"] or ""),
                    n(r["lower"]), n(r["upper"])) for r in campaigns.iter_rows(named=True)),
                   (False, False, False, True, True))]
    for title, key in (("audience type", "by_audience_type"), ("channel", "by_channel"),
                       ("country", "by_country"), ("month", "by_month")):
        blocks += [Heading(2, f"Affected accounts by {title}"),
                   Table((title, "lower", "upper"),
                         tuple((name, *_pair(fig)) for name, fig in report[key].items()))]
        if key == "by_country":
            blocks.append(Chart("accounts_by_country", TITLES["accounts_by_country"]))
    deliveries = report["deliveries"]
    blocks.append(Heading(2, "Ads served"))
    if deliveries is None:
        blocks.append(Para("No deliveries were loaded."))
    else:
        blocks.append(Table(("", "lower", "upper"), tuple(
            (label, *_pair(deliveries[key])) for label, key in (
                ("accounts served in the window", "accounts"),
                ("impressions in the window", "impressions"),
                ("accounts served after the fix", "after_fix_accounts"),
                ("impressions after the fix", "after_fix_impressions")))))
    blocks.append(Heading(2, "Post-fix control"))
    blocks.append(Para(post_fix_text(report), strong=not report["post_fix"]["fix_held"]))
    blocks += [Heading(2, "Coverage"), Table(("", ""), tuple(
        (key.replace("_", " "), _coverage_cell(value))
        for key, value in report["coverage"].items()))]
    notes = warnings(report)
    if notes:
        blocks += [Heading(2, "Warnings"), Bullets(tuple(notes))]
    return blocks


def _whole_window_blocks(report: dict[str, Any]) -> list[Block]:
    """The whole window (whole-window.md): its range, the uploads replay and its agreement
    with the log, and the audiences targetable only through the incident."""
    blocks: list[Block] = []
    whole, uploads = report.get("affected_accounts_whole_window"), report.get("uploads")
    if isinstance(whole, dict) and isinstance(uploads, dict):
        agreement = uploads["log_agreement"]
        blocks += [
            Heading(2, "Affected accounts, whole window"),
            Table(("certain (lower)", "estimate", "upper"),
                  ((n(whole["lower"]), n(whole["estimate"]), n(whole["upper"])),),
                  (True, True, True)),
            Para(f"The uploaded lists were replayed: {n(uploads['entries'])} entries into "
                 f"in-scope audiences in the window ({n(uploads['duplicates'])} duplicate "
                 "rows), each re-matched by the buggy and the fixed rule against the snapshots. "
                 "The whole-window bounds unite the logged matches' accounts with those of "
                 "certainly (lower) and possibly (upper) caused upload pairs."),
            Table(("uploads replay", "lower", "upper"), tuple(
                (label, *_pair(uploads[key])) for label, key in (
                    ("accounts", "accounts"), ("audiences", "audiences"),
                    ("campaigns", "campaigns")))),
            Table(("agreement with the log", "pairs"), (
                ("logged caused (audience, account) pairs", n(agreement["logged_caused_pairs"])),
                ("... of them among the uploads' pairs",
                 n(agreement["logged_caused_pairs_with_upload"])),
                ("replayed certainly caused pairs of log days",
                 n(agreement["replayed_caused_pairs_on_log_days"])),
                ("... of them in the log", n(agreement["replayed_caused_pairs_in_log"])))),
        ]
    targetable = report.get("audiences_targetable_only_by_incident")
    if isinstance(targetable, dict):
        minimum = report["incident"].get("min_audience_size")
        blocks += [Heading(2, "Audiences targetable only because of the incident"),
                   Para(f"Audiences that reached the targetable size ({n(minimum or 0)} "
                        f"accounts) only through caused matches (lower) or through matches "
                        f"that were not permitted (upper): {n(targetable['lower'])} to "
                        f"{n(targetable['upper'])}. Campaigns on them could not have run "
                        "without the incident.")]
    return blocks


def _coverage_cell(value: object) -> str:
    """A coverage figure; a list (the load warnings) by its length: Warnings lists them; the
    rejected rows by table as `table n`."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{key} {count}" for key, count in value.items()) or "-"
    return str(len(value)) if isinstance(value, list) else str(value)


def render(result: ReplayResult, chart_dir: str | None = None) -> str:
    """report.md; with `chart_dir`, the charts are linked as `chart_dir/NAME.png`."""
    return to_markdown(postmortem(result), chart_dir)
