-- SV12 an institution whose fund use per visit or per person is an outlier among its
-- peers. An institution's month: the fund's net payment (settlements less
-- cancellations), the visits and persons it settled. Its peers are the other
-- institutions of the same kind, level and co-ordination area with at least
-- {min_visits} visits; with at least {min_peers} of them, it is a finding when its fund
-- per visit or per person is at least {ratio} times the peers' median. At risk: what it
-- was paid above the peers' median (per visit or per person, the larger excess, in fen,
-- rounded down).
WITH month_of AS (
    SELECT fixmedins_code, SUM(fund_pay_sumamt) AS fund,
           COUNT(DISTINCT CASE WHEN kind = 'settle' THEN mdtrt_id END) AS visits,
           COUNT(DISTINCT CASE WHEN kind = 'settle' THEN psn_no END) AS persons
    FROM settlements
    WHERE setl_time >= {month_begin} AND setl_time < {month_end}
    GROUP BY fixmedins_code
), measured AS (
    SELECT m.fixmedins_code, m.fund, m.visits, m.persons, i.kind, i.level, i.pool_area,
           CAST(m.fund AS DOUBLE) / m.visits AS per_visit,
           CAST(m.fund AS DOUBLE) / m.persons AS per_person
    FROM month_of m
    JOIN institutions i ON i.fixmedins_code = m.fixmedins_code
    WHERE m.visits >= {min_visits}
), compared AS (
    SELECT a.fixmedins_code, a.fund, a.visits, a.persons, a.kind, a.level, a.pool_area,
           a.per_visit, a.per_person, COUNT(*) AS peers,
           MEDIAN(b.per_visit) AS peer_per_visit, MEDIAN(b.per_person) AS peer_per_person
    FROM measured a
    JOIN measured b
      ON b.kind = a.kind AND b.level = a.level AND b.pool_area = a.pool_area
     AND b.fixmedins_code <> a.fixmedins_code
    GROUP BY a.fixmedins_code, a.fund, a.visits, a.persons, a.kind, a.level, a.pool_area,
             a.per_visit, a.per_person
), flagged AS (
    SELECT c.*,
           c.per_visit >= {ratio} * c.peer_per_visit AS by_visit,
           c.per_person >= {ratio} * c.peer_per_person AS by_person
    FROM compared c
    WHERE c.peers >= {min_peers}
      AND (c.per_visit >= {ratio} * c.peer_per_visit
           OR c.per_person >= {ratio} * c.peer_per_person)
)
SELECT fixmedins_code || '/' || SUBSTR(CAST({month_begin} AS STRING), 1, 7) AS clue_key,
       fixmedins_code, '' AS psn_no, '' AS mdtrt_id,
       CAST(FLOOR(GREATEST(
           CASE WHEN by_visit THEN fund - peer_per_visit * visits ELSE 0 END,
           CASE WHEN by_person THEN fund - peer_per_person * persons ELSE 0 END, 0))
           AS BIGINT) AS amount_at_risk,
       'fund per visit ' || CAST(CAST(FLOOR(per_visit) AS BIGINT) AS STRING)
         || ' fen against the peers'' median '
         || CAST(CAST(FLOOR(peer_per_visit) AS BIGINT) AS STRING) || ', per person '
         || CAST(CAST(FLOOR(per_person) AS BIGINT) AS STRING) || ' against '
         || CAST(CAST(FLOOR(peer_per_person) AS BIGINT) AS STRING) || ' (' || kind
         || ' level ' || CAST(level AS STRING) || ', ' || CAST(peers AS STRING) || ' peers)'
         AS summary,
       kind, level, pool_area, fund, visits, persons, peers,
       CAST(FLOOR(per_visit) AS BIGINT) AS fund_per_visit,
       CAST(FLOOR(peer_per_visit) AS BIGINT) AS peers_median_per_visit,
       CAST(FLOOR(per_person) AS BIGINT) AS fund_per_person,
       CAST(FLOOR(peer_per_person) AS BIGINT) AS peers_median_per_person
FROM flagged
ORDER BY clue_key
