"""A synthetic month for the screening benchmark (``yibao bench screen``), written
straight to Parquet by DuckDB in the supervision extract's tables (docs/supervision.md),
shaped like a large city: about one visit per eight fee lines, one person per ten lines,
one institution per ten thousand lines (2 000 at most, pharmacies a third), a
20 000-item catalogue of which one item in fifty carries a usage limit, 4 % of visits
inpatient stays (at hospitals) with a bed-day line, 2 % of persons insured elsewhere.

The background is legitimate by construction (a limited item is billed only within its
limits, prices at or below their cap, a bed-day count equal to the days of stay), so
what the rules flag is what chance makes of a large city's month (two visits of one
person close in time at distant institutions, ...): the benchmark reports how many.
Every value is a function of the row number (DuckDB's ``hash``), so the same size gives
the same month; nothing is sampled in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yibao.analytics.extract import month_bounds

ITEMS = 20_000
INSTITUTIONS_MAX = 2_000
LIMIT_EVERY = 50  # item index % 50: 1 female only, 2 male only, 3 children, 5 daily 3,
#                   6 four times a visit, 7 a course of 7 days, 8 priced at a cap
BED_ITEM = "WX900000000"  # the bed-day (per_day) item of every inpatient stay
LINES_PER_VISIT = 8
INPATIENT_EVERY = 25  # visit index % 25 == 0: an inpatient stay


@dataclass(frozen=True, slots=True)
class Shape:
    lines: int
    visits: int
    persons: int
    institutions: int
    items: int = ITEMS

    @classmethod
    def of(cls, lines: int) -> Shape:
        assert lines >= LINES_PER_VISIT, lines
        visits = lines // LINES_PER_VISIT
        return cls(lines=visits * LINES_PER_VISIT, visits=visits,
                   persons=max(10, lines // 10),
                   institutions=max(12, min(INSTITUTIONS_MAX, lines // 10_000)))


MACROS = """
CREATE MACRO v_psn(v) AS CAST(hash(v, 1) % {persons} AS BIGINT);
CREATE MACRO v_draw(v) AS CAST(hash(v, 2) % {institutions} AS BIGINT);
CREATE MACRO v_inst(v) AS CASE WHEN v % {inpatient_every} = 0 AND v_draw(v) % 3 = 2
    THEN v_draw(v) - 1 ELSE v_draw(v) END;
CREATE MACRO v_inpatient(v) AS v % {inpatient_every} = 0;
CREATE MACRO v_begin(v) AS TIMESTAMP '{begin}'
    + to_seconds(CAST(hash(v, 3) % {month_seconds} AS BIGINT));
CREATE MACRO v_days(v) AS CASE WHEN v_inpatient(v) THEN 1 + CAST(hash(v, 4) % 14 AS BIGINT)
    ELSE 0 END;
