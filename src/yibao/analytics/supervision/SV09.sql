-- SV09 quantity, course or frequency above the catalogue limit: a day's count above
-- lmt_daily_cnt (amount: the excess x the day's highest price, at most the day's lines);
-- a course (first to last day billed, inclusive) above lmt_course_days (amount: the
-- lines on the days beyond); more lines than lmt_visit_times in the visit (amount: the
-- lines after the allowed ones, in upload order).
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
),
daily AS (
  SELECT mdtrt_id, code, day, CAST(SUM(cnt) AS DECIMAL(18,4)) AS total,
         MAX(pric) AS top_pric, SUM(amount) AS lines_amount, MAX(lmt_daily_cnt) AS lim
  FROM l WHERE lmt_daily_cnt IS NOT NULL GROUP BY mdtrt_id, code, day
),
daily_found AS (
  SELECT mdtrt_id, code, day, total, lim,
         LEAST(CAST(ROUND((total - lim) * top_pric * 100, 0) AS BIGINT), lines_amount) AS risk
  FROM daily WHERE total > lim
),
ordered AS (
  SELECT l.*, MIN(day) OVER (PARTITION BY mdtrt_id, code) AS first_day,
         ROW_NUMBER() OVER (PARTITION BY mdtrt_id, code ORDER BY id) AS nth
  FROM l WHERE lmt_course_days IS NOT NULL OR lmt_visit_times IS NOT NULL
)
SELECT l.mdtrt_id || ':' || l.code || ':daily:' || CAST(l.day AS STRING) AS clue_key,
       l.fixmedins_code, l.psn_no, l.mdtrt_id,
       LEAST(l.amount, GREATEST(0, f.risk - COALESCE(SUM(l.amount) OVER (
         PARTITION BY l.mdtrt_id, l.code, l.day ORDER BY l.id
         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS amount_at_risk,
       l.code || ': ' || CAST(f.total AS STRING) || ' on ' || CAST(l.day AS STRING)
         || ', above the daily limit ' || CAST(f.lim AS STRING) AS summary,
       l.id AS line_id, l.code, CAST(l.day AS STRING) AS day, 'daily' AS kind
FROM daily_found f JOIN l ON l.mdtrt_id = f.mdtrt_id AND l.code = f.code AND l.day = f.day
UNION ALL
SELECT mdtrt_id || ':' || code || ':course' AS clue_key, fixmedins_code, psn_no, mdtrt_id,
       amount AS amount_at_risk,
       code || ': billed on day ' || CAST(CAST(day - first_day AS INT) + 1 AS STRING)
         || ' of a course limited to ' || CAST(lmt_course_days AS STRING) || ' days' AS summary,
       id AS line_id, code, CAST(day AS STRING) AS day, 'course' AS kind
FROM ordered
WHERE lmt_course_days IS NOT NULL AND CAST(day - first_day AS INT) + 1 > lmt_course_days
UNION ALL
SELECT mdtrt_id || ':' || code || ':times' AS clue_key, fixmedins_code, psn_no, mdtrt_id,
       amount AS amount_at_risk,
       code || ': bill ' || CAST(nth AS STRING) || ' in the visit, above the limit of '
         || CAST(lmt_visit_times AS STRING) AS summary,
       id AS line_id, code, CAST(day AS STRING) AS day, 'times' AS kind
FROM ordered
WHERE lmt_visit_times IS NOT NULL AND nth > lmt_visit_times
