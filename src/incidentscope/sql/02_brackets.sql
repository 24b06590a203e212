-- Each snapshot time with the next one: [from_ts, to_ts), once for every day it
-- covers, so that a match finds its bracket by the day it was made (an equality
-- join, not a range join). The last snapshot's bracket holds its own instant
-- only; later times are outside the range.
CREATE TEMP TABLE brackets AS
SELECT d.day,
       s.prev_date,
       s.next_date,
       CAST(s.prev_date AS TIMESTAMP) AS from_ts,
       CASE WHEN s.next_date IS NULL
            THEN CAST(s.prev_date AS TIMESTAMP) + INTERVAL '1' MICROSECOND
            ELSE CAST(s.next_date AS TIMESTAMP) END AS to_ts
FROM (
    SELECT snapshot_date AS prev_date,
           LEAD(snapshot_date) OVER (ORDER BY snapshot_date) AS next_date
    FROM snapshots
) s
JOIN param_snapshot_days d
  ON d.day >= s.prev_date AND (d.day < s.next_date OR d.day = s.prev_date)
