-- What the snapshots are asked about: an account's (channel, identifier) as a match logged
-- them ('' / 0 when the log has none), or as an upload entry names them for an account that
-- holds that key, within one snapshot bracket (03_scoped_matches).
-- A match and an entry with the same signature ask the same question: asked once.
CREATE TEMP TABLE signatures AS
SELECT DISTINCT account_id, sig_channel, sig_identifier, sig_prev, sig_next, exact, outside
FROM scoped_matches
UNION
SELECT DISTINCT k.account_id, e.channel, e.identifier_id, e.sig_prev, e.sig_next, e.exact,
       e.outside
FROM counted_uploads e
JOIN (SELECT DISTINCT account_id, channel, identifier_id FROM contact_runs) k
  ON k.channel = e.channel AND k.identifier_id = e.identifier_id
