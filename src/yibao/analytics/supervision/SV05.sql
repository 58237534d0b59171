-- SV05 phantom beds: a per-day item (a bed-day, nursing) whose total count exceeds the
-- days of stay (算入不算出: end date minus begin date, at least 1; an open visit ends at
-- the month's end). Amount: the excess count x the item's highest price, at most the
-- lines' amounts; one row per line, the amount put on the lines in id order, each up to
-- its own amount.
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
per_code AS (
  SELECT mdtrt_id, code, CAST(SUM(cnt) AS DECIMAL(18,4)) AS total, MAX(pric) AS top_pric,
         SUM(amount) AS lines_amount,
         GREATEST(1, CAST(CAST(COALESCE(MAX(endtime), {month_end}) AS DATE)
                          - CAST(MAX(begntime) AS DATE) AS INT)) AS days
  FROM l WHERE per_day GROUP BY mdtrt_id, code
),
found AS (
  SELECT mdtrt_id, code, total, days,
         LEAST(CAST(ROUND((total - days) * top_pric * 100, 0) AS BIGINT), lines_amount) AS risk
  FROM per_code WHERE total > days
)
SELECT l.mdtrt_id || ':' || l.code AS clue_key, l.fixmedins_code, l.psn_no, l.mdtrt_id,
       LEAST(l.amount, GREATEST(0, f.risk - COALESCE(SUM(l.amount) OVER (
         PARTITION BY l.mdtrt_id, l.code ORDER BY l.id
         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS amount_at_risk,
       'per-day item ' || l.code || ' billed ' || CAST(f.total AS STRING) || ' times for '
         || CAST(f.days AS STRING) || ' days of stay' AS summary,
       l.id AS line_id, l.code, CAST(l.day AS STRING) AS day, l.cnt, l.pric, f.days
FROM found f JOIN l ON l.mdtrt_id = f.mdtrt_id AND l.code = f.code
