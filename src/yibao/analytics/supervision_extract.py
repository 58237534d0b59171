"""The supervision extract (issue 20): a month of care from the store into Parquet, with a
look-back, for the rule library's SQL (``analytics/supervision/SVnn.sql``).

Tables (docs/supervision.md describes every column): ``visits``, ``fee_lines``,
``persons``, ``catalogue``, ``institutions``, ``settlements``, ``card_uses``, ``cards``,
``suspensions``, ``refusals``, ``ecert_uses`` and ``filings``. Care is extracted from
``LOOKBACK_DAYS`` before the month to its end (a rule's window looks back from a finding in
the month), stays still open or ending in the month whenever they began, filings valid in
any of it. No names, no ID numbers, no tokens: persons appear by psn_no only.

Rows are streamed as ``extract.py`` streams the clearing's (``extract.to_parquet``); an
empty text and NULL are one in CSV, so every text column reads '' for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, literal, or_, select

from yibao.analytics.extract import SETTLEMENT_COLUMNS, month_bounds, to_parquet
from yibao.domain.filing import TYPES
from yibao.domain.states import CLEARED_KINDS
from yibao.services.persons import CERT_CARD, CERT_ECERT
from yibao.store.schema import (
    card,
    catalogue_item,
    diagnosis,
    ec_token,
    fee_line,
    filing,
    institution,
    person,
    refusal_count,
    settlement,
    signin,
    suspension,
    visit,
)

LOOKBACK_DAYS = 62  # the longest window a rule may look back (days, within_days)
# refusals of a credential the rule library reads (E-PSN-004 a lost or replaced card,
# E-PSN-006 a suspended person, E-ECT-020 a revoked ecToken)
CREDENTIAL_REFUSALS = ("E-PSN-004", "E-PSN-006", "E-ECT-020")
ECERT_SOURCES_NOT = ("face",)  # tokens proved by a face, not by a certificate

VISIT_COLUMNS = {
    "mdtrt_id": "VARCHAR", "psn_no": "VARCHAR", "fixmedins_code": "VARCHAR",
    "insutype": "VARCHAR", "med_type": "VARCHAR", "visit_class": "VARCHAR",
    "status": "VARCHAR", "begntime": "TIMESTAMP", "endtime": "TIMESTAMP",
    "insuplc_admdvs": "VARCHAR", "mdtrtarea_admvs": "VARCHAR", "main_diag_code": "VARCHAR",
    "mdtrt_cert_type": "VARCHAR",
}
FEE_LINE_COLUMNS = {
    "id": "BIGINT", "mdtrt_id": "VARCHAR", "psn_no": "VARCHAR", "fixmedins_code": "VARCHAR",
    "region": "VARCHAR", "med_list_codg": "VARCHAR", "list_type": "VARCHAR",
    "cnt": "DECIMAL(18,4)", "pric": "DECIMAL(18,6)", "amount": "BIGINT",
    "pric_uplmt": "DECIMAL(18,6)", "fee_ocur_time": "TIMESTAMP",
}
PERSON_COLUMNS = {"psn_no": "VARCHAR", "gend": "VARCHAR", "brdy": "DATE",
                  "insuplc_admdvs": "VARCHAR"}
CATALOGUE_COLUMNS = {
    "region": "VARCHAR", "code": "VARCHAR", "list_type": "VARCHAR",
    "price_cap": "DECIMAL(18,6)", "lmt_gend": "VARCHAR", "lmt_age_min": "INTEGER",
    "lmt_age_max": "INTEGER", "lmt_daily_cnt": "DECIMAL(18,4)", "lmt_course_days": "INTEGER",
    "lmt_visit_times": "INTEGER", "per_day": "BOOLEAN", "valid_from": "DATE",
    "valid_to": "DATE",
}
INSTITUTION_COLUMNS = {
    "fixmedins_code": "VARCHAR", "kind": "VARCHAR", "level": "INTEGER", "admdvs": "VARCHAR",
    "pool_area": "VARCHAR", "lat": "DOUBLE", "lon": "DOUBLE",
}
SCREENED_SETTLEMENT_COLUMNS = SETTLEMENT_COLUMNS | {
    "psn_no": "VARCHAR", "mdtrt_id": "VARCHAR", "setl_time": "TIMESTAMP",
    "mdtrt_cert_type": "VARCHAR", "med_type": "VARCHAR", "reverses": "VARCHAR",
    "away_basis": "VARCHAR", "trt_dcla_detl_sn": "VARCHAR",
}
CARD_USE_COLUMNS = {"card_no": "VARCHAR", "psn_no": "VARCHAR", "fixmedins_code": "VARCHAR",
                    "mdtrt_id": "VARCHAR", "setl_id": "VARCHAR", "used_at": "TIMESTAMP",
                    "fund_pay_sumamt": "BIGINT"}
CARD_COLUMNS = {"card_no": "VARCHAR", "psn_no": "VARCHAR", "status": "VARCHAR",
                "status_at": "TIMESTAMP"}
SUSPENSION_COLUMNS = {"suspension_id": "BIGINT", "psn_no": "VARCHAR", "begin_date": "DATE",
                      "end_date": "DATE", "created_at": "TIMESTAMP", "lifted_at": "TIMESTAMP"}
REFUSAL_COLUMNS = {"day": "DATE", "fixmedins_code": "VARCHAR", "infno": "VARCHAR",
                   "code": "VARCHAR", "count": "BIGINT"}
ECERT_USE_COLUMNS = {"cert_id": "VARCHAR", "psn_no": "VARCHAR", "fixmedins_code": "VARCHAR",
                     "business_type": "VARCHAR", "issued_at": "TIMESTAMP", "device": "VARCHAR",
                     "mdtrt_id": "VARCHAR"}
FILING_COLUMNS = {
    "trt_dcla_detl_sn": "VARCHAR", "psn_no": "VARCHAR", "kind": "VARCHAR",
    "filing_type": "VARCHAR", "category": "VARCHAR", "insuplc_admdvs": "VARCHAR",
    "mdtrtarea_admdvs": "VARCHAR", "fixmedins_code": "VARCHAR", "begin_at": "TIMESTAMP",
    "end_at": "TIMESTAMP", "status": "VARCHAR", "ended_at": "TIMESTAMP",
}


@dataclass(frozen=True, slots=True)
class Extracted:
    """What an extract holds: the month, the moment care is read from (the look-back),
    how many fee lines and settlement rows."""

    month: str
    since: datetime
    fee_lines: int
    settlements: int


@dataclass(frozen=True, slots=True)
class _Window:
    since: datetime  # the look-back's first moment
    begin: datetime
    end: datetime

    def visits(self) -> ColumnElement[bool]:
        """A visit that began in [since, end), or began earlier and was still open or
        ended on or after ``since`` (a long stay)."""
        v = visit.c
        return and_(v.begntime < self.end, or_(v.begntime >= self.since, v.endtime.is_(None),
                                              v.endtime >= self.since))


def extract_for_screening(conn: Any, month: str, directory: Path) -> Extracted:
    """Write the month's supervision extract into ``directory`` (created if missing)."""
    begin, end = month_bounds(month)
    window = _Window(begin - timedelta(days=LOOKBACK_DAYS), begin, end)
    directory.mkdir(parents=True, exist_ok=True)
    tables: tuple[tuple[str, Select[Any], dict[str, str]], ...] = (
        ("visits", _visits(window), VISIT_COLUMNS),
        ("fee_lines", _fee_lines(window), FEE_LINE_COLUMNS),
        ("persons", _persons(window), PERSON_COLUMNS),
        ("catalogue", _catalogue(), CATALOGUE_COLUMNS),
        ("institutions", _institutions(), INSTITUTION_COLUMNS),
        ("settlements", _settlements(window), SCREENED_SETTLEMENT_COLUMNS),
        ("card_uses", _card_uses(window), CARD_USE_COLUMNS),
        ("cards", _cards(), CARD_COLUMNS),
        ("suspensions", _suspensions(window), SUSPENSION_COLUMNS),
        ("refusals", _refusals(window), REFUSAL_COLUMNS),
        ("ecert_uses", _ecert_uses(window), ECERT_USE_COLUMNS),
        ("filings", _filings(window), FILING_COLUMNS),
    )
    counts = {name: to_parquet(conn, query, columns, directory, name, text_not_null=True)
              for name, query, columns in tables}
    return Extracted(month, window.since, counts["fee_lines"], counts["settlements"])


