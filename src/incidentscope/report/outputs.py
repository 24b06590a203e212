"""Every file a run writes into OUT, by name. One place decides what a run produces."""

from __future__ import annotations

from collections.abc import Callable

from incidentscope.config import Incident
from incidentscope.report import charts, exports, html, json_report, markdown, regulator
from incidentscope.results import ReplayResult

# `incidentscope report --format F` renders one of these (table is the terminal summary).
FORMATS = ("table", "json", "md", "html", "regulator-md", "regulator-html", "regulator-pdf")
BINARY_FORMATS = ("regulator-pdf",)
_FOOTER = "Made by incidentscope from the replay of incident {id}."


def _postmortem_html(result: ReplayResult) -> bytes:
    incident = result.report["incident"]
    return html.to_html(markdown.postmortem(result), incident["title"],
                        charts.render_all(result, "svg"),
                        _FOOTER.format(id=incident["id"])).encode("utf-8")


def _regulator_html(result: ReplayResult, incident: Incident) -> bytes:
    return html.to_html(regulator.blocks(result, incident), regulator.title(result), {},
                        _FOOTER.format(id=incident.id)).encode("utf-8")


def _postmortem_md(result: ReplayResult) -> dict[str, bytes]:
    files = {"report.md": markdown.render(result, chart_dir="charts").encode("utf-8")}
    files.update({f"charts/{name}.png": png
                  for name, png in charts.render_all(result, "png").items()})
    return files


def render_format(result: ReplayResult, incident: Incident, fmt: str,
                  name: str | None = None) -> dict[str, bytes]:
    """One format: its file (called `name`, or the default name) and any companion files."""
    builders: dict[str, Callable[[], dict[str, bytes]]] = {
        "json": lambda: {"report.json": json_report.render(result).encode("utf-8")},
        "md": lambda: _postmortem_md(result),
        "html": lambda: {"report.html": _postmortem_html(result)},
        "regulator-md": lambda: {"regulator.md": markdown.to_markdown(
            regulator.blocks(result, incident)).encode("utf-8")},
        "regulator-html": lambda: {"regulator.html": _regulator_html(result, incident)},
        "regulator-pdf": lambda: {"regulator.pdf": regulator.to_pdf(
            regulator.blocks(result, incident), regulator.title(result))},
    }
    if fmt not in builders:
        raise ValueError(f"unknown report format {fmt!r}")
    files = builders[fmt]()
    if name is not None:
        main = next(iter(files))
        files = {(name if key == main else key): value for key, value in files.items()}
    return files


# The top-level names a run writes into OUT (files, and folders such as charts/): a run
# refuses an OUT where one of them is an input (api.check_out_dir). A test keeps this list
# and `render_all` in step.
TOP_LEVEL_NAMES = frozenset({
    "report.json", "report.md", "charts", "report.html", "regulator.md", "regulator.html",
    "regulator.pdf", "notification.csv", "notification.parquet", "campaigns.csv",
    "campaigns.parquet", "accounts_by_country.csv", "accounts_by_country.parquet",
    "manifest.json",
})


def render_all(result: ReplayResult, incident: Incident) -> dict[str, bytes]:
    """File name (relative to OUT) -> content. Deterministic for the same result."""
    files: dict[str, bytes] = {}
    for fmt in FORMATS[1:]:
        files.update(render_format(result, incident, fmt))
    files.update(exports.render_all(result, incident))
    return dict(sorted(files.items()))
