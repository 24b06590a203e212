"""A column added to an input table's spec (contract.TABLES) reaches the workspace with no
other edit: its DDL, the loaders' staging and inserts, and Spark's view schemas are all made
from the spec (contract.stored_columns). Checked against the real DuckDB engine by adding
columns to the spec, as a developer would, and loading files that carry them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from incidentscope import api, contract, workspace
from workspace_fixtures import query, write_small_case


def _with_column(table: str, column: contract.Column) -> contract.Table:
    spec = contract.TABLES[table]
    return dataclasses.replace(spec, columns=(*spec.columns, column))


@pytest.fixture
def extended_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """audiences gains `notes` (text), deliveries `placement` (text) and matches `score`
    (int64): a reference table, a timed table and an event log."""
    monkeypatch.setitem(contract.TABLES, "audiences",
                        _with_column("audiences", contract.Column("notes", "text", False)))
    monkeypatch.setitem(contract.TABLES, "deliveries",
                        _with_column("deliveries", contract.Column("placement", "text", False)))
    monkeypatch.setitem(contract.TABLES, "matches",
                        _with_column("matches", contract.Column("score", "int64", False)))


def _add_csv_column(path: Path, name: str, values: list[str]) -> None:
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([f"{header},{name}"] + [
        f"{row},{values[i % len(values)]}" for i, row in enumerate(rows)]) + "\n")


def test_the_stored_columns_follow_the_contract() -> None:
    assert contract.stored_names("matches") == (
        "matched_at", "account_id", "audience_id", "channel", "identifier_id", "copies")
    # the raw contact and the row's own phone region are read, never stored
    assert contract.stored_names("uploads") == (
        "uploaded_at", "audience_id", "channel", "identifier_id", "copies")
    impressions = contract.stored_columns("deliveries")[-1]
    assert (impressions.name, impressions.not_null) == ("impressions", True)  # a default


def test_a_new_column_is_one_edit_to_the_spec(tmp_path: Path,
                                              extended_contract: None) -> None:
    incident, data = write_small_case(tmp_path)
    _add_csv_column(data / "deliveries.csv", "placement", ["feed", "story"])
    _add_csv_column(data / "matches.csv", "score", ["7", ""])
    result = api.load(incident, data)
    assert "audiences.csv" not in result.extra_columns  # `notes` is a contract column now
    db = tmp_path / "incident.duckdb"
    assert query(db, "SELECT audience_id, notes FROM audiences ORDER BY 1") == [
        ("aud1", "x"), ("aud2", "y")]  # aud3's type is rejected
    assert query(db, "SELECT placement FROM deliveries ORDER BY served_at") == [
        ("feed",), ("story",)]
    scores = query(db, "SELECT score, count(*) FROM matches GROUP BY 1 ORDER BY 1")
    assert [score for score, _ in scores] == [7, None]
    # a second load adds to the stored event log through the same columns
    (data / "matches.csv").write_text(
        "matched_at,account_id,audience_id,channel,identifier_sha256,score\n"
        "2019-08-09T10:00:00Z,3,aud2,,,11\n")
    api.load(incident, data)
    assert query(db, "SELECT score FROM matches WHERE account_id = 3") == [(11,)]


def test_spark_views_follow_the_spec(extended_contract: None) -> None:
    from incidentscope.spark import ingest as spark_ingest

    # VIEW_SCHEMAS is built at import; the function it is built with reads the spec
    assert spark_ingest._view_schema("audiences").endswith("partner_id STRING, notes STRING")
    assert "score BIGINT, identifier_id BIGINT, copies BIGINT" in spark_ingest._view_schema(
        "matches")
    assert "CREATE TABLE IF NOT EXISTS delivery_log (" in workspace.input_tables_sql()
    assert "impressions BIGINT NOT NULL, placement VARCHAR)" in workspace.input_tables_sql()
