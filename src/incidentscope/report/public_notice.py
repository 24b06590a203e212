"""The public notice: the Art. 34(3)(c) public communication, for publication.

Published counts pass small-count suppression (suppress.py): a count from 1 to
`min_cell - 1` is shown as `<10`, and further cells are withheld (`≥10`) so that no small
count can be worked out from a total. The notification to the authority (regulator.py) is
confidential and keeps exact counts; this is the document for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidentscope.config import Incident
from incidentscope.report.document import Block, Bullets, Heading, Para, Table
from incidentscope.report.notes import coverage_gaps
from incidentscope.report.suppress import Group, Suppressed, suppress
from incidentscope.results import ReplayResult

CHANNEL_NAMES = {"email": "email addresses", "phone": "phone numbers"}


@dataclass(frozen=True)
class Figures:
    """The published counts, suppressed together, and the country rows."""

    cells: Suppressed
    countries: tuple[str, ...]  # sorted by upper desc, lower desc, code
    unknown_country: bool


def figures(result: ReplayResult, min_cell: int) -> Figures:
    report = result.report
    affected = report["affected_accounts"]
    values: dict[str, int] = {
        "accounts:lower": affected["lower"], "accounts:estimate": affected["estimate"],
        "accounts:upper": affected["upper"],
    }
    whole = report.get("affected_accounts_whole_window")
    if isinstance(whole, dict):
        values.update({f"whole:{k}": whole[k] for k in ("lower", "estimate", "upper")})
    by_country = report["by_country"]
    for code, figure in by_country.items():
        for bound in ("lower", "upper"):
            values[f"country:{code}:{bound}"] = figure[bound]
    groups = []
    for bound in ("lower", "upper"):
        # accounts without a country close each column, so the columns add up to the headline
        values[f"country::{bound}"] = affected[bound] - sum(f[bound] for f in by_country.values())
        members = (*(f"country:{code}:{bound}" for code in by_country), f"country::{bound}")
        groups.append(Group(members, f"accounts:{bound}"))
    order = tuple(sorted(by_country, key=lambda c: (-by_country[c]["upper"],
                                                    -by_country[c]["lower"], c)))
    return Figures(suppress(values, groups, min_cell), order,
                   values["country::upper"] > 0 or values["country::lower"] > 0)


def _how_many(result: ReplayResult, cells: Figures) -> str:
    show = cells.cells.show
    if "whole:upper" in cells.cells.values:
        return (f"Between {show('whole:lower')} and {show('whole:upper')} accounts were "
                f"affected over the whole period; our best estimate is "
                f"{show('whole:estimate')}.")
    gaps = coverage_gaps(result.report)
    return (f"At least {show('accounts:lower')} accounts were affected for certain; our best "
            f"estimate is {show('accounts:estimate')}. The upper bound of "
            f"{show('accounts:upper')} counts only the matches our logs recorded and is not a "
            "maximum" + (": " + "; ".join(gaps) + "." if gaps else "."))


def blocks(result: ReplayResult, incident: Incident) -> list[Block]:
    report = result.report
    run = report["incident"]
    cells = figures(result, incident.min_cell)
    show = cells.cells.show
    note = incident.notification
    channels = [CHANNEL_NAMES.get(c, c) for c in report["by_channel"]] or [
        "email addresses", "phone numbers"]
    rows: list[tuple[str, ...]] = [(code, show(f"country:{code}:lower"),
                                    show(f"country:{code}:upper")) for code in cells.countries]
    if cells.unknown_country:
        rows.append(("unknown", show("country::lower"), show("country::upper")))
    rows.append(("total", show("accounts:lower"), show("accounts:upper")))
    contact = note.text("dpo_contact") or note.text("controller_contact")
    return [
        Heading(1, f"Public notice: {run['title']}"),
        Para(f"For publication (GDPR Art. 34(3)(c)). Counts below {incident.min_cell} are "
             f"shown as <{incident.min_cell}; counts marked ≥{incident.min_cell} are withheld "
             "so that a small count cannot be worked out from a total."),
        Heading(2, "What happened"),
        Para(f"Between {run['window_start'][:10]} and {run['fix_at'][:10]}, "
             f"{' and '.join(channels)} that people had given us only for security purposes "
             f"({', '.join(p.replace('_', ' ') for p in run['restricted_purposes'])}) were also "
             "used to match their accounts to the marketing lists of advertisers and data "
             f"partners ({', '.join(run['audience_types'])} audiences). We corrected the error "
             f"on {run['fix_at'][:10]}."),
        Heading(2, "How many people"),
        Para(_how_many(result, cells)),
        Table(("country", "accounts, certain", "upper bound (logged matches)"), tuple(rows)),
        Heading(2, "What you can do"),
        Bullets((
            "Check the email addresses and phone numbers in your account's security settings.",
            "Check your ad settings; you can turn personalised ads off.",
            "Ask us whether your account was affected, for a copy of your data (Art. 15 GDPR), "
            "or object to its use for direct marketing (Art. 21 GDPR).",
            "Lodge a complaint with a data protection supervisory authority (Art. 77 GDPR).")),
        Heading(2, "Contact"),
        Para(f"{note.text('controller') or 'The controller'}; data protection officer: "
             f"{contact or 'see our privacy policy'}."),
    ]


def title(result: ReplayResult) -> str:
    return f"Public notice: {result.report['incident']['title']}"
