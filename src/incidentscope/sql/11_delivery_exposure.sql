-- Ads served in the window or after the fix, for the accounts of one slice: a
-- delivery counts when its account had an in-scope match into an audience of its
-- campaign before it was served, and towards the lower (upper) bound when all of
-- those matches were caused (flagged). Accounts are split into slices by their
-- id, one query each, so that the join of deliveries to earlier matches fits in
-- memory at any scale; an account is in one slice, so the slices' figures add up.
-- Identical delivery rows share every flag: counted once, with their copies.
WITH sliced_deliveries AS (
    SELECT served_at, campaign_id, account_id, impressions, COUNT(*) AS copies
    FROM deliveries
    WHERE ((served_at >= $window_start AND served_at < $fix_at) OR served_at >= $fix_at)
      AND (account_id % $slices + $slices) % $slices = $slice
    GROUP BY served_at, campaign_id, account_id, impressions
),
sliced_matches AS (
    SELECT account_id, audience_id, matched_at, match_class
    FROM classified
    WHERE (account_id % $slices + $slices) % $slices = $slice
),
delivery_flags AS (
    SELECT d.served_at, d.account_id, d.impressions, d.copies,
           COUNT(*) AS n_matches,
           SUM(CASE WHEN m.match_class = 'caused' THEN 1 ELSE 0 END) AS n_caused,
           SUM(CASE WHEN m.match_class <> 'permitted' THEN 1 ELSE 0 END) AS n_flagged
    FROM sliced_deliveries d
    JOIN campaign_audiences ca ON ca.campaign_id = d.campaign_id
    JOIN sliced_matches m ON m.account_id = d.account_id AND m.audience_id = ca.audience_id
                         AND m.matched_at < d.served_at
    GROUP BY d.served_at, d.campaign_id, d.account_id, d.impressions, d.copies
)
SELECT served_at >= $fix_at AS after_fix,
       COUNT(DISTINCT CASE WHEN n_caused = n_matches THEN account_id END) AS accounts_lower,
       COUNT(DISTINCT CASE WHEN n_flagged = n_matches THEN account_id END) AS accounts_upper,
       COALESCE(SUM(CASE WHEN n_caused = n_matches THEN impressions * copies END), 0)
           AS impressions_lower,
       COALESCE(SUM(CASE WHEN n_flagged = n_matches THEN impressions * copies END), 0)
           AS impressions_upper
FROM delivery_flags
GROUP BY served_at >= $fix_at
