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
from typing import Any

from incidentscope.engine import EngineLike, as_engine

# A match is its (account, time, audience, logged channel and identifier): the log's rows
# are folded on those, so no numbering is needed. Numbering matches with ROW_NUMBER() over
# all of them was one global sort held in memory: at scale L it ran out of memory under a
# 4 GB limit. The output order is the same (draw, then the match's time and audience).
MATCH_PROBABILITIES = """
WITH um AS (
    SELECT c.account_id, c.matched_at, c.audience_id, c.match_class, c.sig_channel,
           c.sig_identifier, c.sig_prev, c.sig_next, c.exact, c.outside,
           -- the nearest snapshot outside the range; the later one only strictly between
           c.sig_prev AS a_date,
           CASE WHEN NOT c.outside AND NOT c.exact THEN c.sig_next END AS b_date,
           -- date_diff in microseconds: the same in DuckDB and (transpiled) Spark SQL
           CASE WHEN NOT c.outside AND NOT c.exact
                THEN CAST(date_diff('microsecond', CAST(c.prev_date AS TIMESTAMP), c.matched_at)
                          AS DOUBLE)
                     / CAST(date_diff('microsecond', CAST(c.prev_date AS TIMESTAMP),
                                      CAST(c.next_date AS TIMESTAMP)) AS DOUBLE)
                ELSE CAST(0 AS DOUBLE) END AS f
    FROM classified c
    JOIN account_outcomes o ON o.account_id = c.account_id
    WHERE o.certain = 0 AND c.in_window AND c.match_class IN ('uncertain', 'unexplained')
),
expected AS (
    -- a candidate's state at the match: the earlier snapshot's with 1 - f, the later's with f
    SELECT um.account_id, um.matched_at, um.audience_id, um.sig_channel, um.sig_identifier,
           um.a_date, um.b_date, COUNT(c.identifier_id) AS n_candidates,
           SUM((1 - um.f) * CASE WHEN c.state_prev = 2 THEN 1 ELSE 0 END
               + um.f * CASE WHEN um.b_date IS NULL
                             THEN CASE WHEN c.state_prev = 2 THEN 1 ELSE 0 END
                             ELSE CASE WHEN c.state_next = 2 THEN 1 ELSE 0 END END)
               AS restricted,
           SUM((1 - um.f) * CASE WHEN c.state_prev > 0 THEN 1 ELSE 0 END
               + um.f * CASE WHEN um.b_date IS NULL
                             THEN CASE WHEN c.state_prev > 0 THEN 1 ELSE 0 END
                             ELSE CASE WHEN c.state_next > 0 THEN 1 ELSE 0 END END)
               AS existing
    FROM um LEFT JOIN candidate_states c
      ON c.account_id = um.account_id AND c.sig_channel = um.sig_channel
     AND c.sig_identifier = um.sig_identifier AND c.sig_prev = um.sig_prev
     AND c.sig_next = um.sig_next AND c.exact = um.exact AND c.outside = um.outside
    GROUP BY um.account_id, um.matched_at, um.audience_id, um.sig_channel, um.sig_identifier,
             um.a_date, um.b_date
),
outcomes AS (
    -- a match with several candidates is a draw of its own (draw_at, draw_audience name
    -- it); the others of one key in one bracket share one outcome
    SELECT account_id, a_date, b_date, sig_channel, sig_identifier,
           CASE WHEN n_candidates > 1 THEN 1 ELSE 0 END AS draw,
           CASE WHEN n_candidates > 1 THEN matched_at END AS draw_at,
           CASE WHEN n_candidates > 1 THEN audience_id END AS draw_audience,
           CASE WHEN existing > 0 THEN round(restricted / existing, 12)
                ELSE $caused_share END AS p
    FROM expected
)
SELECT account_id, a_date, b_date, sig_channel, sig_identifier, draw, MAX(p) AS p
FROM outcomes
GROUP BY account_id, a_date, b_date, sig_channel, sig_identifier, draw, draw_at,
         draw_audience
ORDER BY account_id, a_date, b_date, sig_channel, sig_identifier, draw, draw_at,
         draw_audience
"""


