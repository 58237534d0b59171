"""The README's curl walk-throughs, run as a reader runs them: the ```sh blocks of each
section, in order, by bash against a freshly seeded demo served by uvicorn (the real
clock, as ``yibao demo``), with ``BASE`` pointing at it; each step's answers checked
against what the README's prose says of that step.

SQLite only: this exercises the documentation (the text a reader copies and the outcomes
it promises), not the database; the same flows run on both databases in
test_outpatient_flow.py, test_online_purchase.py and test_prescriptions.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from conftest import ROOT
from servers import Served
from yibao.api.app import create_app
from yibao.bench.server import free_port
from yibao.services import ledger
from yibao.store import accounts
from yibao.store.db import Database
from yibao.store.demo import seed_demo
from yibao.store.schema import claim, online_order, prescription, settlement

SETTLE = "## Walk-through: settle a bill with curl"
BUY = "## Walk-through: buy prescribed medicines online with curl"
CONSOLE = "## Walk-through: a claim reviewed in the console"
WANG_FANG = "11000000000000000001"
STEP = "@@step "
SCRIPT_SECONDS_MAX = 120

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "curl", "openssl", "sha256sum", "base64")),
    reason="the walk-throughs need bash, curl, openssl and coreutils")


def blocks(title: str) -> list[str]:
    """The ```sh blocks of the README's section ``title``, in order, as a reader copies
    them (the list items' indentation removed)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else None]
    found = re.findall(r"^( *)```sh\n(.*?)^\1```$", section, flags=re.S | re.M)
    assert found, f"no sh block under {title}"
    return [textwrap.dedent(body) for _indent, body in found]


@dataclass(frozen=True)
class Demo:
    url: str
    db: Database


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    """``yibao demo`` in a thread: a new SQLite file, migrated and seeded, served on a
    free port with the default (real) clock."""
    db = Database(str(tmp_path / "yibao.db"))
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
    try:
        with Served(create_app(db), "127.0.0.1", free_port()) as served:
            yield Demo(served.url, db)
        with db.read() as conn:
            assert ledger.verify(conn) == []
    finally:
        db.dispose()


def run(demo: Demo, steps: list[str]) -> list[list[dict[str, Any]]]:
    """``steps`` in one bash, stopping at the first failing command; the JSON answers each
    step printed, one list per step."""
    script = "set -eu -o pipefail\n" + "".join(
        f"echo '{STEP}{n}'\n{step}\n" for n, step in enumerate(steps))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          timeout=SCRIPT_SECONDS_MAX, env=os.environ | {"BASE": demo.url},
                          cwd=ROOT)
    assert done.returncode == 0, f"stopped in {_last_step(done.stdout)}: {done.stderr}"
    printed: list[list[dict[str, Any]]] = []
    for line in done.stdout.splitlines():
        if line.startswith(STEP):
            printed.append([])
        elif line.strip():
            printed[-1].append(json.loads(line, parse_float=Decimal))
    assert len(printed) == len(steps)
    return printed


def _last_step(stdout: str) -> str:
    marks = [line for line in stdout.splitlines() if line.startswith(STEP)]
    return f"block {marks[-1].removeprefix(STEP)}" if marks else "the definitions"


def national(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outputs of a step's national-interface answers, each of which succeeded."""
    for answer in answers:
        assert answer["infcode"] == 0, answer["err_msg"]
    return [answer["output"] for answer in answers]


def test_the_settlement_walkthrough(demo):
    setup, person, _register, fees, settle, history, cancel = run(demo, blocks(SETTLE))
    assert setup == [] and _register == []
    [found] = national(person)
    assert found["baseinfo"]["psn_no"] == WANG_FANG
    assert [i["balc"] for i in found["insuinfo"]] == [Decimal("3000.00")]
    [uploaded] = national(fees)
    assert [line["overlmt_amt"] for line in uploaded["result"]] == [0, Decimal("30.00")]
    [presettled] = national(settle)  # 2206; 2207's answer goes into $SETL
    expected = {"fund_pay_sumamt": Decimal("175.00"), "acct_pay": Decimal("1905.00"),
                "balc": Decimal("1095.00")}
    assert {k: presettled["setlinfo"][k] for k in expected} == expected
    [ytd] = national(history)
    sums = {c["cum_type_code"]: c["cum"] for c in ytd["cuminfo"]}
    assert (sums["D.emp_otp"], sums["B.emp_otp"], sums["F.330100"]) == (
        Decimal("1800.00"), Decimal("2050.00"), Decimal("175.00"))
    [cancelled] = national(cancel)
    assert cancelled["setlinfo"]["balc"] == Decimal("3000.00")
    with demo.db.read() as conn:
        rows = conn.execute(select(settlement).where(settlement.c.psn_no == WANG_FANG)
                            .order_by(settlement.c.setl_time, settlement.c.kind.desc())
                            ).mappings().all()
        assert accounts.balance(conn, WANG_FANG) == 300_000  # restored exactly
    made, reversal = rows
    assert (made["kind"], made["fund_pay_sumamt"], made["acct_pay"], made["balc"]) == (
        "settle", 17_500, 190_500, 109_500)
    assert (reversal["kind"], reversal["reverses"]) == ("cancel", made["setl_id"])


def buying_steps() -> list[str]:
    """The purchase's blocks after the settlement's definitions (its first block), as a
    reader types them in the same shell."""
    return [blocks(SETTLE)[0], *blocks(BUY)]


def test_the_online_purchase_walkthrough(demo):
    (_definitions, _names, prescribed, given, filled, ordered, paid, delivered,
     seen) = run(demo, buying_steps())
    assert national(prescribed)[-1]["data"]["rxStasCodg"] == "1"  # 7103
    [authorisation] = given
    assert authorisation["epcChnlId"] == "CH-SANDBOX" and authorisation["authCircBizSn"]
    assert national(filled)[-1]["data"]["flag"] is True  # 7207
    [order] = national(ordered)
    pay_ord_id = order["data"]["payOrdId"]
    [held] = national(paid)
    split = {k: held["data"][k] for k in ("ordStas", "feeSumamt", "psnAcctPay", "fundPay",
                                          "ownPayAmt")}
    assert split == {"ordStas": "6", "feeSumamt": "105.00", "psnAcctPay": "105.00",
                     "fundPay": "0.00", "ownPayAmt": "0.00"}
    assert [out["data"] for out in national(delivered)] == [{"flag": True}] * 2
    filling, listed, account = seen
    [told] = national([filling])
    assert told["data"]["rxUsedStasCodg"] == "2"
    assert {line["medListCodg"]: line["cnt"] for line in told["seltdelts"]} == {
        "XA01AAA0001": "2", "XB02BBB0002": "1"}
    [rx] = listed
    assert (rx["hiRxno"], rx["status"]) == (told["data"]["hiRxno"], "received")
    assert account["balance"] == "2895.00"
    with demo.db.read() as conn:
        row = conn.execute(select(online_order).where(
            online_order.c.pay_ord_id == pay_ord_id)).mappings().one()
        status = conn.execute(select(prescription.c.status).where(
            prescription.c.hi_rxno == rx["hiRxno"])).scalar_one()
        assert accounts.balance(conn, WANG_FANG) == 289_500
    assert (row["status"], row["hi_rxno"], row["fixmedins_code"]) == (
        "settled", rx["hiRxno"], "P11010500002")
    assert status == "received"


def test_a_broken_step_stops_the_walkthrough(demo):
    """The runner fails at the step that breaks, not later: a pharmacist the online
    pharmacy does not have (7206 refused, no rxChkBizSn to capture) stops it in the
    README's step 3 (block 4, after the two blocks of definitions)."""
    steps = buying_steps()
    broken = [step.replace("HY110105000003", "HY199999999999") for step in steps]
    assert broken != steps
    with pytest.raises(AssertionError, match=r"(?s)stopped in block 4: .*KeyError"):
        run(demo, broken)


def test_the_console_walkthrough(demo, browser):
    """The hospital's two messages from the shell, then the four operators' steps in the
    console, clicking what the README names."""
    from browser import STEP_MS, browser_missing

    if browser_missing():
        pytest.skip(browser_missing())
    _definitions, uploaded = run(demo, [blocks(SETTLE)[0], *blocks(CONSOLE)])
    fault, bill = national(uploaded)
    assert fault["result"]["fault_id"] and bill
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    try:
        _console_steps(page, demo.url + "/console")
    finally:
        context.close()
    with demo.db.read() as conn:
        status = conn.execute(select(claim.c.status).where(claim.c.psn_no == WANG_FANG)
                              ).scalar_one()
    assert status == "paid"


def _console_steps(page: Any, console: str) -> None:
    def sign_in_as(name: str) -> None:
        page.goto(console)
        if page.locator("#operator").count():
            page.click("text=Sign out")
        page.fill("#name", name)
        page.fill("#token", f"demo-{name}")
        page.click("#signin")
        page.wait_for_selector("#operator")

    sign_in_as("clerk")
    page.click("nav >> text=Claims")
    for label, value in (("Person number (psn_no)", WANG_FANG),
                         ("Institution code", "H11010500001"), ("Invoice", "INV-README-1"),
                         ("Bank", "中国工商银行北京分行"),
                         ("Bank account", "6222020200001234567"), ("Account holder", "王芳")):
        page.get_by_label(label, exact=True).fill(value)
    page.click("button:text-is('Apply')")
    page.wait_for_url("**?done=applied")
    claim_page = page.url.split("?")[0]
    assert "submitted" in page.locator("#claim-status").inner_text()
    sign_in_as("reviewer")
    page.click("nav >> text=Claims")
    page.click(f"text={claim_page.rsplit('/', 1)[1]}")
    page.click("button:text-is('Start the review')")
    page.wait_for_url("**?done=review-started")
    sign_in_as("approver")
    page.goto(claim_page)
    page.click("button:text-is('Approve')")
    page.wait_for_url("**?done=approved")
    assert page.locator("#approved-amount").inner_text() == "140.00"  # the README's sum
    sign_in_as("finance")
    page.click("nav >> text=Payments")
    with page.expect_download():
        page.click("button:text-is('Export the bank file')")
    page.reload()
    page.click("button:text-is('Paid')")
    page.wait_for_url("**?done=payment-paid")
    page.goto(claim_page)
    assert page.locator("#claim-status").inner_text() == "paid"
