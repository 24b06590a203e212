"""The postmortem's charts, drawn with matplotlib as PNG (beside report.md) and SVG (in HTML).

Figures are built with the object API (`matplotlib.figure.Figure` on the Agg canvas), never
through pyplot, so no global state leaks between runs. Bytes are deterministic: fixed
metadata (no software version, no date), a fixed SVG hash salt, glyphs drawn as paths
with matplotlib's bundled DejaVu Sans (no system fonts), and fixed sizes and DPI.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from incidentscope.results import ReplayResult

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not with this module
    from matplotlib.figure import Figure

CHARTS = ("funnel", "matches_per_week", "accounts_by_country", "estimate_range")
TITLES = {
    "funnel": "From exposure to ads: accounts at each stage (lower and upper bound)",
    "matches_per_week": "Matches per week by class, with the fix",
    "accounts_by_country": "Affected accounts by country (lower and upper bound)",
    "estimate_range": "Affected accounts: the estimate between its bounds",
}
COLORS = {"caused": "#c0392b", "uncertain": "#e6a23c", "unexplained": "#8e44ad",
          "permitted": "#9aa5b1", "lower": "#c0392b", "upper": "#f3b7ae", "estimate": "#1f2d3d"}
_RC: dict[str, Any] = {
    "svg.hashsalt": "incidentscope",
    "date.epoch": "1970-01-01T00:00:00",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
_EPOCH = date(1970, 1, 1)
_PNG_METADATA = {"Software": None}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _days(day: date) -> float:
    """A date as matplotlib's date number (days since its default epoch, 1970-01-01)."""
    return float((day - _EPOCH).days)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _matches_per_week(result: ReplayResult) -> Figure:
    figure = _figure(8.0, 3.2)
    ax = figure.add_subplot()
    frame = result.weekly_matches
    weeks: list[date] = sorted(set(frame["week"].to_list()))
    classes = [c for c in ("caused", "uncertain", "unexplained", "permitted")
               if c != "unexplained" or c in set(frame["match_class"].to_list())]
    counts = {(row["week"], row["match_class"]): int(row["matches"])
              for row in frame.iter_rows(named=True)}
    bottom = [0] * len(weeks)
    for name in classes:
        heights = [counts.get((week, name), 0) for week in weeks]
        ax.bar([_days(w) for w in weeks], heights, width=6, bottom=bottom, color=COLORS[name],
               label=name, align="edge")
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    fix_at = datetime.fromisoformat(result.report["incident"]["fix_at"].replace("Z", "+00:00"))
    fix_day = fix_at.date()
    fix_x = _days(fix_day)
    ax.axvline(fix_x, color="#1f2d3d", linestyle="--", linewidth=1.2)
    ax.annotate(f"fix {fix_day.isoformat()}", xy=(fix_x, max(bottom, default=1)),
                xytext=(4, -10), textcoords="offset points", fontsize=8)
    ax.xaxis_date()
    ax.set_ylabel("matches per week")
    ax.legend(loc="upper left", frameon=False, ncols=len(classes), fontsize=8)
    ax.set_ylim(0, max(max(bottom, default=1) * 1.25, 1))
    return figure


