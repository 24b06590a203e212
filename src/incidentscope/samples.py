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
controller = "Example Social Network Ltd. (synthetic sample controller)"
controller_contact = "privacy@example.com"
dpo_contact = "Data Protection Officer, dpo@example.com"
started_at = "2019-01-01"
discovered_at = "2019-09-16"
notified_at = "2019-10-08"
nature = "Phone numbers and email addresses that people provided for security purposes (two-factor authentication, account recovery) may have been used to match their accounts to advertisers' marketing lists (tailored audiences) and data partners' lists (partner audiences)."
consequences = "Advertisers could reach affected people with ads based on contact data they had given only for account security. No personal data was passed to advertisers or partners."
measures = "The matching error was fixed on 2019-09-17; security-only contact data is no longer used for advertising. Affected people are informed."
delay_reason = "The number of affected accounts had to be reconstructed from historical match logs and contact snapshots."
lead_authority = "IE"
"""


def sample_dir() -> Path:
    return Path(str(resources.files("incidentscope").joinpath("sample_data")))


def write_sample_data(out_dir: Path) -> None:
    """Regenerate the sample investigation into out_dir (data/, incident.toml, truth)."""
    generate(out_dir, SAMPLE_PARAMS)
    (out_dir / "incident.toml").write_text(SAMPLE_INCIDENT, encoding="utf-8")


def prepare_demo(out_dir: Path) -> tuple[Path, Path, Path]:
    """(incident file, data folder, workspace path) for a demo run into out_dir."""
    root = sample_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    return root / "incident.toml", root / "data", out_dir / "workspace.duckdb"
