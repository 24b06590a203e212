-- The one rule of the replay: the state of every candidate key of a signature at the
-- snapshots around it. Candidates are the account's keys seen in any snapshot, narrowed
-- to the signature's channel and identifier; a key's state at a snapshot is 0 absent,
-- 1 permitted, 2 restricted (its purposes all restricted); state_next is 0 at a snapshot
-- instant. Outside the snapshot range (outside) state_prev is the nearest snapshot's,
-- which only the estimate uses: there every state is possible (the readers say so).
-- Read by the classification of matches (07), the upload entries' outcomes (10), the
-- estimate, explain and the by_channel figure: stored once, read several times.
CREATE TEMP TABLE candidate_states AS
SELECT s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact,
       s.outside, r.channel, r.identifier_id,
       MAX(CASE WHEN r.first_snapshot <= s.sig_prev AND s.sig_prev <= r.last_snapshot
                THEN CASE WHEN ps.restricted THEN 2 ELSE 1 END ELSE 0 END) AS state_prev,
       MAX(CASE WHEN NOT s.exact AND r.first_snapshot <= s.sig_next
                     AND s.sig_next <= r.last_snapshot
                THEN CASE WHEN ps.restricted THEN 2 ELSE 1 END ELSE 0 END) AS state_next
FROM signatures s
JOIN contact_runs r
  ON r.account_id = s.account_id
 AND (s.sig_channel = '' OR r.channel = s.sig_channel)
 AND (s.sig_identifier = 0 OR r.identifier_id = s.sig_identifier)
JOIN purpose_state ps ON ps.purposes_id = r.purposes_id
GROUP BY s.account_id, s.sig_channel, s.sig_identifier, s.sig_prev, s.sig_next, s.exact,
         s.outside, r.channel, r.identifier_id
