-- Matches per week and class, in the window and after the fix (the postmortem's chart).
SELECT CAST(date_trunc('week', matched_at) AS DATE) AS week, match_class,
       CAST(count(*) AS BIGINT) AS matches
FROM classified WHERE in_window OR post_fix GROUP BY 1, 2 ORDER BY 1, 2
