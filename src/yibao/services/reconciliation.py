"""Reconciliation with an institution (3201 totals, 3202 detail).

3201 compares the HIS's totals for a date range with the centre's settlements and says
what differs. 3202 takes the HIS's detail file (uploaded with 9101), joins it with the
centre's rows in DuckDB (``analytics/sql.py``) and stores a result file (fetched with
9102) listing every settlement that differs, is missing on one side, or was cancelled on
one side only. Dates are the settlement times the centre returned, China Standard Time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from yibao.analytics.sql import RECONCILE_DETAIL
from yibao.domain.errors import Refused
from yibao.domain.money import Fen, fen_to_yuan, yuan_to_fen
from yibao.domain.states import CLEARED_KINDS, SettlementKind
from yibao.services import files
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.store.schema import settlement

BALANCED = "0"  # stmt_rslt 平
UNBALANCED = "1"  # 不平
RESULT_DOWNLOAD_HOURS = 24
DETAIL_ROWS_MAX = 200_000


@dataclass(frozen=True, slots=True)
class Totals:
    medfee: Fen
    fund: Fen
    acct: Fen
    count: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Which settlements: the caller's, of a clearing type (and insurance type), in a
    date range, with or without the reversals of cancelled ones."""

    clr_type: str
    begin: date
    end: date
    with_refunds: bool
    insutype: str = ""


def _rows(call: Call, scope: Scope) -> Any:
    if scope.end < scope.begin:
        raise Refused("E-ENV-005", "stmt_enddate is before stmt_begndate")
    kinds = CLEARED_KINDS if scope.with_refunds else (SettlementKind.SETTLE,)
    where = [settlement.c.fixmedins_code == call.institution.code,
             settlement.c.clr_type == scope.clr_type, settlement.c.kind.in_(kinds),
             settlement.c.setl_time >= datetime.combine(scope.begin, time()),
             settlement.c.setl_time <= datetime.combine(scope.end, time.max)]  # 9999-12-31 too
    if scope.insutype:
        where.append(settlement.c.insutype == scope.insutype)
    return where


def totals(call: Call, scope: Scope, his: Totals) -> tuple[str, str]:
    """3201: stmt_rslt and a description that names every difference."""
    centre_row = call.conn.execute(select(
        func.coalesce(func.sum(settlement.c.medfee_sumamt), 0),
        func.coalesce(func.sum(settlement.c.fund_pay_sumamt), 0),
        func.coalesce(func.sum(settlement.c.acct_pay), 0), func.count()).where(
        *_rows(call, scope))).one()
    centre = Totals(*(int(v) for v in centre_row))
    return _compare(his, centre)


def _compare(his: Totals, centre: Totals) -> tuple[str, str]:
    names = (("medfee_sumamt", "medfee"), ("fund_pay_sumamt", "fund"), ("acct_pay", "acct"))
    diffs = [f"{field} HIS {fen_to_yuan(getattr(his, attr))}, centre "
             f"{fen_to_yuan(getattr(centre, attr))}"
             for field, attr in names if getattr(his, attr) != getattr(centre, attr)]
    if his.count != centre.count:
        diffs.append(f"fixmedins_setl_cnt HIS {his.count}, centre {centre.count}")
    if not diffs:
        return BALANCED, (f"balanced: {centre.count} settlements, medfee "
                          f"{fen_to_yuan(centre.medfee)}, fund {fen_to_yuan(centre.fund)}")
    return UNBALANCED, ("; ".join(diffs) + " (3202 lists the settlements)")[:200]


# ---------------------------------------------------------------- detail (3202)


