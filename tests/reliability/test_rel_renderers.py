"""Case 15: every renderer over generated hostile text in every id and name column.

Each output is parsed back (CommonMark with tables, html.parser, the PDF's text, the csv
module, polars) and each value is found as one cell or one text node, exactly as the
document model shows it, never as structure: the block structure equals that of the same
document with every text replaced by a plain letter.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from cli_inproc import invoke
from hostile import Hostile, build, hostile_text, hostile_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from relhelp import Figure, query
from rich.cells import cell_len
from rich.console import Console

from incidentscope.report import exports, json_report, markdown, regulator, terminal
from incidentscope.report.document import Block, Bullets, Chart, Heading, Para, Table
from incidentscope.report.html import to_html
from workspace_fixtures import write_small_case

# Examples per run: CI (derandomized, bounded) and the long run (`pytest -m slow`, or
# `python -m incidentscope.selfcheck --long`).
CI, SLOW = 40, 1000
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
MD = MarkdownIt("commonmark").enable("table")


def printable(text: str) -> str:
    """A value as the document model shows it in a cell (one line, escapes visible)."""
    return Table((text,), ()).header[0]


# -- what the model says -------------------------------------------------------------------
def texts(blocks: list[Block], with_charts: bool = False, html: bool = False) -> list[str]:
    """Every text of the blocks, in document order, as the model holds it (HTML leaves out
    a header row without text)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading | Para):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out += list(block.items)
        elif isinstance(block, Table):
            if any(block.header) or not html:
                out += list(block.header)
            for row in block.rows:
                out += list(row)
        elif with_charts:
            out += [block.alt, block.alt]  # alt text and caption
    return out


def plain(blocks: list[Block]) -> list[Block]:
    """The same document with every text replaced by one letter: the structure to expect."""
    def x(text: str) -> str:
        return "x" if text else ""

    out: list[Block] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(Heading(block.level, x(block.text)))
        elif isinstance(block, Para):
            out.append(Para(x(block.text), block.strong))
        elif isinstance(block, Bullets):
            out.append(Bullets(tuple(x(i) for i in block.items)))
        elif isinstance(block, Table):
            out.append(Table(tuple(x(h) for h in block.header),
                             tuple(tuple(x(c) for c in row) for row in block.rows),
                             block.numeric))
        else:
            out.append(Chart(block.name, x(block.alt)))
    return out


# -- Markdown ------------------------------------------------------------------------------
def markdown_problems(blocks: list[Block]) -> list[str]:
    tokens = MD.parse(markdown.to_markdown(blocks, chart_dir=None))
    expected = MD.parse(markdown.to_markdown(plain(blocks), chart_dir=None))
    shape = [(t.type, t.tag) for t in tokens if t.type != "inline"]
    if shape != [(t.type, t.tag) for t in expected if t.type != "inline"]:
        return ["markdown: the block structure changed"]
    problems = []
    found = []
    for token in (t for t in tokens if t.type == "inline"):
        kinds = {c.type for c in token.children or []} - {"text", "strong_open", "strong_close"}
        if kinds:
            problems.append(f"markdown: inline structure {sorted(kinds)}")
        found.append("".join(c.content for c in token.children or [] if c.type == "text"))
    if found != texts(blocks):
        problems += [f"markdown: text {w!r} shown as {g!r}"
                     for w, g in zip(texts(blocks), found, strict=False) if w != g][:3]
    return problems


# -- HTML ----------------------------------------------------------------------------------
class _Texts(HTMLParser):
    """Start tags in order, and the text of each element that holds text."""

    HOLDERS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "th", "td", "title",
                         "footer", "figcaption"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.HOLDERS:
            self._open = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HOLDERS and self._open is not None:
            self.texts.append("".join(self._open))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)


def parse_html(document: str) -> _Texts:
    parser = _Texts()
    parser.feed(document)
    parser.close()
    return parser


def html_problems(blocks: list[Block], title: str, footer: str) -> list[str]:
    got = parse_html(to_html(blocks, title, {}, footer))
    want = parse_html(to_html(plain(blocks), "x", {}, "x"))
    if got.tags != want.tags:
        return ["html: the element structure changed"]
    expected = [printable(title), *texts(blocks, html=True), printable(footer)]
    problems = [f"html: text {w!r} shown as {g!r}"
                for w, g in zip(expected, got.texts, strict=False) if w != g][:3]
    if len(got.texts) != len(expected):
        problems.append("html: a text was split or lost")
    return problems


