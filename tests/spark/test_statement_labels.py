"""The names a Spark run's jobs carry: which statement made and read what, no values."""

from __future__ import annotations

import sqlglot

from incidentscope.spark.engine import statement_label


def label(sql: str) -> str:
    return statement_label(sqlglot.parse_one(sql, read="duckdb"))


def test_a_created_table_is_named_with_what_it_reads() -> None:
    assert label("CREATE TEMP TABLE classified AS SELECT m.a FROM scoped_matches m "
                 "JOIN candidate_states c USING (a) WHERE m.t < TIMESTAMP '2019-09-17'") == (
        "incidentscope: create classified from candidate_states, scoped_matches")


def test_inserts_and_queries_are_named_and_bound_values_are_not() -> None:
    assert label("INSERT INTO accounts SELECT * FROM accounts_staged") == (
        "incidentscope: insert into accounts from accounts_staged")
    query = label("SELECT count(*) FROM classified WHERE account_id = 4711 "
                  "AND label = 'secret@example.com'")
    assert query == "incidentscope: query from classified"
    assert "4711" not in query and "secret" not in query
