-- affected_accounts lower (an in-window caused match) and upper (caused, uncertain or
-- unexplained); permitted matches are left out before counting.
SELECT COUNT(DISTINCT CASE WHEN match_class = 'caused' THEN account_id END),
       COUNT(DISTINCT account_id)
FROM classified WHERE in_window AND match_class <> 'permitted'
