"""Reconciliation with an institution: a day with deliberate differences between the
HIS and the centre; 3201 says the totals differ and how, 3202 (through 9101 and 9102)
lists each differing settlement, each for the right reason."""

from __future__ import annotations

import base64
import io
import zipfile
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from flows import (
    LI_JIANGUO,
    WANG_FANG,
    ok,
    refused,
    settle_once,
)
from yibao.services import files
from yibao.store.schema import stored_file

DAY = {"stmt_begndate": "2026-05-11", "stmt_enddate": "2026-05-11", "clr_type": "11"}



def cancel(his, s: dict) -> None:
    ok(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": s["mdtrt_id"],
                                  "psn_no": s["psn_no"]}}))


def row(s: dict, *, refund: bool = False, medfee: str | None = None) -> list[str]:
    sign = Decimal(-1 if refund else 1)
    amounts = [Decimal(str(medfee or s["medfee_sumamt"])), Decimal(str(s["fund_pay_sumamt"])),
               Decimal(str(s["acct_pay"]))]
    return [s["setl_id"], s["mdtrt_id"], s["psn_no"],
            *(f"{sign * a:.2f}" for a in amounts), "1" if refund else "0"]


def totals(his, medfee: str, fund: str, acct: str, count: int) -> dict:
    return ok(his.call("3201", {"data": {
        **DAY, "insutype": "310", "setl_optins": "110000", "medfee_sumamt": medfee,
        "fund_pay_sumamt": fund, "acct_pay": acct, "fixmedins_setl_cnt": str(count),
        "fixmedins_refd_setl_flag": "1"}}))["stmtinfo"]


def test_a_day_with_deliberate_differences_is_found_line_by_line(db, his):
    a = settle_once(his, WANG_FANG, "100.00")
    b = settle_once(his, WANG_FANG, "200.00")
    c = settle_once(his, LI_JIANGUO, "300.00")
    d = settle_once(his, LI_JIANGUO, "400.00")
    cancel(his, d)
    f = settle_once(his, WANG_FANG, "500.00")
    ghost = dict(a, setl_id="S-NOT-AT-CENTRE", mdtrt_id="M-HIS")
    his_rows = [row(a), row(b, medfee="250.00"), row(d), row(ghost), row(f),
                row(f, refund=True)]  # c missing; d's reversal missing; f reversed at HIS

    centre = [a, b, c, d, f]
    net = {k: sum(Decimal(str(s[k])) for s in centre) - Decimal(str(d[k]))
           for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}
    balanced = totals(his, *(f"{net[k]:.2f}" for k in net), count=6)
    assert balanced["stmt_rslt"] == "0", balanced["stmt_rslt_dscr"]
    off = totals(his, f"{net['medfee_sumamt'] + 50:.2f}", f"{net['fund_pay_sumamt']:.2f}",
                 f"{net['acct_pay']:.2f}", count=5)
    assert off["stmt_rslt"] == "1"
    assert "medfee_sumamt HIS" in off["stmt_rslt_dscr"]
    assert "fixmedins_setl_cnt HIS 5, centre 6" in off["stmt_rslt_dscr"]

    content = zip_of(his_rows)
    up = ok(his.call("9101", {"fsUploadIn": {"in": base64.b64encode(content).decode(),
                                             "filename": "detail.zip",
                                             "fixmedins_code": his.code}}))
    answer = ok(his.call("3202", {"data": {
        **DAY, "setl_optins": "110000", "file_qury_no": up["file_qury_no"],
        "medfee_sumamt": "0", "fund_pay_sumamt": "0", "cash_payamt": "0",
        "fixmedins_setl_cnt": "6", "fixmedins_refd_setl_flag": "1"}}))["fileinfo"]
    result = download(his, answer["file_qury_no"], answer["filename"])
    found = {(r[2], r[5]): r[6] for r in result}
    assert set(found) == {(b["setl_id"], "0"), (c["setl_id"], "0"), (d["setl_id"], "1"),
                          ("S-NOT-AT-CENTRE", "0"), (f["setl_id"], "1")}
    assert found[(b["setl_id"], "0")].startswith("金额不符")
    assert found[(c["setl_id"], "0")].startswith("中心有记录")
    assert found[(d["setl_id"], "1")] == "退费仅一方: cancelled at the centre only"
    assert found[("S-NOT-AT-CENTRE", "0")].startswith("医院有记录")
    assert found[(f["setl_id"], "1")] == "退费仅一方: cancelled at the HIS only"
    assert all(r[4] == "1" for r in result)
    c_line = next(r for r in result if r[2] == c["setl_id"])
    assert c_line[3]  # the centre's msgid, for a reversal (2601) if the HIS wants one


