"""The electronic-prescription centre (7101-7211) as a hospital and a pharmacy see it:
a prescription's whole life offline, revocation, queries, a tampered prescription."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from apps import ChannelApp
from flows import WANG_FANG, ok, refused
from online import scan_token
from rx import PDF, asked, b64, fill, operator, prescribe, sign, upload, verify
from yibao.store.schema import mpc_app, outbox, prescription, rx_event

CALLBACK = "http://his.example/yb"


@pytest.fixture
def shop(his_factory):
    return his_factory("P11010500001")


@pytest.fixture
def hospital_callback(db):
    with db.write() as conn:  # the prescribing hospital registers its callback address
        conn.execute(update(mpc_app).where(mpc_app.c.fixmedins_code == "H11010500001")
                     .values(callback_url=CALLBACK))


@pytest.fixture
def wallet(http) -> tuple[ChannelApp, str]:
    """王芳's app with her electronic certificate active."""
    app = ChannelApp(http)
    return app, app.activate()


def offline_access(shop, wallet) -> list[dict]:
    """7201 with an ecToken the pharmacy got by scanning the person's certificate."""
    app, cert_id = wallet
    token = scan_token(shop, app, cert_id, business="02101")
    return list(ok(shop.call("7201", {"data": operator(shop.code) | {
        "psnName": "王芳", "psnCertType": "01", "certno": WANG_FANG, "ecToken": token}}))["data"])


def test_a_prescription_filled_at_a_pharmacy_and_the_hospital_told(
        db, his, shop, wallet, clock, hospital_callback):
    rx = prescribe(his, clock.now)
    assert rx["uploaded"] == {"hiRxno": rx["hiRxno"], "rxStasCodg": "1", "rxStasName": "有效"}
    assert rx["signed"]["signCertSn"] and rx["signed"]["signDigest"]
    listed = offline_access(shop, wallet)
    assert [(a["fixmedinsCode"], a["deptName"]) for a in listed] == [("H11010500001", "内科")]
    done = fill(shop, rx, listed[0])
    got = done["7204"]
    assert got["data"]["hiRxno"] == rx["hiRxno"] and got["data"]["rxFile"] == b64(PDF)
    assert [(d["medListCodg"], d["drugCnt"], d["takeDrugFlag"]) for d in got["rxDetlList"]] == [
        ("XA01AAA0001", "2", "0"), ("XB02BBB0002", "1", "0")]
    assert done["7205"]["flag"] is True
    assert done["7205"]["signCertSn"] == rx["signed"]["signCertSn"]
    # the hospital asks (7105-7107) ...
    info = ok(asked(his, "7105", rx))
    assert (info["data"]["rxStasCodg"], info["data"]["rxUsedStasCodg"]) == ("1", "2")
    assert ok(asked(his, "7106", rx))["data"]["rxChkStasCodg"] == "1"
    result = ok(asked(his, "7107", rx))
    assert result["data"]["rxUsedStasName"] == "已使用"
    assert [(line["medListCodg"], line["cnt"]) for line in result["seltdelts"]] == [
        ("XA01AAA0001", "2"), ("XB02BBB0002", "1")]
    # ... and is told (7108, 7109) at its callback address, through the outbox
    with db.read() as conn:
        sent = conn.execute(select(outbox.c.kind, outbox.c.url, outbox.c.payload)
                            .order_by(outbox.c.created_at, outbox.c.kind)).all()
        trail = conn.execute(select(rx_event.c.status).where(
            rx_event.c.hi_rxno == rx["hiRxno"]).order_by(rx_event.c.id)).scalars().all()
    assert [(k, u) for k, u, _p in sent] == [
        ("mpc_7108", CALLBACK + "/rxChkInfoCallback"),
        ("mpc_7109", CALLBACK + "/rxSetlInfoCallback")]
    review_notice = json.loads(sent[0][2])["data"]
    assert (review_notice["hiRxno"], review_notice["rxChkStasCodg"],
            review_notice["pharCode"]) == (rx["hiRxno"], "1", "HY110105000002")
    assert json.loads(sent[1][2])["data"]["rxUsedStasCodg"] == "2"
    assert trail == ["prechecked", "signed", "uploaded", "uploaded", "downloaded", "verified",
                     "reviewed", "dispensed"]


