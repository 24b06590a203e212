-- Every in-scope match with its class (a signature without candidates: unexplained).
CREATE TEMP TABLE classified AS
SELECT m.matched_at, m.account_id, m.audience_id, m.audience_type, m.channel,
       m.identifier_id, m.copies,
       m.matched_at >= $window_start AND m.matched_at < $fix_at AS in_window,
       m.matched_at >= $fix_at AS post_fix,
       m.prev_date, m.next_date, m.exact, m.outside,
       m.sig_channel, m.sig_identifier, m.sig_prev, m.sig_next,
       CASE WHEN st.may_restricted = 1 AND st.may_permitted = 1 THEN 'uncertain'
            WHEN st.may_restricted = 1 THEN 'caused'
            WHEN st.may_permitted = 1 THEN 'permitted'
            ELSE 'unexplained' END AS match_class
FROM scoped_matches m
LEFT JOIN signature_states st
  ON st.account_id = m.account_id AND st.sig_channel = m.sig_channel
 AND st.sig_identifier = m.sig_identifier AND st.sig_prev = m.sig_prev
 AND st.sig_next = m.sig_next AND st.exact = m.exact AND st.outside = m.outside
