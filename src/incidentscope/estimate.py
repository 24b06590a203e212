"""The calibrated estimate of affected accounts (docs/estimation.md).

Accounts with an in-window caused match are affected for certain. For each
other account in the upper bound, the probability that at least one of its
uncertain or unexplained matches was caused:

- a candidate key's state at the match time is interpolated between the
  snapshots around it: with at most one change between snapshots, the change
  happened at a uniformly distributed moment, so the later snapshot's state
  holds with probability f = (t - prev) / (next - prev);
- outside the snapshot range, the nearest snapshot's state is used;
- a match's probability of having been caused is the expected number of
  restricted candidates over the expected number of existing ones;
- unexplained matches (no candidate) take the window's caused share among
  classified matches;
- matches of one account in the same bracket with the same single candidate key
  (typically: the log has the identifier) are the same key in the same state and
  share their outcome (the maximum counts);
- a match with several candidate keys (typically: no identifier in the log) is one
  list entry that hit one of them, drawn independently of the account's other
  matches, so such matches combine as independent even within a bracket (treating
  them as one shared outcome biased the estimate low, by about 5 % with monthly
  snapshots; docs/estimation.md);
- different brackets combine as independent.

The estimate is `lower` plus the sum of these probabilities, rounded, clamped
to [lower, upper].
"""

from __future__ import annotations

import math

from incidentscope.engine import EngineLike, as_engine

MATCH_PROBABILITIES = """
WITH bounds AS (
    SELECT MIN(snapshot_date) AS first_date, MAX(snapshot_date) AS last_date FROM snapshots
),
um AS (
    SELECT ROW_NUMBER() OVER (ORDER BY c.account_id, c.matched_at, c.audience_id,
                                       c.sig_channel, c.sig_identifier) AS match_no,
           c.account_id, c.match_class, c.sig_channel, c.sig_identifier,
           CASE WHEN c.prev_date IS NOT NULL THEN c.prev_date
                WHEN c.matched_at < CAST(b.first_date AS TIMESTAMP) THEN b.first_date
                ELSE b.last_date END AS a_date,
           CASE WHEN c.prev_date IS NOT NULL AND NOT c.exact THEN c.next_date END AS b_date,
           -- date_diff in microseconds: the same in DuckDB and (transpiled) Spark SQL
           CASE WHEN c.prev_date IS NOT NULL AND NOT c.exact
                THEN CAST(date_diff('microsecond', CAST(c.prev_date AS TIMESTAMP), c.matched_at)
                          AS DOUBLE)
                     / CAST(date_diff('microsecond', CAST(c.prev_date AS TIMESTAMP),
                                      CAST(c.next_date AS TIMESTAMP)) AS DOUBLE)
                ELSE CAST(0 AS DOUBLE) END AS f
    FROM classified c
    JOIN account_outcomes o ON o.account_id = c.account_id
    CROSS JOIN bounds b
    WHERE o.certain = 0 AND c.in_window AND c.match_class IN ('uncertain', 'unexplained')
),
candidates AS (
    SELECT um.match_no, r.channel, r.identifier_id,
           MAX(CASE WHEN r.first_snapshot <= um.a_date AND um.a_date <= r.last_snapshot
                    THEN CASE WHEN ps.restricted THEN 2 ELSE 1 END ELSE 0 END) AS state_a,
           MAX(CASE WHEN um.b_date IS NOT NULL AND r.first_snapshot <= um.b_date
                         AND um.b_date <= r.last_snapshot
                    THEN CASE WHEN ps.restricted THEN 2 ELSE 1 END ELSE 0 END) AS state_b
    FROM um
    JOIN contact_runs r
      ON r.account_id = um.account_id
     AND (um.sig_channel = '' OR r.channel = um.sig_channel)
     AND (um.sig_identifier = 0 OR r.identifier_id = um.sig_identifier)
    JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
    GROUP BY um.match_no, r.channel, r.identifier_id
),
expected AS (
    SELECT um.match_no, COUNT(c.identifier_id) AS n_candidates,
           SUM((1 - um.f) * CASE WHEN c.state_a = 2 THEN 1 ELSE 0 END
               + um.f * CASE WHEN coalesce(um.b_date, um.a_date) = um.a_date
                             THEN CASE WHEN c.state_a = 2 THEN 1 ELSE 0 END
                             ELSE CASE WHEN c.state_b = 2 THEN 1 ELSE 0 END END) AS restricted,
           SUM((1 - um.f) * CASE WHEN c.state_a > 0 THEN 1 ELSE 0 END
               + um.f * CASE WHEN coalesce(um.b_date, um.a_date) = um.a_date
                             THEN CASE WHEN c.state_a > 0 THEN 1 ELSE 0 END
                             ELSE CASE WHEN c.state_b > 0 THEN 1 ELSE 0 END END) AS existing
    FROM um LEFT JOIN candidates c ON c.match_no = um.match_no
    GROUP BY um.match_no
)
SELECT um.account_id, um.a_date, um.b_date, um.sig_channel, um.sig_identifier,
       CASE WHEN e.n_candidates > 1 THEN um.match_no ELSE 0 END AS draw,
       MAX(CASE WHEN e.existing > 0 THEN round(e.restricted / e.existing, 12)
                ELSE $caused_share END) AS p
FROM um JOIN expected e ON e.match_no = um.match_no
GROUP BY um.account_id, um.a_date, um.b_date, um.sig_channel, um.sig_identifier, draw
ORDER BY um.account_id, um.a_date, um.b_date, um.sig_channel, um.sig_identifier, draw
"""


def caused_share(con: EngineLike) -> float:
    """Caused among classified (caused or permitted) in-window matches; 0.5 without any."""
    row = as_engine(con).rows(
        "SELECT SUM(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN match_class IN ('caused', 'permitted') THEN 1 ELSE 0 END) "
        "FROM classified WHERE in_window")[0]
    if row is None or not row[1]:
        return 0.5
    return round(int(row[0]) / int(row[1]), 12)


def account_probabilities(con: EngineLike,
                          share: float | None = None) -> list[tuple[int, float]]:
    """(account_id, probability affected) for accounts in the upper but not the lower bound.

    `share`: the caused share when the caller has it already (see `caused_share`).
    """
    engine = as_engine(con)
    if share is None:
        share = caused_share(engine)
    rows = engine.rows(MATCH_PROBABILITIES, {"caused_share": share})
    result: list[tuple[int, float]] = []
    current: int | None = None
    survive = 1.0
    for account_id, _a, _b, _channel, _identifier, _draw, p in rows:
        if account_id != current:
            if current is not None:
                result.append((current, 1.0 - survive))
            current, survive = int(account_id), 1.0
        survive *= 1.0 - min(max(float(p), 0.0), 1.0)
    if current is not None:
        result.append((current, 1.0 - survive))
    # A NaN cannot arise from the clamped factors above; the guard keeps exports finite.
    return [(a, p if math.isfinite(p) else 0.0) for a, p in result]
