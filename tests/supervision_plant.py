"""Planting supervision patterns through real records: visits, stays and settlements
through the HIS client at the moments the clock is set to, reference data (coordinates,
more institutions, ecTokens) by store inserts; then the month's extract and a rule's SQL
on DuckDB (docs/supervision.md)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import insert, select, update

from flows import line, ok, settle_payload, upload
from yibao.analytics import screening
from yibao.analytics.supervision_extract import extract_for_screening
from yibao.domain import supervision
from yibao.store.clues import Found
from yibao.store.demo import demo_token
from yibao.store.schema import ec_token, institution, signin

MONTH = "2026-05"
DIAGNOSES = {"J18.900": "肺炎", "I10.x00": "特发性(原发性)高血压", "E11.900": "2型糖尿病",
             "K35.800": "急性阑尾炎"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def diagnosis(code: str, moment: datetime) -> dict[str, Any]:
    return {"diag_type": "1", "diag_srt_no": "1", "maindiag_flag": "1", "diag_code": code,
            "diag_name": DIAGNOSES[code], "diag_dept": "内科", "dise_dor_no": "D001",
            "dise_dor_name": "医生甲", "diag_time": stamp(moment), "vali_flag": "1"}


def outpatient(his, clock, psn_no: str, certno: str, *, when: datetime,
               diag: str = "", amount: str = "", med_type: str = "11",
               exp: dict[str, str] | None = None,
               credential: dict[str, str] | None = None) -> dict[str, Any]:
    """2201 at ``when`` (the clock too), 2203 with the main diagnosis ``diag``, and with
    an ``amount`` one fee line and 2207: the visit's mdtrt_id and the setlinfo."""
    clock.now = when
    cred = credential or {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
    data = {"psn_no": psn_no, "insutype": "310", "begntime": stamp(when),
            "med_type": med_type, **cred, "ipt_otp_no": f"OP{when:%m%d%H%M%S}",
            "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
            "caty": "A03", "exp_content": json.dumps(exp or {})}
    mdtrt_id = str(ok(his.call("2201", {"data": data}))["data"]["mdtrt_id"])
    if diag:
        ok(his.call("2203", {"mdtrtinfo": {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": med_type,
            "begntime": stamp(when), "main_cond_dscr": "", "dise_codg": diag,
            "dise_name": DIAGNOSES[diag], "birctrl_type": "", "birctrl_matn_date": "",
            "exp_content": ""}, "diseinfo": [diagnosis(diag, when)]}))
    setl: dict[str, Any] = {}
    if amount:
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
        setl = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, certno, amount,
                                                  account=False, med_type=med_type)))[
            "setlinfo"]
    return {"mdtrt_id": mdtrt_id, "setl": setl}


def stay(his, clock, psn_no: str, certno: str, *, admitted: datetime,
         discharged: datetime | None, diag: str = "J18.900", amount: str = "5000.00",
         exp: dict[str, str] | None = None) -> dict[str, Any]:
    """2401 at ``admitted`` with the main diagnosis; with ``discharged``: 2402 then, one
    fee line of ``amount`` (2301) and 2304. The stay's mdtrt_id and setlinfo."""
    clock.now = admitted
    info = {"psn_no": psn_no, "insutype": "310", "begntime": stamp(admitted),
            "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "med_type": "21",
            "ipt_no": f"ZY{admitted:%m%d%H%M}", "atddr_no": "D1", "chfpdr_name": "主任",
            "adm_dept_codg": "K02", "adm_dept_name": "呼吸科", "adm_bed": "12",
            "dscg_maindiag_code": diag, "dscg_maindiag_name": DIAGNOSES[diag],
            "dise_codg": diag, "dise_name": DIAGNOSES[diag],
            "exp_content": json.dumps(exp or {})}
    mdtrt_id = str(ok(his.call("2401", {"mdtrtinfo": info, "diseinfo": [
        dict(diagnosis(diag, admitted), psn_no=psn_no)]}))["result"]["mdtrt_id"])
    setl: dict[str, Any] = {}
    if discharged is not None:
        clock.now = discharged
        ok(his.call("2402", {"dscginfo": {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "310",
            "endtime": stamp(discharged), "dise_codg": diag, "dise_name": DIAGNOSES[diag],
            "dscg_way": "1"}, "diseinfo": []}))
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)], infno="2301")
        setl = ok(his.call("2304", settle_payload(psn_no, mdtrt_id, certno, amount,
                                                  account=False, med_type="21")))["setlinfo"]
    return {"mdtrt_id": mdtrt_id, "setl": setl}


def place(db, code: str, lat: float | None, lon: float | None) -> None:
    """An institution's coordinates (degrees)."""
    with db.write() as conn:
        conn.execute(update(institution).where(institution.c.fixmedins_code == code).values(
            lat_e6=None if lat is None else round(lat * 1_000_000),
            lon_e6=None if lon is None else round(lon * 1_000_000)))


def another_institution(db, code: str, *, like: str, level: int | None = None) -> None:
    """A new institution copied from ``like`` (its kind, area, networking; open to all),
    with its own code and demo token, at ``level`` if given."""
    with db.write() as conn:
        row = dict(conn.execute(select(institution).where(
            institution.c.fixmedins_code == like)).mappings().one())
        row.update(fixmedins_code=code, name=f"监管测试 {code}", token=demo_token(code),
                   open_kind="a_class", uscc="")
        if level is not None:
            row["level"] = level
        conn.execute(insert(institution).values(**row))


def ecert_token(db, *, cert_id: str, psn_no: str, code: str, when: datetime,
                n: int = 0, mac: str | None = None) -> None:
    """An ecToken issued by 1162 from certificate ``cert_id`` to institution ``code``;
    with ``mac``, the 1162 named a sign-in at the terminal of that mac."""
    sign_no = "" if mac is None else f"SN{code[-4:]}{mac[-5:]}{n}"
    with db.write() as conn:
        if mac is not None:
            conn.execute(insert(signin).values(
                sign_no=sign_no, fixmedins_code=code, opter_no="OP1", mac=mac,
                ip="10.0.0.1", sign_time=when.replace(hour=7, minute=0)))
        conn.execute(insert(ec_token).values(
            token_hash=f"{cert_id}-{code}-{when:%Y%m%d%H%M%S}-{n}".ljust(64, "0")[:64],
            psn_no=psn_no, cert_id=cert_id, fixmedins_code=code, business_type="01101",
            issued_at=when, expires_at=when.replace(hour=23, minute=59), sign_no=sign_no))


def with_params(rule_id: str, **params: int) -> supervision.Rule:
    """The library's rule with some parameters changed (a small world needs small
    thresholds)."""
    rule = supervision.rule(rule_id)
    return dataclasses.replace(rule, params=MappingProxyType({**rule.params, **params}))


def extract(db, directory: Path, month: str = MONTH) -> Path:
    with db.read() as conn:
        extract_for_screening(conn, month, directory)
    return directory


def found(db, directory: Path, rule: str | supervision.Rule, month: str = MONTH
          ) -> list[Found]:
    """The clues ``rule`` finds in the month's extract, on DuckDB."""
    chosen = supervision.rule(rule) if isinstance(rule, str) else rule
    return screening.run_duckdb(extract(db, directory, month), [chosen], month)