# -- PDF -----------------------------------------------------------------------------------
def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_problems(blocks: list[Block], title: str) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(regulator.to_pdf(blocks, title)))
    text = _squeeze("".join(page.extract_text() or "" for page in reader.pages))
    problems = []
    # Headings, paragraphs and list items are laid out whole; a table cell is checked when
    # it fits one line (longer ones wrap within the cell, and a PDF's text interleaves them).
    wanted = [b.text for b in blocks if isinstance(b, Heading | Para)]
    wanted += [item for b in blocks if isinstance(b, Bullets) for item in b.items]
    wanted += [c for b in blocks if isinstance(b, Table) for row in b.rows for c in row
               if len(c) <= 8]
    for value in wanted:
        if _squeeze(value) not in text:
            problems.append(f"pdf: {value[:40]!r} not found as laid out")
    return problems


# -- the terminal --------------------------------------------------------------------------
BOX = set("│┃┏┳┓┡╇┩└┴┘━─╭╮╰╯┌┐├┤┼")
MARK = "¤"  # a placeholder of one cell, in none of the summary's own words


def _cells(line: str) -> list[str]:
    """A line as terminal cells: a wide character takes two, a zero-width one joins."""
    out: list[str] = []
    for char in line:
        width = cell_len(char)
        if width == 0 and out:
            out[-1] += char
        else:
            out += [char] + [""] * (width - 1)
    return out


def _render(result: object) -> list[str]:
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None,
                      force_terminal=False, highlight=False, soft_wrap=False)
    terminal.print_summary(result, console)  # type: ignore[arg-type]
    return console.export_text().splitlines()


def terminal_problems(values: Hostile) -> list[str]:
    result, _ = build(values)
    lines = _render(result)

    def mark(text: str) -> str:
        return MARK * cell_len(printable(text))

    placeholder = Hostile(tuple((mark(a), mark(b), mark(c)) for a, b, c in values.campaigns),
                          values.countries, values.account_ids, mark(values.title),
                          values.incident_id, values.purpose, values.report_text,
                          values.cell_text)
    shape = _render(build(placeholder)[0])
    if len(lines) != len(shape):
        return [f"terminal: {len(lines)} lines, {len(shape)} expected"]
    problems = []
    shown: list[str] = []
    for line, model in zip(lines, shape, strict=True):
        got, want = _cells(line), _cells(model)
        if len(got) != len(want) or len(got) > 80:
            problems.append(f"terminal: a line of {len(got)} cells, {len(want)} expected")
            continue
        if CONTROL.search(line):
            problems.append("terminal: a control character reached the terminal")
        if any(w in BOX and g != w for g, w in zip(got, want, strict=True)):
            problems.append("terminal: the frame or a column border moved")
        for run in re.finditer(f"{MARK}+…?", "".join(c or "\0" for c in want)):
            shown.append("".join(got[run.start():run.end()]))
    campaigns = [v for row in values.campaigns[:5] for v in row[:2]]
    for value, text in zip([values.title, *campaigns], shown, strict=False):
        full = printable(value)
        if not (text == full or (text.endswith("…") and full.startswith(text[:-1].rstrip()))):
            problems.append(f"terminal: {full[:30]!r} shown as {text[:30]!r}")
    return problems


# -- CSV, Parquet, JSON --------------------------------------------------------------------
def _defused(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else value


def export_problems(values: Hostile) -> list[str]:
    result, incident = build(values)
    files = exports.render_all(result, incident)
    problems = []

    def rows(name: str) -> list[list[str]]:
        text = files[name].decode("utf-8")
        return list(csv.reader(io.StringIO(text, newline="")))[1:]

    want = [[_defused(a), _defused(b), _defused(c)] for a, b, c in values.campaigns]
    if [r[:3] for r in rows("campaigns.csv")] != want:
        problems.append("campaigns.csv: a cell differs from its value (or is not defused)")
    notification = rows("notification.csv")
    if [r[0] for r in notification] != [str(i) for i in values.account_ids]:
        problems.append("notification.csv: an account id is not written as the number it is")
    countries = [values.countries[i % len(values.countries)]
                 for i in range(len(values.account_ids))]
    if [r[3] for r in notification] != [_defused(c) for c in countries]:
        problems.append("notification.csv: a country differs from its value")
    frame = pl.read_parquet(io.BytesIO(files["campaigns.parquet"]))
    if frame.select("campaign", "advertiser", "name").rows() != list(values.campaigns):
        problems.append("campaigns.parquet: a value changed")
    frame = pl.read_parquet(io.BytesIO(files["notification.parquet"]))
    if frame["account_id"].to_list() != [str(i) for i in values.account_ids] or \
            frame["country"].to_list() != countries:
        problems.append("notification.parquet: a value changed")
    if json.loads(json_report.render(result)) != result.report:
        problems.append("report.json: does not read back as the report")
    return problems


def all_problems(values: Hostile, pdf: bool = False) -> tuple[int, list[str]]:
    """(cells checked, problems) for every renderer of one example (the PDF, at 0.4 s an
    example, only with `pdf`)."""
    result, incident = build(values)
    postmortem = markdown.postmortem(result)
    notice = regulator.blocks(result, incident)
    if pdf:
        return len(texts(notice)), pdf_problems(notice, regulator.title(result))
    footer = f"Made by incidentscope from the replay of incident {values.incident_id}."
    problems = [*markdown_problems(postmortem), *markdown_problems(notice),
                *html_problems(postmortem, values.title, footer),
                *html_problems(notice, regulator.title(result), footer),
                *terminal_problems(values), *export_problems(values)]
    checked = 2 * len(texts(postmortem)) + 2 * len(texts(notice)) + 4 * len(values.campaigns)
    return checked, problems


SETTINGS = {"deadline": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large]}


