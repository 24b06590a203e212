-- affected_accounts_whole_window (whole-window.md): v1's lower (upper) united with the
-- accounts of certainly (possibly) caused upload pairs.
WITH accounts AS (
    SELECT account_id, certain, 1 AS possible FROM account_outcomes
    UNION ALL
    SELECT account_id, certain, possible FROM upload_pairs
)
SELECT COUNT(DISTINCT CASE WHEN certain = 1 THEN account_id END),
       COUNT(DISTINCT CASE WHEN possible = 1 THEN account_id END)
FROM accounts
