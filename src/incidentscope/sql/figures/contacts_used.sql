-- contacts_used: distinct contact keys (account, channel, identifier) through which an
-- in-window match may have been caused: lower, the only candidate that may have been
-- restricted of a caused match (certainly used); upper, every candidate that may have been
-- restricted of a caused or uncertain match. Unexplained matches have no candidate key.
WITH flagged AS (
    SELECT DISTINCT account_id, match_class, sig_channel, sig_identifier, sig_prev,
                    sig_next, exact, outside
    FROM classified WHERE in_window AND match_class IN ('caused', 'uncertain')
),
used AS (
    SELECT f.account_id, f.match_class, f.sig_channel, f.sig_identifier, f.sig_prev,
           f.sig_next, f.exact, f.outside, c.channel, c.identifier_id,
           COUNT(*) OVER (PARTITION BY f.account_id, f.match_class, f.sig_channel,
                          f.sig_identifier, f.sig_prev, f.sig_next, f.exact, f.outside)
               AS candidates
    FROM flagged f
    JOIN candidate_states c
      ON c.account_id = f.account_id AND c.sig_channel = f.sig_channel
     AND c.sig_identifier = f.sig_identifier AND c.sig_prev = f.sig_prev
     AND c.sig_next = f.sig_next AND c.exact = f.exact AND c.outside = f.outside
    WHERE f.outside OR c.state_prev = 2 OR c.state_next = 2
)
SELECT
  (SELECT COUNT(*) FROM (SELECT DISTINCT account_id, channel, identifier_id FROM used
                         WHERE match_class = 'caused' AND candidates = 1) k) AS lower,
  (SELECT COUNT(*) FROM (SELECT DISTINCT account_id, channel, identifier_id FROM used) k)
    AS upper
