-- exposed_accounts (whole-window.md): accounts with a key restricted at a snapshot in the
-- window (lower: the snapshots from lower_first to lower_last), or at a snapshot from the
-- last one at or before the window's start to the first one at or after the fix (upper:
-- upper_first to upper_last); when the window reaches outside the snapshot range (open),
-- every account with a key in any snapshot. A run of a key covers consecutive snapshots,
-- so it holds a snapshot of a range when it overlaps the range.
SELECT COUNT(DISTINCT CASE WHEN ps.restricted AND r.first_snapshot <= $lower_last
                                AND r.last_snapshot >= $lower_first THEN r.account_id END),
       COUNT(DISTINCT CASE WHEN $open OR (ps.restricted AND r.first_snapshot <= $upper_last
                                          AND r.last_snapshot >= $upper_first)
                           THEN r.account_id END)
FROM contact_runs r
JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
