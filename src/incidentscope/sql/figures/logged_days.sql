-- The UTC days from lo (inclusive) to hi with a valid match row (any audience):
-- missing_log_days.
SELECT DISTINCT CAST(matched_at AS DATE) FROM matches WHERE matched_at >= $lo AND matched_at < $hi
