"""WeChat Pay's daily trade bill (交易账单, bill_type ALL) as text, both ways.

The file is four parts: the detail header, the detail rows, the summary header and the
summary row; fields are separated by commas and every value of a detail or summary row
starts with a backtick (`) so that spreadsheets keep long numbers as text. Amounts are
yuan with two decimals. The simulator writes it (``render``), the client reads it
(``parse``) into ``BillRow`` records in fen, checking the summary against the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from yibao.domain.money import MoneyError, fen_to_yuan, yuan_to_fen
from yibao.domain.paybill import PAID, REFUND, BillRow

COLUMNS = ("交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号",
           "商户订单号", "用户标识", "交易类型", "交易状态", "付款银行", "货币种类",
           "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
           "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费",
           "费率", "订单金额", "申请退款金额", "费率备注")
SUMMARY_COLUMNS = ("总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额",
                   "手续费总金额", "订单总金额", "申请退款总金额")
# each summary total is the sum of this detail column
_SUMMED = {"应结订单总金额": "应结订单金额", "退款总金额": "退款金额",
           "充值券退款总金额": "充值券退款金额", "手续费总金额": "手续费",
           "订单总金额": "订单金额", "申请退款总金额": "申请退款金额"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ROWS_MAX = 100_000  # detail rows of one day's bill that the reader accepts


class BillFormatError(ValueError):
    """A bill that is not in WeChat's trade-bill layout or whose summary disagrees."""


def render(details: Sequence[Mapping[str, str]]) -> str:
    """The bill text of ``details`` (each a value per COLUMNS name, amounts as yuan
    text); the summary is computed from them."""
    lines = [",".join(COLUMNS)]
    lines += [_ticked(detail.get(name, "") for name in COLUMNS) for detail in details]
    totals = [str(len(details))] + [
        fen_to_yuan(sum(_fen(d[column], column) for d in details))
        for column in (_SUMMED[name] for name in SUMMARY_COLUMNS[1:])]
    lines += [",".join(SUMMARY_COLUMNS), _ticked(totals)]
    return "\r\n".join(lines) + "\r\n"


def parse(text: str) -> list[BillRow]:
    """The detail rows of a bill, in fen; BillFormatError when the layout or the summary
    is wrong."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines or tuple(lines[0].split(",")) != COLUMNS:
        raise BillFormatError("the first line is not the trade bill's detail header")
    try:
        cut = lines.index(",".join(SUMMARY_COLUMNS))
    except ValueError as exc:
        raise BillFormatError("no summary header") from exc
    if cut - 1 > ROWS_MAX or len(lines) != cut + 2:
        raise BillFormatError("too many rows, or not one summary row after its header")
    details = [_untick(line, COLUMNS) for line in lines[1:cut]]
    _check_summary(details, _untick(lines[cut + 1], SUMMARY_COLUMNS))
    return [_row(detail) for detail in details]


def _ticked(values: Iterable[str]) -> str:
    return ",".join("`" + value for value in values)


def _untick(line: str, names: Sequence[str]) -> dict[str, str]:
    values = line.split(",")
    if len(values) != len(names) or not all(value.startswith("`") for value in values):
        raise BillFormatError(f"a row of {len(values)} fields, expected {len(names)} "
                              "each starting with `")
    return {name: value[1:] for name, value in zip(names, values, strict=True)}


def _fen(text: str, column: str) -> int:
    try:
        return yuan_to_fen(text or "0", field=column, allow_negative=True)
    except MoneyError as exc:
        raise BillFormatError(str(exc)) from exc


def _check_summary(details: list[dict[str, str]], summary: dict[str, str]) -> None:
    if summary["总交易单数"] != str(len(details)):
        raise BillFormatError(f"summary counts {summary['总交易单数']} rows, the bill has "
                              f"{len(details)}")
    for name, column in _SUMMED.items():
        total = sum(_fen(detail[column], column) for detail in details)
        if _fen(summary[name], name) != total:
            raise BillFormatError(f"{name} {summary[name]} is not the sum of {column}")


def _row(detail: dict[str, str]) -> BillRow:
    state = detail["交易状态"]
    try:
        traded_at = datetime.strptime(detail["交易时间"], TIME_FORMAT)
    except ValueError as exc:
        raise BillFormatError(f"交易时间 {detail['交易时间'][:20]!r}") from exc
    return BillRow(
        traded_at=traded_at, out_trade_no=detail["商户订单号"], trade_no=detail["微信订单号"],
        state=state,
        amount_fen=_fen(detail["应结订单金额"], "应结订单金额") if state == PAID else 0,
        refund_fen=_fen(detail["退款金额"], "退款金额") if state == REFUND else 0,
        out_refund_no=detail["商户退款单号"], refund_id=detail["微信退款单号"])
