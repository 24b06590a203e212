-- Audiences, campaigns (through campaign_audiences), advertisers and data partners
-- touched by an in-window caused (lower) or flagged (upper) match.
WITH audience_flags AS (
    SELECT c.audience_id,
           MAX(CASE WHEN c.match_class = 'caused' THEN 1 ELSE 0 END) AS lower_flag
    FROM classified c WHERE c.in_window AND c.match_class <> 'permitted'
    GROUP BY c.audience_id
)
SELECT 'affected_audiences' AS figure,
       COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN f.audience_id END),
       COUNT(DISTINCT f.audience_id)
FROM audience_flags f
UNION ALL
SELECT 'affected_campaigns',
       COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN ca.campaign_id END),
       COUNT(DISTINCT ca.campaign_id)
FROM audience_flags f JOIN campaign_audiences ca ON ca.audience_id = f.audience_id
UNION ALL
SELECT 'affected_advertisers',
       COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN a.advertiser_id END),
       COUNT(DISTINCT a.advertiser_id)
FROM audience_flags f JOIN audiences a ON a.audience_id = f.audience_id
UNION ALL
SELECT 'affected_partners',
       COUNT(DISTINCT CASE WHEN f.lower_flag = 1 THEN a.partner_id END),
       COUNT(DISTINCT a.partner_id)
FROM audience_flags f JOIN audiences a ON a.audience_id = f.audience_id
