"""Care away from home under the 2022 notice (医保发〔2022〕22号), on both databases:
claims of uploaded visits (online manual reimbursement, 线上手工报销) from the app and the
window, special-disease care only where the institution opened the disease, and the
personal commitment letter (个人承诺书) signed with a filing.
(A filing registered after discharge, before the settlement: tests/test_away.py.)"""

from __future__ import annotations

from sqlalchemy import func, select

from apps import ChannelApp
from calls import window_call
from concurrency import run_threads
from conftest import ADMIN, APPROVER, AUDITOR, CLERK, REVIEWER
from flows import SIGNED, WANG_FANG, ZHAO_LEI, line, ok, refused, settle_payload, upload
from test_away import (
    admin_file,
    admit_stay,
    discharge,
    psn_of,
    settle,
    visit,
)
from test_console import csrf_of, sign_in
from test_reimbursement import PAYEE
from yibao.domain.errors import Refused
from yibao.services import applications, institutions
from yibao.services.claims import Payee
from yibao.store.schema import claim, fee_line

PIN = "135790"


def stay_refused(beijing, psn_no: str) -> str:
    """赵磊's unfiled stay at H11010500001: admitted, details uploaded (2301),
    discharged; its settlement (2304) refused. Its mdtrt_id."""
    stay = admit_stay(beijing, psn_no, ZHAO_LEI)
    upload(beijing, stay, psn_no, [line("1", "XA01AAA0001", "5000.00")], infno="2301")
    discharge(beijing, psn_no, stay, "2026-05-11 09:00:00")
    refused(settle_stay_again(beijing, psn_no, stay), "E-FIL-002")
    return stay


def settle_stay_again(his, psn_no: str, stay: str) -> dict:
    return his.call("2304", settle_payload(psn_no, stay, ZHAO_LEI, "5000.00", account=False,
                                           med_type="21"))


def window_claim(http, psn_no: str, stay: str, code: str = "H11010500001", *,
                 holder: str = "赵磊") -> dict:
    reply = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": psn_no, "reason": "unfiled", "fixmedins_code": code, "mdtrt_id": stay,
        "payee": dict(PAYEE, account_name=holder)})
    return {"status": reply.status_code, **reply.json()}


def count(db, table) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# ---------------------------------------------------------------- online manual reimbursement


def test_the_window_claims_an_uploaded_stay_that_could_not_settle_directly(
    db, http, his_factory
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    stay = stay_refused(beijing, psn_no)
    made = window_claim(http, psn_no, stay)
    assert made["status"] == 201, made
    claim_id = made["claim_id"]
    # the visit is the claim's: no real-time settlement, no new details, no second claim
    assert "selfpaid" in refused(settle_stay_again(beijing, psn_no, stay), "E-VIS-002")
    again = window_claim(http, psn_no, stay)
    assert (again["status"], again["code"]) == (409, "E-CLM-014")
    assert claim_id in again["detail"]
    view = http.get(f"/admin/v1/claims/{claim_id}", headers=AUDITOR).json()
    assert (view["status"], view["medfee_sumamt"], view["invono"]) == (
        "submitted", 500000, stay)
    assert [x["med_list_codg"] for x in view["lines"]] == ["XA01AAA0001"]  # once

    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200
    decided = http.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER,
                        json={"approve": True})
    assert decided.status_code == 200, decided.text
    view = http.get(f"/admin/v1/claims/{claim_id}", headers=AUDITOR).json()
    # Hebei policy, tier 3, the year's first stay: an unfiled claim is cut as other
    # temporary trips (20 points): (5000 - 1000 deductible) x (85 % - 20) = 2600.00
    assert view["status"] == "approved" and view["approved_amount"] == 260000
    assert view["away_basis"] == "unfiled"
    assert count(db, fee_line) == 1


