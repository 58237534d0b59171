"""Lists are paged in SQL: the operators' claims and filings, the channel's claims and
filings of the holder, the catalogue queries. A page is the right slice, a page beyond
the end is empty, a page larger than the maximum is refused (REST) or cut (national), and
the statement that reads the rows carries the LIMIT."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, insert

from apps import ChannelApp
from conftest import CLERK as AUTH
from flows import SIGNED, WANG_FANG, ok, person
from yibao.domain import paging
from yibao.services import catalogue
from yibao.store.schema import catalogue_item

PAYEE = {"bank_name": "中国工商银行北京分行", "bank_account": "6222020200001234567",
         "account_name": "王芳"}
PIN = "135790"


def _bill(invono: str) -> dict:
    return {"fixmedins_code": "H11010500001", "insutype": "310", "med_type": "11",
            "begntime": "2026-04-20T10:00:00", "invono": invono,
            "diagnoses": [{"diag_code": "J18.900", "diag_name": "肺炎"}],
            "lines": [{"feedetl_sn": "1", "med_list_codg": "XA01AAA0001", "cnt": "1",
                       "pric": "10.00", "det_item_fee_sumamt": "10.00"}]}


@pytest.fixture
def five(http, his, clock) -> dict[str, list[str]]:
    """Five claims and five filings of 王芳, one minute apart: newest first."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    claims, filings = [], []
    for i in range(5):
        clock.now += timedelta(minutes=1)
        reply = http.post("/admin/v1/claims", json={
            "psn_no": psn_no, "reason": "no_credential", "payee": PAYEE,
            "bill": _bill(f"INV-P{i}")}, headers=AUTH)
        assert reply.status_code == 201, reply.text
        claims.append(reply.json()["claim_id"])
        reply = http.post("/admin/v1/filings", json={
            "psn_no": psn_no, "filing_type": "temporary", **SIGNED, "area": "310000",
            "end_date": "2026-12-31"}, headers=AUTH)
        assert reply.status_code == 201, reply.text
        filings.append(reply.json()["trt_dcla_detl_sn"])
    return {"psn_no": [psn_no], "claims": claims[::-1], "filings": filings[::-1]}


def test_operator_lists_of_claims_and_filings_are_pages(http, five):
    def claims(**params):
        reply = http.get("/admin/v1/claims", params=params, headers=AUTH)
        return reply.status_code, [c["claim_id"] for c in reply.json()] if reply.is_success \
            else reply.json()

    assert claims(limit=2, offset=1) == (200, five["claims"][1:3])
    assert claims(limit=2, offset=4) == (200, five["claims"][4:])
    assert claims(limit=2, offset=5) == (200, [])
    assert claims() == (200, five["claims"])
    assert claims(limit=paging.REST_ROWS_MAX + 1)[0] == 422
    assert claims(offset=-1)[0] == 422

    path = f"/admin/v1/persons/{five['psn_no'][0]}/filings"
    def filings(**params):
        reply = http.get(path, params=params, headers=AUTH)
        return [f["trt_dcla_detl_sn"] for f in reply.json()] if reply.is_success \
            else reply.status_code

    assert filings(limit=3) == five["filings"][:3]
    assert filings(limit=3, offset=3) == five["filings"][3:]
    assert filings(offset=10) == []
    assert filings(limit=0) == 422


def test_channel_lists_of_the_holder_are_pages(http, five):
    app = ChannelApp(http)
    cert_id = app.activate(PIN)

    def listed(kind: str, key: str, **page):
        reply = app.post(f"/channel/v1/certificates/{cert_id}/{kind}/list", {"pin": PIN, **page})
        return [c[key] for c in reply.json()] if reply.is_success else reply.status_code

    assert listed("claims", "claim_id", limit=2, offset=2) == five["claims"][2:4]
    assert listed("claims", "claim_id", limit=2, offset=6) == []
    assert listed("claims", "claim_id") == five["claims"]
    assert listed("filings", "trt_dcla_detl_sn", limit=1, offset=4) == five["filings"][4:]
    assert listed("filings", "trt_dcla_detl_sn", offset=5) == []
    assert listed("claims", "claim_id", limit=paging.REST_ROWS_MAX + 1) == 422


@pytest.fixture
def capped_items(db) -> list[str]:
    """Twenty more price-capped items: 21 in all (ordered by version, then code)."""
    codes = [f"XS{i:02d}CAP{i:04d}" for i in range(20)]
    with db.write() as conn:
        conn.execute(insert(catalogue_item), [dict(
            region="110000", code=code, name=f"限价{i}", list_type="201", chrgitm_lv="01",
            price_cap="9.99", selfpay_ratio="0", valid_from=date(2020, 1, 1),
            ver=f"2025{i:04d}") for i, code in enumerate(codes)])
    return ["001102000010000", *codes]


def test_national_queries_page_in_sql(db, his, capped_items):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_rest):
        if "catalogue_item" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        page = ok(his.call("1318", {"data": {"page_num": "2", "page_size": "8"}}))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [r["hilist_code"] for r in page["data"]] == capped_items[8:16]
    assert (page["recordCounts"], page["pages"], page["pageNum"], page["pageSize"]) == (
        21, 3, 2, 8)
    assert any("LIMIT" in s.upper() and "OFFSET" in s.upper() for s in statements)
    last = ok(his.call("1318", {"data": {"page_num": "3", "page_size": "8"}}))
    assert [r["hilist_code"] for r in last["data"]] == capped_items[16:]
    assert last["lastPage"] is True
    beyond = ok(his.call("1318", {"data": {"page_num": "4", "page_size": "8"}}))
    assert beyond["data"] == [] and beyond["recordCounts"] == 21
    ratios = ok(his.call("1319", {"data": {"page_num": "1", "page_size": "1"}}))
    assert ratios["recordCounts"] == 2 and len(ratios["data"]) == 1  # the two 乙 items


def test_a_national_page_size_above_the_maximum_is_cut(his, capped_items):
    page = ok(his.call("1312", {"data": {"page_num": "1",
                                         "page_size": str(catalogue.PAGE_SIZE_MAX + 1)}}))
    assert page["pageSize"] == catalogue.PAGE_SIZE_MAX and page["recordCounts"] == 29
    assert len(page["data"]) == 29
