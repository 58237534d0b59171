-- SV04 readmission within {days} days with the same main diagnosis (split stays).
-- An inpatient stay admitted in the month at most {days} days after the person's
-- discharge from an earlier stay at the same institution with the same main diagnosis
-- (the latest such stay is the evidence). A different diagnosis, another institution
-- (a referral) or a longer gap is not a finding. At risk: the fund's net payment for the
-- readmission.
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, main_diag_code, begntime, endtime
    FROM visits
    WHERE visit_class = 'inpatient' AND status <> 'cancelled' AND main_diag_code <> ''
), pairs AS (
    SELECT b.mdtrt_id, b.psn_no, b.fixmedins_code, b.main_diag_code, b.begntime,
           a.mdtrt_id AS earlier_mdtrt_id, a.begntime AS earlier_begntime,
           a.endtime AS earlier_endtime,
           ROW_NUMBER() OVER (PARTITION BY b.mdtrt_id
                              ORDER BY a.endtime DESC, a.mdtrt_id DESC) AS nth
    FROM stays b
    JOIN stays a
      ON a.psn_no = b.psn_no AND a.fixmedins_code = b.fixmedins_code
     AND a.main_diag_code = b.main_diag_code AND a.mdtrt_id <> b.mdtrt_id
     AND a.endtime IS NOT NULL AND a.endtime <= b.begntime
     AND b.begntime <= a.endtime + INTERVAL {days} DAY
    WHERE b.begntime >= {month_begin} AND b.begntime < {month_end}
), visit_fund AS (
    SELECT mdtrt_id, SUM(fund_pay_sumamt) AS fund FROM settlements GROUP BY mdtrt_id
)
SELECT p.mdtrt_id AS clue_key, p.fixmedins_code, p.psn_no, p.mdtrt_id,
       CASE WHEN f.fund > 0 THEN f.fund ELSE 0 END AS amount_at_risk,
       'readmitted ' || CAST(p.begntime AS STRING) || ' with ' || p.main_diag_code
         || ', discharged ' || CAST(p.earlier_endtime AS STRING) || ' from '
         || p.earlier_mdtrt_id AS summary,
       p.main_diag_code, p.begntime, p.earlier_mdtrt_id, p.earlier_begntime,
       p.earlier_endtime
FROM pairs p
LEFT JOIN visit_fund f ON f.mdtrt_id = p.mdtrt_id
WHERE p.nth = 1
ORDER BY clue_key