def test_a_bad_detail_file_is_refused_and_changes_nothing(db, his):
    up = ok(his.call("9101", {"fsUploadIn": {
        "in": base64.b64encode(zip_of([["S1", "M1", "P1", "x", "1", "1", "0"]])).decode(),
        "filename": "bad.zip", "fixmedins_code": his.code}}))
    refused(his.call("3202", {"data": {**DAY, "setl_optins": "110000",
                                       "file_qury_no": up["file_qury_no"],
                                       "medfee_sumamt": "0", "fund_pay_sumamt": "0",
                                       "cash_payamt": "0", "fixmedins_setl_cnt": "1",
                                       "fixmedins_refd_setl_flag": "1"}}), "E-REC-001")
    refused(his.call("3202", {"data": {**DAY, "setl_optins": "110000",
                                       "file_qury_no": "F-NONE", "medfee_sumamt": "0",
                                       "fund_pay_sumamt": "0", "cash_payamt": "0",
                                       "fixmedins_setl_cnt": "1",
                                       "fixmedins_refd_setl_flag": "1"}}), "E-REC-001")


def zip_of(rows: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("detail.txt", "".join("\t".join(r) + "\n" for r in rows))
    return buffer.getvalue()


def download(his, file_qury_no: str, filename: str) -> list[list[str]]:
    content = his.send_raw(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": file_qury_no, "filename": filename, "fixmedins_code": his.code}}))
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        text = "".join(archive.read(n).decode() for n in archive.namelist())
    return [r.split("\t") for r in text.splitlines()]


def _broken_archives() -> dict[str, bytes]:
    """Archives zipfile opens but cannot read, each in its own way."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("detail.txt", "S1\tM1\tP1\n" * 200)
    good = buffer.getvalue()
    data_at = 30 + len("detail.txt")  # local header, then the deflated data
    corrupt = bytearray(good)
    corrupt[data_at:data_at + 8] = b"\xff" * 8
    unsupported = bytearray(good)
    unsupported[8:10] = (99).to_bytes(2, "little")  # compression method 99
    central = good.rindex(b"PK\x01\x02")
    unsupported[central + 10:central + 12] = (99).to_bytes(2, "little")
    encrypted = bytearray(good)
    encrypted[central + 8] |= 1  # flag bit 0: encrypted
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("detail.txt", b"\0" * (files.UNZIPPED_BYTES_MAX + 1))
    return {"corrupt": bytes(corrupt), "unsupported": bytes(unsupported),
            "encrypted": bytes(encrypted), "bomb": bomb.getvalue()}


@pytest.mark.parametrize("kind", ["corrupt", "unsupported", "encrypted", "bomb"])
def test_an_unreadable_archive_is_refused_at_upload_and_not_stored(db, his, kind):
    content = _broken_archives()[kind]
    answer = his.call("9101", {"fsUploadIn": {"in": base64.b64encode(content).decode(),
                                              "filename": f"{kind}.zip",
                                              "fixmedins_code": his.code}})
    refused(answer, "E-UPL-002" if kind == "bomb" else "E-UPL-001")
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(stored_file)).scalar() == 0
