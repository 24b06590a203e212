-- For each delivery, the in-scope matches of its account into an audience of
-- its campaign made before it was served, and how many of them are flagged.
CREATE TEMP TABLE delivery_flags AS
SELECT d.delivery_no, d.served_at, d.account_id, d.impressions,
       COUNT(*) AS n_matches,
       SUM(CASE WHEN m.match_class = 'caused' THEN 1 ELSE 0 END) AS n_caused,
       SUM(CASE WHEN m.match_class <> 'permitted' THEN 1 ELSE 0 END) AS n_flagged
FROM (
    SELECT ROW_NUMBER() OVER (ORDER BY served_at, campaign_id, account_id, impressions)
               AS delivery_no,
           served_at, campaign_id, account_id, impressions
    FROM deliveries
) d
JOIN campaign_audiences ca ON ca.campaign_id = d.campaign_id
JOIN classified m ON m.account_id = d.account_id AND m.audience_id = ca.audience_id
                 AND m.matched_at < d.served_at
GROUP BY d.delivery_no, d.served_at, d.account_id, d.impressions
