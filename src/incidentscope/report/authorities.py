"""Supervisory authorities by date and establishment, and the counts per jurisdiction.

Which authority a notification goes to depends on its date:
- the GDPR applies from 25 May 2018 in the EU, and from 20 July 2018 in the EEA EFTA states
  (Iceland, Liechtenstein, Norway: EEA Joint Committee Decision 154/2018);
- the United Kingdom left the EU on 31 January 2020; until the end of the transition period
  (31 December 2020) the GDPR still applied there and the ICO took part in the one-stop
  shop; from 1 January 2021 a breach concerning people in the UK is notified to the ICO
  separately, under the UK GDPR;
- an authority may change its name (Sweden's Datainspektionen is Integritetsskyddsmyndigheten
  from 1 January 2021).

In Germany, private-sector controllers answer to the data protection authority of the Land
(BDSG § 40), not to the federal BfDI; an account's optional `region` (ISO 3166-2, e.g.
DE-BY) chooses the Land. Without a region the Land cannot be chosen, and the report says so.

Lead and concerned authorities (Art. 56, Art. 4(22)): with a main establishment in the
EU/EEA, its authority leads and the authorities of every other country with an affected
account (or an establishment) are concerned. A controller without an EU/EEA establishment
has no lead authority: it notifies every concerned authority.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl

from incidentscope.notification import CODE_PATTERN

GDPR_APPLIES = date(2018, 5, 25)
EEA_APPLIES = date(2018, 7, 20)
GB_LEFT_EU = date(2020, 2, 1)  # first day outside the EU
GB_TRANSITION_ENDED = date(2021, 1, 1)  # first day under the UK GDPR alone

EU27 = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
EEA_EFTA = ("IS", "LI", "NO")
ALIASES = {"EL": "GR", "UK": "GB"}

# (first day, last day or None, name): one row per name an authority had since the GDPR.
_NAMES: dict[str, tuple[tuple[date, date | None, str], ...]] = {
    code: ((GDPR_APPLIES, None, name),) for code, name in {
        "AT": "Österreichische Datenschutzbehörde (Austria)",
        "BE": "Autorité de protection des données / Gegevensbeschermingsautoriteit (Belgium)",
        "BG": "Commission for Personal Data Protection (Bulgaria)",
        "CY": "Commissioner for Personal Data Protection (Cyprus)",
        "CZ": "Úřad pro ochranu osobních údajů (Czechia)",
        "DK": "Datatilsynet (Denmark)",
        "EE": "Andmekaitse Inspektsioon (Estonia)",
        "ES": "Agencia Española de Protección de Datos (Spain)",
        "FI": "Office of the Data Protection Ombudsman (Finland)",
        "FR": "Commission Nationale de l'Informatique et des Libertés (France)",
        "GR": "Hellenic Data Protection Authority (Greece)",
        "HR": "Agencija za zaštitu osobnih podataka (Croatia)",
        "HU": "Nemzeti Adatvédelmi és Információszabadság Hatóság (Hungary)",
        "IE": "Data Protection Commission (Ireland)",
        "IS": "Persónuvernd (Iceland)",
        "IT": "Garante per la protezione dei dati personali (Italy)",
        "LI": "Datenschutzstelle (Liechtenstein)",
        "LT": "Valstybinė duomenų apsaugos inspekcija (Lithuania)",
        "LU": "Commission nationale pour la protection des données (Luxembourg)",
        "LV": "Datu valsts inspekcija (Latvia)",
        "MT": "Information and Data Protection Commissioner (Malta)",
        "NL": "Autoriteit Persoonsgegevens (Netherlands)",
        "NO": "Datatilsynet (Norway)",
        "PL": "Urząd Ochrony Danych Osobowych (Poland)",
        "PT": "Comissão Nacional de Proteção de Dados (Portugal)",
        "RO": "Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter "
              "Personal (Romania)",
        "SI": "Informacijski pooblaščenec (Slovenia)",
        "SK": "Úrad na ochranu osobných údajov (Slovakia)",
        "GB": "Information Commissioner's Office (United Kingdom)",
    }.items()
}
_NAMES["SE"] = ((GDPR_APPLIES, date(2020, 12, 31), "Datainspektionen (Sweden)"),
                (GB_TRANSITION_ENDED, None, "Integritetsskyddsmyndigheten (Sweden)"))

# The Land authorities that supervise the private sector in Germany (BDSG § 40).
LAND_AUTHORITIES: dict[str, str] = {
    "DE-BW": "Landesbeauftragter für den Datenschutz und die Informationsfreiheit "
             "Baden-Württemberg",
    "DE-BY": "Bayerisches Landesamt für Datenschutzaufsicht (Bavaria)",
    "DE-BE": "Berliner Beauftragte für Datenschutz und Informationsfreiheit",
    "DE-BB": "Landesbeauftragte für den Datenschutz und für das Recht auf Akteneinsicht "
             "Brandenburg",
    "DE-HB": "Landesbeauftragte für Datenschutz und Informationsfreiheit der Freien "
             "Hansestadt Bremen",
    "DE-HH": "Hamburgischer Beauftragter für Datenschutz und Informationsfreiheit",
    "DE-HE": "Hessischer Beauftragter für Datenschutz und Informationsfreiheit",
    "DE-MV": "Landesbeauftragter für Datenschutz und Informationsfreiheit "
             "Mecklenburg-Vorpommern",
    "DE-NI": "Landesbeauftragte für den Datenschutz Niedersachsen",
    "DE-NW": "Landesbeauftragte für Datenschutz und Informationsfreiheit Nordrhein-Westfalen",
    "DE-RP": "Landesbeauftragter für den Datenschutz und die Informationsfreiheit "
             "Rheinland-Pfalz",
    "DE-SL": "Unabhängiges Datenschutzzentrum Saarland",
    "DE-SN": "Sächsischer Datenschutzbeauftragter (Saxony)",
    "DE-ST": "Landesbeauftragter für den Datenschutz Sachsen-Anhalt",
    "DE-SH": "Unabhängiges Landeszentrum für Datenschutz Schleswig-Holstein",
    "DE-TH": "Thüringer Landesbeauftragter für den Datenschutz und die Informationsfreiheit",
}
DE_NO_REGION = "the Land authority of the Land concerned (Germany; no region recorded)"
UK_SEPARATE = ("Information Commissioner's Office (United Kingdom), a separate notification "
               "under the UK GDPR")

GDPR, UK_GDPR, NONE = "GDPR", "UK GDPR", "none"


def canonical(code: str) -> str:
    code = code.strip().upper()
    head, _, tail = code.partition("-")
    head = ALIASES.get(head, head)
    return f"{head}-{tail}" if tail else head


def regime(country: str, on: date) -> str:
    """The regime that protects people in `country` on `on`: GDPR, UK GDPR or none."""
    country = canonical(country)
    if on < GDPR_APPLIES:
        return NONE
    if country in EU27 or (country in EEA_EFTA and on >= EEA_APPLIES):
        return GDPR
    if country == "GB":
        return GDPR if on < GB_TRANSITION_ENDED else UK_GDPR
    return NONE


def status(country: str, on: date) -> str:
    """How `country` stood to the EU/EEA on `on`, in words."""
    country = canonical(country)
    if country in EU27:
        return "EU member state"
    if country in EEA_EFTA:
        return "EEA state" if on >= EEA_APPLIES else "EEA state (GDPR not yet in the EEA)"
    if country == "GB":
        if on < GB_LEFT_EU:
            return "EU member state"
        if on < GB_TRANSITION_ENDED:
            return "former EU member state, transition period (GDPR applies)"
        return "outside the EU/EEA (UK GDPR)"
    return "outside the EU/EEA" if country else "unknown"


def national_authority(country: str, on: date) -> str | None:
    """The national authority's name on `on` (no Land: see `authority`)."""
    for first, last, name in _NAMES.get(canonical(country), ()):
        if first <= on and (last is None or on <= last):
            return name
    return None