def detail(call: Call, scope: Scope, file_qury_no: str) -> Done[dict[str, Any]]:
    """3202: compare the uploaded detail file; store and describe the result file (the
    stored file is what a 2601 reverses)."""
    his = [_his_row(row, i) for i, row in enumerate(_uploaded(call, file_qury_no), start=1)]
    centre = [
        (r.reverses or r.setl_id, "1" if r.kind == SettlementKind.CANCEL else "0", r.psn_no,
         r.mdtrt_id, r.msgid, r.medfee_sumamt, r.fund_pay_sumamt, r.acct_pay)
        for r in call.conn.execute(select(
            settlement.c.setl_id, settlement.c.reverses, settlement.c.kind,
            settlement.c.psn_no, settlement.c.mdtrt_id, settlement.c.msgid,
            settlement.c.medfee_sumamt, settlement.c.fund_pay_sumamt, settlement.c.acct_pay,
        ).where(*_rows(call, scope)))
    ]
    compared = _join(his, centre)
    differing = [r for r in compared if r["outcome"] != "balanced"]
    filename = f"3202_{call.institution.code}_{call.now:%Y%m%d%H%M%S}.zip"
    content = files.zip_rows("result.txt", [_result_line(r) for r in differing])
    deadline = call.now + timedelta(hours=RESULT_DOWNLOAD_HOURS)
    serial = files.store(call, call.institution.code, filename, content, kind=files.RESULT,
                         dld_endtime=deadline)
    return Done({"file_qury_no": serial, "filename": filename, "dld_endtime": deadline,
                 "differing": len(differing), "compared": len(compared)},
                Effect(EffectKind.FILE, serial))


def _uploaded(call: Call, file_qury_no: str) -> list[list[str]]:
    try:
        stored = files.fetch(call, file_qury_no, "")
    except Refused as exc:
        if exc.code != "E-UPL-004":  # past its deadline: say so (E-UPL-005)
            raise
        raise Refused("E-REC-001", f"file_qury_no {file_qury_no[:40]}") from exc
    rows = files.unzip_rows(stored.content)
    if len(rows) > DETAIL_ROWS_MAX:
        raise Refused("E-ENV-006", f"more than {DETAIL_ROWS_MAX} rows")
    return rows


def _his_row(row: list[str], line: int) -> tuple[Any, ...]:
    """setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag."""
    if len(row) < 7:
        raise Refused("E-REC-001", f"line {line}: 7 tab-separated fields expected")
    try:
        amounts = [yuan_to_fen(v, field=f"line {line}", allow_negative=True) for v in row[3:6]]
    except ValueError as exc:
        raise Refused("E-REC-001", str(exc)) from exc
    flag = row[6].strip()
    if flag not in ("0", "1"):
        raise Refused("E-REC-001", f"line {line}: refd_setl_flag must be 0 or 1")
    return (row[0].strip(), flag, row[2].strip(), row[1].strip(), *amounts)


def _join(his: list[tuple[Any, ...]], centre: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE his (setl_id VARCHAR, refd_setl_flag VARCHAR, psn_no VARCHAR,"
                    " mdtrt_id VARCHAR, medfee_sumamt BIGINT, fund_pay_sumamt BIGINT, "
                    "acct_pay BIGINT)")
        con.execute("CREATE TABLE centre (setl_id VARCHAR, refd_setl_flag VARCHAR, "
                    "psn_no VARCHAR, mdtrt_id VARCHAR, msgid VARCHAR, medfee_sumamt BIGINT, "
                    "fund_pay_sumamt BIGINT, acct_pay BIGINT)")
        if his:
            con.executemany("INSERT INTO his VALUES (?, ?, ?, ?, ?, ?, ?)", his)
        if centre:
            con.executemany("INSERT INTO centre VALUES (?, ?, ?, ?, ?, ?, ?, ?)", centre)
        cursor = con.execute(RECONCILE_DETAIL)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


MEMOS = {
    "centre_only": "中心有记录, 医院无: settled at the centre, missing in the HIS",
    "his_only": "医院有记录, 中心无: in the HIS, unknown at the centre",
    "amounts_differ": "金额不符: amounts differ",
}


def _result_line(r: dict[str, Any]) -> list[object]:
    memo = MEMOS[r["outcome"]]
    if r["refd_setl_flag"] == "1" and r["outcome"] != "amounts_differ":
        side = "the centre" if r["outcome"] == "centre_only" else "the HIS"
        memo = f"退费仅一方: cancelled at {side} only"
    if r["outcome"] == "amounts_differ":
        memo += (f" (HIS {fen_to_yuan(r['his_medfee'])}/{fen_to_yuan(r['his_fund'])}/"
                 f"{fen_to_yuan(r['his_acct'])})")
    amounts = [fen_to_yuan(r[k]) if r[k] is not None else ""
               for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")]
    return [r["psn_no"], r["mdtrt_id"], r["setl_id"], r["msgid"] or "", UNBALANCED,
            r["refd_setl_flag"], memo, *amounts]