def test_a_claim_of_an_uploaded_visit_needs_contributions_covering_the_care(
    db, http, his_factory
):
    """The contribution rule of a typed-in bill holds for an uploaded visit too: care in
    arrears beyond the insured place's grace (Hebei: 60 days) is not reimbursed."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    stay = stay_refused(beijing, psn_no)
    arrears = http.post(f"/admin/v1/persons/{psn_no}/contributions", headers=CLERK, json={
        "insutype": "310", "status": "arrears", "since": "2026-01-01", "owed": "900.00"})
    assert arrears.status_code == 201, arrears.text
    made = window_claim(http, psn_no, stay)
    assert (made["status"], made["code"]) == (409, "E-PSN-018"), made
    assert count(db, claim) == 0  # nothing claimed: the visit stays as it was


def test_a_claim_of_an_uploaded_visit_is_refused_for_what_it_cannot_be(
    db, http, his_factory
):
    beijing = his_factory("H11010500001")
    zhao, wang = psn_of(beijing, ZHAO_LEI), psn_of(beijing, WANG_FANG)
    stay = stay_refused(beijing, zhao)
    other = window_claim(http, wang, stay, holder="王芳")  # another person's visit
    assert (other["status"], other["code"]) == (404, "E-CLM-011")
    elsewhere = window_claim(http, zhao, stay, code="H11010500002")
    assert (elsewhere["status"], elsewhere["code"]) == (404, "E-CLM-011")
    open_stay = admit_stay(beijing, zhao, ZHAO_LEI)
    upload(beijing, open_stay, zhao, [line("1", "XA01AAA0001", "100.00")], infno="2301")
    assert window_claim(http, zhao, open_stay)["code"] == "E-CLM-013"
    # settled in real time: 王芳 at home
    home = visit(beijing, wang, WANG_FANG)
    ok(settle(beijing, wang, home, WANG_FANG, [line("1", "XA01AAA0001", "10.00")]))
    settled = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": wang, "reason": "other", "fixmedins_code": "H11010500001",
        "mdtrt_id": home, "payee": dict(PAYEE, account_name="王芳")})
    assert (settled.status_code, settled.json()["code"]) == (409, "E-CLM-012")
    assert count(db, claim) == 0
    # the refusals changed nothing: the stay is still the person's to claim
    assert window_claim(http, zhao, stay)["status"] == 201


def test_the_person_applies_in_the_app_for_care_in_hebei_the_hospital_uploaded(
    db, http, his_factory
):
    hebei = his_factory("H13010200001")
    psn_no = psn_of(hebei, WANG_FANG)
    mdtrt_id = visit(hebei, psn_no, WANG_FANG)
    message = refused(settle(hebei, psn_no, mdtrt_id, WANG_FANG,
                             [line("1", "XA01AAA0001", "300.00")]), "E-FIL-002")
    assert "manual reimbursement" in message
    app = ChannelApp(http)
    cert_id = app.activate()
    app.register_payee(cert_id)
    path = f"/channel/v1/certificates/{cert_id}/claims"
    reply = app.post(path, {"pin": PIN, "reason": "unfiled", "fixmedins_code": "H13010200001",
                            "mdtrt_id": mdtrt_id})
    assert reply.status_code == 201, reply.text
    twice = app.post(path, {"pin": PIN, "reason": "unfiled",
                            "fixmedins_code": "H13010200001", "mdtrt_id": mdtrt_id})
    assert (twice.status_code, twice.json()["code"]) == (409, "E-CLM-014")
    listed = app.post(f"{path}/list", {"pin": PIN}).json()
    assert [(c["status"], c["medfee_sumamt"]) for c in listed] == [("submitted", 30000)]
    refused(settle(hebei, psn_no, mdtrt_id, WANG_FANG, [], total="300.00"), "E-VIS-002")


def test_two_claims_of_one_uploaded_visit_at_once_make_one_claim(db, http, his_factory, clock):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    stay = stay_refused(beijing, psn_no)
    payee = Payee("中国工商银行北京分行", "6222020200001234567", account_name="赵磊")

    def apply_it() -> str:
        try:
            with db.write() as conn:
                applications.apply(window_call(conn, clock), applications.Application(
                    psn_no=psn_no, reason="unfiled", payee=payee, code="H11010500001",
                    mdtrt_id=stay))
            return "applied"
        except Refused as refusal:
            return refusal.code

    answers = run_threads(lambda work: {"answer": work()}, [(apply_it,), (apply_it,)])
    assert sorted(a["answer"] for a in answers) == ["E-CLM-014", "applied"]
    assert count(db, claim) == 1


# ---------------------------------------------------------------- special diseases


def file_disease(his, psn_no: str, code: str = "M03900", name: str = "高血压") -> str:
    return str(ok(his.call("2503", {"data": {
        "psn_no": psn_no, "insutype": "310", "opsp_dise_code": code,
        "opsp_dise_name": name, "ide_fixmedins_no": "H11010500001",
        "ide_fixmedins_name": "示范", "hosp_ide_date": "2026-05-01",
        "diag_dr_codg": "D1", "diag_dr_name": "医生", "begndate": "2026-05-11",
        "enddate": ""}}))["result"]["trt_dcla_detl_sn"])


def test_special_disease_care_away_settles_only_where_the_disease_was_opened(
    db, http, his_factory
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    file_disease(beijing, psn_no, "M04500", "慢性肾病")  # not opened at H11010500001
    fee = [line("1", "XA01AAA0001", "900.00")]
    care = visit(beijing, psn_no, ZHAO_LEI, med_type="14")
    message = refused(settle(beijing, psn_no, care, ZHAO_LEI, fee, med_type="14"), "E-FIL-015")
    assert "H11010500001" in message and "M04500" in message

    path = "/admin/v1/institutions/H11010500001/diseases/M04500"
    assert http.put(path, json={"opened": True}, headers=CLERK).status_code == 403
    opened = http.put(path, json={"opened": True}, headers=ADMIN)
    assert opened.status_code == 200, opened.text
    listed = http.get("/admin/v1/institutions/H11010500001/diseases", headers=AUDITOR).json()
    row = next(r for r in listed if r["opsp_dise_code"] == "M04500")
    assert (row["opened_by"], row["closed_at"]) == ("admin", None)
    assert {r["opsp_dise_code"] for r in listed} >= {"M03900", "M01600"}  # the demo's
    setl = ok(settle(beijing, psn_no, care, ZHAO_LEI, [], med_type="14", total="900.00"))
    assert setl["setlinfo"]["setl_id"]

    closed = http.put(path, json={"opened": False}, headers=ADMIN)
    assert closed.status_code == 200
    later = visit(beijing, psn_no, ZHAO_LEI, med_type="14")
    refused(settle(beijing, psn_no, later, ZHAO_LEI, fee, med_type="14"), "E-FIL-015")
    again = http.put(path, json={"opened": False}, headers=ADMIN)
    assert (again.status_code, again.json()["code"]) == (400, "E-ADM-012")
    unknown = http.put("/admin/v1/institutions/H0/diseases/M04500", json={"opened": True},
                       headers=ADMIN)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "E-ADM-001")


# ---------------------------------------------------------------- the commitment letter


def test_a_temporary_filing_rests_on_the_signed_commitment_letter(db, http, his_factory):
    psn_no = psn_of(his_factory("H11010500001"), ZHAO_LEI)
    unsigned = admin_file(http, psn_no, filing_type="temporary", area="110000",
                          end_date="2026-06-30", commitment_signed=False,
                          commitment_version="")
    assert (unsigned["status"], unsigned["code"]) == (400, "E-FIL-014")
    no_version = admin_file(http, psn_no, filing_type="temporary", area="110000",
                            end_date="2026-06-30", commitment_version="")
    assert (no_version["status"], no_version["code"]) == (400, "E-FIL-008")
    # a referral rests on the hospital's papers: no letter needed
    referral = admin_file(http, psn_no, filing_type="referral", area="110000",
                          end_date="2026-06-30", commitment_signed=False,
                          commitment_version="")
    assert referral["status"] == 201
    signed = admin_file(http, psn_no, filing_type="temporary", area="110000",
                        end_date="2026-06-30")
    assert signed["status"] == 201
    listed = http.get(f"/admin/v1/persons/{psn_no}/filings", headers=AUDITOR).json()
    letters = {f["trt_dcla_detl_sn"]: f["commitment"] for f in listed}
    assert letters[signed["trt_dcla_detl_sn"]] == {
        "signed": True, "signed_at": "2026-05-11 09:30:00", "version": "CL-2022",
        "entry": "window:clerk"}
    assert letters[referral["trt_dcla_detl_sn"]]["signed"] is False


def test_the_app_files_with_the_letter_and_the_console_shows_it(db, http, his_factory):
    app = ChannelApp(http)
    path = f"/channel/v1/certificates/{app.activate()}/filings"
    bare = app.post(path, {"pin": PIN, "filing_type": "resident", "area": "130102"})
    assert (bare.status_code, bare.json()["code"]) == (400, "E-FIL-014")
    filed = app.post(path, {"pin": PIN, "filing_type": "resident", "area": "130102", **SIGNED})
    assert filed.status_code == 201, filed.text
    mine = app.post(f"{path}/list", {"pin": PIN}).json()
    assert mine[0]["commitment"]["entry"] == "app:CH-BJAPP"

    psn_no = psn_of(his_factory("H13010200001"), WANG_FANG)
    sign_in(http, "clerk")
    page = http.get(f"/console/filings?psn_no={psn_no}&lang=en").text
    assert "Commitment letter" in page
    assert "signed 2026-05-11 09:30:00, letter CL-2022, through app:CH-BJAPP" in page
    person_page = http.get(f"/console/persons/{psn_no}?lang=en").text
    assert "through app:CH-BJAPP" in person_page


def test_an_administrator_opens_and_closes_a_disease_on_the_institution_page(db, http):
    page_path = "/console/institutions/H11010500001"
    sign_in(http, "clerk")
    assert 'id="open-disease"' not in http.get(page_path).text  # a clerk only looks
    sign_in(http, "admin")
    page = http.get(f"{page_path}?lang=en").text
    assert "Special diseases away from home" in page and 'id="disease-M03900"' in page
    opened = http.post(f"{page_path}/diseases", follow_redirects=False, data={
        "csrf": csrf_of(page), "disease": "M04500", "opened": "on"})
    assert opened.headers["location"] == f"{page_path}?done=disease-service-set"
    page = http.get(f"{page_path}?lang=en").text
    row = page.split('id="disease-M04500"')[1].split("</tr>")[0]
    assert "admin" in row and "Switch off" in row
    closed = http.post(f"{page_path}/diseases", follow_redirects=False, data={
        "csrf": csrf_of(page), "disease": "M04500"})
    assert closed.status_code == 303
    with db.read() as conn:
        services = {s.disease: s for s in institutions.disease_services_of(
            conn, "H11010500001")}
    assert services["M04500"].closed_by == "admin"
    assert "异地门诊慢特病" in http.get(f"{page_path}?lang=zh").text  # in Chinese too
