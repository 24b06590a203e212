-- The counted upload entries (whole-window.md): de-duplicated list entries into in-scope
-- audiences, uploaded in the window, with their snapshot bracket and signature columns
-- found exactly as 03_scoped_matches finds a match's, and whether they were uploaded on a
-- log day (a UTC day with a valid match row, any audience). None when the uploads are
-- not replayed (use_uploads false: what-if --without-uploads). A table: the window is a
-- parameter, which a view cannot take.
CREATE TEMP TABLE counted_uploads AS
SELECT u.uploaded_at, u.audience_id, u.channel, u.identifier_id,
       CASE WHEN b.prev_date IS NULL THEN FALSE ELSE u.uploaded_at = b.from_ts END AS exact,
       b.prev_date IS NULL AS outside,
       COALESCE(b.prev_date,
                CASE WHEN u.uploaded_at < CAST(r.first_date AS TIMESTAMP) THEN r.first_date
                     ELSE r.last_date END,
                DATE '0001-01-01') AS sig_prev,
       COALESCE(b.next_date, DATE '0001-01-01') AS sig_next,
       d.day IS NOT NULL AS on_log_day
FROM uploads u
JOIN scope_audiences a ON a.audience_id = u.audience_id
CROSS JOIN (SELECT MIN(snapshot_date) AS first_date, MAX(snapshot_date) AS last_date
            FROM snapshots) r
LEFT JOIN brackets b ON b.day = CAST(u.uploaded_at AS DATE)
                     AND b.from_ts <= u.uploaded_at AND u.uploaded_at < b.to_ts
LEFT JOIN (SELECT DISTINCT CAST(matched_at AS DATE) AS day FROM matches) d
       ON d.day = CAST(u.uploaded_at AS DATE)
WHERE $use_uploads AND u.uploaded_at >= $window_start AND u.uploaded_at < $fix_at
