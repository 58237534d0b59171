-- SV02 a lost or suspended credential used. Three findings:
-- 'card': a settlement of a visit registered with a social security card settled after
--   the card was reported lost (2207 / 2304 name no credential: the visit's card is not
--   read again, so such a settlement gets through);
-- 'suspension': a person's settlement on a day of a direct-settlement suspension not
--   lifted by then (the live path refuses these; what the rule sees is a suspension
--   recorded afterwards for days already settled: created_at after setl_time);
-- 'refused': an institution whose messages were refused at least {min_refusals} times in
--   a day for a lost or replaced card (E-PSN-004), a suspended person (E-PSN-006) or a
--   revoked ecToken (E-ECT-020): refusal_count keeps no person, so the clue is the
--   institution's day.
WITH net AS (  -- each settlement's fund, net of its cancellation
    SELECT CASE WHEN reverses <> '' THEN reverses ELSE setl_id END AS setl_id,
           SUM(fund_pay_sumamt) AS fund
    FROM settlements
    GROUP BY CASE WHEN reverses <> '' THEN reverses ELSE setl_id END
)
SELECT 'card/' || u.setl_id AS clue_key, u.fixmedins_code, u.psn_no, u.mdtrt_id,
       CASE WHEN n.fund > 0 THEN n.fund ELSE 0 END AS amount_at_risk,
       'card ' || u.card_no || ' reported lost ' || CAST(k.status_at AS STRING)
         || ', settled with it ' || CAST(u.used_at AS STRING) AS summary,
       'card' AS finding, u.setl_id, u.used_at AS setl_time, u.card_no,
       k.status_at AS lost_at, CAST(NULL AS BIGINT) AS suspension_id,
       CAST(NULL AS TIMESTAMP) AS suspension_created_at, CAST(NULL AS BIGINT) AS refusals
FROM card_uses u
JOIN cards k ON k.card_no = u.card_no AND k.status = 'lost' AND k.status_at <= u.used_at
JOIN net n ON n.setl_id = u.setl_id
WHERE u.used_at >= {month_begin} AND u.used_at < {month_end}
UNION ALL
SELECT 'suspension/' || s.setl_id, s.fixmedins_code, s.psn_no, s.mdtrt_id,
       CASE WHEN n.fund > 0 THEN n.fund ELSE 0 END,
       'settled ' || CAST(s.setl_time AS STRING) || ' during suspension '
         || CAST(p.suspension_id AS STRING) || ' (' || CAST(p.begin_date AS STRING) || '..'
         || CAST(p.end_date AS STRING) || ')',
       'suspension', s.setl_id, s.setl_time, '', CAST(NULL AS TIMESTAMP), p.suspension_id,
       p.created_at, CAST(NULL AS BIGINT)
FROM settlements s
JOIN suspensions p
  ON p.psn_no = s.psn_no AND p.begin_date <= CAST(s.setl_time AS DATE)
 AND p.end_date >= CAST(s.setl_time AS DATE)
 AND (p.lifted_at IS NULL OR p.lifted_at > s.setl_time)
JOIN net n ON n.setl_id = s.setl_id
WHERE s.kind = 'settle' AND s.setl_time >= {month_begin} AND s.setl_time < {month_end}
UNION ALL
SELECT 'refused/' || r.fixmedins_code || '/' || CAST(r.day AS STRING) || '/' || r.code,
       r.fixmedins_code, '', '', 0,
       CAST(SUM(r.count) AS STRING) || ' messages refused ' || r.code || ' on '
         || CAST(r.day AS STRING),
       'refused', '', CAST(NULL AS TIMESTAMP), '', CAST(NULL AS TIMESTAMP),
       CAST(NULL AS BIGINT), CAST(NULL AS TIMESTAMP), SUM(r.count)
FROM refusals r
WHERE r.day >= CAST({month_begin} AS DATE) AND r.day < CAST({month_end} AS DATE)
GROUP BY r.fixmedins_code, r.day, r.code
HAVING SUM(r.count) >= {min_refusals}
ORDER BY clue_key
