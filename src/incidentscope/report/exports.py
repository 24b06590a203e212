"""CSV and Parquet exports: the notification list, affected campaigns, accounts by country.

- `notification.*` (person-level, internal): one row per account in the upper bound:
  `account_id`, `class` (`caused`: affected for certain; `possible`: in the upper bound
  only), `first_caused_at`, `country`. No contact data. Exact.
- `campaigns.*` (internal): `campaign`, `advertiser`, `name`, `accounts_lower`,
  `accounts_upper`. Exact.
- `accounts_by_country.*` (for publication): the regulator report's country table, with
  small counts suppressed (`<10`, `≥10`), so every count is text.

CSV: UTF-8, comma, CRLF line ends (RFC 4180). Every text cell is quoted and numbers are
not, so ids (text) keep every digit for any reader that honours quoting. A cell of a text
column that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or a line feed gets a
leading `'`, so that a spreadsheet cannot run it as a formula. A number is never a formula:
`account_id` holds integers written as text (to keep every digit), and a negative id stays
`-5` as in the Parquet file. Parquet keeps the values as they are, typed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

import polars as pl

from incidentscope.config import Incident
from incidentscope.report import authorities, public_notice
from incidentscope.report.edpb_fields import date_basis
from incidentscope.results import ReplayResult, iso_z

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Columns of integers written as text, so that a spreadsheet keeps every digit of an id.
INTEGER_TEXT_COLUMNS = frozenset({"account_id"})
_INTEGER = re.compile(r"-?[0-9]+")

Cell = str | int | None


def neutralize(value: str) -> str:
    """Prefix a text that a spreadsheet would read as a formula with a single quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _defuse_column(column: str, values: Sequence[Cell]) -> list[Cell]:
    """A column's cells made safe for a spreadsheet: a number is never a formula, nor is an
    integer written as text in INTEGER_TEXT_COLUMNS; other text is `neutralize`d."""
    integer_text = column in INTEGER_TEXT_COLUMNS
    return [value if not isinstance(value, str) or (integer_text and _INTEGER.fullmatch(value))
            else neutralize(value) for value in values]


def columns_to_csv(header: Sequence[str], columns: Sequence[Sequence[Cell]]) -> bytes:
    """The CSV of a table given column by column (one list per header name, equal lengths),
    written by Python's csv module: the reference that `frame_to_csv` is held to."""
    if len(columns) != len(header) or len({len(values) for values in columns}) > 1:
        raise ValueError("columns_to_csv: one column per header name, of equal lengths")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(zip(*(_defuse_column(column, values)
                           for column, values in zip(header, columns, strict=True)),
                         strict=True))
    return buffer.getvalue().encode("utf-8")


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    if any(len(row) != len(header) for row in rows):
        raise ValueError("to_csv: every row has one cell per header name")
    columns = [list(values) for values in zip(*rows, strict=True)] if rows else [
        [] for _ in header]
    return columns_to_csv(header, columns)


def frame_to_csv(frame: pl.DataFrame) -> bytes:
    """The CSV of a frame of text, integer and boolean columns, byte for byte as
    `columns_to_csv` writes it (booleans as the text `true`/`false`), built by polars: the
    Art. 34 notices hold a rendered letter per person, 300 MB at scale S, where Python's
    csv writer took 5 s. A test compares the two writers on generated frames."""
    buffer = io.BytesIO()
    write_frame_csv(frame, buffer, header=True)
    return buffer.getvalue()


def write_frame_csv(frame: pl.DataFrame, buffer: BinaryIO, *, header: bool) -> None:
    """frame_to_csv's bytes appended to `buffer`, with or without the header line (a
    table written in parts)."""
    cells = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.String:
            formula = pl.any_horizontal(column.str.starts_with(start)
                                        for start in FORMULA_STARTS)
            if name in INTEGER_TEXT_COLUMNS:
                formula = formula & ~column.str.contains(f"^(?:{_INTEGER.pattern})$")
            text = pl.when(formula).then(pl.lit("'") + column).otherwise(column)
            cell = pl.lit('"') + text.str.replace_all('"', '""', literal=True) + pl.lit('"')
        elif dtype == pl.Boolean:
            cell = pl.when(column).then(pl.lit('"true"')).otherwise(pl.lit('"false"'))
        elif dtype.is_integer():
            cell = column.cast(pl.String)
        else:
            raise TypeError(f"frame_to_csv: column {name} is {dtype}, not text, integer "
                            "or boolean")
        cells.append(pl.when(column.is_null()).then(pl.lit('""')).otherwise(cell))
    if header:
        names = ",".join('"' + name.replace('"', '""') + '"' for name in frame.columns)
        buffer.write((names + "\r\n").encode("utf-8"))
    if frame.height == 0:
        return
    # Each line is already quoted and escaped: polars writes it as it is, straight into the
    # buffer (no Python string per line: at scale M the notices are 1 GB of text).
    frame.select(pl.concat_str(cells, separator=",").alias("line")).write_csv(
        buffer, include_header=False, quote_style="never", line_terminator="\r\n")


def to_parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment)


def notification(result: ReplayResult) -> pl.DataFrame:
    accounts = result.accounts
    return pl.DataFrame({
        "account_id": [str(v) for v in accounts["account_id"].to_list()],
        "class": ["caused" if c else "possible" for c in accounts["certain"].to_list()],
        "first_caused_at": accounts["first_caused_at"].to_list(),
        "country": accounts["country"].to_list(),
    }, schema={"account_id": pl.String, "class": pl.String,
               "first_caused_at": pl.Datetime("us", "UTC"), "country": pl.String})


def campaigns(result: ReplayResult) -> pl.DataFrame:
    frame = result.campaigns
    return pl.DataFrame({
        "campaign": frame["campaign_id"].cast(pl.String).to_list(),
        "advertiser": frame["advertiser_id"].cast(pl.String).to_list(),
        "name": frame["name"].cast(pl.String).to_list(),
        "accounts_lower": frame["lower"].to_list(),
        "accounts_upper": frame["upper"].to_list(),
    }, schema={"campaign": pl.String, "advertiser": pl.String, "name": pl.String,
               "accounts_lower": pl.Int64, "accounts_upper": pl.Int64})


def accounts_by_country(result: ReplayResult, incident: Incident) -> pl.DataFrame:
    cells = public_notice.figures(result, incident.min_cell)
    show = cells.cells.show
    on = date_basis(incident)[0]
    rows = [(code, authorities.authority(code, None, on) or "", show(f"country:{code}:lower"),
             show(f"country:{code}:upper")) for code in cells.countries]
    if cells.unknown_country:
        rows.append(("unknown", "", show("country::lower"), show("country::upper")))
    rows.append(("total", "", show("accounts:lower"), show("accounts:upper")))
    return pl.DataFrame(rows, schema={"country": pl.String, "authority": pl.String,
                                      "accounts_lower": pl.String,
                                      "accounts_upper": pl.String}, orient="row")


def _csv_rows(frame: pl.DataFrame) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for row in frame.iter_rows():
        rows.append([_iso(v.replace(tzinfo=None)) if isinstance(v, datetime) else v
                     for v in row])
    return rows


def render_all(result: ReplayResult, incident: Incident) -> dict[str, bytes]:
    frames = {"notification": notification(result), "campaigns": campaigns(result),
              "accounts_by_country": accounts_by_country(result, incident)}
    files: dict[str, bytes] = {}
    for name, frame in frames.items():
        files[f"{name}.csv"] = to_csv(frame.columns, _csv_rows(frame))
        files[f"{name}.parquet"] = to_parquet(frame)
    return files
