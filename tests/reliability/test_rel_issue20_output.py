"""Regression tests for issue 20's output and option defects: R1, C2, D6, C9, L2, and log
lines that wrapped. Each failed before its fix; the generative cases (14, 15) cover their
families."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from cli_inproc import invoke
from hostile import Hostile, build
from markdown_it import MarkdownIt
from relhelp import Figure, cli, env

from incidentscope.report import exports, markdown
from workspace_fixtures import write_small_case

MD = MarkdownIt("commonmark").enable("table")


def _headings_and_cells(markdown_text: str) -> tuple[list[str], list[str]]:
    tokens = MD.parse(markdown_text)
    headings, cells = [], []
    for before, token in itertools.pairwise(tokens):
        if token.type == "inline":
            (headings if before.type == "heading_open" else cells).append(token.content)
    return headings, ["".join(c.content for c in t.children or [] if c.type == "text")
                      for t in tokens if t.type == "inline"]


# -- R1: a bare CR in a campaign name (a CRLF file) made a Markdown heading ------------------
@pytest.mark.case(24)
def test_r1_a_bare_cr_in_a_campaign_name_stays_in_its_cell(tmp_path: Path,
                                                            figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    with (data / "campaigns.csv").open("w", newline="") as handle:
        handle.write('campaign_id,advertiser_id,name\r\nc1,adv1,"Spring\r# Injected heading"'
                     "\r\nc2,adv2,Fall\r\n")
    figure.tried += 1
    code, _, stderr = invoke("run", str(incident), "--data", str(data), "--out",
                             str(tmp_path / "out"), "-q")
    assert code == 0, stderr
    text = (tmp_path / "out" / "report.md").read_text("utf-8")
    headings, cells = _headings_and_cells(text)
    assert not any("Injected" in h for h in headings), headings
    assert "Spring\\r# Injected heading" in cells  # one cell, the CR shown as an escape
    assert "\r" not in text
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert "<td>Spring\\r# Injected heading</td>" in html


# -- C2: square brackets in ids were read as rich markup -------------------------------------
@pytest.mark.case(24)
def test_c2_brackets_in_ids_are_shown_not_read_as_markup(tmp_path: Path,
                                                         figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    link = "[link=https://e.org]c1[/link]"
    (data / "campaigns.csv").write_text(
        f"campaign_id,advertiser_id,name\n{link},adv1[/x],Spring\nc2,adv2,Fall\n")
    (data / "campaign_audiences.csv").write_text(
        f"campaign_id,audience_id\n{link},aud1\nc2,aud2\n")
    (data / "audiences.csv").write_text(
        "audience_id,advertiser_id,audience_type,partner_id,notes\n"
        "aud1,adv1[/x],tailored,,x\naud2,adv2,partner,p1,y\naud3,adv2,lookalike,,z\n")
    figure.tried += 1
    code, stdout, stderr = invoke("run", str(incident), "--data", str(data), "--out",
                                  str(tmp_path / "out"), "-q")
    assert code == 0, stderr  # was 70 (MarkupError), after OUT was written
    assert link in stdout and "adv1[/x]" in stdout


# -- D6: a negative account id was defused in notification.csv but not in the Parquet --------
@pytest.mark.case(12)
def test_d6_a_negative_account_id_is_a_number_not_a_formula(figure: Figure) -> None:
    values = Hostile(campaigns=(("-cmp", "=adv", "@name"),), countries=("US",),
                     account_ids=(-5, 4032367444756589286, -9223372036854775808),
                     title="t", incident_id="i", purpose="two_factor", report_text="x",
                     cell_text="x")
    result, incident = build(values)
    files = exports.render_all(result, incident)
    rows = list(csv.reader(io.StringIO(files["notification.csv"].decode(), newline="")))
    parquet = pl.read_parquet(io.BytesIO(files["notification.parquet"]))
    figure.tried += 3
    assert [r[0] for r in rows[1:]] == parquet["account_id"].to_list() == [
        "-5", "4032367444756589286", "-9223372036854775808"]
    campaigns = list(csv.reader(io.StringIO(files["campaigns.csv"].decode(), newline="")))
    assert campaigns[1][:3] == ["'-cmp", "'=adv", "'@name"]  # text columns stay defused


# -- C9: options without a range ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c9")
    incident, data = write_small_case(root)
    assert invoke("load", str(incident), "--data", str(data), "-q")[0] == 0
    return incident


C9 = [
    (["replay", "{incident}", "--memory-limit", "lots"], "--memory-limit"),
    (["replay", "{incident}", "--memory-limit", "0"], "--memory-limit"),
    (["replay", "{incident}", "--memory-limit", "99999999999TB"], "--memory-limit"),
    (["replay", "{incident}", "--threads", "-3"], "--threads"),
    (["replay", "{incident}", "--threads", "0"], "--threads"),
    (["generate", "{tmp}/g", "--accounts", "0"], "--accounts"),
    (["generate", "{tmp}/g", "--file-format", "xlsx"], "--file-format"),
    (["generate", "{tmp}/g", "--identifier-share", "7"], "--identifier-share"),
    (["generate", "{tmp}/g", "--identifier-share", "nan"], "--identifier-share"),
    (["generate", "{tmp}/g", "--snapshot-every", "0d"], "--snapshot-every"),
    (["generate", "{tmp}/g", "--matches-total", "-5"], "--matches-total"),
    (["generate", "{tmp}/g", "--seed", "-1"], "--seed"),
    (["explain", "{incident}", "99999999999999999999"], "account_id"),
]


@pytest.mark.case(23)
@pytest.mark.parametrize(("args", "named"), C9, ids=[" ".join(a[2:]) for a, _ in C9])
def test_c9_an_option_out_of_range_is_a_usage_error(args: list[str], named: str, small: Path,
                                                    tmp_path: Path, figure: Figure) -> None:
    figure.tried += 1
    argv = [a.format(incident=small, tmp=tmp_path) for a in args]
    code, stdout, stderr = invoke(*argv)
    assert (code, stdout) == (64, ""), stderr  # was 70 (ValueError, ParserException, ...)
    assert len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stderr
    assert named in stderr
    value = re.escape(argv[-1])
    assert not re.search(rf"(?<![\w.]){value}(?![\w.])", stderr)  # the range, not the value
    assert not (tmp_path / "g").exists()


@pytest.mark.case(23)
def test_c9_threads_100000_is_refused_at_once(small: Path, figure: Figure) -> None:
    figure.tried += 1
    done = cli("replay", str(small), "-q", "--threads", "100000", timeout=60)  # hung 10 min
    assert done.returncode == 64, done.stderr
    assert done.stderr.decode().splitlines() == [
        "error: Invalid value for '--threads': Input should be less than or equal to 1024"]


@pytest.mark.case(23)
def test_c9_no_arguments_print_the_help_and_one_error_line(figure: Figure) -> None:
    figure.tried += 1
    code, stdout, stderr = invoke()
    assert code == 64
    assert "Usage" in stdout and "run" in stdout
    assert stderr.splitlines() == [
        "error: no command given; the commands are listed above ('incidentscope --help')"]


# -- L2: an unquoted phone number was echoed by "unexpected extra argument(s)" ------------------
@pytest.mark.case(23)
def test_l2_an_unquoted_phone_number_is_not_echoed(small: Path, figure: Figure) -> None:
    figure.tried += 1
    done = cli("lookup", str(small), "--phone", "+49", "151", "1234", "5678")
    stderr = done.stderr.decode()
    assert done.returncode == 64
    assert stderr.splitlines() == [
        "error: unexpected extra arguments; quote a value that holds spaces"]
    assert not any(part in stderr + done.stdout.decode() for part in ("151", "1234", "5678"))


# -- log lines wrapped at 80 columns when stderr was not a terminal ----------------------------
@pytest.mark.case(23)
def test_progress_lines_never_wrap_in_a_log(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    long_name = "deliveries_exported_from_the_ad_server_for_the_autumn_campaign_2019-08-08.csv"
    (data / "deliveries").mkdir()
    (data / "deliveries.csv").rename(data / "deliveries" / long_name)
    figure.tried += 1
    done = subprocess.run([sys.executable, "-m", "incidentscope", "load", str(incident),
                           "--data", str(data)], capture_output=True, text=True,
                          env=env(COLUMNS="80"), timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "deliveries:" in line]
    assert len(lines) == 1 and f"deliveries/{long_name}: 2 rows" in lines[0], done.stderr
    assert len(lines[0]) > 80


@pytest.mark.case(23)
def test_a_file_name_with_markup_and_control_characters_is_one_plain_log_line(
        tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "deliveries").mkdir()
    name = "d\x1b(0\rx.csv"  # ESC ( 0 switches a terminal to line drawing
    (data / "deliveries.csv").rename(data / "deliveries" / name)
    figure.tried += 2
    code, stdout, stderr = invoke("load", str(incident), "--data", str(data))
    assert code == 0, stderr
    assert "deliveries/d\\x1b(0\\rx.csv: 2 rows" in stderr
    assert "deliveries/d\\x1b(0\\rx.csv" in stdout  # the load table
    assert not any(c in stderr + stdout for c in "\x1b\r")
    # Brackets cannot reach it through a data file (refused as glob characters), but any
    # message is plain text: "[/dim]" was a MarkupError (exit 70).
    from cli_inproc import _Stream

    from incidentscope.cli import _progress

    err = _Stream()
    with contextlib.redirect_stderr(err):
        progress = _progress(False)
        progress("[/dim] [link=https://e.org]x[/link]")
    assert err.getvalue() == "[/dim] [link=https://e.org]x[/link]\n"


def test_markdown_escape_keeps_edges_and_block_starts() -> None:
    for text in ("  lead", "trail  ", "- item", "1. one", "> quote", "# head", "a | b",
                 "&amp;", "<b>x</b>", "x\\", "`code`", "~~s~~", "*e*", "_e_"):
        tokens = MD.parse(markdown.escape(text, block_start=True) + "\n")
        assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
        assert "".join(c.content for c in tokens[1].children or []) == text


# -- found by case 23: a file where a folder to write into was expected --------------------------
@pytest.mark.case(23)
@pytest.mark.parametrize(("args", "code"), [
    (["generate", "{file}"], 64), (["generate", "{file}/x"], 64), (["demo", "--out", "{file}"], 64),
    (["generate", "/proc/incidentscope-unwritable"], 74)])
def test_a_file_given_as_a_folder_to_write_is_one_line(args: list[str], code: int,
                                                       tmp_path: Path, figure: Figure) -> None:
    afile = tmp_path / "a-file.txt"
    afile.write_text("x\n")
    figure.tried += 1
    got, stdout, stderr = invoke(*(a.format(file=afile) for a in args))
    assert (got, stdout) == (code, ""), stderr  # was 70 (FileExistsError, NotADirectoryError)
    assert len(stderr.splitlines()) == 1 and stderr.startswith("error: ")
    assert afile.read_text() == "x\n"
