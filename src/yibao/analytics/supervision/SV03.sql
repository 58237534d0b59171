-- SV03 one electronic certificate used on many devices or institutions in a day.
-- A certificate (cert_id) whose ecTokens (1162) of one day in the month were issued to
-- more than {max_institutions} institutions, or from more than {max_devices} devices.
-- A device is the terminal of the sign-in the 1162 named (its mac, else its ip, else the
-- sign-in); a 1162 that named none counts for no device. The evidence is the day's
-- uses; each puts at risk what the fund paid (net) for the visit registered with its
-- token, if any.
WITH uses AS (
    SELECT u.cert_id, u.psn_no, u.fixmedins_code, u.business_type, u.issued_at, u.device,
           u.mdtrt_id, CAST(u.issued_at AS DATE) AS day
    FROM ecert_uses u
    WHERE u.issued_at >= {month_begin} AND u.issued_at < {month_end}
), days AS (
    SELECT cert_id, day, COUNT(DISTINCT fixmedins_code) AS institutions,
           COUNT(DISTINCT CASE WHEN device <> '' THEN device END) AS devices
    FROM uses
    GROUP BY cert_id, day
    HAVING COUNT(DISTINCT fixmedins_code) > {max_institutions}
        OR COUNT(DISTINCT CASE WHEN device <> '' THEN device END) > {max_devices}
), visit_fund AS (
    SELECT mdtrt_id, SUM(fund_pay_sumamt) AS fund FROM settlements GROUP BY mdtrt_id
)
SELECT u.cert_id || '/' || CAST(u.day AS STRING) AS clue_key, u.fixmedins_code, u.psn_no,
       u.mdtrt_id,
       CASE WHEN f.fund > 0 THEN f.fund ELSE 0 END AS amount_at_risk,
       'certificate ' || u.cert_id || ' used at ' || CAST(d.institutions AS STRING)
         || ' institutions and ' || CAST(d.devices AS STRING) || ' devices on '
         || CAST(u.day AS STRING) AS summary,
       u.issued_at, u.business_type, u.device, d.institutions, d.devices
FROM uses u
JOIN days d ON d.cert_id = u.cert_id AND d.day = u.day
LEFT JOIN visit_fund f ON u.mdtrt_id <> '' AND f.mdtrt_id = u.mdtrt_id
ORDER BY clue_key, u.issued_at, u.fixmedins_code
