-- De-duplicated matches into in-scope audiences, with their period and the
-- snapshot bracket around them. prev_date is NULL outside the snapshot range.
CREATE TEMP TABLE scoped_matches AS
SELECT m.matched_at, m.account_id, m.audience_id, m.channel, m.identifier_id, m.copies,
       a.audience_type,
       m.matched_at >= $window_start AND m.matched_at < $fix_at AS in_window,
       m.matched_at >= $fix_at AS post_fix,
       b.prev_date,
       b.next_date,
       CASE WHEN b.prev_date IS NULL THEN FALSE ELSE m.matched_at = b.from_ts END AS exact,
       COALESCE(m.channel, '') AS sig_channel,
       COALESCE(m.identifier_id, 0) AS sig_identifier,
       COALESCE(b.prev_date, DATE '0001-01-01') AS sig_prev,
       COALESCE(b.next_date, DATE '0001-01-01') AS sig_next
FROM matches m
JOIN scope_audiences a ON a.audience_id = m.audience_id
LEFT JOIN brackets b ON b.day = CAST(m.matched_at AS DATE)
                     AND b.from_ts <= m.matched_at AND m.matched_at < b.to_ts