CREATE MACRO p_gend(p) AS CASE WHEN hash(p, 7) % 2 = 0 THEN '1' ELSE '2' END;
CREATE MACRO p_age(p) AS CAST(hash(p, 8) % 90 AS INTEGER);
CREATE MACRO p_away(p) AS p % 50 = 17;
CREATE MACRO code_of(i) AS 'WX' || lpad(CAST(i AS VARCHAR), 9, '0');
CREATE MACRO yuan(fen) AS CAST(CAST(fen AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 6));
CREATE MACRO price_fen(i) AS 100 + CAST(hash(i, 9) % 20000 AS BIGINT);
CREATE MACRO inst_code(n) AS 'W' || lpad(CAST(n AS VARCHAR), 11, '0');
CREATE MACRO psn_code(p) AS 'W110000' || lpad(CAST(p AS VARCHAR), 13, '0');
CREATE MACRO visit_code(v) AS 'V' || lpad(CAST(v AS VARCHAR), 12, '0');
"""

INSTITUTIONS = """
COPY (
  SELECT inst_code(n) AS fixmedins_code,
         CASE WHEN n % 3 = 2 THEN 'pharmacy' ELSE 'hospital' END AS kind,
         CASE WHEN n % 3 = 2 THEN 0 WHEN n % 30 = 0 THEN 3 WHEN n % 6 = 0 THEN 2 ELSE 1 END
           AS level,
         '1101' || lpad(CAST(1 + n % 16 AS VARCHAR), 2, '0') AS admdvs, '110000' AS pool_area,
         39.6 + (hash(n, 10) % 600000) / 1000000.0 AS lat,
         116.0 + (hash(n, 11) % 800000) / 1000000.0 AS lon
  FROM range({institutions}) t(n)
) TO '{dir}/institutions.parquet' (FORMAT parquet)
"""

PERSONS = """
COPY (
  SELECT psn_code(p) AS psn_no, p_gend(p) AS gend,
         CAST(DATE '{begin_date}' - INTERVAL (p_age(p) * 365 + 30 + hash(p, 12) % 300) DAY
              AS DATE) AS brdy,
         CASE WHEN p_away(p) THEN '130102' ELSE '110000' END AS insuplc_admdvs
  FROM range({persons}) t(p)
) TO '{dir}/persons.parquet' (FORMAT parquet)
"""

CATALOGUE = """
COPY (
  SELECT '110000' AS region, code_of(i) AS code,
         CASE WHEN i % 10 < 6 THEN '101' WHEN i % 10 < 9 THEN '201' ELSE '301' END AS list_type,
         CASE WHEN i % {every} = 8 THEN yuan(price_fen(i)) END
           AS price_cap,
         CASE i % {every} WHEN 1 THEN '2' WHEN 2 THEN '1' ELSE '' END AS lmt_gend,
         CAST(NULL AS INTEGER) AS lmt_age_min,
         CASE WHEN i % {every} = 3 THEN 14 END AS lmt_age_max,
         CASE WHEN i % {every} = 5 THEN CAST(3 AS DECIMAL(18, 4)) END AS lmt_daily_cnt,
         CASE WHEN i % {every} = 7 THEN 7 END AS lmt_course_days,
         CASE WHEN i % {every} = 6 THEN 4 END AS lmt_visit_times,
         false AS per_day, DATE '2020-01-01' AS valid_from, CAST(NULL AS DATE) AS valid_to
  FROM range({items}) t(i)
  UNION ALL
  SELECT '110000', '{bed}', '201', NULL, '', NULL, NULL, NULL, NULL, NULL, true,
         DATE '2020-01-01', NULL
) TO '{dir}/catalogue.parquet' (FORMAT parquet)
"""

VISITS = """
COPY (
  SELECT visit_code(v) AS mdtrt_id, psn_code(v_psn(v)) AS psn_no,
         inst_code(v_inst(v)) AS fixmedins_code,
         CASE WHEN v_psn(v) % 4 = 0 THEN '390' ELSE '310' END AS insutype,
         CASE WHEN v_inpatient(v) THEN '21' ELSE '11' END AS med_type,
         CASE WHEN v_inpatient(v) THEN 'inpatient' ELSE 'outpatient' END AS visit_class,
         'discharged' AS status, v_begin(v) AS begntime,
         CASE WHEN v_inpatient(v) THEN v_begin(v) + to_days(v_days(v))
              ELSE v_begin(v) + INTERVAL 20 MINUTE END AS endtime,
         CASE WHEN p_away(v_psn(v)) THEN '130102' ELSE '110000' END AS insuplc_admdvs,
         '110000' AS mdtrtarea_admvs,
         'D' || lpad(CAST(hash(v, 13) % 3000 AS VARCHAR), 4, '0') AS main_diag_code,
         CASE hash(v, 14) % 3 WHEN 0 THEN '01' WHEN 1 THEN '02' ELSE '03' END
           AS mdtrt_cert_type
  FROM range({visits}) t(v)
) TO '{dir}/visits.parquet' (FORMAT parquet)
"""

SETTLEMENTS = """
COPY (
  SELECT 'S' || substr(mdtrt_id, 2) AS setl_id, 'settle' AS kind, fixmedins_code, insutype,
         CASE WHEN med_type = '21' THEN '21' ELSE '11' END AS clr_type, insuplc_admdvs,
         mdtrtarea_admvs, fund + acct + cash AS medfee_sumamt, fund AS fund_pay_sumamt,
         acct AS acct_pay, cash AS psn_cash_pay, psn_no, mdtrt_id,
         endtime AS setl_time, mdtrt_cert_type, med_type, '' AS reverses,
         CASE WHEN insuplc_admdvs <> '110000' THEN 'long_term' ELSE '' END AS away_basis,
         CASE WHEN insuplc_admdvs <> '110000' THEN 'WF' || substr(psn_no, 8) ELSE '' END
           AS trt_dcla_detl_sn
  FROM (SELECT *, CAST(hash(mdtrt_id, 15) % 50000 AS BIGINT) AS fund,
               CASE WHEN insutype = '390' THEN 0
                    ELSE CAST(hash(mdtrt_id, 16) % 20000 AS BIGINT) END AS acct,
               CAST(hash(mdtrt_id, 17) % 10000 AS BIGINT) AS cash
        FROM read_parquet('{dir}/visits.parquet'))
) TO '{dir}/settlements.parquet' (FORMAT parquet)
"""

# Line k of visit v (k = i % 8). An inpatient stay's line 0 is the bed-day item counted
# once per day of stay; its other lines fall on the days of the stay. A limited item
# drawn for a person it does not suit is replaced by its unlimited neighbour (index + 10),
# counts stay within a daily limit, a capped item is priced at its cap.
FEE_LINES = """
COPY (
  SELECT i AS id, visit_code(v) AS mdtrt_id, psn_code(p) AS psn_no,
         inst_code(v_inst(v)) AS fixmedins_code, '110000' AS region,
         CASE WHEN bed THEN '{bed}' ELSE code_of(item) END AS med_list_codg,
         CASE WHEN bed THEN '201' WHEN item % 10 < 6 THEN '101' WHEN item % 10 < 9 THEN '201'
              ELSE '301' END AS list_type,
         CAST(cnt AS DECIMAL(18, 4)) AS cnt, yuan(fen) AS pric,
         cnt * fen AS amount,
         CASE WHEN NOT bed AND item % {every} = 8 THEN yuan(fen) END
           AS pric_uplmt,
         v_begin(v) + to_days(CASE WHEN bed THEN 0 ELSE k * v_days(v) // {per_visit} END)
           AS fee_ocur_time
  FROM (
    SELECT i, v, k, p, bed, item,
           CASE WHEN bed THEN v_days(v) ELSE 1 + CAST(hash(i, 19) % 3 AS BIGINT) END AS cnt,
           CASE WHEN bed THEN 8000 ELSE price_fen(item) END AS fen
    FROM (
      SELECT i, v, k, p, bed,
             CASE WHEN (r % {every} = 1 AND p_gend(p) <> '2')
                    OR (r % {every} = 2 AND p_gend(p) <> '1')
                    OR (r % {every} = 3 AND p_age(p) > 14)
                  THEN (r + 10) % {items} ELSE r END AS item
      FROM (SELECT i, i // {per_visit} AS v, i % {per_visit} AS k,
                   v_psn(i // {per_visit}) AS p,
                   v_inpatient(i // {per_visit}) AND i % {per_visit} = 0 AS bed,
                   CAST(hash(i, 18) % {items} AS BIGINT) AS r
            FROM range({lines}) t(i))))
) TO '{dir}/fee_lines.parquet' (FORMAT parquet)
"""

# The credential, filing and refusal tables: a card per person (one in a thousand lost
# after the month), the month's card and certificate uses, suspensions of one person in
# ten thousand that ended before the month, a long-term filing for Beijing of every
# person insured elsewhere, and a refusal a day at a few institutions.
CARDS = """
COPY (
  SELECT 'WC' || lpad(CAST(p AS VARCHAR), 13, '0') AS card_no, psn_code(p) AS psn_no,
         CASE WHEN p % 1000 = 3 THEN 'lost' ELSE 'valid' END AS status,
         CASE WHEN p % 1000 = 3 THEN TIMESTAMP '{end}' + INTERVAL 1 DAY END AS status_at
  FROM range({persons}) t(p)
) TO '{dir}/cards.parquet' (FORMAT parquet)
"""

CARD_USES = """
COPY (
  SELECT 'WC' || substr(psn_no, 8) AS card_no, psn_no, fixmedins_code, mdtrt_id, setl_id,
         setl_time AS used_at, fund_pay_sumamt
  FROM read_parquet('{dir}/settlements.parquet') WHERE mdtrt_cert_type = '03'
) TO '{dir}/card_uses.parquet' (FORMAT parquet)
"""

ECERT_USES = """
COPY (
  SELECT 'WE' || substr(psn_no, 8) AS cert_id, psn_no, fixmedins_code,
         '01101' AS business_type, begntime - INTERVAL 1 MINUTE AS issued_at, '' AS device,
         mdtrt_id
  FROM read_parquet('{dir}/visits.parquet') WHERE mdtrt_cert_type = '01'
) TO '{dir}/ecert_uses.parquet' (FORMAT parquet)
"""

SUSPENSIONS = """
COPY (
  SELECT CAST(p AS BIGINT) AS suspension_id, psn_code(p) AS psn_no,
         CAST(DATE '{begin_date}' - INTERVAL 40 DAY AS DATE) AS begin_date,
         CAST(DATE '{begin_date}' - INTERVAL 10 DAY AS DATE) AS end_date,
         TIMESTAMP '{begin}' - INTERVAL 40 DAY AS created_at,
         CAST(NULL AS TIMESTAMP) AS lifted_at
  FROM range({persons}) t(p) WHERE p % 10000 = 7
) TO '{dir}/suspensions.parquet' (FORMAT parquet)
"""

FILINGS = """
COPY (
  SELECT 'WF' || substr(psn_code(p), 8) AS trt_dcla_detl_sn, psn_code(p) AS psn_no,
         'area' AS kind, 'resident' AS filing_type, 'long_term' AS category,
         '130102' AS insuplc_admdvs, '110000' AS mdtrtarea_admdvs, '' AS fixmedins_code,
         TIMESTAMP '{begin}' - INTERVAL 60 DAY AS begin_at, CAST(NULL AS TIMESTAMP) AS end_at,
         'active' AS status, CAST(NULL AS TIMESTAMP) AS ended_at
  FROM range({persons}) t(p) WHERE p_away(p)
) TO '{dir}/filings.parquet' (FORMAT parquet)
"""

REFUSALS = """
COPY (
  SELECT CAST(DATE '{begin_date}' + INTERVAL (n % 28) DAY AS DATE) AS day,
         inst_code(n % {institutions}) AS fixmedins_code, '2201' AS infno,
         'E-PSN-004' AS code, CAST(1 AS BIGINT) AS count
  FROM range(100) t(n)
) TO '{dir}/refusals.parquet' (FORMAT parquet)
"""

TABLES = (("institutions", INSTITUTIONS), ("persons", PERSONS), ("catalogue", CATALOGUE),
          ("visits", VISITS), ("settlements", SETTLEMENTS), ("fee_lines", FEE_LINES),
          ("cards", CARDS), ("card_uses", CARD_USES), ("ecert_uses", ECERT_USES),
          ("suspensions", SUSPENSIONS), ("filings", FILINGS), ("refusals", REFUSALS))


def generate(directory: Path, lines: int, month: str = "2026-05", *,
             memory_limit: str = "", report: object = None) -> Shape:
    """Write the month's tables into ``directory``; returns the shape written."""
    import duckdb

    shape = Shape.of(lines)
    begin, end = month_bounds(month)
    values = dict(persons=shape.persons, institutions=shape.institutions,
                  items=shape.items, visits=shape.visits, lines=shape.lines,
                  inpatient_every=INPATIENT_EVERY, per_visit=LINES_PER_VISIT,
                  every=LIMIT_EVERY, bed=BED_ITEM, begin=f"{begin:%Y-%m-%d %H:%M:%S}",
                  begin_date=f"{begin:%Y-%m-%d}", end=f"{end:%Y-%m-%d %H:%M:%S}",
                  month_seconds=int((end - begin).total_seconds()) - 3600, dir=directory)
    assert "'" not in str(directory), directory
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(MACROS.format(**values))
        for name, sql in TABLES:
            if callable(report):
                report(f"writing {name}")
            con.execute(sql.format(**values))
    finally:
        con.close()
    return shape
