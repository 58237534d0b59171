"""The steps before a person opens the cashier page (shared by the TestClient tests and
the browser test): the HIS uploads the bill with 6201, the app authorises the payment;
and reading the page as the person sees it."""

from __future__ import annotations

import re
from html import unescape

from flows import WANG_FANG, ok, person
from online import authorise, scan_token, upload_data

SPLIT_IDS = ("total", "fund-pay", "account-pay", "cash-pay")
ORDER_FIELDS = {"total": "medfee_sumamt", "fund-pay": "fund_pay", "account-pay": "acct_pay",
                "cash-pay": "cash_pay"}


def uploaded_order(his, app, lines: list[dict], *, order: str = "MO1", account: bool = False,
                   cert_id: str = "") -> tuple[str, dict]:
    """Wang Fang's bill uploaded with 6201 (her certificate activated in the app unless
    ``cert_id`` is given): her psn_no and 6201's data."""
    cert_id = cert_id or app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    token = scan_token(his, app, cert_id)
    data = ok(his.call("6201", upload_data(his, psn_no, token, lines, order=order,
                                           account=account)))["data"]
    return psn_no, data


def cashier_link(db, clock, psn_no: str, uploaded: dict) -> str:
    """The cashierUrl's path with the payAuthNo the app appends."""
    auth = authorise(db, clock, psn_no, uploaded["payOrdId"])
    url = uploaded["cashierUrl"]
    path = url[url.index("/cashier/"):]
    return f"{path}?payAuthNo={auth}"


def shown(html: str, ident: str) -> str:
    """The text of the element ``id=ident`` (a value of the page's split)."""
    found = re.search(rf'id="{re.escape(ident)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"no #{ident} on the page"
    return unescape(found.group(1)).strip()


def yuan_to_fen(text: str) -> int:
    """'¥123.45' as shown → 12345 fen."""
    assert re.fullmatch(r"¥\d+\.\d\d", text), text
    whole, cents = text[1:].split(".")
    return int(whole) * 100 + int(cents)