def authority(country: str, region: str | None, on: date) -> str | None:
    """The authority for people (or an establishment) in `country`/`region` on `on`."""
    country = canonical(country)
    if regime(country, on) == NONE:
        return None
    if regime(country, on) == UK_GDPR:
        return UK_SEPARATE
    if country == "DE":
        code = canonical(region) if region else ""
        return LAND_AUTHORITIES.get(code, DE_NO_REGION)
    return national_authority(country, on)


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class CountRow:
    """Accounts in one country (region None) or one region of it."""

    country: str  # "" when the accounts have no country
    region: str | None
    lower: int
    estimate: int
    upper: int


def _estimate(certain: list[bool], probability: list[float]) -> tuple[int, int, int]:
    lower = sum(certain)
    mass = math.fsum(p for c, p in zip(certain, probability, strict=True) if not c)
    upper = len(certain)
    return lower, min(max(lower + round(mass), lower), upper), upper


def jurisdiction_counts(accounts: pl.DataFrame) -> tuple[CountRow, ...]:
    """Per country and, where `accounts` has a `region` column, per region.

    `accounts` is ReplayResult.accounts: every account in the upper bound with `certain`,
    `probability` and `country` (null without an accounts row), and optionally `region`.
    The estimate of a group is its certain accounts plus the rounded sum of its other
    accounts' probabilities, as for the headline (so groups need not add up to it).
    Sorted by upper, then lower (both descending), then code; regions follow their country.
    """
    frame = accounts.sort("account_id")
    regions = "region" in frame.columns
    groups: dict[tuple[str, str | None], tuple[list[bool], list[float]]] = {}
    columns = [frame[c].to_list() for c in ("certain", "probability", "country")]
    region_list = frame["region"].to_list() if regions else [None] * frame.height
    for certain, probability, country, region in zip(*columns, region_list, strict=True):
        code = canonical(country) if country else ""
        keys: list[tuple[str, str | None]] = [(code, None)]
        if region:
            keys.append((code, canonical(str(region))))
        for key in keys:
            flags, probabilities = groups.setdefault(key, ([], []))
            flags.append(bool(certain))
            probabilities.append(float(probability))
    rows = {key: CountRow(key[0], key[1], *_estimate(*value)) for key, value in groups.items()}

    def order(row: CountRow) -> tuple[int, int, str]:
        return (-row.upper, -row.lower, row.region or row.country or "~")

    out: list[CountRow] = []
    for country_row in sorted((r for r in rows.values() if r.region is None), key=order):
        out.append(country_row)
        out += sorted((r for r in rows.values() if r.region is not None
                       and r.country == country_row.country), key=order)
    return tuple(out)


