-- The per-person facts of the Art. 34 notices (results.NOTICE_FACTS_SCHEMA): every
-- (account, audience) with an in-window caused, uncertain or unexplained match, certain
-- when one is caused, the first and last month of such matches (YYYYMM), and whether a delivery
-- of a campaign targeting the audience is attributable to the incident under the upper
-- rule of `deliveries` (every earlier match of the account into an audience of the
-- campaign is not permitted), in the window or after the fix.
-- For the accounts of one slice (slices, slice), as 11_delivery_exposure: the join of
-- deliveries to earlier matches fits in memory at any scale (at scale L in one query it
-- did not); replay._notice_facts joins the slices and sorts them.
WITH pairs AS (
    SELECT account_id, audience_id,
           MAX(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END) AS certain,
           MIN(matched_at) AS first_at, MAX(matched_at) AS last_at
    FROM classified
    WHERE in_window AND match_class <> 'permitted'
      AND (account_id % $slices + $slices) % $slices = $slice
    GROUP BY account_id, audience_id
),
flagged_deliveries AS (
    SELECT d.account_id, d.campaign_id
    FROM deliveries d
    JOIN campaign_audiences ca ON ca.campaign_id = d.campaign_id
    JOIN classified m ON m.account_id = d.account_id AND m.audience_id = ca.audience_id
                     AND m.matched_at < d.served_at
    WHERE d.served_at >= $window_start
      AND (d.account_id % $slices + $slices) % $slices = $slice
      AND (m.account_id % $slices + $slices) % $slices = $slice
      AND d.account_id IN (SELECT account_id FROM pairs)
    GROUP BY d.account_id, d.campaign_id, d.served_at
    HAVING SUM(CASE WHEN m.match_class = 'permitted' THEN 1 ELSE 0 END) = 0
),
served AS (
    SELECT DISTINCT f.account_id, ca.audience_id
    FROM flagged_deliveries f JOIN campaign_audiences ca ON ca.campaign_id = f.campaign_id
)
SELECT p.account_id, p.certain = 1 AS certain, p.audience_id, a.audience_type,
       a.advertiser_id, a.partner_id,
       CAST(EXTRACT(YEAR FROM p.first_at) AS INTEGER) * 100
           + CAST(EXTRACT(MONTH FROM p.first_at) AS INTEGER) AS first_month,
       CAST(EXTRACT(YEAR FROM p.last_at) AS INTEGER) * 100
           + CAST(EXTRACT(MONTH FROM p.last_at) AS INTEGER) AS last_month,
       s.account_id IS NOT NULL AS ads_served
FROM pairs p
JOIN audiences a ON a.audience_id = p.audience_id
LEFT JOIN served s ON s.account_id = p.account_id AND s.audience_id = p.audience_id
