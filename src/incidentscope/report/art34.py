"""The Art. 34 communication pack: notices to people, letters to advertisers and partners.

Files (under `art34/` of a run's output folder; person-level ones are readable by their
owner only, as everything the tool creates):
- `notices.csv`, `notices.parquet`: mail-merge ready, one row per account in the upper
  bound, keyed by `account_id` (never a contact value: join them to your own contact
  system), with the language, the facts, and the rendered subject and text;
- `notice.LANG.html` for each of LANGUAGES: one rendered example per language (the first
  account in id order that has facts, the same account in every language; no account id
  in it);
- `letters.md`: one letter per advertiser and per data partner listing the audiences to
  purge, with counts; `purge.csv`, `purge.parquet`: the same as a table.

The per-person facts come from `ReplayResult.notice_facts` (schema in results.py). The
notices are Jinja2 templates (`templates/art34/notice.LANG.txt.j2`): plain text, whose
first line is the subject; the HTML example wraps the same text, escaped.

Language: the account's `language` (a BCP 47 tag such as `de` or `pt-BR`, when `accounts`
has that column) if it is one of LANGUAGES, else the language of its country
(COUNTRY_LANGUAGE), else English.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from importlib import resources
from typing import Any, NamedTuple

import polars as pl

from incidentscope.config import Incident
from incidentscope.outdir import ByteSink, Content
from incidentscope.report.document import Block, Bullets, Heading, Para, Table
from incidentscope.results import ReplayResult

LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "ja")
# Notices also written as PDF: the languages the bundled font (DejaVu Sans, as matplotlib
# ships it: the same glyphs on every machine) can set; it has no Japanese glyphs, so the
# Japanese notice is HTML and text only.
PDF_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# The language of a country's notices when the account names none. Multilingual countries
# take their most spoken language of LANGUAGES (BE nl, CH de, LU fr); give `language` in
# `accounts` to choose per person.
COUNTRY_LANGUAGE: dict[str, str] = {
    **dict.fromkeys(("DE", "AT", "LI", "CH"), "de"),
    **dict.fromkeys(("FR", "LU", "MC"), "fr"),
    **dict.fromkeys(("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO",
                     "HN", "PY", "SV", "NI", "CR", "PA", "UY"), "es"),
    **dict.fromkeys(("IT", "SM", "VA"), "it"),
    **dict.fromkeys(("NL", "BE", "SR"), "nl"),
    **dict.fromkeys(("PT", "BR", "AO", "MZ", "CV"), "pt"),
    "JP": "ja",
}
MONTH_RANGE = " \u2013 "  # an en dash between the first and the last month
CSP = "default-src 'none'; style-src 'unsafe-inline'"
NOTICES_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(), "language": pl.String(), "language_source": pl.String(),
    "class": pl.String(), "audiences": pl.Int64(), "advertisers": pl.String(),
    "partners": pl.String(), "first_month": pl.String(), "last_month": pl.String(),
    "ads_served": pl.Boolean(), "subject": pl.String(), "text": pl.String(),
}


def choose_language(language: str | None, country: str | None) -> tuple[str, str]:
    """(language, where it came from: language | country | default)."""
    if language:
        base = language.strip().replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base, "language"
    if country and country.strip().upper() in COUNTRY_LANGUAGE:
        return COUNTRY_LANGUAGE[country.strip().upper()], "country"
    return "en", "default"


def recipients(result: ReplayResult) -> pl.DataFrame:
    """Every account in the upper bound: account_id, certain, language, language_source."""
    accounts = result.accounts.sort("account_id")
    languages = (accounts["language"].to_list() if "language" in accounts.columns
                 else [None] * accounts.height)
    chosen = [choose_language(lang, country) for lang, country in
              zip(languages, accounts["country"].to_list(), strict=True)]
    return pl.DataFrame({
        "account_id": accounts["account_id"].to_list(),
        "certain": accounts["certain"].to_list(),
        "language": [c[0] for c in chosen],
        "language_source": [c[1] for c in chosen],
    }, schema={"account_id": pl.Int64, "certain": pl.Boolean, "language": pl.String,
               "language_source": pl.String})


# --------------------------------------------------------------------------- rendering


# Named tuples, not dataclasses: a run builds one per (account, audience) pair, millions
# at scale S, and a frozen dataclass costs several times more to create.
class Membership(NamedTuple):
    audience_id: str
    audience_type: str
    advertiser_id: str
    partner_id: str | None
    first_month: str  # YYYY-MM
    last_month: str
    certain: bool

    @property
    def months(self) -> str:
        return _months(self.first_month, self.last_month)


class PersonFacts(NamedTuple):
    certain: bool
    memberships: tuple[Membership, ...]
    ads_served: bool


@functools.cache
def _environment() -> Any:
    import jinja2

    def load(name: str) -> str | None:
        path = resources.files("incidentscope").joinpath("report", "templates", "art34", name)
        return path.read_text("utf-8") if path.is_file() else None

    return jinja2.Environment(loader=jinja2.FunctionLoader(load), autoescape=False,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def _months(first: str, last: str) -> str:
    return first if first == last else f"{first}{MONTH_RANGE}{last}"


def _context(incident: Incident, report: dict[str, Any]) -> dict[str, Any]:
    note = incident.notification
    return {"window_start": report["incident"]["window_start"][:10],
            "fix_date": report["incident"]["fix_at"][:10],
            "dpo_contact": note.text("dpo_contact"), "controller": note.text("controller")}


def render_text(language: str, facts: PersonFacts, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of one notice in `language`."""
    template = _environment().get_template(f"notice.{language}.txt.j2")
    text = template.render(certain=facts.certain, ads_served=facts.ads_served,
                           audiences=facts.memberships, **context)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    subject, body = lines[0], "\n".join(lines[1:]).strip("\n")
    while "\n\n\n" in body:
        body = body.replace("\n\n\n", "\n\n")
    return subject, body + "\n"


