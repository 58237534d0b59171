-- SV01 one person settling at two institutions far apart within minutes.
-- Each pair of a person's settlements at two institutions, the second in the month and
-- at most {max_minutes} minutes after the first, whose institutions lie at least
-- {min_km} km apart (haversine over their coordinates); where either has no
-- coordinates, whose districts lie in different prefectures (the first four digits of
-- admdvs). A settlement cancelled since puts nothing at risk: its amount is netted.
WITH settled AS (
    SELECT s.setl_id, s.psn_no, s.mdtrt_id, s.fixmedins_code, s.setl_time,
           s.fund_pay_sumamt + COALESCE(c.fund_pay_sumamt, 0) AS fund,
           i.admdvs, i.lat, i.lon
    FROM settlements s
    JOIN institutions i ON i.fixmedins_code = s.fixmedins_code
    LEFT JOIN settlements c ON c.kind = 'cancel' AND c.reverses = s.setl_id
    WHERE s.kind = 'settle'
), pairs AS (
    SELECT a.setl_id AS first_setl_id, a.fixmedins_code AS first_fixmedins_code,
           a.setl_time AS first_setl_time, a.admdvs AS first_admdvs,
           b.setl_id AS second_setl_id, b.fixmedins_code, b.psn_no, b.mdtrt_id,
           b.setl_time AS second_setl_time, b.admdvs AS second_admdvs, b.fund,
           CASE WHEN a.lat IS NULL OR a.lon IS NULL OR b.lat IS NULL OR b.lon IS NULL
                THEN NULL
                ELSE 2 * 6371.0 * ASIN(SQRT(
                    POWER(SIN(RADIANS(b.lat - a.lat) / 2), 2)
                    + COS(RADIANS(a.lat)) * COS(RADIANS(b.lat))
                      * POWER(SIN(RADIANS(b.lon - a.lon) / 2), 2))) END AS distance_km
    FROM settled a
    JOIN settled b
      ON b.psn_no = a.psn_no AND b.fixmedins_code <> a.fixmedins_code
     AND (a.setl_time < b.setl_time OR (a.setl_time = b.setl_time AND a.setl_id < b.setl_id))
     AND b.setl_time <= a.setl_time + INTERVAL {max_minutes} MINUTE
    WHERE b.setl_time >= {month_begin} AND b.setl_time < {month_end}
)
SELECT first_setl_id || '/' || second_setl_id AS clue_key,
       fixmedins_code, psn_no, mdtrt_id,
       CASE WHEN fund > 0 THEN fund ELSE 0 END AS amount_at_risk,
       'settled at ' || first_fixmedins_code || ' ' || CAST(first_setl_time AS STRING)
         || ' and at ' || fixmedins_code || ' ' || CAST(second_setl_time AS STRING)
         || CASE WHEN distance_km IS NULL
                 THEN ', districts ' || first_admdvs || ' and ' || second_admdvs
                 ELSE ', ' || CAST(CAST(ROUND(distance_km) AS BIGINT) AS STRING) || ' km apart'
            END AS summary,
       first_setl_id, first_fixmedins_code, first_setl_time,
       second_setl_id, second_setl_time,
       CAST(ROUND(distance_km * 1000) AS BIGINT) AS distance_m
FROM pairs
WHERE distance_km >= {min_km}
   OR (distance_km IS NULL AND SUBSTR(first_admdvs, 1, 4) <> SUBSTR(second_admdvs, 1, 4))
ORDER BY clue_key
