"""The notification to the supervisory authority (GDPR Art. 33): regulator.md, .html, .pdf, .json.

The content is `edpb.build`: the six sections of the EDPB's draft common template, each
field computed, the controller's statement, or "not provided". This module lays it out as
blocks (Markdown and HTML through markdown.py and html.py, PDF with fpdf2 below) and as
regulator.json (docs/regulator-json.md). The notification is confidential: counts are
exact. The publication format with small-count suppression is public_notice.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from incidentscope.config import Incident
from incidentscope.diff import FollowUp
from incidentscope.report import edpb
from incidentscope.report.document import Block, Bullets, Heading, Para, Table, printable
from incidentscope.report.edpb_fields import COMPUTED, SOURCE_WORDS
from incidentscope.results import ReplayResult

# The PDF's creation date: a constant, as reproducible builds do (no date of "now").
FIXED_PDF_DATE = datetime(2000, 1, 1, tzinfo=UTC)
CONFIDENTIAL = ("Confidential: for the supervisory authority. Counts are exact (no small-count "
                "suppression); this document is not for publication (the public notice, "
                "public-notice.md, is).")


def _articles(answers: str) -> str:
    parts = [p.strip() for p in answers.split(";") if p.strip().startswith(("Art.", "UK "))]
    return f" ({'; '.join(parts)})" if parts else ""


def _section_blocks(section: edpb.Section) -> list[Block]:
    rows = tuple((f.label + _articles(f.answers), f.text(), SOURCE_WORDS[f.source])
                 for f in section.fields)
    out: list[Block] = [Heading(2, f"{section.number}. {section.title}"),
                        Table(("field", "value", "source"), rows, (False, False, False))]
    for item in section.fields:
        if item.table is not None:
            out += [Para(f"{item.label}:"),
                    Table(item.table.header, item.table.rows, item.table.numeric)]
    methods = [f"{f.label}: {f.method}" for f in section.fields
               if f.source == COMPUTED and f.method]
    if methods:
        out += [Para("How the computed fields were obtained:"), Bullets(tuple(methods))]
    return out


def layout(notice: edpb.Notice) -> list[Block]:
    out: list[Block] = [
        Heading(1, f"Personal data breach notification: {notice.title}"),
        Para(f"Notification to the supervisory authority under Article 33 GDPR, following "
             f"the sections of the {edpb.TEMPLATE}. Incident reference {notice.incident_id}."),
        Para(CONFIDENTIAL, strong=True),
        Para("Each field states its source: computed (by incidentscope from the replay, with "
             "its method below the section), the controller's statement (from the incident "
             "file, copied as written and not checked by the tool), or not provided."),
        Heading(2, "Summary"),
        Bullets(notice.summary),
    ]
    for section in notice.sections:
        out += _section_blocks(section)
    return out


def blocks(result: ReplayResult, incident: Incident, follow_up: FollowUp | None = None
           ) -> list[Block]:
    return layout(edpb.build(result, incident, follow_up))


def to_json(notice: edpb.Notice) -> str:
    """regulator.json: every field with its value, source and the article it answers."""
    return json.dumps(notice.as_json(), indent=2, ensure_ascii=False) + "\n"


def title(result: ReplayResult) -> str:
    return f"Personal data breach notification: {result.report['incident']['title']}"


def _font_files() -> tuple[str, str]:
    """DejaVu Sans as bundled with matplotlib: the same glyphs on every machine."""
    import matplotlib

    base = f"{matplotlib.get_data_path()}/fonts/ttf"
    return f"{base}/DejaVuSans.ttf", f"{base}/DejaVuSans-Bold.ttf"


# A table cell longer than this (characters) could make its row taller than a page.
LONG_CELL = 1000


def to_pdf(document: list[Block], doc_title: str) -> bytes:
    """The blocks as an A4 PDF (fpdf2), with no creation date: same input, same bytes."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold = _font_files()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_PDF_DATE)  # no date of "now": same input, same bytes
    pdf.set_title(printable(doc_title))  # the metadata is not a block: made safe here
    pdf.set_producer("incidentscope")
    pdf.set_creator("incidentscope")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, 16)
    pdf.add_page()
    sizes = {1: 15.0, 2: 12.0}
    for block in document:
        if isinstance(block, Heading):
            pdf.set_font("DejaVu", "B", sizes.get(block.level, 11.0))
            pdf.ln(3 if block.level > 1 else 0)
            pdf.multi_cell(0, 6.5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Para):
            pdf.set_font("DejaVu", "B" if block.strong else "", 9.5)
            pdf.multi_cell(0, 5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(block, Bullets):
            pdf.set_font("DejaVu", "", 9.5)
            for item in block.items:
                pdf.multi_cell(0, 5, f"•  {item}", align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(block, Table) and any(
                len(cell) > LONG_CELL for row in block.rows for cell in row):
            # fpdf2 cannot break a table row across pages: a row taller than a page would
            # fail the whole document. Such a table is laid out row by row, as text.
            pdf.set_font("DejaVu", "", 9)
            for row in block.rows:
                for label, cell in zip(block.header, row, strict=True):
                    text = f"{label}: {cell}" if label else cell
                    pdf.multi_cell(0, 5, text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
        elif isinstance(block, Table):
            pdf.set_font("DejaVu", "", 9)
            headed = any(block.header)
            align = tuple("RIGHT" if block.right(i) else "LEFT"
                          for i in range(len(block.header)))
            widths = tuple(max(8, min(48, max(len(r[i]) for r in (block.header, *block.rows))))
                           for i in range(len(block.header)))
            with pdf.table(text_align=align, col_widths=widths, first_row_as_headings=headed,
                           line_height=5,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(244, 246, 248)),
                           borders_layout="HORIZONTAL_LINES") as table:
                for row in ((block.header,) if headed else ()) + block.rows:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(2)
    return bytes(pdf.output())
