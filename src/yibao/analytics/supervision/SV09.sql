-- SV09 quantity, course or frequency above the catalogue limit: a day's count above
-- lmt_daily_cnt (amount: the excess x the day's highest price, at most the day's lines);
-- a course (first to last day billed, inclusive) above lmt_course_days (amount: the
-- lines on the days beyond); more lines than lmt_visit_times in the visit (amount: the
-- lines after the allowed ones, in upload order).
-- The lines screened: active, positive lines (net of refunds, as the extract keeps them)
-- of every visit with a line in the month, each with its day (fee_ocur_time, else the
-- visit's begin) and its catalogue limits (region = the institution's pool area).
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
  SELECT f.id, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.med_list_codg AS code, f.cnt,
         f.pric, f.amount, f.pric_uplmt, v.begntime, v.endtime,
         CAST(COALESCE(f.fee_ocur_time, v.begntime) AS DATE) AS day,
         c.price_cap, c.lmt_gend, c.lmt_age_min, c.lmt_age_max, c.lmt_daily_cnt,
         c.lmt_course_days, c.lmt_visit_times, c.per_day
  FROM fee_lines f
  JOIN visits v ON v.mdtrt_id = f.mdtrt_id
  LEFT JOIN catalogue c ON c.region = f.region AND c.code = f.med_list_codg
  WHERE f.cnt > 0 AND f.amount > 0
    AND f.mdtrt_id IN (
      SELECT g.mdtrt_id FROM fee_lines g JOIN visits w ON w.mdtrt_id = g.mdtrt_id
      WHERE COALESCE(g.fee_ocur_time, w.begntime) >= {month_begin}
        AND COALESCE(g.fee_ocur_time, w.begntime) < {month_end})
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
