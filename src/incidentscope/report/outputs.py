"""Every file a run writes into OUT, by name. One place decides what a run produces."""

from __future__ import annotations

from collections.abc import Callable

from incidentscope.config import Incident
from incidentscope.diff import FollowUp
from incidentscope.outdir import Content
from incidentscope.report import (
    art34,
    charts,
    edpb,
    exports,
    html,
    json_report,
    markdown,
    public_notice,
    regulator,
)
from incidentscope.results import ReplayResult

# `incidentscope report --format F` renders one of these (table is the terminal summary;
# `regulator` is the four regulator files together, into a folder).
FORMATS = ("table", "json", "md", "html", "regulator-md", "regulator-html", "regulator-pdf",
           "regulator-json", "regulator", "public-notice", "public-notice-html")
BINARY_FORMATS = ("regulator-pdf",)
FOLDER_FORMATS = ("regulator",)
REGULATOR_FORMATS = ("regulator-md", "regulator-html", "regulator-pdf", "regulator-json")
_FOOTER = "Made by incidentscope from the replay of incident {id}."


def _postmortem_html(result: ReplayResult) -> bytes:
    incident = result.report["incident"]
    return html.to_html(markdown.postmortem(result), incident["title"],
                        charts.render_all(result, "svg"),
                        _FOOTER.format(id=incident["id"])).encode("utf-8")


def _postmortem_md(result: ReplayResult) -> dict[str, bytes]:
    files = {"report.md": markdown.render(result, chart_dir="charts").encode("utf-8")}
    files.update({f"charts/{name}.png": png
                  for name, png in charts.render_all(result, "png").items()})
    return files


def _regulator(notice: edpb.Notice, incident: Incident, fmt: str) -> dict[str, bytes]:
    document = regulator.layout(notice)
    doc_title = f"Personal data breach notification: {notice.title}"
    if fmt == "regulator-md":
        return {"regulator.md": markdown.to_markdown(document).encode("utf-8")}
    if fmt == "regulator-html":
        return {"regulator.html": html.to_html(document, doc_title, {}, _FOOTER.format(
            id=incident.id)).encode("utf-8")}
    if fmt == "regulator-pdf":
        return {"regulator.pdf": regulator.to_pdf(document, doc_title)}
    return {"regulator.json": regulator.to_json(notice).encode("utf-8")}


def render_format(result: ReplayResult, incident: Incident, fmt: str,
                  name: str | None = None, follow_up: FollowUp | None = None) -> dict[str, bytes]:
    """One format: its file (called `name`, or the default name) and any companion files.

    `follow_up` (a diff.FollowUp) makes the regulator formats a follow-up notification.
    """
    if fmt in (*REGULATOR_FORMATS, "regulator"):
        notice = edpb.build(result, incident, follow_up)
        files: dict[str, bytes] = {}
        for one in (REGULATOR_FORMATS if fmt == "regulator" else (fmt,)):
            files.update(_regulator(notice, incident, one))
        return files if fmt == "regulator" or name is None else {
            name: next(iter(files.values()))}
    builders: dict[str, Callable[[], dict[str, bytes]]] = {
        "json": lambda: {"report.json": json_report.render(result).encode("utf-8")},
        "md": lambda: _postmortem_md(result),
        "html": lambda: {"report.html": _postmortem_html(result)},
        "public-notice": lambda: {"public-notice.md": markdown.to_markdown(
            public_notice.blocks(result, incident)).encode("utf-8")},
        "public-notice-html": lambda: {"public-notice.html": html.to_html(
            public_notice.blocks(result, incident), public_notice.title(result), {},
            _FOOTER.format(id=incident.id)).encode("utf-8")},
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
    "regulator.json", "public-notice.md", "public-notice.html", "art34", "manifest.json",
})


def render_all(result: ReplayResult, incident: Incident) -> dict[str, Content]:
    """File name (relative to OUT) -> content (bytes, or a function that writes them: see
    outdir.Content). Deterministic for the same result."""
    files: dict[str, Content] = {}
    for fmt in FORMATS[1:]:
        if fmt not in REGULATOR_FORMATS:  # `regulator` builds the notification once for all
            files.update(render_format(result, incident, fmt))
    files.update(exports.render_all(result, incident))
    files.update(art34.render_all(result, incident))
    return dict(sorted(files.items()))
