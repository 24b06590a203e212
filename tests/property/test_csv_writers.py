"""Differential test: exports.frame_to_csv (polars, used for the Art. 34 notices) writes
the same bytes as exports.columns_to_csv (Python's csv module, the reference) for every
frame of text, integer and boolean columns, including formula-like text, quotes, line
breaks, control characters, integers written as text and nulls."""

from __future__ import annotations

import os

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentscope.report import exports

EXAMPLES = int(os.environ.get("INCIDENTSCOPE_EXAMPLES", "200"))

# Text biased to the cells the writers treat specially: a formula start, a quote, a line
# break, an integer (an id written as text), besides any Unicode text.
SPECIAL = st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", '"', "'", ",", "-12", "007",
                           "12a", "\u2028", "\x00", " "])
TEXT = st.one_of(st.text(max_size=12),
                 st.lists(st.one_of(SPECIAL, st.text(max_size=3)), max_size=5).map("".join))
COLUMNS = {
    "account_id": st.one_of(st.none(), TEXT, st.integers(-10**20, 10**20).map(str)),
    "name": st.one_of(st.none(), TEXT),
    "count": st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
    "flag": st.one_of(st.none(), st.booleans()),
}
SCHEMA = {"account_id": pl.String, "name": pl.String, "count": pl.Int64,
          "flag": pl.Boolean}


def reference(frame: pl.DataFrame) -> bytes:
    columns = []
    for name in frame.columns:
        values = frame[name].to_list()
        if frame.schema[name] == pl.Boolean:
            values = [None if v is None else ("true" if v else "false") for v in values]
        columns.append(values)
    return exports.columns_to_csv(frame.columns, columns)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries(COLUMNS), max_size=8))
def test_frame_to_csv_equals_the_csv_module(rows: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(rows, schema=SCHEMA)
    assert exports.frame_to_csv(frame) == reference(frame)


def test_a_formula_and_an_integer_id_are_told_apart() -> None:
    frame = pl.DataFrame({"account_id": ["-5", "-5x", "=1"], "name": ["-5", "a\"b", None]})
    assert exports.frame_to_csv(frame) == (
        b'"account_id","name"\r\n"-5","\'-5"\r\n"\'-5x","a""b"\r\n"\'=1",""\r\n')
    assert exports.frame_to_csv(frame) == reference(frame)
