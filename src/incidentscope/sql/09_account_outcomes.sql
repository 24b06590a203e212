-- Per account: certainly affected (an in-window caused match) or possibly so.
CREATE TEMP TABLE account_outcomes AS
SELECT account_id,
       MAX(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END) AS certain,
       MIN(CASE WHEN match_class = 'caused' THEN matched_at END) AS first_caused_at,
       MIN(matched_at) AS first_match_at
FROM classified
WHERE in_window AND match_class <> 'permitted'
GROUP BY account_id