def paragraphs(body: str) -> Iterator[dict[str, Any]]:
    """The body as blocks: a paragraph's `- ` lines make a list, other lines a paragraph."""
    for chunk in body.strip().split("\n\n"):
        text: list[str] = []
        items: list[str] = []
        for line in chunk.splitlines():
            if line.startswith("- "):
                if text:
                    yield {"text": " ".join(text), "bullets": []}
                    text = []
                items.append(line[2:])
            else:
                if items:
                    yield {"text": "", "bullets": items}
                    items = []
                text.append(line)
        if text:
            yield {"text": " ".join(text), "bullets": []}
        if items:
            yield {"text": "", "bullets": items}


def render_pdf(subject: str, body: str) -> bytes:
    """A notice as an A4 PDF, with the regulator report's writer and font (same bytes for
    the same notice)."""
    from incidentscope.report.regulator import to_pdf

    document: list[Block] = [Heading(1, subject)]
    for block in paragraphs(body):
        document.append(Bullets(tuple(block["bullets"])) if block["bullets"]
                        else Para(block["text"]))
    return to_pdf(document, subject)


def render_html(language: str, subject: str, body: str) -> str:
    from incidentscope.report.html import stylesheet

    env = _environment().overlay(autoescape=True)
    return str(env.get_template("notice.html.j2").render(
        lang=language, subject=subject, blocks=list(paragraphs(body)), csp=CSP,
        css=stylesheet()))


# --------------------------------------------------------------------------- facts


MEMBERSHIP_COLUMNS = ("audience_id", "audience_type", "advertiser_id", "partner_id",
                      "first_month", "last_month", "certain")
# Accounts whose notices are built at once. Only one chunk's per-person objects (facts,
# rendered texts, rows) are alive at a time, so the pack's memory follows its output
# rather than people times audiences: at scale M (227,139 people, 7.9M pairs) the whole
# table at once took 5.4 GB beside a 1.1 GB output.
NOTICE_CHUNK = 20_000


def _sorted_facts(facts: pl.DataFrame) -> pl.DataFrame:
    """Rows of notice_facts in the order notices list them: by account, month, audience."""
    return facts.sort("account_id", "first_month", "audience_id").with_columns(
        pl.col("certain").fill_null(False), pl.col("ads_served").fill_null(False))