def _check(values: Hostile, figure: Figure, pdf: bool = False) -> None:
    checked, problems = all_problems(values, pdf)
    figure.tried += checked
    if problems:
        figure.crashes += 1
        figure.notes.extend(problems[:3])
    assert not problems, problems


@pytest.mark.case(24)
@settings(max_examples=CI, derandomize=True, **SETTINGS)  # type: ignore[arg-type]
@given(values=hostile_values())
def test_every_renderer_shows_each_hostile_value_as_one_cell(values: Hostile,
                                                             figure: Figure) -> None:
    _check(values, figure)


@pytest.mark.slow
@pytest.mark.case(24)
@settings(max_examples=SLOW, **SETTINGS)  # type: ignore[arg-type]
@given(values=hostile_values())
def test_every_renderer_shows_each_hostile_value_as_one_cell_long(values: Hostile,
                                                                  figure: Figure) -> None:
    _check(values, figure)


@pytest.mark.case(24)
@settings(max_examples=CI // 4, derandomize=True, **SETTINGS)  # type: ignore[arg-type]
@given(values=hostile_values())
def test_the_regulator_pdf_lays_out_each_hostile_value(values: Hostile, figure: Figure) -> None:
    _check(values, figure, pdf=True)


@pytest.mark.slow
@pytest.mark.case(24)
@settings(max_examples=SLOW // 4, **SETTINGS)  # type: ignore[arg-type]
@given(values=hostile_values())
def test_the_regulator_pdf_lays_out_each_hostile_value_long(values: Hostile,
                                                            figure: Figure) -> None:
    _check(values, figure, pdf=True)


def _model_check(text: str) -> None:
    for block in (Heading(1, text), Para(text), Bullets((text,)), Table((text,), ((text,),)),
                  Chart("x", text)):
        for value in texts([block], with_charts=True):
            assert not CONTROL.search(value) and "\t" not in value and "\n" not in value
            assert printable(value) == value  # normalized once: idempotent
    assert printable(text).replace("\\r", "").count("\r") == 0


@pytest.mark.case(24)
@settings(max_examples=CI * 5, deadline=None, derandomize=True)
@given(text=hostile_text(max_tokens=12))
def test_the_model_leaves_no_control_character_to_a_renderer(text: str) -> None:
    _model_check(text)


@pytest.mark.slow
@pytest.mark.case(24)
@settings(max_examples=SLOW * 5, deadline=None)
@given(text=hostile_text(max_tokens=12))
def test_the_model_leaves_no_control_character_to_a_renderer_long(text: str) -> None:
    _model_check(text)


# -- one end-to-end case through `incidentscope run` -----------------------------------------
def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")  # CRLF, as R1's file
        writer.writerow(header)
        writer.writerows(rows)


def _hostile_case(root: Path, ids: list[str]) -> tuple[Path, Path]:
    """The small case with hostile campaign, advertiser, audience and partner ids and
    campaign names (ids[0:2] campaigns, [2:4] advertisers, [4:7] audiences, [7] partner,
    [8:10] names)."""
    incident, data = write_small_case(root)
    c1, c2, adv1, adv2, aud1, aud2, aud3, partner, name1, name2 = ids
    _write_csv(data / "campaigns.csv", ["campaign_id", "advertiser_id", "name"],
               [[c1, adv1, name1], [c2, adv2, name2]])
    _write_csv(data / "campaign_audiences.csv", ["campaign_id", "audience_id"],
               [[c1, aud1], [c2, aud2]])
    _write_csv(data / "audiences.csv", ["audience_id", "advertiser_id", "audience_type",
                                        "partner_id", "notes"],
               [[aud1, adv1, "tailored", "", "x"], [aud2, adv2, "partner", partner, "y"],
                [aud3, adv2, "lookalike", "", "z"]])
    text = (data / "matches.csv").read_text()
    for old, new in (("aud1", aud1), ("aud2", aud2), ("aud3", aud3)):
        text = text.replace(f",{old},", f",{_quoted(new)},")
    (data / "matches.csv").write_text(text, newline="")
    text = (data / "deliveries.csv").read_text().replace(",c1,", f",{_quoted(c1)},")
    (data / "deliveries.csv").write_text(text, newline="")
    return incident, data


def _quoted(value: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([value])
    return buffer.getvalue()


IDS = st.lists(hostile_text(max_tokens=4, long=False).filter(
    lambda v: v.strip() and "\x00" not in v), min_size=10, max_size=10, unique=True)
E2E = {"deadline": None,
       "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}


def _through_run(ids: list[str], tmp_path_factory: pytest.TempPathFactory,
                 figure: Figure) -> None:
    root = tmp_path_factory.mktemp("hostile-run")
    incident, data = _hostile_case(root, ids)
    code, stdout, stderr = invoke("run", str(incident), "--data", str(data),
                                          "--out", str(root / "out"))
    problems = [] if code == 0 else [f"run: exit {code}: {stderr.splitlines()[-1:]}"]
    if code == 0:
        # The affected campaigns, with their values as stored: campaigns.parquet keeps them
        # as they are (a campaign without an in-scope match is in no report).
        stored = set(query(root / "incident.duckdb",
                           "SELECT campaign_id, advertiser_id, name FROM campaigns"))
        shown = pl.read_parquet(root / "out" / "campaigns.parquet").select(
            "campaign", "advertiser", "name").rows()
        md_cells = [[c.content for c in t.children or [] if c.type == "text"]
                    for t in MD.parse((root / "out" / "report.md").read_text("utf-8"))
                    if t.type == "inline"]
        md_text = {"".join(cell) for cell in md_cells}
        html_text = set(parse_html((root / "out" / "report.html").read_text("utf-8")).texts)
        with (root / "out" / "campaigns.csv").open(newline="", encoding="utf-8") as handle:
            csv_rows = {tuple(r[:3]) for r in list(csv.reader(handle))[1:]}
        if not shown:
            problems.append("no campaign reached the reports")
        for row in shown:
            figure.tried += 4 * len(row)
            if tuple(row) not in stored:
                problems.append(f"campaigns.parquet: {row!r} is not the stored campaign")
            for value in row:
                if value is not None and printable(str(value)) not in md_text:
                    problems.append(f"report.md: {value!r} is not one cell")
                if value is not None and printable(str(value)) not in html_text:
                    problems.append(f"report.html: {value!r} is not one text node")
            if tuple(_defused(str(v or "")) for v in row) not in csv_rows:
                problems.append(f"campaigns.csv: {row!r} not a row")
        if CONTROL.search(stdout) or CONTROL.search(stderr):
            problems.append("terminal: a control character reached the terminal")
    if problems:
        figure.crashes += 1
        figure.notes.extend(problems[:3])
    assert not problems, problems





@pytest.mark.case(24)
@settings(max_examples=2, derandomize=True, **E2E)  # type: ignore[arg-type]
@given(ids=IDS)
def test_hostile_ids_through_run(ids: list[str], tmp_path_factory: pytest.TempPathFactory,
                                 figure: Figure) -> None:
    _through_run(ids, tmp_path_factory, figure)


@pytest.mark.slow
@pytest.mark.case(24)
@settings(max_examples=25, **E2E)  # type: ignore[arg-type]
@given(ids=IDS)
def test_hostile_ids_through_run_long(ids: list[str], tmp_path_factory: pytest.TempPathFactory,
                                      figure: Figure) -> None:
    _through_run(ids, tmp_path_factory, figure)


@pytest.mark.case(24)
def test_a_table_cell_longer_than_a_page_is_laid_out_in_the_pdf(figure: Figure) -> None:
    values = Hostile(campaigns=(("c1", "adv1", "Spring"),), countries=("US",),
                     account_ids=(1,), title="t", incident_id="i", purpose="two_factor",
                     report_text="x", cell_text="Example Controller Ltd. " * 300)
    result, incident = build(values)
    figure.tried += 1
    from pypdf import PdfReader

    pdf = regulator.to_pdf(regulator.blocks(result, incident), regulator.title(result))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Example Controller Ltd." in text
