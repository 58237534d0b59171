"""Client compatibility: each published HIS client's request shapes (tests/compat/*.json,
see docs/his-compat.md) replayed over HTTP through a full outpatient flow
(9001 -> 1101 -> 2201 -> 2203/2203A -> 2204 -> 2206 -> 2207 -> 5203 -> 2208) and a full
inpatient flow (9001 -> 1101 -> 2401 -> 2301 -> 2303 -> 2304 -> 2402 -> 5203), asserting
what the client itself reads and stores."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from compat_transport import (
    ClientCrash,
    ProfileClient,
    amount,
    profiles,
    read_infcode,
    standard_time,
)
from flows import WANG_FANG
from yibao.store.demo import demo_token

PROFILES = profiles()
HOSPITAL = "H11010500001"  # level 3, Beijing (110000)
FUND_LINES = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
              "oth_pay")


def fen(value: object) -> int:
    """An answered amount (JSON number or text) in fen, refusing anything below a fen."""
    exact = Decimal(str(value)) * 100
    assert exact == exact.to_integral_value(), value
    return int(exact)


@pytest.fixture(params=sorted(PROFILES))
def client(request, http, clock) -> ProfileClient:
    made = ProfileClient(PROFILES[request.param], http, HOSPITAL, demo_token(HOSPITAL),
                         now=clock.now)
    made.sign_in()
    return made


def unset(c: ProfileClient) -> Any:
    """How the client writes a field it has no value for."""
    return None if c.profile["input"]["unset"] == "null" else ""


def node(c: ProfileClient, fields: dict[str, Any]) -> dict[str, Any]:
    """An input node with the client's extra members (C#: ``expContent: null``)."""
    return {**fields, **c.profile["input"]["node_extras"]}


def whole(c: ProfileClient, infno: str, value: int) -> Any:
    """An integer field the client types as a number (C#: int) or as text."""
    return value if c.profile["input"]["amounts"]["default"] == "number" else str(value)


# --- the steps --------------------------------------------------------------------------
def person(c: ProfileClient, certno: str) -> dict[str, Any]:
    out = c.ok("1101", {"data": node(c, {
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "card_sn": unset(c),
        "begntime": f"{c.now:%Y-%m-%d %H:%M:%S}" if c.profile["sign_in"]["sends_9001"] else "",
        "psn_cert_type": "01", "certno": certno, "psn_name": "王芳"})})
    base, insured = out["baseinfo"], out["insuinfo"]
    assert base["certno"] == certno and base["psn_name"] == "王芳"
    assert isinstance(base["psn_no"], str) and base["psn_no"]
    c.insuplc = insured[0]["insuplc_admdvs"]  # the envelope's insured place from now on
    return out


def register(c: ProfileClient, psn_no: str, certno: str) -> str:
    out = c.ok("2201", {"data": node(c, {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ20260511001",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"})})
    mdtrt_id = out["data"]["mdtrt_id"]
    assert isinstance(mdtrt_id, str) and mdtrt_id
    return mdtrt_id


def visit_info(c: ProfileClient, psn_no: str, mdtrt_id: str) -> None:
    infno = c.profile["visit_info_infno"]
    c.ok(infno, {
        "mdtrtinfo": node(c, {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11",
            "begntime": "2026-05-11 09:00:00", "main_cond_dscr": "咳嗽三天",
            "dise_codg": "J06.900", "dise_name": "急性上呼吸道感染",
            "birctrl_type": unset(c), "birctrl_matn_date": unset(c), "matn_type": unset(c),
            "geso_val": whole(c, infno, 0)}),
        "diseinfo": [{
            "diag_type": "1", "diag_srt_no": whole(c, infno, 1), "diag_code": "J06.900",
            "diag_name": "急性上呼吸道感染", "diag_dept": "内科", "dise_dor_no": "D001",
            "dise_dor_name": "医生甲", "diag_time": "2026-05-11 09:05:00", "vali_flag": "1"}]})


