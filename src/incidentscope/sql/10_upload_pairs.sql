-- Every (audience, account) an upload entry may have matched: the account holds the
-- entry's key (channel and hash) in some snapshot. Its outcomes at the entry's time come
-- from the key's possible states, `absent` included (the buggy matcher matched through any
-- key that existed, the fixed one only through a permitted key): `certain` when some entry
-- gives O = {caused} (restricted is the only possible state), `possible` when caused is in
-- O for some entry (restricted is possible; outside the snapshot range every state is),
-- `certain_on_log_day` when such an entry was uploaded on a log day.
-- One query per slice of accounts (slices, slice; replay.classify makes the table from
-- the first and inserts the others): an account is in one slice, so the slices' pairs are
-- the whole table, and the join and its grouping fit in memory at any scale.
SELECT e.audience_id, c.account_id,
       MAX(CASE WHEN NOT e.outside AND c.state_prev = 2
                     AND (e.exact OR c.state_next = 2) THEN 1 ELSE 0 END) AS certain,
       MAX(CASE WHEN e.outside OR c.state_prev = 2 OR c.state_next = 2
                THEN 1 ELSE 0 END) AS possible,
       MAX(CASE WHEN e.on_log_day AND NOT e.outside AND c.state_prev = 2
                     AND (e.exact OR c.state_next = 2) THEN 1 ELSE 0 END) AS certain_on_log_day
FROM counted_uploads e
JOIN candidate_states c
  ON c.sig_channel = e.channel AND c.sig_identifier = e.identifier_id
 AND c.sig_prev = e.sig_prev AND c.sig_next = e.sig_next AND c.exact = e.exact
 AND c.outside = e.outside
WHERE (c.account_id % $slices + $slices) % $slices = $slice
GROUP BY e.audience_id, c.account_id
