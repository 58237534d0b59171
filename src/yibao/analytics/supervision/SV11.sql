-- SV11 very frequent visits for the same disease.
-- A person with at least {min_visits} outpatient visits with the same main diagnosis
-- within {days} days, the last of them in the month. Special-disease care (med_type 14:
-- dialysis, chemotherapy) is scheduled often by design and is not counted. The clue is
-- the person, disease and month; its evidence the month's visits for that disease, each
-- with the fund's net payment for it.
WITH care AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, main_diag_code, begntime
    FROM visits
    WHERE visit_class = 'outpatient' AND status <> 'cancelled' AND main_diag_code <> ''
      AND med_type <> '14'
      AND begntime >= {month_begin} - INTERVAL {days} DAY AND begntime < {month_end}
), counted AS (
    SELECT b.psn_no, b.main_diag_code, b.mdtrt_id, COUNT(*) AS visits_in_days
    FROM care b
    JOIN care a
      ON a.psn_no = b.psn_no AND a.main_diag_code = b.main_diag_code
     AND a.begntime <= b.begntime AND a.begntime > b.begntime - INTERVAL {days} DAY
    WHERE b.begntime >= {month_begin}
    GROUP BY b.psn_no, b.main_diag_code, b.mdtrt_id
), flagged AS (
    SELECT psn_no, main_diag_code, MAX(visits_in_days) AS most
    FROM counted
    GROUP BY psn_no, main_diag_code
    HAVING MAX(visits_in_days) >= {min_visits}
), visit_fund AS (
    SELECT mdtrt_id, SUM(fund_pay_sumamt) AS fund FROM settlements GROUP BY mdtrt_id
)
SELECT c.psn_no || '/' || c.main_diag_code || '/' || SUBSTR(CAST({month_begin} AS STRING), 1, 7)
         AS clue_key,
       c.fixmedins_code, c.psn_no, c.mdtrt_id,
       CASE WHEN f.fund > 0 THEN f.fund ELSE 0 END AS amount_at_risk,
       CAST(g.most AS STRING) || ' visits for ' || c.main_diag_code || ' within {days} days'
         AS summary,
       c.main_diag_code, c.begntime, g.most AS visits_in_days
FROM care c
JOIN flagged g ON g.psn_no = c.psn_no AND g.main_diag_code = c.main_diag_code
LEFT JOIN visit_fund f ON f.mdtrt_id = c.mdtrt_id
WHERE c.begntime >= {month_begin}
ORDER BY clue_key, c.begntime, c.mdtrt_id
