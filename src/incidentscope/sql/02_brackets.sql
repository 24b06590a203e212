-- Each snapshot time with the next one: [from_ts, to_ts). The last snapshot's
-- bracket holds its own instant only; later times are outside the range.
CREATE TEMP TABLE brackets AS
SELECT prev_date,
       next_date,
       CAST(prev_date AS TIMESTAMP) AS from_ts,
       CASE WHEN next_date IS NULL
            THEN CAST(prev_date AS TIMESTAMP) + INTERVAL '1' MICROSECOND
            ELSE CAST(next_date AS TIMESTAMP) END AS to_ts
FROM (
    SELECT snapshot_date AS prev_date,
           LEAD(snapshot_date) OVER (ORDER BY snapshot_date) AS next_date
    FROM snapshots
) s
