-- The lines the visit rules (SV05-SV10) screen, written into each as {visit_lines}:
-- active, positive lines (net of refunds, as the extract keeps them) of every visit with
-- a line in the month, each with its day (fee_ocur_time, else the visit's begin) and its
-- catalogue limits (region = the institution's pool area).
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
