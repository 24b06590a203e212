"""Parameters and result of the scenario generator (documented in docs/scenarios.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

# Country of an account and its weight; every country here has a phonenumbers example mobile.
DEFAULT_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 0.34), ("GB", 0.10), ("DE", 0.09), ("FR", 0.07), ("IE", 0.03), ("NL", 0.04),
    ("ES", 0.06), ("IT", 0.06), ("BR", 0.08), ("IN", 0.08), ("JP", 0.05),
)


@dataclass(frozen=True)
class ScenarioParams:
    """Knobs of one generated scenario; every knob is described in docs/scenarios.md."""

    accounts: int = 2000
    seed: int = 1
    snapshot_every_days: int = 7
    window_start: date = date(2019, 1, 1)
    fix_at: date = date(2019, 9, 17)
    end: date = date(2019, 12, 31)
    matches_per_account: float = 8.0
    identifier_share: float = 0.7
    hashed: bool = False
    file_format: str = "csv"
    damage: bool = True
    deliveries: bool = True
    # --- time ranges
    log_start: date | None = None  # first day of the match log (default: window_start)
    # The matcher runs from min(log_start, window_start): a log_start after window_start is a
    # log that starts late (its first days of the window are not logged; the uploads are).
    snapshots_from: date | None = None  # first snapshot (default: window_start)
    snapshots_until: date | None = None  # last possible snapshot (default: end)
    # --- population
    countries: tuple[tuple[str, float], ...] = DEFAULT_COUNTRIES
    large_id_share: float = 0.3  # share of account ids above 2**53
    listed_share: float = 0.5  # share of accounts that appear in any advertiser/partner list
    two_factor_phone_share: float = 0.35  # accounts with a phone given for two-factor only
    profile_phone_share: float = 0.2  # accounts with a phone on the profile (permitted)
    recovery_email_share: float = 0.12  # accounts with a recovery-only email
    foreign_phone_share: float = 0.03  # phones from another country than the account's
    shared_phone_share: float = 0.02  # phones that a second account also holds
    promote_share: float = 0.15  # restricted contacts later added to the profile
    demote_share: float = 0.05  # permitted contacts later reduced to security only
    remove_share: float = 0.06  # contacts removed at some point
    email_change_share: float = 0.05  # sign-up emails replaced by a new one
    split_rows_share: float = 0.05  # multi-purpose contacts exported as one row per purpose
    ephemeral_share: float = 0.01  # accounts with a contact that lives between two snapshots
    assumption_breaks: bool = True  # False: obey replay-semantics' assumptions exactly
    midnight_share: float = 0.01  # matches logged at exactly 00:00:00 UTC
    # --- ad side
    audiences: int = 0  # 0: max(20, min(5000, accounts // 100))
    partner_share: float = 0.3  # share of audiences supplied by data partners
    matches_total: int | None = None  # target number of logged match rows (overrides per account)
    deliveries_per_match: float = 0.5
    uploads: bool = True  # write the advertisers' and partners' list entries (uploads.*)
    nonuser_share: float = 0.1  # share of upload entries of values that no account ever holds
    post_fix_leak: bool = False  # in-flight batches keep the buggy rule after fix_at
    leak_days: float = 2.0
    # --- damage (only with damage=True)
    lost_log_days: int = 3
    duplicate_share: float = 0.003
    log_loss_share: float = 0.0  # share of match log rows lost at random (any day; any damage)
    malformed_per_kind: int = 2

    def effective_log_start(self) -> date:
        return self.log_start or self.window_start

    def period_start(self) -> date:
        """First day the matcher runs (and the uploads cover): the earlier of the log's first
        day and window_start."""
        return min(self.effective_log_start(), self.window_start)

    def effective_snapshots_from(self) -> date:
        return self.snapshots_from or self.window_start

    def effective_snapshots_until(self) -> date:
        return self.snapshots_until or self.end

    def effective_audiences(self) -> int:
        return self.audiences or max(20, min(5000, self.accounts // 100))

    def validate(self) -> None:
        if self.accounts < 10:
            raise ValueError("accounts must be at least 10")
        if self.file_format not in ("csv", "parquet"):
            raise ValueError("file_format must be 'csv' or 'parquet'")
        if self.snapshot_every_days < 1:
            raise ValueError("snapshot_every_days must be at least 1")
        if not self.window_start < self.fix_at <= self.end:
            raise ValueError("need window_start < fix_at <= end")
        if self.effective_log_start() > self.end:
            raise ValueError("log_start is after end (the last day of the scenario)")
        if not 0.0 <= self.log_loss_share < 1.0:
            raise ValueError("log_loss_share must be within [0, 1)")
        if not 0.0 <= self.nonuser_share < 1.0:
            raise ValueError("nonuser_share must be within [0, 1)")
        if self.effective_snapshots_from() > self.effective_snapshots_until():
            raise ValueError("snapshots_from is after snapshots_until")
        if not 0.0 <= self.identifier_share <= 1.0:
            raise ValueError("identifier_share must be within [0, 1]")
        if self.matches_per_account <= 0 and self.matches_total is None:
            raise ValueError("matches_per_account must be positive")
        if not self.countries or any(w <= 0 for _, w in self.countries):
            raise ValueError("countries need positive weights")

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in asdict(self).items():
            if isinstance(value, date):
                out[key] = value.isoformat()
            elif key == "countries":
                out[key] = [[c, w] for c, w in value]
            else:
                out[key] = value
        return out


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote, and the headline truth figures."""

    out_dir: Path
    incident_path: Path
    data_dir: Path
    truth_path: Path
    truth_accounts_path: Path
    files: tuple[Path, ...]
    row_counts: Mapping[str, int] = field(default_factory=dict)
    truth_affected_accounts: int = 0
    truth_post_fix_caused: int = 0
    snapshots: int = 0
    truth_affected_accounts_whole_window: int = 0
    truth_exposed_accounts: int = 0
