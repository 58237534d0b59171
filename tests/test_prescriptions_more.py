"""The prescription centre's remaining paths, as a hospital and a pharmacy see them: the
prescription QR code at the counter (7203), a dispensing withdrawn (7208), a rejecting
review, the drug catalogue (7211), and the pre-check's refusals (E-RX-011 to E-RX-014,
E-RX-016) — each refusal changing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from apps import ChannelApp
from flows import ok, refused
from rx import (
    download,
    drug,
    fill,
    operator,
    precheck_input,
    prescribe,
    review,
    sale_line,
    sell,
    verify,
)
from test_errors import unchanged
from yibao.store.schema import prescription

PIN = "135790"


@pytest.fixture
def shop(his_factory):
    return his_factory("P11010500001")


@pytest.fixture
def wallet(http) -> tuple[ChannelApp, str]:
    app = ChannelApp(http)
    return app, app.activate()


def qr_of(wallet, hi_rxno: str):
    app, cert_id = wallet
    return app.post(f"/channel/v1/certificates/{cert_id}/prescriptions/{hi_rxno}/qr",
                    {"pin": PIN})


def by_qr(shop, code: str) -> dict:
    return shop.call("7203", {"data": operator(shop.code) | {"epcQrcd": code}})


def status_of(db, hi_rxno: str) -> str:
    with db.read() as conn:
        return str(conn.execute(select(prescription.c.status).where(
            prescription.c.hi_rxno == hi_rxno)).scalar_one())


def test_the_prescription_qr_code_gives_the_counter_one_access_once(db, his, shop, wallet,
                                                                     clock):
    rx = prescribe(his, clock.now)
    shown = qr_of(wallet, rx["hiRxno"])
    assert shown.status_code == 201, shown.text
    code = shown.json()["epcQrcd"]
    access = ok(by_qr(shop, code))["data"]
    assert access["authRxno"] and access["epcToken"]
    with unchanged(db):
        refused(by_qr(shop, code), "E-RX-016")  # single use
    filled = fill(shop, rx, access)
    assert filled["7207"]["flag"] is True and status_of(db, rx["hiRxno"]) == "dispensed"
    stale = qr_of(wallet, rx["hiRxno"])  # filled: no more codes for it
    assert stale.status_code == 409 and stale.json()["code"] == "E-RX-003"
    with unchanged(db):
        refused(by_qr(shop, "EPCQR-NOT-ISSUED"), "E-RX-016")


def test_a_qr_code_older_than_its_minutes_is_refused(db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    code = qr_of(wallet, rx["hiRxno"]).json()["epcQrcd"]
    clock.now = clock.now.replace(minute=clock.now.minute + 6)
    with unchanged(db):
        refused(by_qr(shop, code), "E-RX-016")


def test_a_dispensing_is_withdrawn_and_a_rejected_review_returns_the_prescription(
        db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    access = ok(by_qr(shop, qr_of(wallet, rx["hiRxno"]).json()["epcQrcd"]))["data"]
    got = ok(download(shop, access))
    checked = ok(verify(shop, rx, access["epcToken"], got["data"]["rxFile"]))["data"]
    no = ok(review(shop, rx["hiRxno"], access["epcToken"], checked["rxSignVerifySn"],
                   approve=False))["data"]
    assert no["rxChkBizSn"] and status_of(db, rx["hiRxno"]) == "uploaded"  # back to her
    # she shows it again; this time the review passes and the drugs are sold
    access = ok(by_qr(shop, qr_of(wallet, rx["hiRxno"]).json()["epcQrcd"]))["data"]
    filled = fill(shop, rx, access)
    sale_sn = filled["7207"]["selStooutSn"]
    with unchanged(db):
        refused(shop.call("7208", {"data": {"hiRxno": rx["hiRxno"], "fixmedinsCode": shop.code,
                                            "selStooutSn": "RS-NOT-THIS"}}), "E-RX-002")
    ok(shop.call("7208", {"data": {"hiRxno": rx["hiRxno"], "fixmedinsCode": shop.code,
                                   "selStooutSn": sale_sn}}))
    assert status_of(db, rx["hiRxno"]) == "reviewed"  # not filled any more
    again = ok(sell(shop, rx["hiRxno"], filled["7206"]["rxChkBizSn"], [
        sale_line("XA01AAA0001", "2")]))["data"]
    assert again["selStooutSn"] != sale_sn and status_of(db, rx["hiRxno"]) == "dispensed"


def test_the_drug_catalogue_for_prescriptions_is_paged(shop):
    def page(num: str, size: str, **extra) -> dict:
        return shop.call("7211", {"data": {"fixmedinsCode": shop.code, "pageNum": num,
                                           "pageSize": size} | extra})

    everything = ok(page("1", "100"))
    codes = [d["medListCodg"] for d in everything["list"]]
    assert {"XA01AAA0001", "XB02BBB0002", "XC03CCC0003"} <= set(codes)
    assert "001102000010000" not in codes  # a service, not a drug
    assert everything["data"]["total"] == len(codes)
    first = ok(page("1", "1"))
    assert first["data"] == {"total": len(codes), "size": 1}
    assert [d["medListCodg"] for d in ok(page("2", "1"))["list"]] == [codes[1]]
    one = ok(page("1", "10", medListCodg="XB02BBB0002"))
    assert [d["medListCodg"] for d in one["list"]] == ["XB02BBB0002"]
    refused(page("0", "10"), "E-ENV-005")
    refused(page("1", "101"), "E-ENV-005")


def test_the_precheck_refuses_what_cannot_be_prescribed(db, his, clock):
    from flows import WANG_FANG, person, register

    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)

    def pre(drugs: list[dict], **kw) -> dict:
        return his.call("7101", precheck_input(psn_no, mdtrt_id, "RX-M", drugs,
                                               now=clock.now, **kw))

    cases = [
        (pre([drug("XA01AAA0001", "1")], dr_code="D-NOT-HERE"), "E-RX-011"),
        (pre([drug("XZ99ZZZ9999", "1")]), "E-RX-012"),
        (pre([drug("001102000010000", "1")]), "E-RX-012"),  # a service is no drug
        (pre([drug("XA01AAA0001", "1"), drug("XA01AAA0001", "2")]), "E-RX-013"),
        (pre([drug("XA01AAA0001", "0")]), "E-RX-013"),
        (pre([drug("XA01AAA0001", "1")], vali_days=0), "E-RX-013"),
    ]
    for answer, code in cases:
        refused(answer, code)
    with db.read() as conn:
        assert conn.execute(select(prescription.c.hi_rxno)).first() is None
    ok(pre([drug("XA01AAA0001", "1")]))
    with unchanged(db):  # the same hospital number for another prescription
        refused(pre([drug("XB02BBB0002", "1")]), "E-RX-014")
