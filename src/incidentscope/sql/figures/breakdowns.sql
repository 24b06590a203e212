-- by_audience_type, by_country and by_month: accounts with a caused (lower) or flagged
-- (upper) in-window match per key; permitted matches are left out before counting (at
-- scale M, 9 of the window's 19M matches remain). One query: on Spark every query is a
-- job with a fixed overhead. (by_channel: by_channel.sql.)
SELECT 'by_audience_type' AS breakdown, c.audience_type AS k,
       COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END),
       COUNT(DISTINCT c.account_id)
FROM classified c WHERE c.in_window AND c.match_class <> 'permitted'
GROUP BY c.audience_type
UNION ALL
SELECT 'by_country', acc.country,
       COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END),
       COUNT(DISTINCT c.account_id)
FROM classified c JOIN accounts acc ON acc.account_id = c.account_id
WHERE c.in_window AND c.match_class <> 'permitted'
GROUP BY acc.country
UNION ALL
SELECT 'by_month', CAST(CAST(EXTRACT(YEAR FROM c.matched_at) AS INTEGER) * 100
                        + CAST(EXTRACT(MONTH FROM c.matched_at) AS INTEGER) AS VARCHAR),
       COUNT(DISTINCT CASE WHEN c.match_class = 'caused' THEN c.account_id END),
       COUNT(DISTINCT c.account_id)
FROM classified c WHERE c.in_window AND c.match_class <> 'permitted'
GROUP BY CAST(CAST(EXTRACT(YEAR FROM c.matched_at) AS INTEGER) * 100
              + CAST(EXTRACT(MONTH FROM c.matched_at) AS INTEGER) AS VARCHAR)
