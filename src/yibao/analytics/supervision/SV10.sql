-- SV10 a unit price above the cap: the lower of the catalogue's price_cap and the line's
-- pric_uplmt. Amount: (price - cap) x count of each line above, in fen.
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
),
capped AS (
  SELECT l.*,
         CASE WHEN price_cap IS NULL THEN pric_uplmt WHEN pric_uplmt IS NULL THEN price_cap
              ELSE LEAST(price_cap, pric_uplmt) END AS cap
  FROM l
)
SELECT mdtrt_id || ':' || code AS clue_key, fixmedins_code, psn_no, mdtrt_id,
       CAST(ROUND((pric - cap) * cnt * 100, 0) AS BIGINT) AS amount_at_risk,
       code || ' at ' || CAST(pric AS STRING) || ' yuan, above the cap of '
         || CAST(cap AS STRING) AS summary,
       id AS line_id, code, CAST(day AS STRING) AS day, cnt, pric, cap
FROM capped WHERE cap IS NOT NULL AND pric > cap
