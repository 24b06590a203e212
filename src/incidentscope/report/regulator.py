"""The report to the supervisory authority, after GDPR Art. 33(3), in Markdown, HTML and PDF.

Free text comes from the incident file's `[report]` section, every number from the run,
and every count passes small-count suppression (`suppress.py`) before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from incidentscope.config import Incident, parse_instant
from incidentscope.errors import ConfigError
from incidentscope.report.document import Block, Bullets, Heading, Para, Table
from incidentscope.report.suppress import Group, Suppressed, suppress
from incidentscope.results import ReplayResult

# EU/EEA supervisory authorities (GDPR Art. 51), by ISO 3166-1 alpha-2 code.
AUTHORITIES: dict[str, str] = {
    "AT": "Österreichische Datenschutzbehörde (Austria)",
    "BE": "Autorité de protection des données / Gegevensbeschermingsautoriteit (Belgium)",
    "BG": "Commission for Personal Data Protection (Bulgaria)",
    "CY": "Commissioner for Personal Data Protection (Cyprus)",
    "CZ": "Úřad pro ochranu osobních údajů (Czechia)",
    "DE": "Bundesbeauftragte für den Datenschutz und die Informationsfreiheit, "
          "and the competent Land authority (Germany)",
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
    "RO": "Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter Personal "
          "(Romania)",
    "SE": "Integritetsskyddsmyndigheten (Sweden)",
    "SI": "Informacijski pooblaščenec (Slovenia)",
    "SK": "Úrad na ochranu osobných údajov (Slovakia)",
}
_ALIASES = {"EL": "GR"}
CHANNEL_NAMES = {"email": "email addresses", "phone": "phone numbers"}
METHOD = ("Method: every logged audience match of the window was replayed against the "
          "periodic snapshots of the contact data; the lower bound counts accounts matched "
          "through a contact held only for security, the upper bound adds every account the "
          "snapshots cannot clear, and the estimate weighs those by how likely each match was "
          "caused.")
NOT_GIVEN = "not given in the incident file"
# The PDF's creation date: a constant, as reproducible builds do (no date of "now").
FIXED_PDF_DATE = datetime(2000, 1, 1, tzinfo=UTC)


def authority(code: str) -> str | None:
    return AUTHORITIES.get(_ALIASES.get(code.upper(), code.upper()))


@dataclass(frozen=True)
class Figures:
    """The regulator report's counts, suppressed together, and the country rows."""

    cells: Suppressed
    countries: tuple[str, ...]  # sorted by upper desc, lower desc, code
    unknown_country: bool


def figures(result: ReplayResult, min_cell: int) -> Figures:
    report = result.report
    affected = report["affected_accounts"]
    matches = report["matches"]
    values: dict[str, int] = {
        "accounts:lower": affected["lower"], "accounts:estimate": affected["estimate"],
        "accounts:upper": affected["upper"],
        "records:lower": matches["caused"],
        "records:upper": matches["caused"] + matches["uncertain"] + matches["unexplained"],
    }
    for key in ("affected_campaigns", "affected_advertisers", "affected_partners"):
        for bound in ("lower", "upper"):
            values[f"{key}:{bound}"] = report[key][bound]
    deliveries = report["deliveries"] or {}
    for key, figure in deliveries.items():
        for bound in ("lower", "upper"):
            values[f"deliveries:{key}:{bound}"] = figure[bound]
    by_country = report["by_country"]
    for code, figure in by_country.items():
        for bound in ("lower", "upper"):
            values[f"country:{code}:{bound}"] = figure[bound]
    groups = []
    for bound in ("lower", "upper"):
        # accounts without a country close each column, so the columns add up to the headline
        values[f"country::{bound}"] = affected[bound] - sum(f[bound] for f in by_country.values())
        members = (*(f"country:{code}:{bound}" for code in by_country), f"country::{bound}")
        groups.append(Group(members, f"accounts:{bound}"))
    order = tuple(sorted(by_country, key=lambda c: (-by_country[c]["upper"],
                                                    -by_country[c]["lower"], c)))
    return Figures(suppress(values, groups, min_cell), order,
                   values["country::upper"] > 0 or values["country::lower"] > 0)


