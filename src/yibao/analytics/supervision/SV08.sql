-- SV08 an age-specific item billed outside its ages (whole years on the line's day,
-- lmt_age_min/max inclusive). Amount: the lines outside.
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
aged AS (
  SELECT l.*,
         YEAR(l.day) - YEAR(p.brdy)
           - CASE WHEN MONTH(l.day) < MONTH(p.brdy) OR (MONTH(l.day) = MONTH(p.brdy)
                       AND DAYOFMONTH(l.day) < DAYOFMONTH(p.brdy)) THEN 1 ELSE 0 END AS age
  FROM l JOIN persons p ON p.psn_no = l.psn_no
  WHERE l.lmt_age_min IS NOT NULL OR l.lmt_age_max IS NOT NULL
)
SELECT mdtrt_id || ':' || code AS clue_key, fixmedins_code, psn_no, mdtrt_id,
       amount AS amount_at_risk,
       'item ' || code || ' for ages ' || COALESCE(CAST(lmt_age_min AS STRING), '') || '-'
         || COALESCE(CAST(lmt_age_max AS STRING), '') || ' billed at age '
         || CAST(age AS STRING) AS summary,
       id AS line_id, code, CAST(day AS STRING) AS day, age, lmt_age_min, lmt_age_max
FROM aged
WHERE (lmt_age_min IS NOT NULL AND age < lmt_age_min)
   OR (lmt_age_max IS NOT NULL AND age > lmt_age_max)
