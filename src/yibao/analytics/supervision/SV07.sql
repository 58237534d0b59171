-- SV07 a sex-specific item (catalogue lmt_gend 1 male / 2 female) billed for a person of
-- the other sex (a person whose gend is neither 1 nor 2 is not judged). Amount: the lines.
-- The lines screened (l): the shared _visit_lines.sql.
-- domain/supervision_visit.py is the same rule in Python (tests prove they agree).
WITH l AS (
{visit_lines}
)
SELECT l.mdtrt_id || ':' || l.code AS clue_key, l.fixmedins_code, l.psn_no, l.mdtrt_id,
       l.amount AS amount_at_risk,
       'item ' || l.code || ' for gend ' || l.lmt_gend || ' billed for gend ' || p.gend
         AS summary,
       l.id AS line_id, l.code, CAST(l.day AS STRING) AS day, l.lmt_gend, p.gend
FROM l JOIN persons p ON p.psn_no = l.psn_no
WHERE p.gend IN ('1', '2') AND l.lmt_gend IN ('1', '2') AND l.lmt_gend <> p.gend