def _accounts_by_country(result: ReplayResult) -> Figure:
    rows = sorted(result.countries.iter_rows(named=True),
                  key=lambda r: (-int(r["upper"]), -int(r["lower"]), str(r["country"])))
    figure = _figure(6.0, max(1.6, 0.32 * len(rows) + 0.9))
    ax = figure.add_subplot()
    labels = [str(r["country"]) for r in rows][::-1]
    uppers = [int(r["upper"]) for r in rows][::-1]
    lowers = [int(r["lower"]) for r in rows][::-1]
    ax.barh(labels, uppers, color=COLORS["upper"], label="upper (possibly affected)")
    ax.barh(labels, lowers, color=COLORS["lower"], label="lower (certain)")
    for y, value in enumerate(uppers):
        ax.annotate(str(value), xy=(value, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    if not rows:
        ax.text(0.5, 0.5, "no account with a known country", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("accounts")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return figure


def _estimate_range(result: ReplayResult) -> Figure:
    affected = result.report["affected_accounts"]
    lower, estimate, upper = affected["lower"], affected["estimate"], affected["upper"]
    figure = _figure(6.0, 1.5)
    ax = figure.add_subplot()
    ax.barh([0], [upper - lower], left=[lower], height=0.5, color=COLORS["upper"],
            label="possible range")
    ax.plot([estimate], [0], marker="D", color=COLORS["estimate"], markersize=8,
            linestyle="none", label="estimate")
    for value, text in ((lower, f"lower {lower:,}"), (upper, f"upper {upper:,}")):
        ax.axvline(value, color=COLORS["lower"] if value == lower else "#b03a2e", linewidth=1)
        ax.annotate(text, xy=(value, 0.32), ha="center", fontsize=8)
    ax.annotate(f"estimate {estimate:,}", xy=(estimate, -0.42), ha="center", fontsize=8)
    span = max(upper - lower, 1)
    ax.set_xlim(max(lower - span, 0) - 0.5, upper + span + 0.5)
    ax.set_ylim(-0.7, 0.7)
    ax.set_yticks([])
    ax.set_xlabel("affected accounts")
    ax.spines["left"].set_visible(False)
    return figure


def funnel_stages(report: dict[str, Any]) -> list[tuple[str, dict[str, int] | None]]:
    """The funnel's stages, widest first: who held a security-only contact, who was matched
    through the uploaded lists (replayed), who was matched in the log, who was served ads
    because of it; None where the data has no such table."""
    uploads = report.get("uploads")
    deliveries = report.get("deliveries")
    return [
        ("held a security-only contact (exposed)", report["exposed_accounts"]),
        ("matched through uploaded lists (replay)",
         uploads["accounts"] if isinstance(uploads, dict) else None),
        ("matched in the log (caused - flagged)", report["affected_accounts"]),
        ("served ads because of it",
         deliveries["accounts"] if isinstance(deliveries, dict) else None),
    ]


def _funnel(result: ReplayResult) -> Figure:
    stages = funnel_stages(result.report)
    figure = _figure(7.0, 2.4)
    ax = figure.add_subplot()
    labels = [label for label, _ in stages][::-1]
    uppers = [(figure_ or {}).get("upper", 0) for _, figure_ in stages][::-1]
    lowers = [(figure_ or {}).get("lower", 0) for _, figure_ in stages][::-1]
    ax.barh(labels, uppers, color=COLORS["upper"], label="upper bound")
    ax.barh(labels, lowers, color=COLORS["lower"], label="lower bound (certain)")
    for y, (_label, figure_) in enumerate(stages[::-1]):
        text = ("no data" if figure_ is None else
                f"{figure_['lower']:,} - {figure_['upper']:,}")
        ax.annotate(text, xy=(uppers[y], y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_xlim(0, max(max(uppers, default=1) * 1.3, 1))
    ax.set_xlabel("accounts")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return figure


_BUILDERS = {"funnel": _funnel,
             "matches_per_week": _matches_per_week,
             "accounts_by_country": _accounts_by_country,
             "estimate_range": _estimate_range}


def render(result: ReplayResult, name: str, fmt: str) -> bytes:
    """One chart as `png` or `svg` bytes, identical for the same result."""
    import matplotlib

    matplotlib.use("Agg")  # before any other matplotlib import: no display, no GUI toolkit
    rc: Any = _RC
    with matplotlib.rc_context(rc):
        figure = _BUILDERS[name](result)
        buffer = io.BytesIO()
        metadata = _PNG_METADATA if fmt == "png" else _SVG_METADATA
        figure.savefig(buffer, format=fmt, metadata=metadata, dpi=100)
    return buffer.getvalue()


def render_all(result: ReplayResult, fmt: str) -> dict[str, bytes]:
    return {name: render(result, name, fmt) for name in CHARTS}
