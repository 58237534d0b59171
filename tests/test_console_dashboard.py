"""The console's dashboard over HTTP, on both databases: its numbers equal the sums of the
settlements, cancellations, claims and outbox messages the test made (computed here from
the answers and rows, not by the dashboard's SQL), in Chinese and English; the refused
national messages are counted once per code and day, a success never, and a failure to
count never changes the answer; a malformed period is refused."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from console_site import failed_message
from console_tables import by_first_cell, table
from flows import LI_JIANGUO, WANG_FANG, ZHAO_LEI, fen, ok, person, refused, settle_once
from test_console import sign_in
from yibao.api.console.web import yuan
from yibao.services import outbox
from yibao.store import refusals
from yibao.store.demo import INSTITUTIONS
from yibao.store.schema import claim, refusal_count, visit
from yibao.store.schema import person as person_table

LEVEL_OF = {code: level for code, _name, _kind, level, *_rest in INSTITUTIONS}
LEVEL_NAME = {3: "三级", 2: "二级"}
TREATMENT = "110000"  # the pool area of the Beijing demo hospitals


def _settlements(his_factory, clock) -> tuple[list[tuple[str, dict]], dict]:
    """Three settlements on 11 May (one of them care away from home, at two hospitals)
    and, on 12 May, the cancellation of one: (institution, setlinfo) and the cancelled."""
    first, second, hebei = (his_factory(c) for c in ("H11010500001", "H11010500002",
                                                     "H13010200001"))
    zhao = person(first, ZHAO_LEI)["baseinfo"]["psn_no"]
    ok(hebei.call("2501", {"refmedin": {
        "psn_no": zhao, "insutype": "310", "diag_code": "J18.900", "diag_name": "肺炎",
        "reflin_medins_no": "H11010500001", "reflin_medins_name": "北京", "refl_type": "3",
        "mdtrtarea_admdvs": "110000", "refl_date": "2026-05-11", "refl_rea": "病情",
        "refl_opnn": "同意", "enddate": "2026-12-31"}}))
    made = [("H11010500001", settle_once(first, WANG_FANG, "300.00")),
            ("H11010500001", settle_once(first, ZHAO_LEI, "200.00")),
            ("H11010500002", settle_once(second, LI_JIANGUO, "150.00"))]
    clock.now += timedelta(days=1)
    cancelled = made[2][1]
    ok(second.call("2208", {"data": {"setl_id": cancelled["setl_id"],
                                     "mdtrt_id": cancelled["mdtrt_id"],
                                     "psn_no": cancelled["psn_no"]}}))
    return made, cancelled


def _row(settlements: int, cancellations: int, medfee: int, fund: int) -> list[str]:
    return [str(settlements), str(cancellations), yuan(medfee), yuan(fund)]


def _expected(made: list[tuple[str, dict]], cancelled: dict, key) -> dict[str, list[str]]:
    """Per key of a settlement (its institution and setlinfo): counts and net sums, the
    cancellation negating the settlement it reverses."""
    sums: dict[str, list[int]] = {}
    for code, s in made:
        tally = sums.setdefault(key(code, s), [0, 0, 0, 0])
        tally[0] += 1
        tally[2] += fen(s["medfee_sumamt"])
        tally[3] += fen(s["fund_pay_sumamt"])
        if s is cancelled:
            tally[1] += 1
            tally[2] -= fen(s["medfee_sumamt"])
            tally[3] -= fen(s["fund_pay_sumamt"])
    return {k: _row(*v) for k, v in sums.items()}


def test_the_charts_numbers_are_the_sums_of_the_settlements_made(http, his_factory, clock):
    clock.now = datetime(2026, 5, 11, 9, 30)
    made, cancelled = _settlements(his_factory, clock)
    sign_in(http, "auditor")
    page = http.get("/console/dashboard")
    assert page.status_code == 200
    days = by_first_cell(page.text, "table-per-day")
    assert len(days) == 30 and min(days) == "2026-04-13" and max(days) == "2026-05-12"
    on_11th = [s for _code, s in made]
    assert days["2026-05-11"] == _row(
        3, 0, sum(fen(s["medfee_sumamt"]) for s in on_11th),
        sum(fen(s["fund_pay_sumamt"]) for s in on_11th))
    assert days["2026-05-12"] == _row(0, 1, -fen(cancelled["medfee_sumamt"]),
                                      -fen(cancelled["fund_pay_sumamt"]))
    assert days["2026-05-01"] == _row(0, 0, 0, 0)
    assert by_first_cell(page.text, "table-per-level") == _expected(
        made, cancelled, lambda code, _s: LEVEL_NAME[LEVEL_OF[code]])
    assert by_first_cell(page.text, "table-per-region") == _expected(
        made, cancelled, lambda _code, s: f"{s['clr_optins']} → {TREATMENT}")
    assert len(by_first_cell(page.text, "table-per-region")) == 2  # at home, and Hebei's
    assert by_first_cell(page.text, "table-per-med-type") == _expected(
        made, cancelled, lambda _code, _s: "11 普通门诊")
    for name in ("per-day", "per-level", "per-region", "per-med-type", "claims-waiting",
                 "outbox-backlog", "refusals"):
        assert f'<figure class="chart" id="chart-{name}">' in page.text

    only_the_11th = http.get("/console/dashboard?from=2026-05-11&to=2026-05-11&lang=en")
    assert list(by_first_cell(only_the_11th.text, "table-per-day")) == ["2026-05-11"]
    assert by_first_cell(only_the_11th.text, "table-per-level")["level 2"] == _row(
        1, 0, fen(cancelled["medfee_sumamt"]), fen(cancelled["fund_pay_sumamt"]))
    assert table(only_the_11th.text, "table-per-day")[0] == [
        "Day", "Settlements", "Cancellations", "Medical fees, net (yuan)",
        "Fund paid, net (yuan)"]


def _claims(db, now: datetime) -> Counter[tuple[str, str]]:
    """Claims of the statuses the dashboard counts (and two it does not), of known ages:
    what each (status, age bucket) should count."""
    ages = {"under-3d": timedelta(days=1), "3-7d": timedelta(days=5),
            "7-30d": timedelta(days=20), "over-30d": timedelta(days=45)}
    made = [("submitted", "under-3d"), ("submitted", "under-3d"), ("submitted", "over-30d"),
            ("under_review", "3-7d"), ("approved", "7-30d"), ("partly_approved", "over-30d"),
            ("paid", "under-3d"), ("rejected", "3-7d")]
    with db.write() as conn:
        psn_no = conn.execute(select(person_table.c.psn_no).where(
            person_table.c.certno == WANG_FANG)).scalar_one()
        conn.execute(insert(visit).values(
            mdtrt_id="M-DASH", psn_no=psn_no, fixmedins_code="H11010500001", insutype="310",
            med_type="11", visit_class="outpatient", status="discharged", begntime=now,
            ipt_otp_no="O1", mdtrt_cert_type="02", insuplc_admdvs="110000",
            mdtrtarea_admvs="110000", msgid="m-dash"))
        for n, (status, age) in enumerate(made):
            conn.execute(insert(claim).values(
                claim_id=f"C-DASH-{n}", psn_no=psn_no, mdtrt_id="M-DASH",
                fixmedins_code="H11010500001", invono=f"INV-DASH-{n}", insutype="310",
                med_type="11", reason="fault", status=status, source="02",
                medfee_sumamt=10000, created_at=now - ages[age], updated_at=now))
    return Counter(made)


CLAIM_STATUS = {"submitted": "已提交", "under_review": "审核中", "approved": "已核准",
                "partly_approved": "部分核准"}
CLAIM_AGES = ("under-3d", "3-7d", "7-30d", "over-30d")


def test_claims_waiting_and_the_outbox_backlog_by_age(http, db, clock):
    failed_message(db, clock, "S-DASH-FAILED")  # queued 20 days ago, failed since
    waiting = _claims(db, clock())
    with db.write() as conn:
        outbox.enqueue(conn, key="S-DASH-NEW", kind="away-cost", psn_no="1", payload={},
                       now=clock())
        outbox.enqueue(conn, key="S-DASH-HOURS", kind="away-cost", psn_no="1", payload={},
                       now=clock() - timedelta(hours=3))
    sign_in(http, "clerk")
    page = http.get("/console/dashboard").text
    claims = by_first_cell(page, "table-claims-waiting")
    assert claims == {CLAIM_STATUS[s]: [str(waiting[s, age]) for age in CLAIM_AGES]
                      for s in CLAIM_STATUS}
    assert table(page, "table-claims-waiting")[0] == [
        "状态", "3天以内", "3至7天", "7至30天", "30天以上"]
    backlog = by_first_cell(page, "table-outbox-backlog")
    assert backlog == {"待发送": ["1", "1", "0", "0"], "失败": ["0", "0", "0", "1"]}
    english = http.get("/console/dashboard?lang=en").text
    assert by_first_cell(english, "table-outbox-backlog")["failed"] == ["0", "0", "0", "1"]


def _refused_2207(his, code: str) -> None:
    """A 2207 refused with ``code``: a field missing, or a visit unknown."""
    data = {"psn_no": "X", "mdtrt_id": "M-NONE", "chrg_bchno": "0", "insutype": "310",
            "med_type": "11", "medfee_sumamt": "1.00", "psn_setlway": "01",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": "x", "acct_used_flag": "0",
            "mid_setl_flag": "0", "invono": "", "fulamt_ownpay_amt": "0"}
    if code == "E-ENV-004":
        del data["medfee_sumamt"]
    refused(his.call("2207", {"data": data}), code)


def _counted(db) -> dict[tuple[date, str, str, str], int]:
    with db.read() as conn:
        return {(r.day, r.fixmedins_code, r.infno, r.code): r.count
                for r in conn.execute(select(refusal_count))}


def test_a_refused_message_counts_once_per_code_and_day_a_success_never(
        http, db, his, his_factory, clock):
    settle_once(his, WANG_FANG, "100.00")
    assert _counted(db) == {}  # the success path writes nothing here
    _refused_2207(his, "E-ENV-004")
    _refused_2207(his, "E-ENV-004")
    _refused_2207(his_factory("H11010500002"), "E-ENV-004")
    day = clock().date()
    assert _counted(db) == {(day, "H11010500001", "2207", "E-ENV-004"): 2,
                            (day, "H11010500002", "2207", "E-ENV-004"): 1}
    refused(his.call("9999", {"data": {}}), "E-ENV-003")  # an infno the table lacks: ""
    assert _counted(db)[day, "H11010500001", "", "E-ENV-003"] == 1

    clock.now += timedelta(days=1)
    _refused_2207(his, "E-ENV-004")
    assert _counted(db)[clock().date(), "H11010500001", "2207", "E-ENV-004"] == 1
    sign_in(http, "auditor")
    rows = table(http.get("/console/dashboard").text, "table-refusals")[1:]
    assert rows == [[str(day), "H11010500001", "E-ENV-003", "1"],
                    [str(day), "H11010500001", "E-ENV-004", "2"],
                    [str(day), "H11010500002", "E-ENV-004", "1"],
                    [str(clock().date()), "H11010500001", "E-ENV-004", "1"]]


def test_a_failure_to_count_never_changes_the_answer(db, his, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the counter is down")

    monkeypatch.setattr(refusals, "count", broken)
    _refused_2207(his, "E-ENV-004")
    assert _counted(db) == {}
    settle_once(his, WANG_FANG, "100.00")


@pytest.mark.parametrize("query,says", [
    ("from=2026-05-40", "from: a date YYYY-MM-DD"),
    ("from=2026-05-11&to=2026-05-01", "is after to"),
    ("from=2024-01-01&to=2026-05-01", "more than 366 days"),
])
def test_a_malformed_period_is_refused_and_the_last_30_days_shown(http, query, says):
    sign_in(http, "auditor")
    page = http.get(f"/console/dashboard?{query}")
    assert page.status_code == 400
    assert "E-ENV-005" in page.text and says in page.text
    assert len(by_first_cell(page.text, "table-per-day")) == 30
