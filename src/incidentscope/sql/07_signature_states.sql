-- A logged match proves its identifier existed: `absent` is dropped, and the union of
-- its candidates' possible states decides its class (08). may_restricted / may_permitted:
-- some candidate may have been in that state. A signature without candidates has no row
-- (unexplained). Outside the snapshot range every state is possible.
CREATE TEMP TABLE signature_states AS
SELECT account_id, sig_channel, sig_identifier, sig_prev, sig_next, exact, outside,
       MAX(CASE WHEN outside OR state_prev = 2 OR state_next = 2
                THEN 1 ELSE 0 END) AS may_restricted,
       MAX(CASE WHEN outside OR state_prev = 1 OR state_next = 1
                THEN 1 ELSE 0 END) AS may_permitted
FROM candidate_states
GROUP BY account_id, sig_channel, sig_identifier, sig_prev, sig_next, exact, outside