def fee_line(c: ProfileClient, infno: str, sn: str, code: str, price: str, count: str,
             **ids: str) -> dict[str, Any]:
    total = f"{Decimal(price) * Decimal(count):.2f}"
    return node(c, {
        "feedetl_sn": sn, "init_feedetl_sn": "", **ids, "chrg_bchno": "B1", "dise_codg": "",
        "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": "2026-05-11 09:10:00",
        "med_list_codg": code, "medins_list_codg": f"HIS-{code}",
        "det_item_fee_sumamt": amount(c.profile, infno, total),
        "cnt": amount(c.profile, infno, count), "pric": amount(c.profile, infno, price),
        "sin_dos_dscr": "", "used_frqu_dscr": "", "prd_days": amount(c.profile, infno, "1"),
        "medc_way_dscr": "", "bilg_dept_codg": "K01", "bilg_dept_name": "内科",
        "bilg_dr_codg": "D001", "bilg_dr_name": "医生甲", "hosp_appr_flag": "1"})


def upload(c: ProfileClient, infno: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = c.ok(infno, {"feedetail": lines})["result"]
    sent = {line["feedetl_sn"]: line for line in lines}
    assert sorted(r["feedetl_sn"] for r in result) == sorted(sent)
    for row in result:  # what the client stores per line: its classification, to the fen
        assert fen(row["det_item_fee_sumamt"]) == fen(sent[row["feedetl_sn"]]
                                                      ["det_item_fee_sumamt"])
        parts = (fen(row["fulamt_ownpay_amt"]) + fen(row["overlmt_amt"])
                 + fen(row["preselfpay_amt"]) + fen(row["inscp_scp_amt"]))
        assert parts == fen(row["det_item_fee_sumamt"]), row
        assert row["chrgitm_lv"] in ("01", "02", "03")
    return list(result)


TOTALS = {"fulamt_ownpay_amt": "fulamt_ownpay_amt", "overlmt_selfpay": "overlmt_amt",
          "preselfpay_amt": "preselfpay_amt", "inscp_scp_amt": "inscp_scp_amt"}


def settlement(c: ProfileClient, infno: str, psn_no: str, mdtrt_id: str, medfee: str,
               med_type: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    data = {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG,
        "med_type": med_type, "medfee_sumamt": amount(c.profile, infno, medfee),
        "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "insutype": "310",
        "acct_used_flag": "1", "mid_setl_flag": "0", "invono": unset(c)}
    if c.profile["settlement_totals"] == "uploaded":  # the sums of the stored 2204 answers
        for sent, answered in TOTALS.items():
            total = sum(fen(r[answered]) for r in rows)
            data[sent] = amount(c.profile, infno, f"{Decimal(total) / 100:.2f}")
    out = c.ok(infno, {"data": node(c, data)})
    s = out["setlinfo"]
    assert fen(s["medfee_sumamt"]) == fen(medfee)
    check_identities(s, out["setldetail"])
    return out


def check_identities(s: dict[str, Any], detail: list[dict[str, Any]]) -> None:
    """The settlement identities the client's books rely on, to the fen."""
    medfee = fen(s["medfee_sumamt"])
    assert medfee == (fen(s["fulamt_ownpay_amt"]) + fen(s["overlmt_selfpay"])
                      + fen(s["preselfpay_amt"]) + fen(s["inscp_scp_amt"]))
    assert fen(s["psn_part_amt"]) == medfee - fen(s["fund_pay_sumamt"])
    assert fen(s["psn_part_amt"]) == fen(s["acct_pay"]) + fen(s["psn_cash_pay"])
    assert fen(s["fund_pay_sumamt"]) == sum(fen(s[k]) for k in FUND_LINES)
    paid = sum(fen(d["fund_payamt"]) for d in detail)
    assert paid == fen(s["fund_pay_sumamt"])


def query(c: ProfileClient, psn_no: str, mdtrt_id: str, setl_id: str) -> dict[str, Any]:
    out = c.ok("5203", {"data": node(c, {"psn_no": psn_no, "mdtrt_id": mdtrt_id,
                                          "setl_id": setl_id})})
    return out


def same_amounts(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay",
                "psn_part_amt", "inscp_scp_amt", "preselfpay_amt", "fulamt_ownpay_amt",
                *FUND_LINES):
        assert fen(a[key]) == fen(b[key]), key


# --- the flows --------------------------------------------------------------------------
def test_outpatient_visit_settled_queried_and_cancelled(client: ProfileClient):
    c = client
    info = person(c, WANG_FANG)
    psn_no = info["baseinfo"]["psn_no"]
    balance = fen(info["insuinfo"][0]["balc"])
    mdtrt_id = register(c, psn_no, WANG_FANG)
    visit_info(c, psn_no, mdtrt_id)

    ids = {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    rows = upload(c, "2204", [
        fee_line(c, "2204", "1", "XA01AAA0001", "100.00", "2", **ids),   # 甲 200.00
        fee_line(c, "2204", "2", "XB02BBB0002", "100.00", "3", **ids),   # 乙 300.00
        fee_line(c, "2204", "3", "XC03CCC0003", "20.00", "1", **ids),    # 丙 20.00
    ])
    by_sn = {r["feedetl_sn"]: r for r in rows}
    assert (by_sn["1"]["chrgitm_lv"], by_sn["3"]["chrgitm_lv"]) == ("01", "03")
    assert fen(by_sn["3"]["fulamt_ownpay_amt"]) == 2000
    medfee = sum(fen(r["det_item_fee_sumamt"]) for r in rows)
    assert medfee == 52000

    pre = settlement(c, "2206", psn_no, mdtrt_id, "520.00", "11", rows)["setlinfo"]
    done = settlement(c, "2207", psn_no, mdtrt_id, "520.00", "11", rows)
    s = done["setlinfo"]
    same_amounts(pre, s)
    setl_id = s["setl_id"]
    assert isinstance(setl_id, str) and setl_id
    standard_time(s["setl_time"])
    assert fen(s["balc"]) == balance - fen(s["acct_pay"])

    stored = query(c, psn_no, mdtrt_id, setl_id)
    assert stored["setlinfo"]["setl_id"] == setl_id
    same_amounts(stored["setlinfo"], s)

    cancelled = c.ok("2208", {"data": node(c, {"setl_id": setl_id, "mdtrt_id": mdtrt_id,
                                                "psn_no": psn_no})})["setlinfo"]
    for key in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"):
        assert fen(cancelled[key]) == -fen(s[key]), key
    assert fen(person(c, WANG_FANG)["insuinfo"][0]["balc"]) == balance


def test_inpatient_stay_settled_then_discharged(client: ProfileClient):
    c = client
    psn_no = person(c, WANG_FANG)["baseinfo"]["psn_no"]
    admitted = c.ok("2401", {
        "mdtrtinfo": node(c, {
            "psn_no": psn_no, "insutype": "310", "coner_name": "家属", "tel": unset(c),
            "begntime": "2026-05-01 08:00:00", "mdtrt_cert_type": "02",
            "mdtrt_cert_no": WANG_FANG, "med_type": "21", "ipt_no": "ZY0001",
            "medrcdno": unset(c), "atddr_no": "D002", "chfpdr_name": "主任",
            "adm_diag_dscr": "肺炎", "adm_dept_codg": "K02", "adm_dept_name": "呼吸科",
            "adm_bed": "12", "dscg_maindiag_code": "J18.9", "dscg_maindiag_name": "肺炎",
            "main_cond_dscr": "", "dise_codg": "J18.9", "dise_name": "肺炎",
            "oprn_oprt_code": "", "oprn_oprt_name": ""}),
        "diseinfo": [{"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1",
                      "diag_srt_no": "1", "diag_code": "J18.9", "diag_name": "肺炎",
                      "adm_cond": "", "diag_dept": "呼吸科", "dise_dor_no": "D002",
                      "dise_dor_name": "主任", "diag_time": "2026-05-01 08:00:00"}]})
    mdtrt_id = admitted["result"]["mdtrt_id"]
    assert isinstance(mdtrt_id, str) and mdtrt_id

    ids = {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    rows = upload(c, "2301", [
        fee_line(c, "2301", "1", "XA01AAA0001", "10000.00", "3", **ids),
        fee_line(c, "2301", "2", "C01010101001", "1000.00", "1", **ids),
    ])
    assert sum(fen(r["det_item_fee_sumamt"]) for r in rows) == 3_100_000

    pre = settlement(c, "2303", psn_no, mdtrt_id, "31000.00", "21", rows)["setlinfo"]
    done = settlement(c, "2304", psn_no, mdtrt_id, "31000.00", "21", rows)
    s = done["setlinfo"]
    same_amounts(pre, s)
    assert fen(s["hifp_pay"]) > 0 and fen(s["act_pay_dedc"]) > 0
    standard_time(s["setl_time"])

    c.ok("2402", {"dscginfo": node(c, {
        "mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "310",
        "endtime": "2026-05-10 10:00:00", "dise_codg": "J18.9", "dise_name": "肺炎",
        "dscg_way": "1"}), "diseinfo": []})
    stored = query(c, psn_no, mdtrt_id, s["setl_id"])["setlinfo"]
    same_amounts(stored, s)


def test_a_refusal_reads_as_a_failure_with_its_reason(client: ProfileClient):
    """What the client shows its operator: infcode read as a failure, err_msg naming the
    cause; never an answer it cannot parse."""
    c = client
    psn_no = person(c, WANG_FANG)["baseinfo"]["psn_no"]
    answer = c.send("5203", {"data": node(c, {"psn_no": psn_no, "mdtrt_id": "999999999",
                                               "setl_id": "888888888"})})
    assert read_infcode(c.profile, answer) is False
    assert answer["err_msg"].startswith("E-"), answer["err_msg"]


def test_the_suite_covers_independent_published_clients():
    """At least two profiles from different owners, and between them both gateway
    schemes, every URL form and more than one language."""
    repos = {p["repository"] for p in PROFILES.values()}
    owners = {r.split("/")[0].lower() for r in repos}
    assert len(PROFILES) >= 2 and len(owners) == len(PROFILES)
    assert {p["auth"]["scheme"] for p in PROFILES.values()} == {"x-tif", "ak-sk"}
    assert {p["url"]["form"] for p in PROFILES.values()} >= {"infno_appended", "per_service"}
    assert len({p["language"] for p in PROFILES.values()}) >= 2
    for profile in PROFILES.values():
        assert len(profile["commit"]) == 40 and profile["source_paths"]


def test_client_crash_is_raised_for_a_framework_error(http):
    """The transport itself: a bare framework answer is what the clients cannot read."""
    elsewhere = variant(PROFILES["openhis-server-py"],
                        url={"form": "infno_appended", "base": "/no/such/page/"})
    made = ProfileClient(elsewhere, http, HOSPITAL, demo_token(HOSPITAL))
    assert http.get("/no/such/page").status_code == 404
    with pytest.raises(ClientCrash):
        made.send("1101", {"data": {}})


# --- one client feature at a time (each fails alone while yibao lacks it) ---------------
SINGLE_ROUTE = {"form": "single", "base": "/fsi/api/rsfComIfsService/callService"}


def variant(profile: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The profile with some of its shapes replaced by what yibao has always accepted."""
    changed = copy.deepcopy(profile)
    changed.update(copy.deepcopy(changes))
    return changed


def flow_infnos(profile: dict[str, Any]) -> list[str]:
    signin = ["9001"] if profile["sign_in"]["sends_9001"] else []
    return [*signin, "1101", "2201", profile["visit_info_infno"], "2204", "2206", "2207",
            "5203", "2208", "2401", "2301", "2303", "2304", "2402"]


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_url_the_client_posts_to_answers_an_envelope(http, clock, name):
    """URL forms alone (x-tif on the client's own URLs): each transaction's URL reaches
    that transaction, answering an envelope the client can read (an empty input is
    refused for what it lacks, never with a framework 404)."""
    profile = variant(PROFILES[name], auth={"scheme": "x-tif", "nonce": "guid"})
    c = ProfileClient(profile, http, HOSPITAL, demo_token(HOSPITAL), now=clock.now)
    c.sign_in()  # a live sign_no: the refusals below are for the empty inputs alone
    for infno in flow_infnos(profile):
        answer = c.send(infno, {})
        if not read_infcode(profile, answer):
            assert not answer["err_msg"].startswith(("E-ENV-003", "E-AUTH")), (
                c.url(infno), answer["err_msg"])


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_client_gateway_scheme_authenticates(http, clock, name):
    """Gateway authentication alone (on the single route): the client's own headers sign
    it in and fetch a person."""
    profile = variant(PROFILES[name], url=SINGLE_ROUTE)
    c = ProfileClient(profile, http, HOSPITAL, demo_token(HOSPITAL), now=clock.now)
    c.sign_in()
    assert person(c, WANG_FANG)["baseinfo"]["psn_no"]
    assert all(("_api_signature" in h) == (profile["auth"]["scheme"] == "ak-sk")
               for _, h, _ in c.sent)


@pytest.mark.parametrize("name", [n for n, p in sorted(PROFILES.items())
                                  if p["raw_helper"]["charset"]])
def test_a_body_in_the_client_windows_charset_is_read(http, clock, name):
    """Character set alone: the client's raw-message helper writes the body in the
    Windows code page (GBK) and declares only application/json; the Chinese names it
    carries come back intact in UTF-8."""
    profile = variant(PROFILES[name], url=SINGLE_ROUTE)
    profile["raw_helper"]["infnos"] = ["1101"]
    c = ProfileClient(profile, http, HOSPITAL, demo_token(HOSPITAL), now=clock.now)
    c.sign_in()
    assert person(c, WANG_FANG)["baseinfo"]["psn_name"] == "王芳"
    _url, _, body = c.sent[-1]
    assert body.decode("gbk") and "王芳".encode("gbk") in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_client_visit_information_transaction(http, clock, name):
    """Visit information alone (2203, or 2203A as the C# module sends it) on the single
    route with x-tif."""
    profile = variant(PROFILES[name], url=SINGLE_ROUTE,
                      auth={"scheme": "x-tif", "nonce": "guid"})
    c = ProfileClient(profile, http, HOSPITAL, demo_token(HOSPITAL), now=clock.now)
    c.sign_in()
    psn_no = person(c, WANG_FANG)["baseinfo"]["psn_no"]
    visit_info(c, psn_no, register(c, psn_no, WANG_FANG))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_answer_fields_the_client_stores_follow_the_standard(http, clock, name):
    """Answer fields alone (single route, x-tif, 2203): what the C# module writes into
    its own tables from 2204 and 2206 — the fee-item category of the dictionary
    (med_chrgitm_type 01-14, not the catalogue list type 101/201/301), and no settlement
    id on a pre-settlement (a placeholder such as "P" would be stored as one)."""
    profile = variant(PROFILES[name], url=SINGLE_ROUTE, visit_info_infno="2203",
                      auth={"scheme": "x-tif", "nonce": "guid"})
    c = ProfileClient(profile, http, HOSPITAL, demo_token(HOSPITAL), now=clock.now)
    c.sign_in()
    psn_no = person(c, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(c, psn_no, WANG_FANG)
    ids = {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    rows = upload(c, "2204", [fee_line(c, "2204", "1", "XA01AAA0001", "100.00", "1", **ids),
                              fee_line(c, "2204", "2", "XC03CCC0003", "20.00", "1", **ids)])
    categories = {f"{n:02d}" for n in range(1, 15)}
    assert all(r["med_chrgitm_type"] in categories for r in rows), rows
    pre = settlement(c, "2206", psn_no, mdtrt_id, "120.00", "11", rows)["setlinfo"]
    assert pre.get("setl_id") in (None, ""), pre.get("setl_id")