def _facts_of(frame: pl.DataFrame) -> dict[int, PersonFacts]:
    """Account id -> facts, from rows of _sorted_facts."""
    # Many pairs, far fewer distinct memberships: each is built once, rows refer to it by
    # number, and each account takes its slice of rows (the frame is sorted by account),
    # its flags aggregated by polars.
    distinct = frame.select(MEMBERSHIP_COLUMNS).unique(maintain_order=True).with_row_index(
        "membership_no")
    numbers = frame.join(distinct, on=list(MEMBERSHIP_COLUMNS), how="left", nulls_equal=True,
                         maintain_order="left")["membership_no"].to_list()
    built = list(map(Membership._make, distinct.select(MEMBERSHIP_COLUMNS).iter_rows()))
    memberships = [built[number] for number in numbers]
    accounts = frame.group_by("account_id", maintain_order=True).agg(
        pl.len().alias("pairs"), pl.col("certain").any(), pl.col("ads_served").any())
    facts: dict[int, PersonFacts] = {}
    start = 0
    for account, pairs, certain, served in accounts.iter_rows():
        facts[int(account)] = PersonFacts(bool(certain), tuple(memberships[start:start + pairs]),
                                          bool(served))
        start += pairs
    return facts


def _facts_by_account(result: ReplayResult) -> dict[int, PersonFacts]:
    """Every account's facts at once (small results: tests, the example)."""
    return _facts_of(_sorted_facts(result.notice_facts))


def notice_chunks(result: ReplayResult, incident: Incident) -> Iterator[pl.DataFrame]:
    """The mail-merge table (NOTICES_SCHEMA) in account id order, NOTICE_CHUNK accounts
    per frame; one empty frame when there is nobody to notify."""
    chunk = NOTICE_CHUNK
    facts_frame = _sorted_facts(result.notice_facts)
    fact_accounts = facts_frame["account_id"]
    context = _context(incident, result.report)
    people = recipients(result)
    if people.height == 0:
        yield pl.DataFrame(schema=NOTICES_SCHEMA)
    for start in range(0, people.height, chunk):
        batch = people.slice(start, chunk)
        ids = batch["account_id"]
        first = int(fact_accounts.search_sorted(ids[0], side="left"))
        last = int(fact_accounts.search_sorted(ids[-1], side="right"))
        yield _notice_rows(batch, _facts_of(facts_frame.slice(first, last - first)), context)


def _notice_rows(people: pl.DataFrame, facts: dict[int, PersonFacts],
                 context: dict[str, Any]) -> pl.DataFrame:
    rendered: dict[tuple[str, PersonFacts], tuple[str, str]] = {}  # many notices are alike
    rows = []
    for account, certain, language, source in people.iter_rows():
        person = facts.get(account, PersonFacts(bool(certain), (), False))
        person = PersonFacts(bool(certain) or person.certain, person.memberships,
                             person.ads_served)
        if (language, person) not in rendered:
            rendered[language, person] = render_text(language, person, context)
        subject, text = rendered[language, person]
        months = [month for m in person.memberships for month in (m.first_month, m.last_month)]
        rows.append((str(account), language, source, "caused" if person.certain else "possible",
                     len(person.memberships),
                     "; ".join(sorted({m.advertiser_id for m in person.memberships})),
                     "; ".join(sorted({m.partner_id for m in person.memberships
                                       if m.partner_id})),
                     min(months) if months else None, max(months) if months else None,
                     person.ads_served, subject, text))
    return pl.DataFrame(rows, schema=NOTICES_SCHEMA, orient="row")


def notices(result: ReplayResult, incident: Incident) -> pl.DataFrame:
    """The whole mail-merge table (NOTICES_SCHEMA), one row per account, sorted by id."""
    return pl.concat(list(notice_chunks(result, incident)))


def example(result: ReplayResult) -> PersonFacts:
    """The facts the per-language examples show: the first account in id order with facts,
    else the first account, else an account with no facts."""
    if result.notice_facts.height:
        first = result.notice_facts["account_id"].min()
        rows = result.notice_facts.filter(pl.col("account_id") == first)  # before sorting
        return _facts_of(_sorted_facts(rows))[int(first)]  # type: ignore[arg-type]
    accounts = result.accounts.sort("account_id")
    certain = bool(accounts["certain"][0]) if accounts.height else True
    return PersonFacts(certain, (), False)


# --------------------------------------------------------------------------- letters


PURGE_SCHEMA: dict[str, pl.DataType] = {
    "recipient_type": pl.String(), "recipient_id": pl.String(), "audience_id": pl.String(),
    "audience_type": pl.String(), "accounts_lower": pl.Int64(), "accounts_upper": pl.Int64(),
    "first_month": pl.String(), "last_month": pl.String(),
}


