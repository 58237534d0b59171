-- SV13 away-from-home care at an institution in another area than filed.
-- A settlement away from home (away_basis set) in the month that either rests on a
-- filing of another area than the institution's co-ordination area ('filed_elsewhere':
-- the live path refuses this; a manual basis or a later change of the institution's
-- area shows it), or rests on no filing (an emergency, unfiled care) while the person
-- held an area filing valid at that moment for another area ('away_from_filing'). Care
-- in the filed area, and an emergency away with no filing held, are not findings.
WITH away AS (
    SELECT s.setl_id, s.psn_no, s.mdtrt_id, s.fixmedins_code, s.setl_time, s.away_basis,
           s.trt_dcla_detl_sn, i.pool_area,
           s.fund_pay_sumamt + COALESCE(c.fund_pay_sumamt, 0) AS fund
    FROM settlements s
    JOIN institutions i ON i.fixmedins_code = s.fixmedins_code
    LEFT JOIN settlements c ON c.kind = 'cancel' AND c.reverses = s.setl_id
    WHERE s.kind = 'settle' AND s.away_basis <> ''
      AND s.setl_time >= {month_begin} AND s.setl_time < {month_end}
), named AS (
    SELECT a.*, 'filed_elsewhere' AS finding, f.trt_dcla_detl_sn AS filing,
           f.filing_type, f.mdtrtarea_admdvs AS filed_area, 1 AS nth
    FROM away a
    JOIN filings f ON f.trt_dcla_detl_sn = a.trt_dcla_detl_sn AND f.kind = 'area'
    WHERE f.mdtrtarea_admdvs <> a.pool_area
), held AS (
    SELECT a.*, 'away_from_filing' AS finding, f.trt_dcla_detl_sn AS filing,
           f.filing_type, f.mdtrtarea_admdvs AS filed_area,
           ROW_NUMBER() OVER (PARTITION BY a.setl_id
                              ORDER BY f.begin_at DESC, f.trt_dcla_detl_sn DESC) AS nth
    FROM away a
    JOIN filings f
      ON f.psn_no = a.psn_no AND f.kind = 'area' AND f.status <> 'cancelled'
     AND f.begin_at <= a.setl_time
     AND (f.end_at IS NULL OR f.end_at >= a.setl_time)
     AND (f.ended_at IS NULL OR f.ended_at > a.setl_time)
    WHERE a.trt_dcla_detl_sn = '' AND f.mdtrtarea_admdvs <> a.pool_area
), found AS (
    SELECT * FROM named
    UNION ALL
    SELECT * FROM held WHERE nth = 1
)
SELECT setl_id AS clue_key, fixmedins_code, psn_no, mdtrt_id,
       CASE WHEN fund > 0 THEN fund ELSE 0 END AS amount_at_risk,
       'care in ' || pool_area || ' (' || away_basis || ') while filing ' || filing
         || ' names ' || filed_area AS summary,
       finding, setl_id, setl_time, away_basis, pool_area AS treatment_area, filing,
       filing_type, filed_area
FROM found
ORDER BY clue_key
