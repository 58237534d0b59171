-- SV05 phantom beds: a per-day item (a bed-day, nursing) whose total count exceeds the
-- days of stay (算入不算出: end date minus begin date, at least 1; an open visit ends at
-- the month's end). Amount: the excess count x the item's highest price, at most the
-- lines' amounts; one row per line, the amount put on the lines in id order, each up to
-- its own amount.
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
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
