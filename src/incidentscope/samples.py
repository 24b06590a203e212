"""The bundled sample investigation (generated, synthetic) and the demo's setup.

`sample_data/` is made by `write_sample_data` with fixed parameters; a test
regenerates it and compares, so the committed files never drift from the
generator.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from incidentscope.generator import ScenarioParams, generate

SAMPLE_PARAMS = ScenarioParams(accounts=600, seed=2019, snapshot_every_days=14,
                               matches_per_account=6.0, post_fix_leak=True)

SAMPLE_INCIDENT = """\
# The sample investigation, modeled on the 2019 disclosure: phone numbers and email
# addresses given for two-factor authentication or account recovery were used to
# match accounts into tailored and partner audiences until the fix on 2019-09-17.
# All data in sample_data/ is synthetic, made by `incidentscope generate`.

[incident]
id = "security-contacts-2019-sample"
title = "Security contact data used for ad audience matching"
window_start = "2019-01-01"
fix_at = "2019-09-17T00:00:00Z"
restricted_purposes = ["two_factor", "account_recovery"]
audience_types = ["tailored", "partner"]
input_timezone = "UTC"
normalization = "twitter"

[report]
min_cell = 10

# The controller's statements in the notification to the supervisory authority
# (docs/incident-file.md#notification). Synthetic, like the data.
[notification]
type = "complete"
controller = "Example Social Network Ltd. (synthetic sample controller)"
controller_contact = "privacy@example.com"
reporting_person = "Head of Privacy, privacy@example.com"
dpo_contact = "Data Protection Officer, dpo@example.com"
main_establishment = "IE"
started_at = "2019-01-01"
discovered_at = "2019-09-16"
discovery_method = "internal_review"
discovery_description = "An engineer reviewing the audience matcher found that contacts held only for security purposes were not excluded from matching."
notified_at = "2019-10-08"
delay_reason = "The number of affected accounts had to be reconstructed from historical match logs and contact snapshots."
nature = "Phone numbers and email addresses that people provided for security purposes (two-factor authentication, account recovery) may have been used to match their accounts to advertisers' marketing lists (tailored audiences) and data partners' lists (partner audiences)."
breach_categories = ["confidentiality"]
root_cause = "software_error"
root_cause_description = "The audience matcher read every contact of an account and did not check the purposes it was given for."
measures_in_place = "Purposes were recorded for every contact; access to contact data was limited to the matching service."
consequences = "Advertisers could reach affected people with ads based on contact data they had given only for account security."
consequence_types = ["loss_of_control", "unwanted_advertising"]
measures_mitigation = "The matching error was fixed on 2019-09-17. Audience memberships created through security-only contact data are being removed, and the advertisers and data partners concerned are asked to purge them."
measures_prevention = "A purpose check on every audience match, a regression test with security-only contacts, and a quarterly review of the matcher."
other_bodies_informed = ["none"]
data_subjects_informed = "planned"
communication_channels = ["email", "in_app"]
communication_content = "A notice in the person's language: what happened, which advertisers and partners held their account in which audiences, whether they were shown ads, and what they can do."
art34_exception = "none"

[notification.risk]
data_type = "simple"
dpc_score = 2
dpc_reason = "Contact data (simple data, 1) used to place people in advertisers' audiences, which reveals a customer relationship and allows targeting (+1)."
ease_of_identification = "maximum"
ease_reason = "The advertisers uploaded the person's own email address or phone number."
integrity = "none"
availability = "none"
malicious = false
"""


def sample_dir() -> Path:
    return Path(str(resources.files("incidentscope").joinpath("sample_data")))


def write_sample_data(out_dir: Path) -> None:
    """Regenerate the sample investigation into out_dir (data/, incident.toml, truth)."""
    generate(out_dir, SAMPLE_PARAMS)
    (out_dir / "incident.toml").write_text(SAMPLE_INCIDENT, encoding="utf-8")


def prepare_demo(out_dir: Path) -> tuple[Path, Path, Path]:
    """(incident file, data folder, workspace path) for a demo run into out_dir.

    The sample's incident file is copied into out_dir with the workspace beside it (its
    default place), so that `explain`, `lookup`, `what-if` and `status` run on
    `OUT/incident.toml` as for any investigation. An out_dir holding another
    incident.toml is refused: the demo never overwrites an investigation's file.
    """
    from incidentscope.errors import UsageError

    text = (sample_dir() / "incident.toml").read_text("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    incident = out_dir / "incident.toml"
    if incident.exists():
        if not incident.is_file() or incident.read_text("utf-8", errors="replace") != text:
            raise UsageError(f"--out {out_dir}: holds another incident.toml; choose a folder "
                             "for the demo")
    else:
        incident.write_text(text, "utf-8")
    return incident, sample_dir() / "data", out_dir / "incident.duckdb"