def lead_and_concerned(result: ReplayResult, incident: Incident,
                       order: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """(lead authority, how it was chosen, concerned EU/EEA authorities)."""
    eea = [code for code in order if authority(code)]
    given = incident.report_text.get("lead_authority", "").strip()
    lead_code = ""
    if given:
        lead_code = given.upper() if authority(given) else ""
        lead = f"{given.upper()}: {authority(given)}" if lead_code else given
        how = "as given in the incident file"
    elif eea:
        lead_code = eea[0]
        lead = f"{lead_code}: {authority(lead_code)}"
        how = ("proposed as the EU/EEA country with the most affected accounts; the lead "
               "authority is that of the controller's main establishment (Art. 56): set "
               "[report].lead_authority")
    else:
        lead, how = "none: no affected account in an EU/EEA country", ""
    concerned = [f"{code}: {authority(code)}" for code in sorted(eea)
                 if _ALIASES.get(code, code) != _ALIASES.get(lead_code, lead_code)]
    return lead, how, concerned


def _hours_late(text: dict[str, str]) -> float | None:
    if "discovered_at" not in text or "notified_at" not in text:
        return None
    try:
        found = parse_instant(text["discovered_at"], "[report].discovered_at")
        told = parse_instant(text["notified_at"], "[report].notified_at")
    except ConfigError:
        return None
    return (told - found).total_seconds() / 3600


def blocks(result: ReplayResult, incident: Incident) -> list[Block]:
    report = result.report
    text = incident.report_text
    run = report["incident"]
    cells = figures(result, incident.min_cell)
    show = cells.cells.show

    def given(key: str) -> str:
        return text.get(key, "").strip() or NOT_GIVEN

    channels = [CHANNEL_NAMES.get(c, c) for c in report["by_channel"]] or [
        "phone numbers", "email addresses"]
    out: list[Block] = [
        Heading(1, f"Personal data breach notification: {run['title']}"),
        Para(f"Notification to the supervisory authority under Article 33 GDPR. Incident "
             f"reference {run['id']}. Counts below {incident.min_cell} are shown as "
             f"<{incident.min_cell}; counts marked ≥{incident.min_cell} are withheld so that a "
             "small count cannot be worked out from a total."),
        Heading(2, "1. Controller and contact point (Art. 33(3)(b))"),
        Table(("", ""), (("Controller", given("controller")),
                         ("Contact for this notification", given("controller_contact")),
                         ("Data protection officer", given("dpo_contact"))), (False, False)),
        Heading(2, "2. Nature of the breach (Art. 33(3)(a))"),
        Para("Type: breach of purpose limitation (Art. 5(1)(b)): contact data that people "
             "provided for security purposes was used for advertising, to match their "
             "accounts into advertisers' and data partners' audiences."),
        Para(given("nature")),
        Bullets((
            "Categories of data subjects: holders of user accounts whose security contact "
            "data was used for audience matching.",
            f"Categories of personal data: {', '.join(channels)} provided for "
            f"{', '.join(run['restricted_purposes'])}; audience types concerned: "
            f"{', '.join(run['audience_types'])}.")),
        Heading(2, "3. Approximate number of data subjects and records"),
        Para(f"At most {show('accounts:upper')} accounts may be affected (the upper bound). "
             f"At least {show('accounts:lower')} are affected for certain; the best estimate "
             f"is {show('accounts:estimate')}."),
        Table(("", "lower (certain)", "estimate", "upper (maximum)"), (
            ("Data subjects (accounts)", show("accounts:lower"), show("accounts:estimate"),
             show("accounts:upper")),
            ("Records (audience matches)", show("records:lower"), "", show("records:upper")),
            ("Campaigns", show("affected_campaigns:lower"), "",
             show("affected_campaigns:upper")),
            ("Advertisers", show("affected_advertisers:lower"), "",
             show("affected_advertisers:upper")),
            ("Data partners", show("affected_partners:lower"), "",
             show("affected_partners:upper")))),
        Para(METHOD),
    ]
    if report["deliveries"] is not None:
        out.append(Para(
            f"Ads were shown because of the incident to between "
            f"{show('deliveries:accounts:lower')} and {show('deliveries:accounts:upper')} "
            f"accounts in the window, and to between "
            f"{show('deliveries:after_fix_accounts:lower')} and "
            f"{show('deliveries:after_fix_accounts:upper')} after the fix."))
    hours = _hours_late(text)
    out += [
        Heading(2, "4. Timeline"),
        Table(("", ""), (
            ("Breach started", given("started_at")),
            ("First match replayed (window start)", run["window_start"]),
            ("Fixed", run["fix_at"]),
            ("Discovered (controller became aware)", given("discovered_at")),
            ("Notified", given("notified_at")),
            ("Hours from discovery to notification", "unknown" if hours is None
             else f"{hours:,.0f}")), (False, False)),
        Heading(2, "5. Likely consequences (Art. 33(3)(c))"),
        Para(given("consequences")),
        Heading(2, "6. Measures taken or proposed (Art. 33(3)(d))"),
        Para(given("measures")),
    ]
    post_fix = report["post_fix"]
    out.append(Para("Control after the fix: no match after the fix could only be explained by "
                    "security contact data." if post_fix["fix_held"] else
                    "Control after the fix: matches after the fix are still explained only by "
                    "security contact data; the fix did not hold.", strong=not post_fix[
                        "fix_held"]))
    out += _countries(result, incident, cells)
    if hours is not None and hours > 72:
        out += [Heading(2, "8. Reasons for the delay (Art. 33(1))"),
                Para(f"The notification comes {hours:,.0f} hours after discovery, later than "
                     f"72 hours. {given('delay_reason')}")]
    return out


def _countries(result: ReplayResult, incident: Incident, cells: Figures) -> list[Block]:
    show = cells.cells.show
    rows: list[tuple[str, ...]] = [
        (code, authority(code) or "outside the EU/EEA", show(f"country:{code}:lower"),
         show(f"country:{code}:upper")) for code in cells.countries]
    if cells.unknown_country:
        rows.append(("unknown", "no country recorded", show("country::lower"),
                     show("country::upper")))
    rows.append(("total", "", show("accounts:lower"), show("accounts:upper")))
    lead, how, concerned = lead_and_concerned(result, incident, cells.countries)
    out: list[Block] = [
        Heading(2, "7. Countries and supervisory authorities concerned"),
        Table(("country", "EU/EEA supervisory authority", "accounts lower", "upper"),
              tuple(rows), (False, False, True, True)),
        Para(f"Lead supervisory authority: {lead}" + (f" ({how})." if how else ".")),
        Para("Supervisory authorities concerned: " + ("; ".join(concerned) or "none") + "."),
    ]
    return out


def title(result: ReplayResult) -> str:
    return f"Personal data breach notification: {result.report['incident']['title']}"


def _font_files() -> tuple[str, str]:
    """DejaVu Sans as bundled with matplotlib: the same glyphs on every machine."""
    import matplotlib

    base = f"{matplotlib.get_data_path()}/fonts/ttf"
    return f"{base}/DejaVuSans.ttf", f"{base}/DejaVuSans-Bold.ttf"


def to_pdf(document: list[Block], doc_title: str) -> bytes:
    """The blocks as an A4 PDF (fpdf2), with no creation date: same input, same bytes."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    regular, bold = _font_files()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_PDF_DATE)  # no date of "now": same input, same bytes
    pdf.set_title(doc_title)
    pdf.set_producer("incidentscope")
    pdf.set_creator("incidentscope")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, 16)
    pdf.add_page()
    sizes = {1: 15.0, 2: 12.0}
    for block in document:
        if isinstance(block, Heading):
            pdf.set_font("DejaVu", "B", sizes.get(block.level, 11.0))
            pdf.ln(3 if block.level > 1 else 0)
            pdf.multi_cell(0, 6.5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Para):
            pdf.set_font("DejaVu", "B" if block.strong else "", 9.5)
            pdf.multi_cell(0, 5, block.text, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(block, Bullets):
            pdf.set_font("DejaVu", "", 9.5)
            for item in block.items:
                pdf.multi_cell(0, 5, f"•  {item}", align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(block, Table):
            pdf.set_font("DejaVu", "", 9)
            headed = any(block.header)
            align = tuple("RIGHT" if block.right(i) else "LEFT"
                          for i in range(len(block.header)))
            widths = tuple(max(8, min(48, max(len(r[i]) for r in (block.header, *block.rows))))
                           for i in range(len(block.header)))
            with pdf.table(text_align=align, col_widths=widths, first_row_as_headings=headed,
                           line_height=5,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(244, 246, 248)),
                           borders_layout="HORIZONTAL_LINES") as table:
                for row in ((block.header,) if headed else ()) + block.rows:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(2)
    return bytes(pdf.output())
