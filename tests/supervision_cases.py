"""Visits for the visit rules (SV05–SV10): the pure records, and the same written as the
screening extract's Parquet tables (the contract in docs/supervision.md) so that the
rules' SQL runs over exactly what the pure functions saw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from yibao.analytics import screening
from yibao.domain import supervision, supervision_visit
from yibao.domain.supervision_visit import Case, Finding, Limits, Line, Person, Visit

MONTH = "2026-05"
MONTH_END = datetime(2026, 6, 1)  # the screening's "now" for a visit still open
REGION = "110000"
VISIT_RULES = ("SV05", "SV06", "SV07", "SV08", "SV09", "SV10")


@dataclass(frozen=True)
class Planted:
    """One visit of one person at one institution, with the catalogue limits of its codes."""

    case: Case
    psn_no: str
    fixmedins_code: str = "H11010500001"


def write_extract(directory: Path, planted: Sequence[Planted]) -> None:
    """The visits, their lines, persons and the catalogue as the extract's Parquet files."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("""CREATE TABLE visits (mdtrt_id VARCHAR, psn_no VARCHAR,
            fixmedins_code VARCHAR, insutype VARCHAR, med_type VARCHAR, visit_class VARCHAR,
            status VARCHAR, begntime TIMESTAMP, endtime TIMESTAMP, insuplc_admdvs VARCHAR,
            mdtrtarea_admvs VARCHAR, main_diag_code VARCHAR, mdtrt_cert_type VARCHAR)""")
        con.execute("""CREATE TABLE fee_lines (id BIGINT, mdtrt_id VARCHAR, psn_no VARCHAR,
            fixmedins_code VARCHAR, region VARCHAR, med_list_codg VARCHAR, list_type VARCHAR,
            cnt DECIMAL(18,4), pric DECIMAL(18,6), amount BIGINT, pric_uplmt DECIMAL(18,6),
            fee_ocur_time TIMESTAMP)""")
        con.execute("CREATE TABLE persons (psn_no VARCHAR, gend VARCHAR, brdy DATE, "
                    "insuplc_admdvs VARCHAR)")
        con.execute("""CREATE TABLE catalogue (region VARCHAR, code VARCHAR, list_type VARCHAR,
            price_cap DECIMAL(18,6), lmt_gend VARCHAR, lmt_age_min INTEGER,
            lmt_age_max INTEGER, lmt_daily_cnt DECIMAL(18,4), lmt_course_days INTEGER,
            lmt_visit_times INTEGER, per_day BOOLEAN, valid_from DATE, valid_to DATE)""")
        con.execute("""CREATE TABLE institutions (fixmedins_code VARCHAR, kind VARCHAR,
            level INTEGER, admdvs VARCHAR, pool_area VARCHAR, lat DOUBLE, lon DOUBLE)""")
        persons: dict[str, Person] = {}
        limits: dict[str, Limits] = {}
        for p in planted:
            visit = p.case.visit
            con.execute("INSERT INTO visits VALUES (?, ?, ?, '310', '11', ?, 'discharged', ?,"
                        " ?, ?, ?, '', '02')",
                        [visit.mdtrt_id, p.psn_no, p.fixmedins_code, visit.visit_class,
                         visit.begin, visit.end, REGION, REGION])
            for line in p.case.lines:
                con.execute("INSERT INTO fee_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [line.id, visit.mdtrt_id, p.psn_no, p.fixmedins_code, REGION,
                             line.code, line.list_type, line.cnt, line.pric, line.amount,
                             line.pric_uplmt, line.at])
            persons[p.psn_no] = p.case.person
            limits |= dict(p.case.limits)
        for psn_no, person in persons.items():
            con.execute("INSERT INTO persons VALUES (?, ?, ?, ?)",
                        [psn_no, person.gend, person.brdy, REGION])
        for code, lim in limits.items():
            con.execute("INSERT INTO catalogue VALUES (?, ?, '201', ?, ?, ?, ?, ?, ?, ?, ?, "
                        "DATE '2020-01-01', NULL)",
                        [REGION, code, lim.price_cap, lim.gend, lim.age_min, lim.age_max,
                         lim.daily_cnt, lim.course_days, lim.visit_times, lim.per_day])
        con.execute("INSERT INTO institutions VALUES ('H11010500001', 'hospital', 3, '110105',"
                    " '110000', NULL, NULL)")
        for table in ("visits", "fee_lines", "persons", "catalogue", "institutions"):
            con.execute(f"COPY {table} TO '{directory / (table + '.parquet')}' (FORMAT PARQUET)")
    finally:
        con.close()


Seen = set[tuple[str, str, tuple[tuple[int, int], ...], int]]


def by_sql(directory: Path, rule_ids: Iterable[str] = VISIT_RULES) -> Seen:
    """What the rules' SQL finds: (rule, clue_key, (line id, its share), amount) per
    clue."""
    rules = [supervision.rule(r) for r in rule_ids]
    return {(found.rule_id, found.clue_key,
             tuple(sorted((int(row["line_id"]), int(row["amount_at_risk"]))
                          for row in found.evidence)),
             found.amount_at_risk)
            for found in screening.run_duckdb(directory, rules, MONTH)}


def by_python(planted: Sequence[Planted], rule_ids: Iterable[str] = VISIT_RULES) -> Seen:
    return {(f.rule_id, f"{p.case.visit.mdtrt_id}:{f.key}",
             tuple(zip(f.lines, f.shares, strict=True)), f.amount)
            for p in planted for f in supervision_visit.check(p.case, rule_ids)}


def case(lines: Sequence[Line], limits: dict[str, Limits], *, gend: str = "1",
         brdy: datetime = datetime(1980, 6, 15), begin: datetime = datetime(2026, 5, 3, 9),
         end: datetime | None = datetime(2026, 5, 8, 10), visit_class: str = "inpatient",
         mdtrt_id: str = "M1") -> Case:
    return Case(Visit(mdtrt_id, visit_class, begin, end), Person(gend, brdy.date()),
                tuple(lines), limits, MONTH_END)


def findings(found: Iterable[Finding]) -> list[tuple[str, str, tuple[int, ...], int]]:
    return sorted((f.rule_id, f.key, f.lines, f.amount) for f in found)
