"""Supervisory authorities by date and establishment, and the counts per jurisdiction."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from incidentscope.report import authorities as auth
from incidentscope.report.authorities import CountRow, lead_and_concerned

ICO = "Information Commissioner's Office (United Kingdom)"


def rows(*items: tuple[str, str | None, int]) -> tuple[CountRow, ...]:
    return tuple(CountRow(country, region, upper, upper, upper)
                 for country, region, upper in items)


@pytest.mark.parametrize(("on", "status", "regime"), [
    (date(2019, 10, 8), "EU member state", "GDPR"),
    (date(2020, 1, 31), "EU member state", "GDPR"),
    (date(2020, 2, 1), "former EU member state, transition period (GDPR applies)", "GDPR"),
    (date(2020, 12, 31), "former EU member state, transition period (GDPR applies)", "GDPR"),
    (date(2021, 1, 1), "outside the EU/EEA (UK GDPR)", "UK GDPR"),
])
def test_great_britain_either_side_of_31_january_and_31_december_2020(
        on: date, status: str, regime: str) -> None:
    assert auth.status("GB", on) == status
    assert auth.regime("GB", on) == regime
    found = lead_and_concerned(rows(("GB", None, 3), ("FR", None, 2)), on, "IE", (), None)
    assert found.lead == "IE: Data Protection Commission (Ireland)"
    if regime == "GDPR":  # the ICO is a concerned EU authority, one-stop shop
        assert f"GB: {ICO}" in found.concerned and found.separate == ()
    else:  # a separate notification under the UK GDPR
        assert not any(c.startswith("GB") for c in found.concerned)
        assert found.separate == (f"GB: {auth.UK_SEPARATE}",)
    assert "FR: Commission Nationale de l'Informatique et des Libertés (France)" in (
        found.concerned)


def test_uk_only_seat_after_the_transition_is_no_eu_establishment() -> None:
    found = lead_and_concerned(rows(("FR", None, 2)), date(2021, 3, 1), "GB", (), None)
    assert found.mode == "no_eu_establishment" and found.lead is None
    assert found.separate == (f"GB: {auth.UK_SEPARATE}",)
    before = lead_and_concerned(rows(("FR", None, 2)), date(2020, 6, 1), "GB", (), None)
    assert before.lead == f"GB: {ICO}" and before.mode == "one_stop_shop"


def test_german_accounts_go_to_the_land_authority_by_region() -> None:
    on = date(2019, 10, 8)
    with_region = rows(("DE", None, 3), ("DE", "DE-BY", 2), ("DE", "DE-HH", 1))
    found = lead_and_concerned(with_region, on, "IE", (), None)
    assert "DE-BY: Bayerisches Landesamt für Datenschutzaufsicht (Bavaria)" in found.concerned
    assert any(c.startswith("DE-HH: Hamburgischer Beauftragter") for c in found.concerned)
    assert found.undetermined == ()
    assert not any("Bundesbeauftragte" in c for c in found.concerned)
    # one German account without a region: its Land cannot be chosen, and the report says so
    partly = lead_and_concerned(rows(("DE", None, 4), ("DE", "DE-BY", 3)), on, "IE", (), None)
    assert partly.undetermined and partly.undetermined[0].startswith("DE: 1 accounts")
    assert f"DE: {auth.DE_NO_REGION}" in partly.concerned
    assert auth.authority("DE", None, on) == auth.DE_NO_REGION
    assert auth.authority("DE", "de-by", on) == auth.LAND_AUTHORITIES["DE-BY"]


def test_a_german_main_establishment_leads_by_its_land() -> None:
    found = lead_and_concerned(rows(("DE", "DE-BY", 2), ("DE", None, 2), ("ES", None, 1)),
                               date(2019, 10, 8), "DE-BY", (), None)
    assert found.lead == "DE-BY: Bayerisches Landesamt für Datenschutzaufsicht (Bavaria)"
    assert not any(c.startswith("DE-BY") for c in found.concerned)
    without_land = lead_and_concerned(rows(("ES", None, 1)), date(2019, 10, 8), "DE", (), None)
    assert without_land.lead is not None and "DE-XX" in without_land.lead


def test_a_controller_without_an_eu_establishment_notifies_every_concerned_authority() -> None:
    found = lead_and_concerned(rows(("US", None, 9), ("FR", None, 2), ("IT", None, 1),
                                    ("NO", None, 1)), date(2019, 10, 8), "none", (), None)
    assert found.mode == "no_eu_establishment" and found.lead is None
    assert [c[:2] for c in found.concerned] == ["FR", "IT", "NO"]
    assert "every concerned authority" in found.lead_basis


def test_establishments_make_their_authority_concerned() -> None:
    found = lead_and_concerned(rows(("FR", None, 2)), date(2019, 10, 8), "IE", ("NL",), None)
    assert any(c.startswith("NL: Autoriteit Persoonsgegevens") for c in found.concerned)


def test_without_a_main_establishment_the_lead_is_not_provided() -> None:
    found = lead_and_concerned(rows(("FR", None, 2)), date(2019, 10, 8), None, (), None)
    assert found.mode == "not_provided" and found.lead is None
    assert found.concerned == ("FR: Commission Nationale de l'Informatique et des Libertés "
                               "(France)",)
    named = lead_and_concerned(rows(("FR", None, 2)), date(2019, 10, 8), None, (), "el")
    assert named.lead == "GR: Hellenic Data Protection Authority (Greece)"


def test_dates_before_the_gdpr_and_the_eea_and_a_renamed_authority() -> None:
    assert lead_and_concerned(rows(("FR", None, 2)), date(2018, 5, 24), "IE", (),
                              None).mode == "not_applicable"
    assert auth.regime("NO", date(2018, 7, 19)) == "none"
    assert auth.regime("NO", date(2018, 7, 20)) == "GDPR"
    assert auth.national_authority("SE", date(2020, 12, 31)) == "Datainspektionen (Sweden)"
    assert auth.national_authority("SE", date(2021, 1, 1)) == (
        "Integritetsskyddsmyndigheten (Sweden)")
    assert auth.authority("US", None, date(2019, 10, 8)) is None


def test_counts_per_country_and_region_with_estimates() -> None:
    accounts = pl.DataFrame({
        "account_id": [1, 2, 3, 4, 5, 6],
        "certain": [True, False, False, True, False, True],
        "probability": [1.0, 0.6, 0.5, 1.0, 0.2, 1.0],
        "country": ["DE", "DE", "DE", "FR", None, "US"],
        "region": ["DE-BY", "DE-BY", None, None, None, "US-CA"],
    })
    found = {(r.country, r.region): (r.lower, r.estimate, r.upper)
             for r in auth.jurisdiction_counts(accounts)}
    # DE: 1 certain + round(0.6 + 0.5) = 2; DE-BY: 1 + round(0.6) = 2
    assert found[("DE", None)] == (1, 2, 3)
    assert found[("DE", "DE-BY")] == (1, 2, 2)
    assert found[("FR", None)] == (1, 1, 1)
    assert found[("", None)] == (0, 0, 1)
    assert found[("US", "US-CA")] == (1, 1, 1)
    order = [(r.country, r.region) for r in auth.jurisdiction_counts(accounts)]
    assert order[:2] == [("DE", None), ("DE", "DE-BY")]  # regions follow their country
    no_region = accounts.drop("region")
    assert all(r.region is None for r in auth.jurisdiction_counts(no_region))
