"""The Markdown postmortem report."""

from __future__ import annotations

from incidentscope.replay import ReplayResult
from incidentscope.report.notes import warnings


def _range(figure: dict[str, int]) -> str:
    return f"{figure['lower']:,} to {figure['upper']:,}"


def render(result: ReplayResult) -> str:
    report = result.report
    incident = report["incident"]
    affected = report["affected_accounts"]
    lines = [
        f"# {incident['title']}",
        "",
        f"Incident `{incident['id']}`, window {incident['window_start']} to {incident['fix_at']} "
        f"(fix). Restricted purposes: {', '.join(incident['restricted_purposes'])}; "
        f"audience types: {', '.join(incident['audience_types'])}.",
        "",
        "## Affected accounts",
        "",
        "| certain (lower) | estimate | possible (upper) |",
        "|---:|---:|---:|",
        f"| {affected['lower']:,} | {affected['estimate']:,} | {affected['upper']:,} |",
        "",
        "| | lower | upper |",
        "|---|---:|---:|",
    ]
    for label, key in (("audiences", "affected_audiences"), ("campaigns", "affected_campaigns"),
                       ("advertisers", "affected_advertisers"),
                       ("data partners", "affected_partners")):
        lines.append(f"| {label} | {report[key]['lower']:,} | {report[key]['upper']:,} |")
    matches = report["matches"]
    lines += ["", "## Matches in the window", "", "| class | matches |", "|---|---:|"]
    for name in ("caused", "uncertain", "unexplained", "permitted", "duplicates"):
        lines.append(f"| {name} | {matches[name]:,} |")
    for title, key in (("audience type", "by_audience_type"), ("channel", "by_channel"),
                       ("country", "by_country"), ("month", "by_month")):
        lines += ["", f"## Affected accounts by {title}", "", f"| {title} | lower | upper |",
                  "|---|---:|---:|"]
        for name, figure in report[key].items():
            lines.append(f"| {name} | {figure['lower']:,} | {figure['upper']:,} |")
    deliveries = report["deliveries"]
    lines += ["", "## Ads served", ""]
    if deliveries is None:
        lines.append("No deliveries were loaded.")
    else:
        lines += ["| | lower | upper |", "|---|---:|---:|",
                  f"| accounts served in the window | {_range(deliveries['accounts'])} |"
                  .replace(" to ", " | "),
                  f"| impressions in the window | {_range(deliveries['impressions'])} |"
                  .replace(" to ", " | "),
                  f"| accounts served after the fix | {_range(deliveries['after_fix_accounts'])} |"
                  .replace(" to ", " | "),
                  f"| impressions after the fix | {_range(deliveries['after_fix_impressions'])} |"
                  .replace(" to ", " | ")]
    post_fix = report["post_fix"]
    lines += ["", "## Post-fix control", ""]
    if post_fix["fix_held"]:
        lines.append("No caused match at or after the fix: the fix held.")
    else:
        lines.append(f"**{post_fix['caused']:,} caused matches at or after the fix: the fix did "
                     "not hold.**")
    coverage = report["coverage"]
    lines += ["", "## Coverage", "", "| | |", "|---|---:|"]
    for key, value in coverage.items():
        lines.append(f"| {key.replace('_', ' ')} | {value if value is not None else '-'} |")
    notes = warnings(report)
    if notes:
        lines += ["", "## Warnings", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