def _main_diagnosis() -> Any:
    """The visit's main diagnosis (diag_srt_no 1, valid), the discharge's before the
    admission's, the latest sent first; NULL (read as '') when there is none."""
    d = diagnosis.c
    return (select(d.diag_code)
            .where(d.mdtrt_id == visit.c.mdtrt_id, d.diag_srt_no == 1, d.vali_flag == "1")
            .order_by(case((d.stage == "discharge", 0), else_=1), d.id.desc())
            .limit(1).scalar_subquery())


def _visits(window: _Window) -> Select[Any]:
    v = visit.c
    return select(v.mdtrt_id, v.psn_no, v.fixmedins_code, v.insutype, v.med_type,
                  v.visit_class, v.status, v.begntime, v.endtime, v.insuplc_admdvs,
                  v.mdtrtarea_admvs, _main_diagnosis().label("main_diag_code"),
                  v.mdtrt_cert_type).where(window.visits())


def _fee_lines(window: _Window) -> Select[Any]:
    f = fee_line.c
    return (select(f.id, f.mdtrt_id, f.psn_no, visit.c.fixmedins_code,
                   institution.c.pool_area.label("region"), f.med_list_codg, f.list_type,
                   f.cnt, f.pric, f.det_item_fee_sumamt.label("amount"),
                   f.pric_uplmt_amt.label("pric_uplmt"), f.fee_ocur_time)
            .join(visit, visit.c.mdtrt_id == f.mdtrt_id)
            .join(institution, institution.c.fixmedins_code == visit.c.fixmedins_code)
            .where(window.visits(), f.status == "active", f.det_item_fee_sumamt > 0))


