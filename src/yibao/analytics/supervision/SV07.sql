-- SV07 a sex-specific item (catalogue lmt_gend 1 male / 2 female) billed for a person of
-- the other sex (a person whose gend is neither 1 nor 2 is not judged). Amount: the lines.
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
)
SELECT l.mdtrt_id || ':' || l.code AS clue_key, l.fixmedins_code, l.psn_no, l.mdtrt_id,
       l.amount AS amount_at_risk,
       'item ' || l.code || ' for gend ' || l.lmt_gend || ' billed for gend ' || p.gend
         AS summary,
       l.id AS line_id, l.code, CAST(l.day AS STRING) AS day, l.lmt_gend, p.gend
FROM l JOIN persons p ON p.psn_no = l.psn_no
WHERE p.gend IN ('1', '2') AND l.lmt_gend IN ('1', '2') AND l.lmt_gend <> p.gend
