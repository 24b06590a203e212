-- Affected accounts per campaign (lower, upper), largest first.
SELECT ca.campaign_id, cp.advertiser_id, cp.name,
       CAST(COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END)
            AS BIGINT) AS lower,
       CAST(COUNT(DISTINCT CASE WHEN c.match_class <> 'permitted' THEN c.account_id END)
            AS BIGINT) AS upper
FROM classified c
JOIN campaign_audiences ca ON ca.audience_id = c.audience_id
LEFT JOIN campaigns cp ON cp.campaign_id = ca.campaign_id
WHERE c.in_window AND c.match_class <> 'permitted'
GROUP BY 1, 2, 3 ORDER BY upper DESC, lower DESC, 1
