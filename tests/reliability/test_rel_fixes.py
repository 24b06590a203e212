"""Regression tests for the defects the reliability suite found (each also covered by a case)."""

from __future__ import annotations

from pathlib import Path

import pytest
from relhelp import Figure, query

from incidentscope import api
from incidentscope.errors import BadDataError
from workspace_fixtures import write_small_case


@pytest.mark.case(1)
def test_a_blank_contact_is_a_missing_value_not_an_internal_error(tmp_path: Path,
                                                                  figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "contacts" / "contacts_2019-08-19.csv").write_text(
        "account_id,channel,contact,purposes\n1,email,   ,two_factor\n"
        "1,email,a@example.com,two_factor\n")
    figure.tried += 1
    api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT line, column_name, reason FROM rejects WHERE path LIKE '%08-19%'") == [
        (2, "contact", "missing value")]


@pytest.mark.case(1)
def test_structural_rejects_name_the_physical_line_once(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "deliveries.csv").write_text(
        "served_at,campaign_id,account_id,impressions\n"
        '2019-08-08T00:00:00Z,"two\nlines",1,1\n'  # lines 2-3
        "\n"  # line 4: blank, no row
        "2019-08-08T00:00:00Z,c1\n"  # line 5: missing columns
        "2019-08-08T00:00:00Z,c1,x,1\n")  # line 6: bad account id
    figure.tried += 1
    result = api.load(incident, data)
    assert query(tmp_path / "incident.duckdb",
                 "SELECT line, column_name, reason FROM rejects WHERE path = 'deliveries.csv' "
                 "ORDER BY line") == [(5, "account_id", "missing columns"),
                                      (6, "account_id", "not a 64-bit integer")]
    assert sum(result.rejects_by_reason.values()) == result.rows_rejected


@pytest.mark.case(2)
def test_an_unterminated_quote_refuses_the_file(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    (data / "deliveries.csv").write_text(
        "served_at,campaign_id,account_id\n2019-08-08T00:00:00Z,\"c1,1\n"
        "2019-08-08T00:00:00Z,c1,2\n2019-08-08T00:00:00Z,c1,3\n")
    figure.tried += 1
    with pytest.raises(BadDataError, match=r"deliveries.csv: line 2: unterminated"):
        api.load(incident, data)
    assert not (tmp_path / "incident.duckdb").exists() or query(
        tmp_path / "incident.duckdb", "SELECT count(*) FROM files") == [(0,)]
