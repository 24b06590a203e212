"""The ground truth of a scenario, counted chunk by chunk as `generate` simulates it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from incidentscope.generator.matcher import Made, bracket_violation
from incidentscope.generator.params import ScenarioParams
from incidentscope.generator.world import DAY, EPOCH, KINDS, NEVER, World

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

MALFORMED_KINDS = ("bad_account_id", "bad_channel", "bad_value", "bad_timestamp")

# The keys of truth.json, in their order (docs/scenarios.md).
TRUTH_ORDER = (
    "generator", "parameters", "incident", "affected_accounts", "affected_accounts_made",
    "affected_accounts_whole_window", "exposed_accounts", "affected_audiences_whole_window",
    "affected_campaigns_whole_window", "uploads", "post_fix_caused",
    "affected_by_audience_type", "affected_by_channel", "affected_by_country",
    "affected_by_month", "matches", "assumption_violations", "log", "malformed_rows",
    "malformed_by_kind", "contacts", "snapshots", "deliveries",
)


@dataclass(frozen=True)
class Logged:
    """What became of a chunk's matches in the log, one flag per match."""

    id_logged: Bools  # the row carries channel and identifier
    valid: Bools  # in the log and well-formed
    in_window: Bools
    lost_day: Bools  # on a lost log day
    unlogged: Bools  # before the log's first day
    dropped: Bools  # lost at random
    dup: Bools  # logged twice


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


