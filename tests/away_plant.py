"""Away settlements planted straight into the store for the insured place's analysis
(tests/test_away_analysis*.py, the console's page): persons, visits with a main
diagnosis, settlements (or reimbursements) with their fund line and their ledger
posting, cancellations negating them, and institutions of any region and level. The
rows are what the settlement writes (the database's CHECKs hold them), so `ledger
verify` stays clean."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from yibao.domain.away_analysis import Month
from yibao.services import ledger
from yibao.store.schema import (
    diagnosis,
    institution,
    person,
    settlement,
    settlement_fund,
    visit,
)

INSURED = "130102"  # the insured place analysed (赵磊's, in the demo)
OTHER = "140100"  # another insured place: its settlements are not ours
MONTH = Month(2026, 4)


@dataclass(frozen=True)
class Planted:
    """One planted settlement (``kind`` settle or claim), cancelled when ``cancelled``."""

    setl_id: str
    psn_no: str
    mdtrt_id: str
    code: str  # fixmedins_code
    insured: str  # insuplc_admdvs
    treatment: str  # mdtrtarea_admvs
    at: datetime
    medfee: int
    fund: int
    disease: str = ""  # main diagnosis ("" none)
    kind: str = "settle"
    cancelled: bool = False


def add_institution(conn: Connection, code: str, region: str, level: int,
                    name: str = "") -> None:
    if conn.execute(select(institution.c.fixmedins_code).where(
            institution.c.fixmedins_code == code)).first() is None:
        conn.execute(insert(institution).values(
            fixmedins_code=code, name=name or f"测试医院 {code}", kind="hospital",
            level=level, admdvs=region, pool_area=region, token=f"t-{code}"))


def _add_person(conn: Connection, psn_no: str, region: str) -> None:
    if conn.execute(select(person.c.psn_no).where(person.c.psn_no == psn_no)).first() is None:
        conn.execute(insert(person).values(
            psn_no=psn_no, psn_cert_type="01", certno=f"C{psn_no}", name="测试",
            gend="1", naty="01", brdy=date(1970, 1, 1), insuplc_admdvs=region))


def _add_visit(conn: Connection, p: Planted) -> None:
    if conn.execute(select(visit.c.mdtrt_id).where(visit.c.mdtrt_id == p.mdtrt_id)
                    ).first() is not None:
        return
    conn.execute(insert(visit).values(
        mdtrt_id=p.mdtrt_id, psn_no=p.psn_no, fixmedins_code=p.code, insutype="310",
        med_type="11", visit_class="outpatient", status="discharged", begntime=p.at,
        ipt_otp_no=p.mdtrt_id, mdtrt_cert_type="02", insuplc_admdvs=p.insured,
        mdtrtarea_admvs=p.treatment, msgid=f"M{p.mdtrt_id}"))
    if p.disease:
        conn.execute(insert(diagnosis).values(
            mdtrt_id=p.mdtrt_id, psn_no=p.psn_no, diag_type="1", diag_srt_no=1,
            diag_code=p.disease, diag_name=f"病 {p.disease}", stage="visit"))


def _row(p: Planted, setl_id: str, kind: str, sign: int, at: datetime) -> dict[str, object]:
    return dict(
        setl_id=setl_id, psn_no=p.psn_no, mdtrt_id=p.mdtrt_id, fixmedins_code=p.code,
        kind=kind, reverses=p.setl_id if kind == "cancel" else None, insutype="310",
        psn_type="1101", med_type="11", seq=1, setl_time=at, year=at.year,
        policy_id="test", clr_type="11", msgid=f"M{setl_id}", pool_prop_selfpay="0.9",
        mdtrt_cert_type="02", insuplc_admdvs=p.insured, mdtrtarea_admvs=p.treatment,
        medfee_sumamt=sign * p.medfee, inscp_scp_amt=sign * p.medfee,
        hifp_pay=sign * p.fund, fund_pay_sumamt=sign * p.fund,
        psn_part_amt=sign * (p.medfee - p.fund), psn_cash_pay=sign * (p.medfee - p.fund),
        acct_pay=0)


def _settle(conn: Connection, row: dict[str, object]) -> None:
    conn.execute(insert(settlement).values(**row))
    fund = dict(setl_id=row["setl_id"], seq=1, psn_no=row["psn_no"], fund_pay_type="310100",
                fund_payamt=row["fund_pay_sumamt"])
    if fund["fund_payamt"]:
        conn.execute(insert(settlement_fund).values(**fund))
    ledger.post_settlement(conn, row, [fund] if fund["fund_payamt"] else [])


def plant(conn: Connection, rows: list[Planted]) -> None:
    """Each row as the settlement writes it; a cancelled one with its cancellation a
    minute later."""
    for p in rows:
        assert 0 <= p.fund <= p.medfee, p
        _add_person(conn, p.psn_no, p.insured)
        _add_visit(conn, p)
        _settle(conn, _row(p, p.setl_id, p.kind, 1, p.at))
        if p.cancelled:
            _settle(conn, _row(p, "X" + p.setl_id, "cancel", -1, p.at.replace(second=59)))


def month_rows() -> list[Planted]:
    """Beijing (110000): four tier-3 hospitals, one of them (H1100000004) paying three
    times its peers per visit; Shanghai (310000): one hospital whose April jumps to four
    times its usual month. A cancelled settlement, a reimbursement, care at home and
    another insured place's care are planted too."""
    rows: list[Planted] = []
    n = 0

    def add(code, treatment, at, fund, *, persons=1, insured=INSURED, disease="J18.900",
            kind="settle", cancelled=False):
        nonlocal n
        n += 1
        rows.append(Planted(f"S{n:04d}", f"P{n % persons}", f"V{n:04d}", code, insured,
                            treatment, at, fund + 5000, fund, disease, kind, cancelled))

    april = datetime(2026, 4, 10, 10, 0)
    for i, code in enumerate(("H1100000001", "H1100000002", "H1100000003")):
        for _ in range(20):
            add(code, "110000", april, 100000 + 10000 * i, persons=7)
    for _ in range(20):
        add("H1100000004", "110000", april, 330000, persons=7, disease="I10.x00")
    for back in range(1, 7):
        month = MONTH.shifted(-back)
        add("H3100000001", "310000", datetime(month.year, month.month, 5, 9), 200000)
    for _ in range(4):
        add("H3100000001", "310000", april, 200000)
    add("H1100000001", "110000", april, 777777, cancelled=True)
    add("H1100000001", "110000", april, 88800, kind="claim", disease="")
    add("H1301020001", INSURED, april, 999999)  # at home
    add("H1100000001", "110000", april, 555555, insured=OTHER)
    add("H1100000001", "110000", datetime(2025, 4, 3, 8), 2_000_000)  # a year ago
    add("H1100000001", "110000", datetime(2026, 3, 3, 8), 1_000_000)  # the month before
    return rows


def plant_month(db) -> None:
    """The month of ``month_rows``, with its institutions."""
    with db.write() as conn:
        for code, region, level in (("H1100000001", "110000", 3), ("H1100000002", "110000", 3),
                                    ("H1100000003", "110000", 3), ("H1100000004", "110000", 3),
                                    ("H3100000001", "310000", 3),
                                    ("H1301020001", INSURED, 3)):
            add_institution(conn, code, region, level)
        plant(conn, month_rows())
