"""The terminal summary: headline range, match classes, top campaigns, warnings."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from incidentscope.report.notes import warnings
from incidentscope.results import ReplayResult


def _n(value: int) -> str:
    return f"{value:,}"


def summary(result: ReplayResult, top: int = 5) -> RenderableType:
    report = result.report
    incident = report["incident"]
    affected = report["affected_accounts"]
    head = Table.grid(padding=(0, 2))
    head.add_column(justify="left")
    head.add_column(justify="right")
    head.add_row("Affected accounts, certain (lower)", _n(affected["lower"]))
    head.add_row(Text("Estimate", style="bold"), Text(_n(affected["estimate"]), style="bold"))
    head.add_row("Possibly affected (upper)", _n(affected["upper"]))
    for label, key in (("Audiences", "affected_audiences"), ("Campaigns", "affected_campaigns"),
                       ("Advertisers", "affected_advertisers"),
                       ("Data partners", "affected_partners")):
        head.add_row(f"{label} (lower - upper)",
                     f"{_n(report[key]['lower'])} - {_n(report[key]['upper'])}")
    deliveries = report["deliveries"]
    if deliveries is not None:
        head.add_row("Ads served, impressions (lower - upper)",
                     f"{_n(deliveries['impressions']['lower'])} - "
                     f"{_n(deliveries['impressions']['upper'])}")
        head.add_row("Accounts still served after the fix",
                     f"{_n(deliveries['after_fix_accounts']['lower'])} - "
                     f"{_n(deliveries['after_fix_accounts']['upper'])}")

    classes = Table(title="In-window matches", title_justify="left", expand=False)
    for column in ("caused", "uncertain", "unexplained", "permitted", "duplicates"):
        classes.add_column(column, justify="right")
    classes.add_row(*(_n(report["matches"][c]) for c in
                      ("caused", "uncertain", "unexplained", "permitted", "duplicates")))

    campaigns = Table(title=f"Top campaigns (of {_n(report['affected_campaigns']['upper'])})",
                      title_justify="left")
    campaigns.add_column("campaign")
    campaigns.add_column("advertiser")
    campaigns.add_column("accounts lower", justify="right")
    campaigns.add_column("upper", justify="right")
    for row in result.campaigns.head(top).iter_rows(named=True):
        campaigns.add_row(str(row["campaign_id"]), str(row["advertiser_id"] or ""),
                          _n(row["lower"]), _n(row["upper"]))

    post_fix = report["post_fix"]
    if post_fix["fix_held"]:
        checked = sum(post_fix[c] for c in ("permitted", "uncertain", "unexplained"))
        control = Text(f"Post-fix control: no caused match after the fix ({_n(checked)} other "
                       "matches checked)", style="green")
    else:
        control = Text(f"POST-FIX CONTROL FAILED: {_n(post_fix['caused'])} caused matches at or "
                       "after the fix", style="bold red")
    window = Text(f"Window {incident['window_start'][:10]} to the fix at "
                  f"{incident['fix_at'][:16].replace('T', ' ')} UTC", style="dim")
    parts: list[RenderableType] = [window, head, Text(""), classes, Text(""), campaigns,
                                   Text(""), control]
    notes = [n for n in warnings(report) if "fix did not hold" not in n]
    for note in notes:
        parts.append(Text(f"! {note}", style="yellow"))
    title = incident["title"] if len(incident["title"]) <= 70 else incident["title"][:69] + "…"
    return Panel(Group(*parts), title=title, title_align="left", width=80)


def print_summary(result: ReplayResult, console: Console) -> None:
    console.print(summary(result))
