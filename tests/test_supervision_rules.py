"""The month's batch rules (issue 20, docs/supervision.md): each plants its pattern
through real records and finds it, and a legitimate look-alike is not a finding. The
month's extract, then the rule's SQL on DuckDB (the service and Spark: other modules)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from conftest import ADMIN, CLERK
from flows import LI_JIANGUO, SIGNED, WANG_FANG, ZHAO_LEI, fen, ok, person, refused
from supervision_plant import (
    another_institution,
    at,
    ecert_token,
    found,
    outpatient,
    place,
    stay,
    with_params,
)

CARD = {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN0000000001"}


def psn_of(his, certno: str) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def fund(setl: dict) -> int:
    return fen(setl["fund_pay_sumamt"])


# ---------------------------------------------------------------- SV01


def test_sv01_two_settlements_far_apart_within_the_hour_are_a_clue(db, his_factory, clock,
                                                                     tmp_path):
    place(db, "H11010500001", 39.9042, 116.4074)  # 25 km apart
    place(db, "H11010500002", 40.0800, 116.5900)
    first, second = his_factory("H11010500001"), his_factory("H11010500002")
    psn_no = psn_of(first, WANG_FANG)
    one = outpatient(first, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:10:00"),
                     amount="3000.00")
    two = outpatient(second, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:50:00"),
                     amount="3000.00")
    # the Hebei person at home, then 40 minutes later in Beijing (emergency): no
    # coordinates, so their prefectures (1301, 1101) tell them apart
    hebei, beijing = his_factory("H13010200001"), first
    zhao = psn_of(hebei, ZHAO_LEI)
    outpatient(hebei, clock, zhao, ZHAO_LEI, when=at("2026-05-12 08:00:00"), amount="100.00")
    three = outpatient(beijing, clock, zhao, ZHAO_LEI, when=at("2026-05-12 08:40:00"),
                       amount="100.00", med_type="13")

    clues = found(db, tmp_path, "SV01")
    assert {(c.psn_no, c.fixmedins_code, c.mdtrt_id) for c in clues} == {
        (psn_no, "H11010500002", two["mdtrt_id"]), (zhao, "H11010500001", three["mdtrt_id"])}
    by_visit = {c.mdtrt_id: c for c in clues}
    far = by_visit[two["mdtrt_id"]]
    assert far.clue_key == f"{one['setl']['setl_id']}/{two['setl']['setl_id']}"
    assert far.amount_at_risk == fund(two["setl"]) > 0
    [row] = far.evidence
    assert 24_000 < row["distance_m"] < 26_000
    assert "km apart" in far.summary and "H11010500001" in far.summary
    by_district = by_visit[three["mdtrt_id"]]
    assert by_district.evidence[0]["distance_m"] is None
    assert "districts 130102 and 110105" in by_district.summary


def test_sv01_nearby_institutions_or_hours_apart_are_not_a_clue(db, his_factory, clock,
                                                                 tmp_path):
    place(db, "H11010500001", 39.9042, 116.4074)
    place(db, "H11010500003", 39.9200, 116.4100)  # 1.8 km away
    place(db, "H11010500002", 40.0800, 116.5900)  # 25 km away
    first, near, far = (his_factory(c) for c in ("H11010500001", "H11010500003",
                                                 "H11010500002"))
    psn_no = psn_of(first, WANG_FANG)
    outpatient(first, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:10:00"), amount="50.00")
    outpatient(near, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:40:00"), amount="50.00")
    # the far one, but two hours after the last
    outpatient(far, clock, psn_no, WANG_FANG, when=at("2026-05-11 11:41:00"), amount="50.00")
    assert found(db, tmp_path, "SV01") == []


# ---------------------------------------------------------------- SV02


def test_sv02_a_card_lost_before_the_settlement_and_a_suspension_recorded_after_it(
        db, http, his, clock, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    # registered with the card at 09:00; the card is reported lost at 09:20; the
    # settlement at 09:30 names no credential and gets through (the visit's card is not
    # read again)
    clock.now = at("2026-05-11 09:00:00")
    card_visit = outpatient(his, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:00:00"),
                            credential=CARD)
    from flows import line, settle_payload, upload
    upload(his, card_visit["mdtrt_id"], psn_no, [line("1", "XA01AAA0001", "3000.00")])
    clock.now = at("2026-05-11 09:20:00")
    assert http.post("/admin/v1/cards/BJ0000000001/loss", headers=CLERK).status_code == 200
    clock.now = at("2026-05-11 09:30:00")
    payload = settle_payload(psn_no, card_visit["mdtrt_id"], WANG_FANG, "3000.00",
                             account=False)
    payload["data"].update(mdtrt_cert_type="", mdtrt_cert_no="")
    card_setl = ok(his.call("2207", payload))["setlinfo"]
    # another settlement on the 12th; on the 13th the bureau suspends her from the 1st
    later = outpatient(his, clock, psn_no, WANG_FANG, when=at("2026-05-12 10:00:00"),
                       amount="3000.00")
    clock.now = at("2026-05-13 09:00:00")
    made = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-08-31",
        "reason": "lent the card to another person"})
    assert made.status_code == 201
    # and the lost card is presented three times that day: refused, counted
    for _ in range(3):
        refused(his.call("1101", {"data": CARD}), "E-PSN-00")

    clues = {c.clue_key: c for c in found(db, tmp_path, "SV02")}
    card_clue = clues.pop(f"card/{card_setl['setl_id']}")
    assert card_clue.amount_at_risk == fund(card_setl) > 0
    assert card_clue.evidence[0]["lost_at"] == "2026-05-11 09:20:00"
    assert card_clue.evidence[0]["card_no"] == "BJ0000000001"
    during = {k: c for k, c in clues.items() if k.startswith("suspension/")}
    assert {c.mdtrt_id for c in during.values()} == {card_visit["mdtrt_id"],
                                                     later["mdtrt_id"]}
    assert all(c.evidence[0]["suspension_created_at"] == "2026-05-13 09:00:00"
               for c in during.values())
    [refusals] = [c for k, c in clues.items() if k.startswith("refused/")]
    assert refusals.fixmedins_code == "H11010500001" and refusals.amount_at_risk == 0
    assert refusals.evidence[0]["refusals"] == 3


def test_sv02_settlements_before_a_loss_or_outside_a_suspension_are_not_clues(
        db, http, his, clock, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    outpatient(his, clock, psn_no, WANG_FANG, when=at("2026-05-11 09:00:00"),
               credential=CARD, amount="100.00")
    clock.now = at("2026-05-11 09:20:00")
    assert http.post("/admin/v1/cards/BJ0000000001/loss", headers=CLERK).status_code == 200
    made = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-12", "end_date": "2026-08-31", "reason": "lent the card"})
    assert made.status_code == 201
    refused(his.call("1101", {"data": CARD}), "E-PSN-00")  # once or twice: forgetful
    refused(his.call("1101", {"data": CARD}), "E-PSN-00")
    assert found(db, tmp_path, "SV02") == []


# ---------------------------------------------------------------- SV03


def test_sv03_one_certificate_at_four_institutions_in_a_day(db, his, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    codes = ("H11010500001", "H11010500002", "H11010500003", "P11010500001")
    for n, code in enumerate(codes):
        ecert_token(db, cert_id="EC0001", psn_no=psn_no, code=code,
                    when=at("2026-05-11 08:00:00") + timedelta(hours=n))
    [clue] = found(db, tmp_path, "SV03")
    assert clue.clue_key == "EC0001/2026-05-11" and clue.psn_no == psn_no
    assert [e["institutions"] for e in clue.evidence] == [4, 4, 4, 4]
    assert [e["fixmedins_code"] for e in clue.evidence] == list(codes)
    assert "4 institutions and 0 devices on 2026-05-11" in clue.summary


def test_sv03_one_certificate_on_four_terminals_of_one_hospital_in_a_day(db, his, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    for n in range(4):
        ecert_token(db, cert_id="EC0001", psn_no=psn_no, code="H11010500001", n=n,
                    mac=f"00-1A-2B-3C-4D-5{n}", when=at("2026-05-11 08:00:00")
                    + timedelta(hours=n))
    [clue] = found(db, tmp_path, "SV03")
    assert [e["device"] for e in clue.evidence] == [f"mac:00-1A-2B-3C-4D-5{n}"
                                                    for n in range(4)]
    assert {(e["institutions"], e["devices"]) for e in clue.evidence} == {(1, 4)}


def test_sv03_three_institutions_a_day_or_four_over_two_days_are_not_clues(db, his,
                                                                          tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    for n, code in enumerate(("H11010500001", "H11010500002", "H11010500003")):
        ecert_token(db, cert_id="EC0001", psn_no=psn_no, code=code,
                    when=at("2026-05-11 08:00:00") + timedelta(hours=n))
        ecert_token(db, cert_id="EC0001", psn_no=psn_no, code=code, n=1,
                    when=at("2026-05-11 20:00:00") + timedelta(hours=n))  # into the 12th
    ecert_token(db, cert_id="EC0001", psn_no=psn_no, code="P11010500001",
                when=at("2026-05-12 12:00:00"))
    # a busy day at one terminal: five scans of the same certificate, one device
    for n in range(5):
        ecert_token(db, cert_id="EC0002", psn_no=psn_no, code="H11010500002", n=n,
                    mac="00-1A-2B-3C-4D-99", when=at("2026-05-13 08:00:00")
                    + timedelta(hours=n))
    assert found(db, tmp_path, "SV03") == []


# ---------------------------------------------------------------- SV04


def test_sv04_readmission_a_week_after_discharge_with_the_same_diagnosis(
        db, his, clock, tmp_path):
    psn_no = psn_of(his, LI_JIANGUO)
    first = stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-04-20 08:00:00"),
                 discharged=at("2026-04-28 10:00:00"))
    again = stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-05 08:00:00"),
                 discharged=at("2026-05-12 10:00:00"))
    [clue] = found(db, tmp_path, "SV04")
    assert (clue.clue_key, clue.mdtrt_id) == (again["mdtrt_id"], again["mdtrt_id"])
    assert clue.amount_at_risk == fund(again["setl"]) > 0
    [row] = clue.evidence
    assert row["earlier_mdtrt_id"] == first["mdtrt_id"]
    assert row["earlier_endtime"] == "2026-04-28 10:00:00"
    assert row["main_diag_code"] == "J18.900"


def test_sv04_readmission_after_three_weeks_with_another_diagnosis_or_elsewhere(
        db, his_factory, clock, tmp_path):
    his, other = his_factory("H11010500001"), his_factory("H11010500002")
    psn_no = psn_of(his, LI_JIANGUO)
    stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-04-20 08:00:00"),
         discharged=at("2026-04-28 10:00:00"))
    stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-02 08:00:00"),
         discharged=at("2026-05-06 10:00:00"), diag="K35.800")  # appendicitis
    stay(other, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-07 08:00:00"),
         discharged=at("2026-05-09 10:00:00"))  # pneumonia again, at another hospital
    stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-30 08:00:00"),
         discharged=at("2026-05-31 10:00:00"))  # pneumonia at the first: 21 days after
    assert found(db, tmp_path, "SV04") == []


# ---------------------------------------------------------------- SV11


def test_sv11_eight_visits_for_hypertension_within_thirty_days(db, his, clock, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    visits = [outpatient(his, clock, psn_no, WANG_FANG, diag="I10.x00",
                         when=at("2026-04-28 09:00:00") + timedelta(days=3 * n))
              for n in range(8)]  # 04-28 (the look-back) .. 05-19
    [clue] = found(db, tmp_path, "SV11")
    assert clue.clue_key == f"{psn_no}/I10.x00/2026-05"
    assert [e["mdtrt_id"] for e in clue.evidence] == [v["mdtrt_id"] for v in visits[1:]]
    assert {e["visits_in_days"] for e in clue.evidence} == {8}
    assert clue.summary == "8 visits for I10.x00 within 30 days"


def test_sv11_seven_visits_or_two_diseases_are_not_a_clue(db, his, clock, tmp_path):
    psn_no = psn_of(his, WANG_FANG)
    for n in range(7):
        outpatient(his, clock, psn_no, WANG_FANG, diag="I10.x00",
                   when=at("2026-05-02 09:00:00") + timedelta(days=3 * n))
    outpatient(his, clock, psn_no, WANG_FANG, diag="E11.900", when=at("2026-05-25 09:00:00"))
    # the eighth for hypertension comes 31 days after the first
    outpatient(his, clock, psn_no, WANG_FANG, diag="I10.x00", when=at("2026-06-02 09:00:00"))
    assert found(db, tmp_path, "SV11") == []


# ---------------------------------------------------------------- SV12


SMALL_WORLD = {"min_visits": 2, "min_peers": 2}  # the library's are 20 visits, 3 peers


def stays_at(his_factory, clock, code: str, amount: str, day: int) -> int:
    """Two stays at ``code`` (two persons), settled; the fund paid."""
    his = his_factory(code)
    paid = 0
    for certno in (WANG_FANG, LI_JIANGUO):
        psn_no = psn_of(his, certno)
        done = stay(his, clock, psn_no, certno, amount=amount,
                    admitted=at(f"2026-05-{day:02d} 08:00:00"),
                    discharged=at(f"2026-05-{day:02d} 18:00:00"))
        paid += fund(done["setl"])
    return paid


def test_sv12_a_tier_3_hospital_paid_six_times_its_peers_per_stay(db, his_factory, clock,
                                                                   tmp_path):
    for code in ("H11010500011", "H11010500012", "H11010500013"):
        another_institution(db, code, like="H11010500001")
    day = 1
    for code in ("H11010500001", "H11010500011", "H11010500012"):
        stays_at(his_factory, clock, code, "5000.00", day)
        day += 1
    outlier = stays_at(his_factory, clock, "H11010500013", "30000.00", day)
    [clue] = found(db, tmp_path, with_params("SV12", **SMALL_WORLD))
    assert (clue.clue_key, clue.fixmedins_code) == ("H11010500013/2026-05", "H11010500013")
    [row] = clue.evidence
    assert (row["level"], row["peers"], row["visits"], row["fund"]) == (3, 3, 2, outlier)
    excess = outlier - 2 * row["peers_median_per_visit"]
    assert abs(clue.amount_at_risk - excess) <= 1 and clue.amount_at_risk > outlier // 2


def test_sv12_tier_3_hospitals_are_compared_with_tier_3_only(db, his_factory, clock,
                                                             tmp_path):
    for code in ("H11010500011", "H11010500012"):
        another_institution(db, code, like="H11010500001")
    for code in ("H11010500021", "H11010500022"):
        another_institution(db, code, like="H11010500001", level=2)
    day = 1
    for code, amount in (("H11010500001", "30000.00"), ("H11010500011", "30000.00"),
                         ("H11010500012", "30000.00"), ("H11010500002", "5000.00"),
                         ("H11010500021", "5000.00"), ("H11010500022", "5000.00")):
        stays_at(his_factory, clock, code, amount, day)
        day += 1
    assert found(db, tmp_path, with_params("SV12", **SMALL_WORLD)) == []
    # the same world with the library's thresholds: too few visits to compare at all
    assert found(db, tmp_path, "SV12") == []


# ---------------------------------------------------------------- SV13


def admin_file(http, psn_no: str, **body) -> dict:
    reply = http.post("/admin/v1/filings", json={"psn_no": psn_no, **SIGNED, **body},
                      headers=CLERK)
    assert reply.status_code in (200, 201), reply.json()
    return dict(reply.json())


def test_sv13_emergency_care_in_beijing_while_filed_for_tianjin(db, http, his, clock,
                                                                 tmp_path):
    psn_no = psn_of(his, ZHAO_LEI)
    filed = admin_file(http, psn_no, filing_type="resident", area="120000")
    care = outpatient(his, clock, psn_no, ZHAO_LEI, when=at("2026-05-11 10:00:00"),
                      amount="1800.00", med_type="13")
    [clue] = found(db, tmp_path, "SV13")
    assert clue.clue_key == care["setl"]["setl_id"]
    assert clue.amount_at_risk == fund(care["setl"]) > 0
    [row] = clue.evidence
    assert (row["finding"], row["filing"], row["filed_area"], row["treatment_area"],
            row["away_basis"]) == ("away_from_filing", filed["trt_dcla_detl_sn"], "120000",
                                   "110000", "emergency")


def test_sv13_care_in_the_filed_area_or_an_unfiled_emergency_is_not_a_clue(
        db, http, his_factory, clock, tmp_path):
    beijing = his_factory("H11010500001")
    zhao = psn_of(beijing, ZHAO_LEI)
    outpatient(beijing, clock, zhao, ZHAO_LEI, when=at("2026-05-11 10:00:00"),
               amount="1800.00", med_type="13")  # an emergency, nothing filed
    clock.now = at("2026-05-11 11:00:00")
    admin_file(http, zhao, filing_type="temporary", area="110000", end_date="2026-06-30")
    outpatient(beijing, clock, zhao, ZHAO_LEI, when=at("2026-05-12 10:00:00"),
               amount="500.00")  # care where he filed
    outpatient(beijing, clock, zhao, ZHAO_LEI, when=at("2026-05-13 10:00:00"),
               amount="500.00", med_type="13")  # an emergency where he filed
    assert found(db, tmp_path, "SV13") == []


# ---------------------------------------------------------------- SV14


def test_sv14_a_seven_week_stay_admitted_the_day_after_a_temporary_filing(
        db, http, his, clock, tmp_path):
    psn_no = psn_of(his, ZHAO_LEI)
    clock.now = at("2026-04-01 10:00:00")
    filed = admin_file(http, psn_no, filing_type="temporary", area="110000",
                       end_date="2026-06-30")
    long_stay = stay(his, clock, psn_no, ZHAO_LEI, admitted=at("2026-04-02 08:00:00"),
                     discharged=at("2026-05-20 10:00:00"))
    [clue] = found(db, tmp_path, "SV14")
    assert clue.clue_key == long_stay["mdtrt_id"]
    assert clue.amount_at_risk == fund(long_stay["setl"]) > 0
    [row] = clue.evidence
    assert (row["filing"], row["filing_type"], row["filed_at"]) == (
        filed["trt_dcla_detl_sn"], "temporary", "2026-04-01 10:00:00")


def test_sv14_a_short_stay_or_a_long_one_admitted_weeks_later_is_not_a_clue(
        db, http, his, clock, tmp_path):
    psn_no = psn_of(his, ZHAO_LEI)
    clock.now = at("2026-04-01 10:00:00")
    admin_file(http, psn_no, filing_type="temporary", area="110000", end_date="2026-06-30")
    stay(his, clock, psn_no, ZHAO_LEI, admitted=at("2026-04-02 08:00:00"),
         discharged=at("2026-04-20 10:00:00"))  # 18 days (and in April)
    stay(his, clock, psn_no, ZHAO_LEI, admitted=at("2026-04-12 08:00:00"),
         discharged=at("2026-05-20 10:00:00"))  # 38 days, admitted 11 days after
    assert found(db, tmp_path, "SV14") == []


def test_amounts_at_risk_are_whole_fen(db, his, clock, tmp_path):
    """The fund's payments of a settlement come back as the same fen in the clue."""
    psn_no = psn_of(his, LI_JIANGUO)
    stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-04-20 08:00:00"),
         discharged=at("2026-04-28 10:00:00"), amount="1234.56")
    again = stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-01 08:00:00"),
                 discharged=at("2026-05-02 10:00:00"), amount="7777.77")
    [clue] = found(db, tmp_path, "SV04")
    assert isinstance(clue.amount_at_risk, int)
    assert Decimal(clue.amount_at_risk) / 100 == Decimal(str(again["setl"]["fund_pay_sumamt"]))


def test_sv03_through_the_channel_and_1162_keeps_the_terminal(db, http, his_factory,
                                                              tmp_path):
    """Real 1162 scans of one certificate's codes at four institutions: each ecToken keeps
    the sign-in its message named, so the extract knows the terminal (its mac)."""
    from apps import ChannelApp
    from test_ecert import scan

    app = ChannelApp(http)
    cert_id = app.activate()
    codes = ("H11010500001", "H11010500002", "H11010500003", "P11010500001")
    for code in codes:
        ok(scan(his_factory(code), app.qr(cert_id).json()["qr_code"]))
    [clue] = found(db, tmp_path, "SV03")
    assert clue.clue_key == f"{cert_id}/2026-05-11"
    assert sorted(e["fixmedins_code"] for e in clue.evidence) == sorted(codes)
    assert {(e["device"], e["institutions"], e["devices"]) for e in clue.evidence} == {
        ("mac:00-00", 4, 1)}
