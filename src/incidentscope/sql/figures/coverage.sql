-- Coverage counts: in-window matches outside the snapshot range, extra copies of identical
-- log rows, in-window matches into audiences missing from `audiences`, rejected rows of
-- every table, and whether deliveries and uploads were loaded.
SELECT
  (SELECT count(*) FROM classified WHERE in_window AND prev_date IS NULL) AS outside,
  (SELECT coalesce(sum(copies - 1), 0) FROM matches) AS duplicates,
  (SELECT count(*) FROM matches m WHERE m.matched_at >= $window_start
     AND m.matched_at < $fix_at
     AND NOT EXISTS (SELECT 1 FROM audiences a WHERE a.audience_id = m.audience_id))
    AS unknown,
  (SELECT count(*) FROM rejects) AS rejected,
  (SELECT count(*) FROM files WHERE table_name = 'deliveries') AS deliveries_files,
  (SELECT count(*) FROM files WHERE table_name = 'uploads') AS uploads_files
