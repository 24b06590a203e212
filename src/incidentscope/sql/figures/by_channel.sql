-- by_channel (whole-window.md, v2): the channels through which an in-window match that is
-- not permitted may have been caused: a caused or uncertain match's candidates that may
-- have been restricted (outside the snapshot range, every candidate); an unexplained
-- match's logged channel, or 'unknown'. upper[c]: accounts with such a match with c among
-- its channels; lower[c]: accounts with a caused match whose only channel is c.
WITH flagged AS (
    SELECT DISTINCT account_id, match_class, sig_channel, sig_identifier, sig_prev,
                    sig_next, exact, outside
    FROM classified WHERE in_window AND match_class <> 'permitted'
),
causes AS (
    SELECT f.account_id, f.match_class, f.sig_channel, f.sig_identifier, f.sig_prev,
           f.sig_next, f.exact, f.outside, c.channel AS cause
    FROM flagged f
    JOIN candidate_states c
      ON c.account_id = f.account_id AND c.sig_channel = f.sig_channel
     AND c.sig_identifier = f.sig_identifier AND c.sig_prev = f.sig_prev
     AND c.sig_next = f.sig_next AND c.exact = f.exact AND c.outside = f.outside
    WHERE f.match_class <> 'unexplained'
      AND (f.outside OR c.state_prev = 2 OR c.state_next = 2)
    UNION
    SELECT account_id, match_class, sig_channel, sig_identifier, sig_prev, sig_next, exact,
           outside, CASE WHEN sig_channel = '' THEN 'unknown' ELSE sig_channel END
    FROM flagged WHERE match_class = 'unexplained'
),
per_match AS (
    SELECT account_id, match_class, sig_channel, sig_identifier, sig_prev, sig_next, exact,
           outside, COUNT(DISTINCT cause) AS causes, MIN(cause) AS only_cause
    FROM causes
    GROUP BY account_id, match_class, sig_channel, sig_identifier, sig_prev, sig_next, exact,
             outside
)
SELECT c.cause,
       COUNT(DISTINCT CASE WHEN m.match_class = 'caused' AND m.causes = 1
                           THEN c.account_id END) AS lower,
       COUNT(DISTINCT c.account_id) AS upper
FROM causes c
JOIN per_match m
  ON m.account_id = c.account_id AND m.match_class = c.match_class
 AND m.sig_channel = c.sig_channel AND m.sig_identifier = c.sig_identifier
 AND m.sig_prev = c.sig_prev AND m.sig_next = c.sig_next AND m.exact = c.exact
 AND m.outside = c.outside
GROUP BY c.cause
