-- SV06 the same item billed twice in a visit: same code, day, count and price (refunded
-- lines are not in the extract, so a refunded line billed again is no duplicate; the
-- same drug on two days is none either). Amount: every line after the first.
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
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
