-- SV06 the same item billed twice in a visit: same code, day, count and price (refunded
-- lines are not in the extract, so a refunded line billed again is no duplicate; the
-- same drug on two days is none either). Amount: every line after the first.
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
g AS (
  SELECT l.*,
         ROW_NUMBER() OVER (PARTITION BY mdtrt_id, code, day, cnt, pric ORDER BY id) AS rn,
         COUNT(*) OVER (PARTITION BY mdtrt_id, code, day, cnt, pric) AS n,
         MIN(id) OVER (PARTITION BY mdtrt_id, code, day, cnt, pric) AS first_id
  FROM l
)
SELECT mdtrt_id || ':' || code || ':' || CAST(first_id AS STRING) AS clue_key,
       fixmedins_code, psn_no, mdtrt_id,
       CASE WHEN rn > 1 THEN amount ELSE 0 END AS amount_at_risk,
       code || ' billed ' || CAST(n AS STRING) || ' times on ' || CAST(day AS STRING)
         || ' with the same count and price' AS summary,
       id AS line_id, code, CAST(day AS STRING) AS day, cnt, pric
FROM g WHERE n > 1