def test_a_prescription_is_filled_once(db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    access = offline_access(shop, wallet)[0]
    done = fill(shop, rx, access)
    refused(shop.call("7207", {"data": {
        "hiRxno": rx["hiRxno"], "fixmedinsCode": shop.code, "fixmedinsName": "药店",
        "rxChkBizSn": done["7206"]["rxChkBizSn"]}, "rxSaleDrugDetl": [
            {"rtalDocno": "R2", "stooutTime": "2026-05-11 10:05:00",
             "medListCodg": "XA01AAA0001", "medinsListCodg": "S", "drugGenname": "x",
             "drugSpec": "x", "drugTotlcnt": "1", "drugTotlcntEmp": "盒"}]}), "E-RX-003")
    assert offline_access(shop, wallet) == []  # nothing open any more


def test_a_tampered_prescription_fails_verification(db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    access = offline_access(shop, wallet)[0]
    got = ok(shop.call("7204", {"data": operator(shop.code) | {
        "epcToken": access["epcToken"], "authRxno": access["authRxno"]}}))
    forged = b64(PDF.replace(b"test", b"fake"))
    refused(verify(shop, rx, access["epcToken"], forged), "E-RX-010")
    with db.write() as conn:  # someone changes a quantity in the stored prescription
        content = json.loads(conn.execute(select(prescription.c.content).where(
            prescription.c.hi_rxno == rx["hiRxno"])).scalar_one())
        content["rxdrugdetail"][0]["drugCnt"] = "20"
        conn.execute(update(prescription).where(prescription.c.hi_rxno == rx["hiRxno"])
                     .values(content=json.dumps(content, ensure_ascii=False)))
    refused(verify(shop, rx, access["epcToken"], got["data"]["rxFile"]), "E-RX-010")
    with db.read() as conn:
        status = conn.execute(select(prescription.c.status).where(
            prescription.c.hi_rxno == rx["hiRxno"])).scalar_one()
    assert status == "downloaded"  # not verified: nothing changed


def test_an_unsigned_or_altered_upload_is_refused(db, his, clock):
    from flows import person, register
    from rx import drug, precheck_input, signed_fields
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    pre = ok(his.call("7101", precheck_input(psn_no, mdtrt_id, "RX9", [
        drug("XA01AAA0001", "1")], now=clock.now)))["data"]
    fields = signed_fields(pre, psn_no, mdtrt_id)
    refused(upload(his, fields, {"signDigest": "AAAA"}), "E-RX-010")  # 7102 not called
    signed = ok(sign(his, fields))["data"]
    refused(upload(his, fields | {"pharName": "别人"}, signed), "E-RX-010")
    refused(upload(his, fields, signed, pdf=PDF + b"x"), "E-RX-010")
    assert ok(upload(his, fields, signed))["data"]["rxStasCodg"] == "1"


def test_revocation_ends_the_pharmacy_access(db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    access = offline_access(shop, wallet)[0]
    revoked = ok(his.call("7104", {"data": {
        "hiRxno": rx["hiRxno"], "fixmedinsCode": his.code, "drCode": "D110105000001",
        "undoDrName": "张医师", "undoDrCertType": "01", "undoDrCertno": "x", "undoRea": "开错",
        "undoTime": "2026-05-11 09:40:00"}}))["data"]
    assert (revoked["rxStasCodg"], revoked["rxStasName"]) == ("3", "已撤销")
    refused(shop.call("7204", {"data": operator(shop.code) | {
        "epcToken": access["epcToken"], "authRxno": access["authRxno"]}}), "E-RX-009")
    assert ok(asked(his, "7105", rx))["data"]["rxStasCodg"] == "3"


def test_an_online_pharmacy_fills_and_delivers(db, his, http, his_factory, wallet, clock):
    rx = prescribe(his, clock.now)
    app, cert_id = wallet
    mine = app.post(f"/channel/v1/certificates/{cert_id}/prescriptions/list",
                    {"pin": "135790"}, key="")
    assert mine.status_code == 200, mine.text
    assert [(p["hiRxno"], p["rxStasCodg"]) for p in mine.json()] == [(rx["hiRxno"], "1")]
    path = f"/channel/v1/certificates/{cert_id}/prescriptions/{rx['hiRxno']}/online"
    counter = app.post(path, {"pin": "135790", "fixmedins_code": "P11010500001"})
    assert counter.status_code == 409 and counter.json()["code"] == "E-RX-015"
    given = app.post(path, {"pin": "135790", "fixmedins_code": "P11010500002"})
    assert given.status_code == 201, given.text
    online = his_factory("P11010500002")
    access = ok(online.call("7202", {"data": operator(online.code) | {
        "hiRxno": rx["hiRxno"], "authCircBizSn": given.json()["authCircBizSn"],
        "epcChnlId": given.json()["epcChnlId"]}}))["data"]
    # sold outside the insurance (hiFeesetlFlag 0): delivered without an online order;
    # the insured purchase, paid before delivery, is tests/test_online_purchase.py
    fill(online, rx, access, insured=False)
    delivery = {"hiRxno": rx["hiRxno"], "delvNo": "DV001", "delvAddr": "北京市朝阳区示范路1号",
                "delvEntpName": "示范配送", "delvStasCodg": "1", "delvStasName": "配送中",
                "delvStasTime": "2026-05-11 11:00:00", "delvConner": "王芳",
                "fixmedinsCode": online.code, "fixmedinsName": "示范网上药店"}
    assert ok(online.call("7209", {"data": delivery}))["data"] == {"flag": True}
    receipt = {"hiRxno": rx["hiRxno"], "delvNo": "DV001", "delverCertType": "01",
               "delverCertno": "x", "delverName": "配送员", "chkWayCodg": "2",
               "delvStasTime": "2026-05-11 12:00:00"}
    assert ok(online.call("7210", {"data": receipt}))["data"] == {"flag": True}
    refused(online.call("7210", {"data": receipt}), "E-RX-002")  # received once
    with db.read() as conn:
        row = conn.execute(select(prescription.c.status, prescription.c.online).where(
            prescription.c.hi_rxno == rx["hiRxno"])).one()
    assert tuple(row) == ("received", True)


def online_shop_access_refused(his, shop, access) -> str:
    """Another pharmacy presenting this pharmacy's epcToken (E-RX-009)."""
    stranger = his  # the hospital is no pharmacy of this prescription either
    return refused(stranger.call("7204", {"data": operator(stranger.code) | {
        "epcToken": access["epcToken"], "authRxno": access["authRxno"]}}), "E-RX-009")


def test_misuse_is_refused_and_changes_nothing(db, his, shop, wallet, clock):
    rx = prescribe(his, clock.now)
    access = offline_access(shop, wallet)[0]
    got = ok(shop.call("7204", {"data": operator(shop.code) | {
        "epcToken": access["epcToken"], "authRxno": access["authRxno"]}}))
    checked = ok(verify(shop, rx, access["epcToken"], got["data"]["rxFile"]))["data"]
    from rx import review, sale_line, sell
    chk = ok(review(shop, rx["hiRxno"], access["epcToken"], checked["rxSignVerifySn"]))["data"]
    refused(sell(shop, rx["hiRxno"], chk["rxChkBizSn"], [sale_line("XC03CCC0003", "1")]),
            "E-RX-007")
    refused(sell(shop, rx["hiRxno"], chk["rxChkBizSn"], [
        sale_line("XA01AAA0001", "1"), sale_line("XA01AAA0001", "2")]), "E-RX-008")
    refused(asked(his, "7107", rx | {"hiRxno": "RX-unknown"}), "E-RX-001")
    refused(his.call("7105", {"data": {  # another person's prescription
        "fixmedinsCode": his.code, "hiRxno": rx["hiRxno"], "mdtrtId": rx["mdtrt_id"],
        "psnName": "李建国", "psnCertType": "01", "certno": "11010219600620003X"}}), "E-RX-006")
    other = online_shop_access_refused(his, shop, access)
    assert other.startswith("E-RX-009")
    clock.now = clock.now.replace(day=clock.now.day + 4)  # past its three days
    refused(sell(shop, rx["hiRxno"], chk["rxChkBizSn"], [sale_line("XA01AAA0001", "1")]),
            "E-RX-004")
    with db.read() as conn:
        row = conn.execute(select(prescription.c.status, prescription.c.sale).where(
            prescription.c.hi_rxno == rx["hiRxno"])).one()
    assert tuple(row) == ("reviewed", "")
    assert ok(asked(his, "7105", rx))["data"]["rxStasCodg"] == "2"  # lapsed