# --------------------------------------------------------------------------- lead, concerned


@dataclass(frozen=True)
class Authorities:
    on: date
    mode: str  # one_stop_shop | no_eu_establishment | not_provided | not_applicable
    lead: str | None
    lead_basis: str
    concerned: tuple[str, ...]
    separate: tuple[str, ...]  # notifications outside the GDPR (the UK after 2020)
    undetermined: tuple[str, ...]  # accounts whose authority cannot be chosen


def _label(code: str, name: str) -> str:
    return f"{code}: {name}"


def _jurisdiction_authorities(rows: Iterable[CountRow], on: date) -> dict[str, str]:
    """code -> authority of every jurisdiction with an account in the upper bound."""
    found: dict[str, str] = {}
    for row in rows:
        if not row.upper or not row.country or regime(row.country, on) != GDPR:
            continue
        if row.country == "DE":
            name = LAND_AUTHORITIES.get(row.region or "")
            if name:
                found[str(row.region)] = name
            continue
        if row.region is None:
            name = national_authority(row.country, on)
            if name:
                found[row.country] = name
    return found


def _german_gaps(rows: tuple[CountRow, ...], on: date) -> list[str]:
    if regime("DE", on) != GDPR:
        return []
    total = next((r.upper for r in rows if r.country == "DE" and r.region is None), 0)
    placed = sum(r.upper for r in rows if r.country == "DE" and r.region in LAND_AUTHORITIES)
    if total > placed:
        return [f"DE: {total - placed:,} accounts (upper bound) have no German region "
                "(ISO 3166-2, e.g. DE-BY) in accounts: the competent Land authorities "
                "cannot be chosen for them"]
    return []


def lead_and_concerned(rows: tuple[CountRow, ...], on: date, main_establishment: str | None,
                       establishments: tuple[str, ...], lead_authority: str | None
                       ) -> Authorities:
    """The lead authority, the concerned ones and the separate notifications on `on`."""
    if on < GDPR_APPLIES:
        return Authorities(on, "not_applicable", None, "the GDPR applies from 25 May 2018",
                           (), (), ())
    found = _jurisdiction_authorities(rows, on)
    for code in map(canonical, establishments):  # Art. 4(22)(a): an establishment there
        country = code.split("-")[0]
        name = authority(country, code, on)
        if name and regime(country, on) == GDPR:
            found.setdefault(code, name)
    separate = []
    uk_people = any(r.country == "GB" and r.region is None and r.upper for r in rows)
    uk_seat = any(canonical(c).startswith("GB") for c in (main_establishment or "",
                                                           *establishments))
    if regime("GB", on) == UK_GDPR and (uk_people or uk_seat):
        separate.append(_label("GB", UK_SEPARATE))
    undetermined = tuple(_german_gaps(rows, on))
    if undetermined and regime("DE", on) == GDPR:
        found["DE"] = DE_NO_REGION
    main = (main_establishment if main_establishment in (None, "none")
            else canonical(main_establishment))
    if main == "none" or (main is not None and regime(main.split("-")[0], on) != GDPR):
        return Authorities(on, "no_eu_establishment", None,
                           "no main establishment in the EU/EEA on this date: the one-stop "
                           "shop (Art. 56) does not apply, every concerned authority is "
                           "notified", tuple(_label(c, n) for c, n in sorted(found.items())),
                           tuple(separate), undetermined)
    lead_code = ""
    if lead_authority:
        given = canonical(lead_authority)
        name = (authority(given.split("-")[0], given, on) if CODE_PATTERN.match(given)
                else None)
        lead_code = given if name else ""
        lead = _label(given, name) if name else lead_authority
        basis = "the controller's statement ([notification].lead_authority)"
    elif main is not None:
        name = authority(main.split("-")[0], main, on)
        if name == DE_NO_REGION:
            name = ("the Land authority of the main establishment (Germany): give "
                    "[notification].main_establishment as DE-XX")
        lead_code, lead = main, _label(main, name or "")
        basis = "the authority of the main establishment (Art. 56(1))"
    else:
        return Authorities(on, "not_provided", None,
                           "not provided: the lead authority is the one of the controller's "
                           "main establishment (Art. 56); give [notification]."
                           "main_establishment", tuple(_label(c, n) for c, n in
                                                       sorted(found.items())),
                           tuple(separate), undetermined)
    concerned = tuple(_label(c, n) for c, n in sorted(found.items()) if c != lead_code)
    return Authorities(on, "one_stop_shop", lead, basis, concerned, tuple(separate),
                       undetermined)
