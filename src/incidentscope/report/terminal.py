"""The terminal summary: headline range, match classes, top campaigns, warnings.

Every value from the data or the incident file enters rich as a `Text` (never as a str,
which rich would read as markup: `[/x]` raised an error, `[link=...]` vanished), with its
control characters shown as escapes (`document.printable`). An id wider than its column
is cut with `…`: the full values are in campaigns.csv.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from incidentscope.report.document import printable
from incidentscope.report.notes import warnings, whole_window
from incidentscope.results import ReplayResult


def _n(value: int) -> str:
    return f"{value:,}"


def _data(value: object) -> Text:
    """A value from the inputs: plain text, one line, never markup."""
    return Text(printable("" if value is None else str(value)), no_wrap=True,
                overflow="ellipsis")


def summary(result: ReplayResult, top: int = 5) -> RenderableType:
    report = result.report
    incident = report["incident"]
    affected = report["affected_accounts"]
    whole = whole_window(report)
    head = Table.grid(padding=(0, 2))
    head.add_column(justify="left")
    head.add_column(justify="right")
    exposed = report["exposed_accounts"]
    head.add_row("Held a security-only contact (exposed)",
                 f"{_n(exposed['lower'])} - {_n(exposed['upper'])}")
    if whole is not None:
        # the headline: the whole window, the logged matches' own range beside it
        head.add_row(Text("Affected accounts, whole window", style="bold"),
                     Text(f"{_n(whole['lower'])} - {_n(whole['upper'])}", style="bold"))
        head.add_row(Text("Estimate, whole window", style="bold"),
                     Text(_n(whole["estimate"]), style="bold"))
        head.add_row("Logged matches: certain - upper (estimate)",
                     f"{_n(affected['lower'])} - {_n(affected['upper'])} "
                     f"({_n(affected['estimate'])})")
    else:
        head.add_row("Affected accounts, certain (lower)", _n(affected["lower"]))
        head.add_row(Text("Estimate", style="bold"),
                     Text(_n(affected["estimate"]), style="bold"))
        head.add_row("Upper bound, logged matches only", _n(affected["upper"]))
    scope = " in the log" if whole is not None else ""
    for label, key in (("Audiences", "affected_audiences"), ("Campaigns", "affected_campaigns"),
                       ("Advertisers", "affected_advertisers"),
                       ("Data partners", "affected_partners")):
        head.add_row(f"{label}{scope} (lower - upper)",
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
    campaigns.add_column("campaign", no_wrap=True, overflow="ellipsis", max_width=30)
    campaigns.add_column("advertiser", no_wrap=True, overflow="ellipsis", max_width=18)
    campaigns.add_column("accounts lower", justify="right", no_wrap=True)
    campaigns.add_column("upper", justify="right", no_wrap=True)
    for row in result.campaigns.head(top).iter_rows(named=True):
        campaigns.add_row(_data(row["campaign_id"]), _data(row["advertiser_id"]),
                          _n(row["lower"]), _n(row["upper"]))

    post_fix = report["post_fix"]
    if post_fix["fix_held"]:
        doubtful = post_fix["uncertain"] + post_fix["unexplained"]
        control = Text("Post-fix control: no caused match after the fix" + (
            f"; {_n(doubtful)} uncertain or unexplained: not proven for them" if doubtful
            else f" ({_n(post_fix['permitted'])} permitted matches checked)"),
            style="yellow" if doubtful else "green")
    else:
        control = Text(f"POST-FIX CONTROL FAILED: {_n(post_fix['caused'])} caused matches at or "
                       "after the fix", style="bold red")
    window = Text(printable(f"Window {incident['window_start'][:10]} to the fix at "
                            f"{incident['fix_at'][:16].replace('T', ' ')} UTC"), style="dim")
    parts: list[RenderableType] = [window, head, Text(""), classes, Text(""), campaigns,
                                   Text(""), control]
    notes = [n for n in warnings(report) if "fix did not hold" not in n]
    for note in notes:
        parts.append(Text(f"! {note}", style="yellow"))
    title = _data(incident["title"])
    title.truncate(70, overflow="ellipsis")  # by terminal cells: wide characters count twice
    return Panel(Group(*parts), title=title, title_align="left", width=80)


def print_summary(result: ReplayResult, console: Console) -> None:
    console.print(summary(result))
