-- The uploads figures (whole-window.md): counted entries, extra copies of identical rows
-- uploaded in the window (any audience), the accounts, audiences and campaigns of
-- certainly (lower) and possibly (upper) caused pairs, and the agreement with the log:
-- L the pairs of in-window logged matches, Lc those with a caused one, U every pair an
-- entry may have matched, Rd the certain pairs of entries uploaded on a log day.
WITH logged AS (
    SELECT audience_id, account_id,
           MAX(CASE WHEN match_class = 'caused' THEN 1 ELSE 0 END) AS caused
    FROM classified WHERE in_window
    GROUP BY audience_id, account_id
),
campaign_flags AS (
    SELECT ca.campaign_id, MAX(p.certain) AS certain, MAX(p.possible) AS possible
    FROM upload_pairs p JOIN campaign_audiences ca ON ca.audience_id = p.audience_id
    GROUP BY ca.campaign_id
)
SELECT
  (SELECT COUNT(*) FROM counted_uploads) AS entries,
  (SELECT COALESCE(SUM(copies - 1), 0) FROM uploads
    WHERE uploaded_at >= $window_start AND uploaded_at < $fix_at) AS duplicates,
  (SELECT COUNT(DISTINCT CASE WHEN certain = 1 THEN account_id END) FROM upload_pairs),
  (SELECT COUNT(DISTINCT CASE WHEN possible = 1 THEN account_id END) FROM upload_pairs),
  (SELECT COUNT(DISTINCT CASE WHEN certain = 1 THEN audience_id END) FROM upload_pairs),
  (SELECT COUNT(DISTINCT CASE WHEN possible = 1 THEN audience_id END) FROM upload_pairs),
  (SELECT COUNT(CASE WHEN certain = 1 THEN 1 END) FROM campaign_flags),
  (SELECT COUNT(CASE WHEN possible = 1 THEN 1 END) FROM campaign_flags),
  (SELECT COUNT(*) FROM logged WHERE caused = 1) AS logged_caused_pairs,
  (SELECT COUNT(*) FROM logged l JOIN upload_pairs p
     ON p.audience_id = l.audience_id AND p.account_id = l.account_id
   WHERE l.caused = 1) AS logged_caused_pairs_with_upload,
  (SELECT COUNT(*) FROM upload_pairs WHERE certain_on_log_day = 1)
    AS replayed_caused_pairs_on_log_days,
  (SELECT COUNT(*) FROM upload_pairs p JOIN logged l
     ON l.audience_id = p.audience_id AND l.account_id = p.account_id
   WHERE p.certain_on_log_day = 1) AS replayed_caused_pairs_in_log
