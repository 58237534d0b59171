-- SV08 an age-specific item billed outside its ages (whole years on the line's day,
-- lmt_age_min/max inclusive). Amount: the lines outside.
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
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
