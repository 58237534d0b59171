"""The tallies of one insured place's funds spent elsewhere (docs/supervision.md, The
insured place's analysis): read-only, over ``settlement`` (with ``institution`` for an
institution's name and level, ``diagnosis`` for a visit's main diagnosis).

What counts: the settlements (kind ``settle``) and reimbursements (kind ``claim``, which
carry the two areas of the care they pay) whose insured place is the region and whose
treatment place is another one, not cancelled. A cancellation nets its settlement out
in the settlement's own month (the pair is left out): the analysis shows the care that
stood, as known when it runs, so a month's figures may still fall when a late
cancellation comes (the clearing books a cancellation in its own month instead)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Select, cast, extract, func, literal, select

from yibao.domain.away_analysis import Dimension, Figures, Month, Tally
from yibao.domain.states import SettlementKind
from yibao.store.schema import diagnosis, institution, settlement

_cancel = settlement.alias("cancel")
MAIN_DIAGNOSIS_SRT_NO = 1  # the main diagnosis is diag_srt_no 1 (5203's maindiag_flag)


def _main_diagnosis(stage: str) -> Any:
    """Per visit, its main diagnosis of ``stage`` (visit, discharge): the smallest code
    when several were sent (one row per visit, so a join adds no rows)."""
    return (select(diagnosis.c.mdtrt_id, func.min(diagnosis.c.diag_code).label("code"),
                   func.min(diagnosis.c.diag_name).label("name"))
            .where(diagnosis.c.diag_srt_no == MAIN_DIAGNOSIS_SRT_NO,
                   diagnosis.c.vali_flag == "1", diagnosis.c.stage == stage)
            .group_by(diagnosis.c.mdtrt_id).subquery(f"main_{stage}"))


_discharge, _admission = _main_diagnosis("discharge"), _main_diagnosis("visit")
_DISEASE = func.coalesce(_discharge.c.code, _admission.c.code, "")
_DISEASE_NAME = func.coalesce(_discharge.c.name, _admission.c.name, "")
_YEAR = cast(extract("year", settlement.c.setl_time), Integer)
_MONTH = cast(extract("month", settlement.c.setl_time), Integer)
_KINDS = (SettlementKind.SETTLE.value, SettlementKind.CLAIM.value)


_LIVE = settlement.outerjoin(_cancel, _cancel.c.reverses == settlement.c.setl_id)


def _base(region: str, since: datetime, until: datetime, *columns: Any,
          joined: Any = _LIVE) -> Select[Any]:
    return (select(
        _YEAR.label("year"), _MONTH.label("month"), *columns,
        func.count().label("settlements"),
        func.count(settlement.c.mdtrt_id.distinct()).label("visits"),
        func.count(settlement.c.psn_no.distinct()).label("persons"),
        func.coalesce(func.sum(settlement.c.medfee_sumamt), 0).label("medfee"),
        func.coalesce(func.sum(settlement.c.fund_pay_sumamt), 0).label("fund"))
        .select_from(joined)
        .where(settlement.c.insuplc_admdvs == region,
               settlement.c.mdtrtarea_admvs != region, settlement.c.mdtrtarea_admvs != "",
               settlement.c.kind.in_(_KINDS), _cancel.c.setl_id.is_(None),
               settlement.c.setl_time >= since, settlement.c.setl_time < until)
        .group_by(_YEAR, _MONTH))


def _by_month(region: str, since: datetime, until: datetime) -> Select[Any]:
    return _base(region, since, until, literal("").label("key"))


def _by_region(region: str, since: datetime, until: datetime) -> Select[Any]:
    key = settlement.c.mdtrtarea_admvs
    return _base(region, since, until, key.label("key")).group_by(key)


def _by_institution(region: str, since: datetime, until: datetime) -> Select[Any]:
    key = settlement.c.fixmedins_code
    return (_base(region, since, until, key.label("key"),
                  func.max(institution.c.name).label("name"),
                  func.max(institution.c.level).label("level"),
                  func.max(settlement.c.mdtrtarea_admvs).label("treatment"),
                  joined=_LIVE.outerjoin(institution, institution.c.fixmedins_code
                                         == settlement.c.fixmedins_code))
            .group_by(key))


def _by_disease(region: str, since: datetime, until: datetime) -> Select[Any]:
    joined = (_LIVE.outerjoin(_discharge, _discharge.c.mdtrt_id == settlement.c.mdtrt_id)
              .outerjoin(_admission, _admission.c.mdtrt_id == settlement.c.mdtrt_id))
    return (_base(region, since, until, _DISEASE.label("key"),
                  func.max(_DISEASE_NAME).label("name"), joined=joined)
            .group_by(_DISEASE))


_QUERIES = {None: _by_month, Dimension.REGION: _by_region,
            Dimension.INSTITUTION: _by_institution, Dimension.DISEASE: _by_disease}


def tallies(conn: Connection, region: str, since: datetime, until: datetime,
            by: Dimension | None) -> list[Tally]:
    """The region's away settlements from ``since`` to before ``until`` per month and
    ``by`` (None: the month alone, key ""), in order of month and key."""
    query = _QUERIES[by](region, since, until)
    rows = conn.execute(query).mappings().all()
    found = [Tally(Month(int(r["year"]), int(r["month"])), str(r["key"] or ""),
                   Figures(int(r["settlements"]), int(r["visits"]), int(r["persons"]),
                           int(r["medfee"]), int(r["fund"])),
                   name=str(r.get("name") or ""), treatment=str(r.get("treatment") or ""),
                   level=None if r.get("level") is None else int(r["level"]))
             for r in rows]
    return sorted(found, key=lambda t: (t.month, t.key))


def insured_places(conn: Connection, *, limit: int = 100) -> list[str]:
    """The insured places whose persons have care away from home recorded (settlements
    or reimbursements), in order: the console's choices."""
    rows = conn.execute(
        select(settlement.c.insuplc_admdvs).distinct()
        .where(settlement.c.kind.in_(_KINDS), settlement.c.mdtrtarea_admvs != "",
               settlement.c.mdtrtarea_admvs != settlement.c.insuplc_admdvs)
        .order_by(settlement.c.insuplc_admdvs).limit(limit))
    return [str(r[0]) for r in rows]
