-- audiences_targetable_only_by_incident (whole-window.md): per in-scope audience, M the
-- accounts with an in-window logged match into it, C those whose such matches are all
-- caused, Q those with none permitted; lower counts audiences with |M| >= min and
-- |M| - |C| < min, upper those with |M| >= min and |M| - |Q| < min.
WITH per_account AS (
    SELECT audience_id, account_id,
           MIN(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END) AS all_caused,
           MAX(CASE WHEN match_class = 'permitted' THEN 1 ELSE 0 END) AS any_permitted
    FROM classified WHERE in_window
    GROUP BY audience_id, account_id
),
per_audience AS (
    SELECT audience_id, COUNT(*) AS m, SUM(all_caused) AS c, SUM(1 - any_permitted) AS q
    FROM per_account GROUP BY audience_id
)
SELECT COALESCE(SUM(CASE WHEN m >= $min_size AND m - c < $min_size THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN m >= $min_size AND m - q < $min_size THEN 1 ELSE 0 END), 0)
FROM per_audience
