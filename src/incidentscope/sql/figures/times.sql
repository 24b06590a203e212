-- When the incident shows in the log: the first and last in-window, in-scope logged match,
-- caused match, and caused, uncertain or unexplained (possibly caused) match.
SELECT MIN(matched_at), MAX(matched_at),
       MIN(CASE WHEN match_class = 'caused' THEN matched_at END),
       MAX(CASE WHEN match_class = 'caused' THEN matched_at END),
       MIN(CASE WHEN match_class <> 'permitted' THEN matched_at END),
       MAX(CASE WHEN match_class <> 'permitted' THEN matched_at END)
FROM classified WHERE in_window