def _persons(window: _Window) -> Select[Any]:
    p = person.c
    seen = select(visit.c.psn_no).where(window.visits())
    return select(p.psn_no, p.gend, p.brdy, p.insuplc_admdvs).where(p.psn_no.in_(seen))


def _catalogue() -> Select[Any]:
    c = catalogue_item.c
    return select(c.region, c.code, c.list_type, c.price_cap, c.lmt_gend, c.lmt_age_min,
                  c.lmt_age_max, c.lmt_daily_cnt, c.lmt_course_days, c.lmt_visit_times,
                  c.per_day, c.valid_from, c.valid_to)


def _institutions() -> Select[Any]:
    i = institution.c
    million = literal(1_000_000.0, Float)
    return select(i.fixmedins_code, i.kind, i.level, i.admdvs, i.pool_area,
                  (cast(i.lat_e6, Float) / million).label("lat"),
                  (cast(i.lon_e6, Float) / million).label("lon"))


def _settlements(window: _Window) -> Select[Any]:
    s = settlement.c
    return select(*(s[name] for name in SCREENED_SETTLEMENT_COLUMNS)).where(
        s.setl_time >= window.since, s.setl_time < window.end, s.kind.in_(CLEARED_KINDS))


def _card_uses(window: _Window) -> Select[Any]:
    """Each settlement of a visit registered with a social security card: the card
    number (no card_sn) and when."""
    s = settlement.c
    return (select(visit.c.mdtrt_cert_no.label("card_no"), s.psn_no, s.fixmedins_code,
                   s.mdtrt_id, s.setl_id, s.setl_time.label("used_at"), s.fund_pay_sumamt)
            .join(visit, visit.c.mdtrt_id == s.mdtrt_id)
            .where(s.setl_time >= window.since, s.setl_time < window.end,
                   s.kind == "settle", visit.c.mdtrt_cert_type == CERT_CARD))


def _cards() -> Select[Any]:
    c = card.c
    return select(c.card_no, c.psn_no, c.status, c.status_at)


def _suspensions(window: _Window) -> Select[Any]:
    s = suspension.c
    return select(s.id.label("suspension_id"), s.psn_no, s.begin_date, s.end_date,
                  s.created_at, s.lifted_at).where(s.begin_date < window.end.date(),
                                                   s.end_date >= window.since.date())


def _refusals(window: _Window) -> Select[Any]:
    r = refusal_count.c
    return select(r.day, r.fixmedins_code, r.infno, r.code, r["count"]).where(
        r.day >= window.since.date(), r.day < window.end.date(),
        r.code.in_(CREDENTIAL_REFUSALS))


def _ecert_uses(window: _Window) -> Select[Any]:
    """ecTokens issued from a certificate (1162) and the visit registered with each, if
    any. The device is the terminal of the sign-in the 1162 named: its mac, else its ip,
    else the sign-in itself; '' when the message named no sign-in."""
    t, s = ec_token.c, signin.c
    registered = and_(visit.c.mdtrt_cert_no == t.token_hash,
                      visit.c.mdtrt_cert_type == CERT_ECERT)
    device = case((s.mac != "", literal("mac:") + s.mac), (s.ip != "", literal("ip:") + s.ip),
                  (t.sign_no != "", literal("sign:") + t.sign_no), else_=literal(""))
    return (select(t.cert_id, t.psn_no, t.fixmedins_code, t.business_type, t.issued_at,
                   device.label("device"), visit.c.mdtrt_id)
            .outerjoin(signin, and_(t.sign_no != "", s.sign_no == t.sign_no))
            .outerjoin(visit, registered)
            .where(t.issued_at >= window.since, t.issued_at < window.end,
                   t.cert_id.not_in(ECERT_SOURCES_NOT)))


def _filings(window: _Window) -> Select[Any]:
    f = filing.c
    category = case(*((f.filing_type == name, literal(kind[1].value))
                      for name, kind in TYPES.items()), else_=literal(""))
    return (select(f.trt_dcla_detl_sn, f.psn_no, f.kind, f.filing_type,
                   category.label("category"), f.insuplc_admdvs, f.mdtrtarea_admdvs,
                   f.fixmedins_code, f.begin_at, f.end_at, f.status, f.ended_at)
            .where(f.begin_at < window.end,
                   or_(f.end_at.is_(None), f.end_at >= window.since)))