class Tally:
    """The truth so far: who was affected, what the log shows, what it lost."""

    def __init__(self, world: World, ws: int, fix: int) -> None:
        n = len(world.account_ids)
        self.ws, self.fix = ws, fix
        self.window_days = (fix - ws) // DAY
        self.affected = np.zeros(n, np.bool_)
        self.affected_made = np.zeros(n, np.bool_)
        self.audiences_made = np.zeros(len(world.audience_type), np.bool_)
        self.first_logged_day: int | None = None
        self.by_type = np.zeros((2, n), np.bool_)
        self.by_channel = np.zeros((2, n), np.bool_)
        self.violating = np.zeros(n, np.bool_)
        self.per_account = np.zeros(n, np.int64)
        self.by_month: dict[str, int] = {}
        self.made_counts = np.zeros(6, np.int64)  # period * 2 + caused
        self.logged_counts = np.zeros(6, np.int64)
        self.day_has_row = np.zeros(self.window_days, np.bool_)
        self.stats = dict.fromkeys(("duplicate_rows", "lost_rows", "violation_rows",
                                    "outside_snapshot_range", "post_fix_caused", "delivery_rows",
                                    "impressions", "rows_before_log_start",
                                    "randomly_lost_rows"), 0)
        self.match_bad = dict.fromkeys(MALFORMED_KINDS, 0)

    def count(self, world: World, made: Made, logged: Logged, *, month: str) -> None:
        """Add one chunk's matches."""
        c, ws, fix = world.contacts, self.ws, self.fix
        valid, in_window = logged.valid, logged.in_window
        acct = c.acct[made.contact]
        period = np.where(made.t < ws, 0, np.where(made.t < fix, 1, 2))
        cls = period * 2 + made.caused
        self.made_counts += np.bincount(cls, minlength=6)
        self.logged_counts += np.bincount(cls[valid], minlength=6)
        hit = valid & in_window & made.caused
        self.affected[acct[hit]] = True
        self.affected_made[acct[in_window & made.caused]] = True
        self.audiences_made[made.audience[in_window & made.caused]] = True
        if self.first_logged_day is None and valid.any():
            self.first_logged_day = int(made.t[valid].min() // DAY)
        self.by_type[world.audience_type[made.audience[hit]], acct[hit]] = True
        self.by_channel[c.channel[made.contact[hit]], acct[hit]] = True
        if hit.any():
            self.by_month[month] = len(np.unique(acct[hit]))
        viol = bracket_violation(world, made, logged.id_logged) & valid & in_window
        self.violating[acct[viol]] = True
        self.per_account += np.bincount(acct[valid], minlength=len(world.account_ids))
        vw = valid & in_window
        self.day_has_row[made.t[vw] // DAY - ws // DAY] = True
        snaps = world.snap_secs
        outside = ((made.t < snaps[0]) | (made.t > snaps[-1]) if len(snaps)
                   else np.ones(len(made), np.bool_))
        stats = self.stats
        stats["outside_snapshot_range"] += int(np.sum(vw & outside))
        stats["duplicate_rows"] += int(logged.dup.sum())
        stats["lost_rows"] += int(logged.lost_day.sum())
        stats["rows_before_log_start"] += int(logged.unlogged.sum())
        stats["randomly_lost_rows"] += int(logged.dropped.sum())
        stats["violation_rows"] += int(viol.sum())
        stats["post_fix_caused"] += int(np.sum(valid & (period == 2) & made.caused))

    def truth(self, world: World, params: ScenarioParams, row_counts: dict[str, int],
              contact_bad: dict[str, int], lost_days: I64, exposed: Bools
              ) -> dict[str, object]:
        """truth.json, but for `uploads` and `affected_campaigns_whole_window` (see generate)."""
        c, stats = world.contacts, self.stats
        affected, affected_made = self.affected, self.affected_made
        countries = np.array(world.countries)
        country_counts = {str(k): int(v) for k, v in zip(
            *np.unique(countries[world.country[affected]], return_counts=True), strict=True)}

        def classes(counts: I64) -> dict[str, dict[str, int]]:
            return {name: {"caused": int(counts[i * 2 + 1]), "permitted": int(counts[i * 2])}
                    for i, name in enumerate(("before_window", "in_window", "post_fix"))}

        matched = self.per_account > 0
        kind_codes, kind_counts = np.unique(c.kind[c.created < NEVER], return_counts=True)
        return {
            "generator": "incidentscope.generate/1",
            "parameters": params.as_json(),
            "incident": {"window_start": _iso(params.window_start),
                         "fix_at": _iso(params.fix_at)},
            "affected_accounts": int(affected.sum()),
            "affected_accounts_made": int(affected_made.sum()),
            "affected_accounts_whole_window": int(affected_made.sum()),
            "exposed_accounts": int(exposed.sum()),
            "affected_audiences_whole_window": int(self.audiences_made.sum()),
            "post_fix_caused": stats["post_fix_caused"],
            "affected_by_audience_type": {"partner": int(self.by_type[1].sum()),
                                          "tailored": int(self.by_type[0].sum())},
            "affected_by_channel": {"email": int(self.by_channel[0].sum()),
                                    "phone": int(self.by_channel[1].sum())},
            "affected_by_country": dict(sorted(country_counts.items())),
            "affected_by_month": dict(sorted(self.by_month.items())),
            "matches": {"made": classes(self.made_counts),
                        "logged": classes(self.logged_counts)},
            "assumption_violations": {
                "rows": stats["violation_rows"],
                "accounts": int(self.violating.sum()),
                "affected_accounts": int((self.violating & affected).sum()),
            },
            "log": self._log(params, row_counts, lost_days, matched),
            "malformed_rows": {"matches": sum(self.match_bad.values()),
                               "contacts": sum(contact_bad.values())},
            "malformed_by_kind": {"matches": self.match_bad, "contacts": contact_bad},
            "contacts": {
                "total": len(c),
                "by_kind": {KINDS[int(k)]: int(v)
                            for k, v in zip(kind_codes, kind_counts, strict=True)},
                "never_in_a_snapshot": int((~c.seen).sum()),
                "shared_values": int((world.owner1 >= 0).sum()),
            },
            "snapshots": {
                "count": len(world.snapshots),
                "first": world.snapshots[0].isoformat() if world.snapshots else None,
                "last": world.snapshots[-1].isoformat() if world.snapshots else None,
                "every_days": params.snapshot_every_days,
            },
            "deliveries": ({"rows": stats["delivery_rows"], "impressions": stats["impressions"]}
                           if params.deliveries else None),
        }

    def _log(self, params: ScenarioParams, row_counts: dict[str, int], lost_days: I64,
             matched: Bools) -> dict[str, object]:
        stats = self.stats
        return {
            "log_start": params.effective_log_start().isoformat(),
            "first_logged_day": (None if self.first_logged_day is None
                                 else (EPOCH + timedelta(days=self.first_logged_day)).isoformat()),
            "rows_before_log_start": stats["rows_before_log_start"],
            "randomly_lost_rows": stats["randomly_lost_rows"],
            "rows": row_counts["matches"],
            "duplicate_rows": stats["duplicate_rows"],
            "lost_days": [(EPOCH + timedelta(days=int(d))).isoformat() for d in lost_days],
            "lost_rows": stats["lost_rows"],
            "missing_log_days": int(self.window_days - self.day_has_row.sum()),
            "outside_snapshot_range": stats["outside_snapshot_range"],
            "matched_accounts": int(matched.sum()),
            "mean_matches_per_matched_account": round(
                float(self.per_account[matched].mean()) if matched.any() else 0.0, 4),
        }
