"""The cashier's HTML (string.Template, every value escaped here): the order with its
split and the confirm button, the result, and a refusal. Labels in Chinese and English;
one local stylesheet (static/cashier.css), no script."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from string import Template

from yibao.domain import orders as rules
from yibao.domain.errors import CATALOGUE, Refused
from yibao.domain.money import fen_to_yuan
from yibao.domain.orders import OrderStatus
from yibao.services.online import Order

STYLESHEET = "/cashier/static/cashier.css"
FORM_FIELD = "form_token"

_LAYOUT = Template("""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="stylesheet" href="$stylesheet">
</head>
<body>
<main class="card">
<p class="brand">医保移动支付 · Medical insurance mobile payment</p>
<h1>$heading</h1>
$body
</main>
</body>
</html>
""")

_CONFIRM = Template("""<form method="post" action="/cashier/$order/confirm">
<input type="hidden" name="$field" value="$token">
<button type="submit" id="confirm">确认支付 / Confirm and pay</button>
</form>
""")

STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.UPLOADED: "待确认 / Not yet confirmed",
    OrderStatus.HELD: "等待支付 / Waiting for payment",
    OrderStatus.SETTLED: "已结算 / Settled",
    OrderStatus.REFUNDED: "已退款 / Refunded",
    OrderStatus.HI_REFUNDED: "医保部分已退 / Insurance part refunded",
    OrderStatus.CASH_REFUNDED: "自付部分已退 / Own part refunded",
    OrderStatus.CANCELLED: "已取消 / Cancelled",
    OrderStatus.EXPIRED: "已过期 / Expired",
}

# what the person is told, in Chinese, for the refusals a cashier page meets
_REFUSAL_LABELS = {
    "E-ORD-001": "订单不存在", "E-ORD-003": "订单当前状态不能进行此操作",
    "E-ORD-005": "订单已过期，请在医院重新下单",
    "E-PAU-001": "支付授权无效、已使用或已过期，请回到App重新授权",
    "E-PAU-002": "支付授权不属于此订单", "E-PAU-003": "请从App打开此订单（需要支付授权）",
    "E-CSH-001": "会话已失效，请从App重新打开此订单", "E-CSH-002": "页面已失效，请刷新后再确认",
    "E-PAY-001": "支付平台暂不可用，请稍后重试",
}


def page(title: str, body: str) -> str:
    """A whole page; ``body`` is HTML built by this module (escaped already)."""
    return _LAYOUT.substitute(title=escape(title), heading=escape(title), body=body,
                              stylesheet=STYLESHEET)


def _rows(rows: Sequence[tuple[str, str, str]]) -> str:
    """A definition list of (element id, label, value) rows."""
    items = "".join(f'<dt>{escape(label)}</dt><dd id="{escape(ident)}">{escape(value)}</dd>'
                    for ident, label, value in rows)
    return f'<dl class="split">{items}</dl>'


def _yuan(fen: int) -> str:
    return f"¥{fen_to_yuan(fen)}"


def shown_status(order: Order, now: datetime) -> OrderStatus:
    """The order's status as the person should read it: an open order past its lifetime
    is expired even before the sweep releases it."""
    status = OrderStatus(order["status"])
    if status in rules.OPEN and rules.expired(order["expires_at"], now):
        return OrderStatus.EXPIRED
    return status


def _split(order: Order, institution: str, now: datetime) -> str:
    return _rows([
        ("institution", "医疗机构 / Institution", institution),
        ("order", "订单号 / Order number", order["pay_ord_id"]),
        ("total", "费用总额 / Total", _yuan(order["medfee_sumamt"])),
        ("fund-pay", "医保基金支付 / Fund pays", _yuan(order["fund_pay"])),
        ("account-pay", "个人账户支付 / Account pays", _yuan(order["acct_pay"])),
        ("cash-pay", "个人现金支付 / You pay", _yuan(order["cash_pay"])),
        ("expires", "订单有效期至 / Valid until",
         f"{order['expires_at']:%Y-%m-%d %H:%M:%S}"),
        ("status", "状态 / Status", STATUS_LABELS[shown_status(order, now)]),
    ])


def order_page(order: Order, institution: str, token: str, now: datetime,
               note: str = "") -> str:
    """The held order: the split and, while it can be paid, the confirm button."""
    body = (f'<p class="note" id="note">{escape(note)}</p>' if note else "") + _split(
        order, institution, now)
    status = shown_status(order, now)
    if status is OrderStatus.HELD:
        body += _CONFIRM.substitute(order=escape(order["pay_ord_id"]), field=FORM_FIELD,
                                    token=escape(token))
    else:
        body += _result_link(order["pay_ord_id"])
    return page("确认订单 / Your order", body)


def result_page(order: Order, institution: str | None, now: datetime, pay_link: str) -> str:
    """The order's state; with the split when the person's session holds it
    (``institution`` given), else the state alone; ``pay_link``: where the held order's
    own part is paid (api/cashier.py)."""
    status = shown_status(order, now)
    if institution is not None:
        body = _split(order, institution, now)
    else:
        body = _rows([("order", "订单号 / Order number", order["pay_ord_id"]),
                      ("status", "状态 / Status", STATUS_LABELS[status])])
    if status is OrderStatus.HELD and pay_link:
        body += (f'<p><a class="button" id="pay" href="{escape(pay_link)}">'
                 "去支付 / Go to payment</a></p>")
    if status is OrderStatus.HELD:
        body += _result_link(order["pay_ord_id"], "刷新 / Refresh")
    return page(STATUS_LABELS[status], body)


def _result_link(pay_ord_id: str, label: str = "查看结果 / See the result") -> str:
    return (f'<p><a id="result" href="/cashier/{escape(pay_ord_id)}/result">'
            f"{escape(label)}</a></p>")


def refusal_page(refusal: Refused) -> str:
    """A refusal: what it means for the person, the code and the catalogue's message."""
    said = _REFUSAL_LABELS.get(refusal.code, "无法继续")
    body = (f'<p class="refusal" id="refusal">{escape(said)}</p>'
            f'<p class="code" id="code">{escape(refusal.message)}</p>'
            f'<p class="hint">{escape(CATALOGUE[refusal.code].hint)}</p>')
    return page("无法继续 / Cannot continue", body)
