"""The Art. 34 pack: notices in eight languages from hand-made facts, the mail-merge table,
letters to advertisers and partners, and no contact value anywhere (a canary)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from incidentscope import api
from incidentscope.config import load_incident
from incidentscope.outdir import as_bytes
from incidentscope.report import art34
from incidentscope.results import NOTICE_FACTS_SCHEMA, ReplayResult
from incidentscope.samples import sample_dir
from workspace_fixtures import (
    CANARY_EMAIL,
    CANARY_EMAIL_NORMALIZED,
    CANARY_PHONE,
    CANARY_PHONE_NORMALIZED,
    write_small_case,
)

# What each language's notice says in its own words (a phrase of the body, the heading of
# "what you can do", the word for the advertiser, the sentence for a possible case).
PHRASES = {
    "en": ("We corrected the error on 2019-09-17", "What you can do:", "advertiser adv_1",
           "we cannot rule it out"),
    "de": ("Wir haben den Fehler am 2019-09-17 behoben", "Was Sie tun können:",
           "Werbekunde adv_1", "wir können es nicht ausschließen"),
    "fr": ("Nous avons corrigé l'erreur le 2019-09-17", "Ce que vous pouvez faire :",
           "annonceur adv_1", "nous ne pouvons pas l'exclure"),
    "es": ("Corregimos el error el 2019-09-17", "Qué puede hacer:", "anunciante adv_1",
           "no podemos descartarlo"),
    "it": ("Abbiamo corretto l'errore il 2019-09-17", "Cosa può fare:", "inserzionista adv_1",
           "non possiamo escluderlo"),
    "nl": ("We hebben de fout op 2019-09-17 hersteld", "Wat u kunt doen:", "adverteerder adv_1",
           "we kunnen het niet uitsluiten"),
    "pt": ("Corrigimos o erro em 2019-09-17", "O que pode fazer:", "anunciante adv_1",
           "não o podemos excluir"),
    "ja": ("この不具合は2019-09-17に修正しました", "お客様にできること\uff1a", "広告主 adv_1",
           "その可能性を否定できません"),
}
HOSTILE = "aud_<b>&x"


def facts() -> pl.DataFrame:
    return pl.DataFrame([
        (11, True, "aud_1", "tailored", "adv_1", None, "2019-03", "2019-05", True),
        (11, False, HOSTILE, "partner", "adv_2", "prt_1", "2019-04", "2019-04", False),
        (12, False, "aud_1", "tailored", "adv_1", None, "2019-06", "2019-06", False),
        (13, True, "aud_9", "partner", "adv_2", "prt_1", "2019-02", "2019-08", False),
    ], schema=NOTICE_FACTS_SCHEMA, orient="row")


def result(with_language: bool = True) -> ReplayResult:
    accounts = pl.DataFrame({
        "account_id": [11, 12, 13, 14],
        "certain": [True, False, True, False],
        "probability": [1.0, 0.4, 1.0, 0.3],
        "first_caused_at": [datetime(2019, 3, 1), None, datetime(2019, 2, 1), None],
        "first_match_at": [datetime(2019, 3, 1)] * 4,
        "country": ["DE", "ES", "JP", None],
    })
    if with_language:
        accounts = accounts.with_columns(pl.Series("language", ["fr-BE", None, "xx", "pt_BR"]))
    report = {"incident": {"window_start": "2019-01-01T00:00:00Z",
                           "fix_at": "2019-09-17T00:00:00Z"}}
    empty = pl.DataFrame()
    return ReplayResult(report=report, weekly_matches=empty, campaigns=empty, countries=empty,
                        accounts=accounts, notice_facts=facts())


def incident():  # type: ignore[no-untyped-def]
    return load_incident(sample_dir() / "incident.toml")


@pytest.mark.parametrize(("language", "country", "expected"), [
    ("de", "FR", ("de", "language")), ("pt-BR", None, ("pt", "language")),
    ("JA_jp", "US", ("ja", "language")), ("xx", "JP", ("ja", "country")),
    (None, "AT", ("de", "country")), (None, "BE", ("nl", "country")),
    (None, "BR", ("pt", "country")), (None, "US", ("en", "default")),
    (None, None, ("en", "default")), ("", "mx", ("es", "country")),
])
def test_language_from_the_account_then_its_country_then_english(
        language: str | None, country: str | None, expected: tuple[str, str]) -> None:
    assert art34.choose_language(language, country) == expected


class _Checker(HTMLParser):
    """Parses a page and fails on a closing tag that does not close the open element."""

    VOID: ClassVar[set[str]] = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_checker_is_not_vacuous() -> None:
    checker = _Checker()
    with pytest.raises(AssertionError):
        checker.feed("<main><p><b>x</p></main>")


@pytest.mark.parametrize("language", art34.LANGUAGES)
def test_a_notice_renders_in_every_language(language: str) -> None:
    person = art34._facts_by_account(result())[11]
    context = {"window_start": "2019-01-01", "fix_date": "2019-09-17",
               "dpo_contact": "DPO, dpo@example.com", "controller": "Example Ltd."}
    subject, body = art34.render_text(language, person, context)
    phrase, heading, advertiser, _possible = PHRASES[language]
    assert subject and "\n" not in subject
    for text in (phrase, heading, advertiser, "aud_1", "2019-03 \u2013 2019-05", "prt_1",
                 HOSTILE, "2019-04", "DPO, dpo@example.com", "Example Ltd."):
        assert text in body, (language, text)
    assert "\n\n\n" not in body and "{{" not in body and "{%" not in body
    possible = art34.render_text(language, art34.PersonFacts(False, (), False), context)[1]
    assert _possible in possible and "adv_1" not in possible
    page = art34.render_html(language, subject, body)
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert f'<html lang="{language}">' in page
    assert "<b>" not in page and "aud_&lt;b&gt;&amp;x" in page  # ids are escaped
    assert phrase in "".join(checker.text)
    assert page.count("<li>") == 2 + 5  # two audiences, five things to do


@pytest.mark.parametrize("language", art34.PDF_LANGUAGES)
def test_a_notice_reads_back_from_its_pdf(language: str) -> None:
    import io

    from pypdf import PdfReader

    person = art34._facts_by_account(result())[11]
    context = {"window_start": "2019-01-01", "fix_date": "2019-09-17",
               "dpo_contact": "DPO, dpo@example.com", "controller": "Example Ltd."}
    subject, body = art34.render_text(language, person, context)
    pdf = art34.render_pdf(subject, body)
    assert pdf == art34.render_pdf(subject, body)  # same notice, same bytes
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    phrase, heading, advertiser, _possible = PHRASES[language]
    flat = " ".join(text.split())
    for expected in (phrase, heading, advertiser, "aud_1", "Example Ltd."):
        assert " ".join(expected.split()) in flat, (language, expected)


def test_the_mail_merge_table_is_keyed_by_account_and_holds_the_facts() -> None:
    frame = art34.notices(result(), incident())
    assert frame.schema == pl.Schema(art34.NOTICES_SCHEMA)
    assert frame["account_id"].to_list() == ["11", "12", "13", "14"]
    assert frame["language"].to_list() == ["fr", "es", "ja", "pt"]
    assert frame["language_source"].to_list() == ["language", "country", "country",
                                                  "language"]
    assert frame["class"].to_list() == ["caused", "possible", "caused", "possible"]
    first = frame.row(0, named=True)
    assert (first["audiences"], first["advertisers"], first["partners"]) == (
        2, "adv_1; adv_2", "prt_1")
    assert (first["first_month"], first["last_month"], first["ads_served"]) == (
        "2019-03", "2019-05", True)
    assert "annonceur adv_1" in first["text"]
    last = frame.row(3, named=True)  # no facts yet for this account
    assert last["audiences"] == 0 and last["first_month"] is None
    assert "Ainda não lhe podemos dizer" in last["text"]
    without = art34.notices(result(with_language=False), incident())
    assert without["language"].to_list() == ["de", "es", "ja", "en"]


def test_letters_list_the_audiences_to_purge_with_counts() -> None:
    table = art34.purge(result())
    rows = {(r["recipient_type"], r["recipient_id"], r["audience_id"]):
            (r["accounts_lower"], r["accounts_upper"]) for r in table.iter_rows(named=True)}
    assert rows == {("advertiser", "adv_1", "aud_1"): (1, 2),
                    ("advertiser", "adv_2", HOSTILE): (0, 1),
                    ("advertiser", "adv_2", "aud_9"): (1, 1),
                    ("partner", "prt_1", HOSTILE): (0, 1),
                    ("partner", "prt_1", "aud_9"): (1, 1)}
    files = {name: as_bytes(content)
             for name, content in art34.render_all(result(), incident()).items()}
    letters = files["art34/letters.md"].decode()
    assert "## Advertiser adv_1\n" in letters and "## Data partner prt_1\n" in letters
    assert "| aud_1 | tailored | 1 | 2 | 2019-03 \u2013 2019-06 |" in letters
    assert "asks data partner prt_1 to remove" in letters
    purge_csv = list(csv.DictReader(io.StringIO(files["art34/purge.csv"].decode())))
    assert len(purge_csv) == 5
    assert set(files) == {"art34/notices.csv", "art34/notices.parquet", "art34/purge.csv",
                          "art34/purge.parquet", "art34/letters.md",
                          *(f"art34/notice.{lang}.html" for lang in art34.LANGUAGES),
                          *(f"art34/notice.{lang}.pdf" for lang in art34.PDF_LANGUAGES)}
    again = art34.render_all(result(), incident())
    assert {name: as_bytes(content) for name, content in again.items()} == files  # same bytes
    # the examples show the first account with facts, without its id
    assert "aud_1" in files["art34/notice.de.html"].decode()
    assert "11" not in files["art34/notice.de.html"].decode().split("<main>")[1]


def _needles() -> list[bytes]:
    values = (CANARY_EMAIL, CANARY_EMAIL_NORMALIZED, CANARY_PHONE, CANARY_PHONE_NORMALIZED)
    found = []
    for value in values:
        found += [value.encode(), value.lower().encode(),
                  hashlib.sha256(value.encode()).hexdigest().encode()]
    return found


def test_canary_no_contact_value_in_the_pack_or_the_notification(tmp_path: Path) -> None:
    incident_path, data = write_small_case(tmp_path)
    done = api.run(incident_path, data, tmp_path / "out", db_path=tmp_path / "ws.duckdb")
    assert done.result.accounts.height > 0
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "notices.csv" for p in files)
    for path in files:
        content = path.read_bytes()
        for needle in _needles():
            assert needle not in content, f"{path.name} holds a contact value"


def test_the_notices_written_in_chunks_are_the_whole_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from incidentscope.report.exports import frame_to_csv

    whole = art34.notices(result(), incident())
    whole_files = art34.render_all(result(), incident())
    monkeypatch.setattr(art34, "NOTICE_CHUNK", 1)  # a chunk per account
    assert [frame.height for frame in art34.notice_chunks(result(), incident())] == [1] * 4
    files = art34.render_all(result(), incident())
    notices_csv = as_bytes(files["art34/notices.csv"])
    assert notices_csv == frame_to_csv(whole) == as_bytes(whole_files["art34/notices.csv"])
    assert notices_csv.count(b'"account_id"') == 1  # one header
    assert pl.read_parquet(io.BytesIO(as_bytes(files["art34/notices.parquet"]))).equals(whole)
    assert {name for name in files} == {name for name in whole_files}


def test_the_notices_csv_of_no_one_is_its_header() -> None:
    empty = result()
    empty = ReplayResult(**{**empty.__dict__,
                            "accounts": empty.accounts.clear(),
                            "notice_facts": empty.notice_facts.clear()})
    files = art34.render_all(empty, incident())
    assert as_bytes(files["art34/notices.csv"]) == ",".join(
        f'"{name}"' for name in art34.NOTICES_SCHEMA).encode() + b"\r\n"
    assert pl.read_parquet(io.BytesIO(as_bytes(files["art34/notices.parquet"]))).height == 0
