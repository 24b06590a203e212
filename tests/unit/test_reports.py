"""The report formats of a run: what each file holds, what it must never hold, stable bytes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from incidentscope import api
from incidentscope.config import load_incident
from incidentscope.notification import Notification
from incidentscope.report import exports, public_notice, regulator
from incidentscope.report.art34 import LANGUAGES
from incidentscope.report.markdown import to_markdown
from incidentscope.samples import sample_dir
from workspace_fixtures import CANARY_EMAIL, CANARY_PHONE, write_small_case

EXPECTED = {
    "report.json", "report.md", "report.html", "regulator.md", "regulator.html",
    "regulator.pdf", "charts/matches_per_week.png", "charts/accounts_by_country.png",
    "charts/estimate_range.png", "notification.csv", "notification.parquet",
    "campaigns.csv", "campaigns.parquet", "accounts_by_country.csv",
    "accounts_by_country.parquet", "regulator.json", "public-notice.md", "public-notice.html",
    "art34/notices.csv", "art34/notices.parquet", "art34/purge.csv", "art34/purge.parquet",
    "art34/letters.md", *(f"art34/notice.{language}.html" for language in LANGUAGES),
}
# person-level outputs: account ids, readable by their owner only
PERSON_LEVEL = ("notification.csv", "notification.parquet", "art34/notices.csv",
                "art34/notices.parquet")
ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC"}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> api.RunResult:
    root = tmp_path_factory.mktemp("sample")
    return api.run(sample_dir() / "incident.toml", sample_dir() / "data", root / "out",
                   db_path=root / "ws.duckdb")


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_a_run_writes_every_format(sample_run: api.RunResult) -> None:
    files = outputs(sample_run.out_dir)
    assert set(files) >= EXPECTED
    assert files["regulator.pdf"].startswith(b"%PDF-")
    for name in ("charts/matches_per_week.png", "charts/estimate_range.png"):
        assert files[name].startswith(b"\x89PNG")
    md = files["report.md"].decode()
    for name in ("matches_per_week", "accounts_by_country", "estimate_range"):
        assert f"(charts/{name}.png)" in md


def test_person_level_files_are_private(sample_run: api.RunResult) -> None:
    for name in PERSON_LEVEL:
        mode = stat.S_IMODE((sample_run.out_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} is readable by others ({oct(mode)})"


def test_html_is_self_contained(sample_run: api.RunResult) -> None:
    for name in ("report.html", "regulator.html", "public-notice.html",
                 *(f"art34/notice.{language}.html" for language in LANGUAGES)):
        page = (sample_run.out_dir / name).read_text()
        assert "http://" not in page and "https://" not in page and "<script" not in page
        assert "default-src 'none'" in page
    report = (sample_run.out_dir / "report.html").read_text()
    assert report.count('src="data:image/svg+xml;base64,') == 4  # funnel, weekly, country, range


def test_account_ids_appear_only_in_the_person_level_files(sample_run: api.RunResult) -> None:
    ids = [str(i) for i in sample_run.result.accounts["account_id"].to_list()]
    assert ids
    for name, content in outputs(sample_run.out_dir).items():
        if name in PERSON_LEVEL or name.endswith((".png", ".pdf", ".parquet")):
            continue
        text = content.decode("utf-8")
        leaked = [i for i in ids if i in text]
        assert not leaked, f"{name} names account ids"


def test_no_contact_value_reaches_any_output(tmp_path: Path) -> None:
    incident, data = write_small_case(tmp_path)
    done = api.run(incident, data, tmp_path / "out", db_path=tmp_path / "ws.duckdb")
    for name, content in outputs(done.out_dir).items():
        for canary in (CANARY_EMAIL, CANARY_PHONE):
            assert canary.encode() not in content, f"{name} holds a contact value"


def test_notification_csv_keeps_ids_as_quoted_text(sample_run: api.RunResult) -> None:
    raw = (sample_run.out_dir / "notification.csv").read_bytes().decode("utf-8")
    assert raw.startswith('"account_id","class","first_caused_at","country"\r\n')
    rows = list(csv.DictReader(io.StringIO(raw)))
    ids = [str(i) for i in sample_run.result.accounts["account_id"].to_list()]
    assert [r["account_id"] for r in rows] == ids
    assert all(f'"{i}"' in raw for i in ids)
    assert {r["class"] for r in rows} <= {"caused", "possible"}
    certain = sample_run.result.accounts.filter(pl.col("certain")).height
    assert sum(r["class"] == "caused" for r in rows) == certain
    frame = pl.read_parquet(sample_run.out_dir / "notification.parquet")
    assert frame.schema["account_id"] == pl.String
    assert frame["account_id"].to_list() == ids


def test_csv_cells_that_look_like_formulas_are_neutralized() -> None:
    content = exports.to_csv(
        ["campaign", "name", "n"],
        [["=1+1", "+cmd", 3], ["-2", "@SUM(A1)", 4], ["\tx", "\rx", 5], ["ok", "a=b", 6],
         ["12345678901234567890", None, 7]]).decode()
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[1] == ["'=1+1", "'+cmd", "3"]
    assert rows[2] == ["'-2", "'@SUM(A1)", "4"]
    assert rows[3] == ["'\tx", "'\rx", "5"]
    assert rows[4] == ["ok", "a=b", "6"]
    assert rows[5][0] == "12345678901234567890"
    assert '"12345678901234567890"' in content


def test_by_country_publication_is_suppressed_and_json_is_exact(
        sample_run: api.RunResult) -> None:
    rows = list(csv.DictReader(io.StringIO(
        (sample_run.out_dir / "accounts_by_country.csv").read_text())))
    by_country = sample_run.report["by_country"]
    assert isinstance(by_country, dict)
    for row in rows:
        if row["country"] in by_country:
            exact = by_country[row["country"]]["upper"]
            assert row["accounts_upper"] == ("<10" if exact < 10 else row["accounts_upper"])
    assert {"country": "DE", "accounts_upper": "<10"}.items() <= next(
        r for r in rows if r["country"] == "DE").items()
    report = json.loads((sample_run.out_dir / "report.json").read_text())
    assert report["by_country"]["DE"] == {"lower": 5, "upper": 7}


def test_regulator_report_is_confidential_exact_and_no_stronger_than_the_data(
        sample_run: api.RunResult) -> None:
    text = (sample_run.out_dir / "regulator.md").read_text()
    # no bound called a maximum; with the uploaded lists the headline is the whole window,
    # and the logged matches' own bound says what it covers (tests/unit/test_whole_window.py:
    # the wording without uploads)
    assert "At most" not in text and "upper (maximum)" not in text
    assert "Between 64 and 71 accounts were affected over the whole window" in text
    assert "| Accounts, logged matches only | 56 | 64 | 71 |" in text
    assert "11 |" in text and "Days of the window without match log" in text
    # exact counts: the notification is confidential
    assert "<10" not in text and "≥10" not in text and "Confidential" in text
    assert "| Advertisers, logged matches | 5 |  | 5 |" in text
    assert "publishable" not in (sample_run.out_dir / "report.md").read_text()
    # the post-fix control states what it cannot rule out
    assert "16 post-fix matches are uncertain" in text
    assert "Between 0 and 1 accounts may have been served an ad" in text
    # the controller's sentences are marked as such
    assert "| What happened (Art. 33(3)(a)) | Phone numbers" in text
    assert "controller's statement |" in text
    assert "Lead supervisory authority (Art. 55, 56) | IE: Data Protection Commission" in text
    assert "GB: Information Commissioner's Office" in text  # 2019: an EU authority
    for article in ("Art. 33(3)(a)", "Art. 33(3)(b)", "Art. 33(3)(c)", "Art. 33(3)(d)",
                    "Art. 33(4)", "Art. 34(1)"):
        assert article in text
    for number, section in enumerate(("Type of notification", "Controller, reporting person",
                                      "Nature of the breach", "Likely consequences",
                                      "Measures taken or proposed", "Communication to data "
                                      "subjects"), start=1):
        assert f"## {number}. {section}" in text


def _regulator_text(sample_run: api.RunResult, **values: str) -> str:
    incident = load_incident(sample_dir() / "incident.toml")
    note = incident.notification
    kept = {k: v for k, v in note.values.items() if k != "main_establishment"}
    changed = incident.with_changes(notification=Notification({**kept, **values}, note.risk))
    return to_markdown(regulator.blocks(sample_run.result, changed))


def test_without_a_main_establishment_the_lead_authority_is_not_provided(
        sample_run: api.RunResult) -> None:
    text = _regulator_text(sample_run)
    assert "| Lead supervisory authority (Art. 55, 56) | not provided: the lead authority is " \
           "the one of the controller's main establishment (Art. 56)" in text
    assert "IE: Data Protection Commission" not in text


def test_no_delay_reason_needed_within_72_hours(sample_run: api.RunResult) -> None:
    text = _regulator_text(sample_run, discovered_at="2019-09-16",
                           notified_at="2019-09-18T23:00:00Z", delay_reason="")
    assert "| Hours from awareness to notification (Art. 33(1)) | 71 | computed |" in text
    assert "| not needed: notified within 72 hours | not provided |" in text


def test_small_totals_in_the_public_notice(sample_run: api.RunResult) -> None:
    """A country table whose total would give away the one small country."""
    result = sample_run.result
    report = dict(result.report)
    report["affected_accounts"] = {"lower": 70, "estimate": 75, "upper": 80}
    report["by_country"] = {"DE": {"lower": 3, "upper": 4}, "FR": {"lower": 30, "upper": 36},
                            "US": {"lower": 37, "upper": 40}}
    crafted = type(result)(report=report, weekly_matches=result.weekly_matches,
                           campaigns=result.campaigns, countries=result.countries,
                           accounts=result.accounts)
    figures = public_notice.figures(crafted, 10)
    show = figures.cells.show
    assert show("country:DE:upper") == "<10"
    assert show("accounts:upper") == "80"
    # 80 - 36 - 40 would be DE's count: FR (the smallest other) is withheld as well
    assert show("country:FR:upper") == "≥10" and show("country:US:upper") == "40"
    assert show("country:FR:lower") == "≥10"


def test_the_public_notice_is_suppressed_and_says_so(sample_run: api.RunResult) -> None:
    text = (sample_run.out_dir / "public-notice.md").read_text()
    assert "For publication (GDPR Art. 34(3)(c))" in text
    assert "| DE | <10 | <10 |" in text and "| total | 56 | 71 |" in text
    assert "Between 64 and 71 accounts were affected over the whole period" in text
    assert "upper bound (logged matches)" in text


def _hashes_under_tz(tz: str, root: Path) -> dict[str, str]:
    script = (
        "import hashlib, json, sys\n"
        "from pathlib import Path\n"
        "from incidentscope import api\n"
        "from incidentscope.samples import sample_dir\n"
        "root = Path(sys.argv[1])\n"
        "root.mkdir(parents=True)\n"
        "api.run(sample_dir() / 'incident.toml', sample_dir() / 'data', root / 'out',\n"
        "        db_path=root / 'ws.duckdb')\n"
        "print(json.dumps({p.relative_to(root / 'out').as_posix():\n"
        "                  hashlib.sha256(p.read_bytes()).hexdigest()\n"
        "                  for p in sorted((root / 'out').rglob('*')) if p.is_file()}))\n")
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True,
                          text=True, env={**ENV, "TZ": tz}, timeout=300)
    assert done.returncode == 0, done.stderr
    hashes: dict[str, str] = json.loads(done.stdout)
    return {k: v for k, v in hashes.items() if k in EXPECTED}


def test_same_result_same_bytes_across_runs_and_time_zones(tmp_path: Path) -> None:
    first = _hashes_under_tz("UTC", tmp_path / "utc")
    assert set(first) == EXPECTED
    for index, tz in enumerate(("America/Los_Angeles", "Europe/London")):
        assert _hashes_under_tz(tz, tmp_path / f"tz{index}") == first, tz


def test_report_command_renders_one_format(sample_run: api.RunResult, tmp_path: Path) -> None:
    incident = tmp_path / "incident.toml"
    incident.write_bytes((sample_dir() / "incident.toml").read_bytes())
    db = sample_run.out_dir.parent / "ws.duckdb"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "incidentscope", "report", str(incident),
                               "--db", str(db), "-q", *args], capture_output=True, text=True,
                              env=ENV, timeout=300)

    done = cli("--format", "regulator-md")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (sample_run.out_dir / "regulator.md").read_text()
    assert cli("--format", "regulator-pdf").returncode == 64
    pdf = tmp_path / "sent" / "notification.pdf"
    assert cli("--format", "regulator-pdf", "--out", str(pdf)).returncode == 0
    assert pdf.read_bytes() == (sample_run.out_dir / "regulator.pdf").read_bytes()
    assert cli("--format", "md", "--out", str(tmp_path / "pm" / "post.md")).returncode == 0
    assert (tmp_path / "pm" / "charts" / "estimate_range.png").exists()
    assert cli("--format", "docx").returncode == 64
    assert cli("--format", "regulator").returncode == 64  # a folder format needs --out
    assert cli("--format", "md", "--follow-up-of", str(sample_run.out_dir / "manifest.json")
               ).returncode == 64
    folder = tmp_path / "notification"
    assert cli("--format", "regulator", "--out", str(folder)).returncode == 0
    for name in ("regulator.md", "regulator.html", "regulator.pdf", "regulator.json"):
        assert (folder / name).read_bytes() == (sample_run.out_dir / name).read_bytes(), name
    table = cli("--format", "table")
    assert table.returncode == 0 and "\x1b[" not in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    digest = hashlib.sha256(cli("--format", "json").stdout.encode()).hexdigest()
    assert digest == hashlib.sha256((sample_run.out_dir / "report.json").read_bytes()).hexdigest()


def test_the_names_a_run_refuses_to_write_over_are_every_name_it_writes(tmp_path: Path) -> None:
    # api.check_run_out refuses an OUT that holds an input under one of TOP_LEVEL_NAMES:
    # the list must name every top-level file or folder a run writes.
    from incidentscope import api
    from incidentscope.report.outputs import TOP_LEVEL_NAMES
    from incidentscope.samples import sample_dir

    outcome = api.run(sample_dir() / "incident.toml", sample_dir() / "data", tmp_path / "out",
                      db_path=tmp_path / "ws.duckdb")
    written = {path.relative_to(tmp_path / "out").parts[0] for path in outcome.outputs}
    assert written == set(TOP_LEVEL_NAMES)