UPLOAD_PROBABILITIES = """
WITH lower_accounts AS (
    SELECT account_id FROM account_outcomes WHERE certain = 1
    UNION
    SELECT account_id FROM upload_pairs WHERE certain = 1
),
entries AS (
    SELECT c.account_id, c.identifier_id, e.sig_prev AS a_date,
           CASE WHEN NOT e.outside AND NOT e.exact THEN e.sig_next END AS b_date,
           CASE WHEN NOT e.outside AND NOT e.exact
                THEN CAST(date_diff('microsecond', CAST(e.sig_prev AS TIMESTAMP),
                                    e.uploaded_at) AS DOUBLE)
                     / CAST(date_diff('microsecond', CAST(e.sig_prev AS TIMESTAMP),
                                      CAST(e.sig_next AS TIMESTAMP)) AS DOUBLE)
                ELSE CAST(0 AS DOUBLE) END AS f,
           c.state_prev, c.state_next
    FROM counted_uploads e
    JOIN candidate_states c
      ON c.sig_channel = e.channel AND c.sig_identifier = e.identifier_id
     AND c.sig_prev = e.sig_prev AND c.sig_next = e.sig_next AND c.exact = e.exact
     AND c.outside = e.outside
    WHERE (e.outside OR c.state_prev = 2 OR c.state_next = 2)
      AND c.account_id NOT IN (SELECT account_id FROM lower_accounts)
)
SELECT account_id, a_date, b_date, identifier_id,
       MAX(round((1 - f) * CASE WHEN state_prev = 2 THEN 1 ELSE 0 END
                 + f * CASE WHEN b_date IS NULL
                            THEN CASE WHEN state_prev = 2 THEN 1 ELSE 0 END
                            ELSE CASE WHEN state_next = 2 THEN 1 ELSE 0 END END, 12)) AS p
FROM entries
GROUP BY account_id, a_date, b_date, identifier_id
ORDER BY account_id, a_date, b_date, identifier_id
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


def _match_rows(engine: EngineLike, share: float | None) -> list[tuple[Any, ...]]:
    engine = as_engine(engine)
    if share is None:
        share = caused_share(engine)
    return engine.rows(MATCH_PROBABILITIES, {"caused_share": share})


def _combine(groups: dict[int, list[float]]) -> list[tuple[int, float]]:
    """Per account, 1 - the product of (1 - p) over its independent outcomes."""
    result = []
    for account_id in sorted(groups):
        survive = 1.0
        for p in groups[account_id]:
            survive *= 1.0 - min(max(float(p), 0.0), 1.0)
        # A NaN cannot arise from the clamped factors above; the guard keeps exports finite.
        probability = 1.0 - survive
        result.append((account_id, probability if math.isfinite(probability) else 0.0))
    return result


def account_probabilities(con: EngineLike,
                          share: float | None = None) -> list[tuple[int, float]]:
    """(account_id, probability affected) for accounts in the upper but not the lower bound.

    `share`: the caused share when the caller has it already (see `caused_share`).
    """
    groups: dict[int, list[float]] = {}
    for account_id, _a, _b, _channel, _identifier, _draw, p in _match_rows(con, share):
        groups.setdefault(int(account_id), []).append(float(p))
    return _combine(groups)


def whole_window_probabilities(con: EngineLike,
                               share: float | None = None) -> list[tuple[int, float]]:
    """(account_id, probability affected) for accounts in the whole window's upper but not
    its lower bound (docs/estimation.md, "The whole window").

    An upload entry that may have been caused counts with the probability that its key was
    restricted at the entry's time (interpolated as for a match; absent counts as not
    caused). Entries on one key within one bracket see one state change at most, so they
    share one outcome (the maximum), as does a logged match on that key in that bracket. A
    logged match whose key the log does not name counts only for an account without any
    upload entry on any of its keys: otherwise the entry behind it is among the account's
    entries, whose own states tell whether it was caused.
    """
    engine = as_engine(con)
    # accounts an upload entry may have matched (any outcome), and those it certainly caused
    uploaded: dict[int, bool] = {int(r[0]): bool(r[1]) for r in engine.rows(
        "SELECT account_id, MAX(certain) = 1 FROM upload_pairs GROUP BY account_id")}
    keyed: dict[int, dict[tuple[Any, ...], float]] = {}
    for account_id, a_date, b_date, identifier, p in engine.rows(UPLOAD_PROBABILITIES):
        key = (a_date, b_date, int(identifier))
        groups = keyed.setdefault(int(account_id), {})
        groups[key] = max(groups.get(key, 0.0), float(p))
    unkeyed: dict[int, list[float]] = {}
    for account_id, a_date, b_date, _channel, identifier, draw, p in _match_rows(engine, share):
        account = int(account_id)
        if uploaded.get(account):
            continue  # in the lower bound
        if int(identifier) and not int(draw):
            groups = keyed.setdefault(account, {})
            key = (a_date, b_date, int(identifier))
            groups[key] = max(groups.get(key, 0.0), float(p))
        elif account not in uploaded:
            unkeyed.setdefault(account, []).append(float(p))
    combined = {account: list(groups.values()) for account, groups in keyed.items()}
    for account, ps in unkeyed.items():
        combined.setdefault(account, []).extend(ps)
    return _combine(combined)


def bounded_estimate(lower: int, upper: int, probabilities: list[tuple[int, float]]) -> int:
    """`lower` plus the rounded sum of the probabilities (math.fsum: exact, order-free),
    clamped to [lower, upper]."""
    estimate = lower + round(math.fsum(p for _, p in probabilities))
    return min(max(estimate, lower), upper)
