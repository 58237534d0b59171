-- SV14 a long stay right after a temporary filing.
-- An inpatient stay of at least {min_stay_days} days (discharged in the month, or still
-- open at its end: counted to the month's end) in the area of a temporary area filing
-- (referral, emergency, other temporary trips), admitted within {within_days} days of
-- the filing's registration (the latest such filing is the evidence). A long stay after a
-- long-term filing, a short stay, or one admitted later is not a finding. At risk: the
-- fund's net payment for the stay.
WITH stays AS (
    SELECT mdtrt_id, psn_no, fixmedins_code, mdtrtarea_admvs, begntime, endtime,
           COALESCE(endtime, {month_end}) AS until
    FROM visits
    WHERE visit_class = 'inpatient' AND status <> 'cancelled' AND begntime < {month_end}
      AND (endtime IS NULL OR (endtime >= {month_begin} AND endtime < {month_end}))
), long_after AS (
    SELECT s.*, f.trt_dcla_detl_sn AS filing, f.filing_type, f.begin_at AS filed_at,
           ROW_NUMBER() OVER (PARTITION BY s.mdtrt_id
                              ORDER BY f.begin_at DESC, f.trt_dcla_detl_sn DESC) AS nth
    FROM stays s
    JOIN filings f
      ON f.psn_no = s.psn_no AND f.kind = 'area' AND f.category <> 'long_term'
     AND f.status <> 'cancelled' AND f.mdtrtarea_admdvs = s.mdtrtarea_admvs
     AND s.begntime >= f.begin_at
     AND s.begntime <= f.begin_at + INTERVAL {within_days} DAY
    WHERE s.until >= s.begntime + INTERVAL {min_stay_days} DAY
), visit_fund AS (
    SELECT mdtrt_id, SUM(fund_pay_sumamt) AS fund FROM settlements GROUP BY mdtrt_id
)
SELECT l.mdtrt_id AS clue_key, l.fixmedins_code, l.psn_no, l.mdtrt_id,
       CASE WHEN v.fund > 0 THEN v.fund ELSE 0 END AS amount_at_risk,
       'admitted ' || CAST(l.begntime AS STRING) || ', a stay of at least {min_stay_days}'
         || ' days, after ' || l.filing_type || ' filing ' || l.filing || ' of '
         || CAST(l.filed_at AS STRING) AS summary,
       l.begntime, l.endtime, l.filing, l.filing_type, l.filed_at
FROM long_after l
LEFT JOIN visit_fund v ON v.mdtrt_id = l.mdtrt_id
WHERE l.nth = 1
ORDER BY clue_key