def purge(result: ReplayResult) -> pl.DataFrame:
    """Per advertiser and per data partner, the audiences to purge with their counts:
    accounts_lower (certainly caused memberships), accounts_upper (all flagged ones)."""
    facts = result.notice_facts
    parts = []
    for kind, column in (("advertiser", "advertiser_id"), ("partner", "partner_id")):
        parts.append(
            facts.filter(pl.col(column).is_not_null())
            .group_by(column, "audience_id", "audience_type")
            .agg(pl.col("account_id").filter(pl.col("certain")).n_unique()
                 .cast(pl.Int64).alias("accounts_lower"),
                 pl.col("account_id").n_unique().cast(pl.Int64).alias("accounts_upper"),
                 pl.col("first_month").min(), pl.col("last_month").max())
            .select(pl.lit(kind).alias("recipient_type"),
                    pl.col(column).alias("recipient_id"), "audience_id", "audience_type",
                    "accounts_lower", "accounts_upper", "first_month", "last_month"))
    return (pl.concat(parts).cast(PURGE_SCHEMA)  # type: ignore[arg-type]
            .sort("recipient_type", "recipient_id", "audience_id"))


def letters(result: ReplayResult, incident: Incident) -> list[Block]:
    table = purge(result)
    report = result.report
    run = report["incident"]
    controller = incident.notification.text("controller") or "The controller"
    out: list[Block] = [
        Heading(1, "Requests to purge audience memberships"),
        Para(f"One letter per advertiser and per data partner whose audiences held accounts "
             f"matched through contact data given only for security ({run['window_start']} "
             f"to the fix at {run['fix_at']}). Counts are exact; confidential."),
    ]
    if table.height == 0:
        out.append(Para("This run's replay result has no per-audience facts (notice_facts is "
                        "empty): no letter can list audiences yet."))
        return out
    names = {"advertiser": "Advertiser", "partner": "Data partner"}
    for (kind, recipient), rows in table.group_by("recipient_type", "recipient_id",
                                                  maintain_order=True):
        out += [
            Heading(2, f"{names[str(kind)]} {recipient}"),
            Para(f"{controller} asks {names[str(kind)].lower()} {recipient} to remove, from "
                 "the audiences below, the memberships created by its matching error, and not "
                 "to use them again. 'certain' counts accounts matched only through a "
                 "security contact; 'up to' adds accounts the records cannot clear."),
            Table(("audience", "type", "accounts, certain", "up to", "months"), tuple(
                (str(r["audience_id"]), str(r["audience_type"]), f"{r['accounts_lower']:,}",
                 f"{r['accounts_upper']:,}", _months(str(r["first_month"]),
                                                     str(r["last_month"])))
                for r in rows.iter_rows(named=True)), (False, False, True, True, False)),
        ]
    return out


# --------------------------------------------------------------------------- files


def render_all(result: ReplayResult, incident: Incident) -> dict[str, Content]:
    """Every file of the pack, by name under the output folder. The notices CSV is a
    function that writes it, chunk by chunk (outdir.Content): its text is never held whole,
    only the chunks' compact Arrow frames, which the Parquet file is made from."""
    from incidentscope.report.exports import frame_to_csv, to_parquet
    from incidentscope.report.markdown import to_markdown

    chunks = list(notice_chunks(result, incident))
    files: dict[str, Content] = {
        "art34/notices.csv": functools.partial(_write_notices_csv, chunks),
        "art34/notices.parquet": to_parquet(pl.concat(chunks)),
    }
    purge_frame = purge(result)
    files["art34/purge.csv"] = frame_to_csv(purge_frame)
    files["art34/purge.parquet"] = to_parquet(purge_frame)
    context = _context(incident, result.report)
    sample = example(result)
    for language in LANGUAGES:
        subject, body = render_text(language, sample, context)
        files[f"art34/notice.{language}.html"] = render_html(
            language, subject, body).encode("utf-8")
        if language in PDF_LANGUAGES:
            files[f"art34/notice.{language}.pdf"] = render_pdf(subject, body)
    files["art34/letters.md"] = to_markdown(letters(result, incident)).encode("utf-8")
    return files


def _write_notices_csv(chunks: list[pl.DataFrame], sink: ByteSink) -> None:
    """The notices CSV: one header, then each chunk's lines (a chunk's CSV at a time in
    memory, written by this process, so that a write error is the sink's own OSError)."""
    from incidentscope.report.exports import write_frame_csv

    for number, frame in enumerate(chunks):
        part = io.BytesIO()
        write_frame_csv(frame, part, header=number == 0)
        sink.write(part.getvalue())
