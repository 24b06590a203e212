"""HTML reports: one self-contained file each (CSS inline, charts as SVG data: URIs).

A Content-Security-Policy forbids every fetch except `data:` images, so the file
renders the same offline and cannot leak a request when opened.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape as _html_escape
from importlib import resources

from incidentscope.report.document import Block, Bullets, Chart, Heading, Para, Table, printable

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def escape(text: str) -> str:
    """Text as HTML: markup characters as references, control characters as visible escapes
    (the blocks have done so already; the title and the footer come from outside them)."""
    return _html_escape(printable(text), quote=True)


def stylesheet() -> str:
    return (resources.files("incidentscope").joinpath("report", "templates", "report.css")
            .read_text("utf-8"))


def _table(block: Table) -> list[str]:
    def cell(tag: str, i: int, text: str) -> str:
        attr = ' class="num"' if block.right(i) else ""
        return f"<{tag}{attr}>{escape(text)}</{tag}>"

    out = ["<table>"]
    if any(block.header):
        out.append("<thead><tr>" + "".join(cell("th", i, h) for i, h in
                                           enumerate(block.header)) + "</tr></thead>")
    out.append("<tbody>")
    out += ["<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
            for row in block.rows]
    return [*out, "</tbody>", "</table>"]


def to_html(blocks: Sequence[Block], title: str, svgs: Mapping[str, bytes],
            footer: str = "") -> str:
    """The document as HTML; `svgs` maps a chart name to its SVG bytes."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{escape(block.text)}</h{level}>")
        elif isinstance(block, Para):
            css = ' class="strong"' if block.strong else ""
            body.append(f"<p{css}>{escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            body += ["<ul>", *(f"<li>{escape(item)}</li>" for item in block.items), "</ul>"]
        elif isinstance(block, Table):
            body += _table(block)
        elif isinstance(block, Chart) and block.name in svgs:
            data = base64.b64encode(svgs[block.name]).decode("ascii")
            body += [f'<figure class="chart" id="chart-{escape(block.name)}">',
                     f'<img alt="{escape(block.alt)}" src="data:image/svg+xml;base64,{data}">',
                     f"<figcaption>{escape(block.alt)}</figcaption>", "</figure>"]
    if footer:
        body.append(f"<footer>{escape(footer)}</footer>")
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{stylesheet()}</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    return "\n".join([*head, *body, "</main>", "</body>", "</html>"]) + "\n"
