-- Matches that share account, channel, identifier and bracket share their
-- classification: classify each distinct signature once.
-- may_restricted / may_permitted: some candidate key may have been in that state.
CREATE TEMP TABLE signature_states AS
SELECT s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact,
       MAX(CASE WHEN r.account_id IS NULL THEN 0
                WHEN s.sig_prev = DATE '0001-01-01' THEN 1
                WHEN ps.restricted
                     AND ((r.first_snapshot <= s.sig_prev AND s.sig_prev <= r.last_snapshot)
                          OR (NOT s.exact AND r.first_snapshot <= s.sig_next
                              AND s.sig_next <= r.last_snapshot))
                THEN 1 ELSE 0 END) AS may_restricted,
       MAX(CASE WHEN r.account_id IS NULL THEN 0
                WHEN s.sig_prev = DATE '0001-01-01' THEN 1
                WHEN NOT ps.restricted
                     AND ((r.first_snapshot <= s.sig_prev AND s.sig_prev <= r.last_snapshot)
                          OR (NOT s.exact AND r.first_snapshot <= s.sig_next
                              AND s.sig_next <= r.last_snapshot))
                THEN 1 ELSE 0 END) AS may_permitted
FROM (
    SELECT DISTINCT account_id, sig_channel, sig_identifier, sig_prev, sig_next, exact
    FROM scoped_matches
) s
LEFT JOIN contact_runs r
       ON r.account_id = s.account_id
      AND (s.sig_channel = '' OR r.channel = s.sig_channel)
      AND (s.sig_identifier = 0 OR r.identifier_id = s.sig_identifier)
LEFT JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
GROUP BY s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact
