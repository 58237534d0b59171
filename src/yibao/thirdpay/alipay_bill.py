"""Alipay's daily trade bill (业务明细, bill_type ``trade``) as a file, both ways.

The download is a zip of CSV files encoded in GBK: the detail (``<PID>_<yyyyMMdd>_业务明细
.csv``) and its summary (``..._业务明细(汇总).csv``). Each starts with ``#`` lines (the
title, the account, the period), then a header and the rows, then closing ``#`` lines.
The detail has one row per payment completed that day (业务类型 ``交易``: 商家实收 the
amount paid, 服务费 negative) and per refund made that day (``退款``: 商家实收 negative,
退款批次号/请求号 the merchant's out_request_no, 服务费 given back). The summary's 合计
row counts the trades and refunds and sums 商家实收 and 服务费. Amounts are yuan with two
decimals. The simulator writes it (``render``), the client reads it (``parse``) into
``BillRow``s in fen, checking the summary against the rows.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from yibao.domain.money import Fen, MoneyError, fen_to_yuan, yuan_to_fen
from yibao.domain.paybill import PAID, REFUND, BillRow

DETAIL_TITLE = "#支付宝业务明细查询"
SUMMARY_TITLE = "#支付宝业务汇总查询"
COLUMNS = ("支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间",
           "门店编号", "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）",
           "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
           "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
           "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注")
SUMMARY_COLUMNS = ("门店编号", "门店名称", "交易订单总笔数", "退款订单总笔数",
                   "订单金额（元）", "商家实收（元）", "支付宝优惠（元）", "商家优惠（元）",
                   "卡消费金额（元）", "服务费（元）", "分润（元）", "实收净额（元）")
TRADE, REFUND_KIND = "交易", "退款"  # 业务类型
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ROWS_MAX = 100_000  # detail rows of one day's bill that the reader accepts
BYTES_MAX = 64 * 1024 * 1024  # one file of the bill, unpacked
FILES_MAX = 4
_RULE = "#" + "-" * 41


class BillFormatError(ValueError):
    """A bill that is not in Alipay's layout or whose summary disagrees with its rows."""


@dataclass(frozen=True, slots=True)
class Line:
    """One detail row as the simulator writes it (fen; CST times)."""

    trade_no: str
    out_trade_no: str
    subject: str
    created_at: datetime
    done_at: datetime  # 完成时间: paid, or refunded
    order_fen: Fen  # 订单金额
    received_fen: Fen  # 商家实收: + paid, - refunded
    fee_fen: Fen  # 服务费: - charged, + given back
    out_request_no: str = ""  # a refund's
    buyer: str = ""  # 对方账户 (masked)

    @property
    def kind(self) -> str:
        return REFUND_KIND if self.out_request_no else TRADE


def render(seller_id: str, day: date, lines: Iterable[Line], *,
           exported_at: datetime) -> bytes:
    """The bill's zip: the detail and the summary, GBK."""
    rows = list(lines)
    stem = f"{seller_id}_{day:%Y%m%d}"
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}_业务明细.csv", _gbk(_detail(seller_id, day, rows,
                                                                exported_at)))
        archive.writestr(f"{stem}_业务明细(汇总).csv", _gbk(_summary(seller_id, day, rows,
                                                                    exported_at)))
    return packed.getvalue()


def parse(packed: bytes) -> list[BillRow]:
    """The detail rows of a bill's zip, in fen; BillFormatError when it is not a zip of
    Alipay's two files, a row is malformed, or the summary's 合计 disagrees."""
    texts = _unzip(packed)
    detail = next((t for t in texts if t.startswith(DETAIL_TITLE)), None)
    summary = next((t for t in texts if t.startswith(SUMMARY_TITLE)), None)
    if detail is None or summary is None:
        raise BillFormatError("the zip lacks the detail (业务明细) or its summary (汇总)")
    rows = [_row(record) for record in _table(detail, COLUMNS)]
    totals = [r for r in _table(summary, SUMMARY_COLUMNS) if r["门店编号"] == "合计"]
    if len(totals) != 1:
        raise BillFormatError("the summary has no single 合计 row")
    _check(rows, totals[0])
    return [parsed for parsed, _fee in rows]


# -- writing --------------------------------------------------------------------------


def _period(day: date) -> str:
    after = day + timedelta(days=1)
    return (f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   "
            f"终止日期：[{after:%Y年%m月%d日} 00:00:00]")


def _detail(seller_id: str, day: date, rows: list[Line], exported_at: datetime) -> str:
    out = io.StringIO()
    out.write(f"{DETAIL_TITLE}\r\n#账号：[{seller_id}]\r\n{_period(day)}\r\n"
              f"{_RULE}业务明细列表{'-' * 40}\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in rows:
        writer.writerow([
            line.trade_no, line.out_trade_no, line.kind, line.subject,
            f"{line.created_at:{TIME_FORMAT}}", f"{line.done_at:{TIME_FORMAT}}", "", "", "",
            "", line.buyer, fen_to_yuan(line.order_fen), fen_to_yuan(line.received_fen),
            "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", line.out_request_no,
            fen_to_yuan(line.fee_fen), "0.00", ""])
    trades = [line for line in rows if line.kind == TRADE]
    refunds = [line for line in rows if line.kind == REFUND_KIND]
    out.write(f"{_RULE}业务明细列表结束{'-' * 36}\r\n"
              f"#交易合计：{len(trades)}笔，商家实收：￥{_sum(trades)}元\r\n"
              f"#退款合计：{len(refunds)}笔，商家实收：￥{_sum(refunds)}元\r\n"
              f"#导出时间：[{exported_at:%Y年%m月%d日 %H:%M:%S}]\r\n")
    return out.getvalue()


def _summary(seller_id: str, day: date, rows: list[Line], exported_at: datetime) -> str:
    out = io.StringIO()
    out.write(f"{SUMMARY_TITLE}\r\n#账号：[{seller_id}]\r\n{_period(day)}\r\n"
              f"{_RULE}业务汇总列表{'-' * 40}\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SUMMARY_COLUMNS)
    trades = sum(1 for line in rows if line.kind == TRADE)
    received = sum(line.received_fen for line in rows)
    fees = sum(line.fee_fen for line in rows)
    writer.writerow(["合计", "", str(trades), str(len(rows) - trades),
                     fen_to_yuan(sum(line.order_fen for line in rows if line.kind == TRADE)),
                     fen_to_yuan(received), "0.00", "0.00", "0.00", fen_to_yuan(fees), "0.00",
                     fen_to_yuan(received + fees)])
    out.write(f"{_RULE}业务汇总列表结束{'-' * 36}\r\n"
              f"#导出时间：[{exported_at:%Y年%m月%d日 %H:%M:%S}]\r\n")
    return out.getvalue()


def _sum(lines: list[Line]) -> str:
    return fen_to_yuan(sum(line.received_fen for line in lines))


def _gbk(text: str) -> bytes:
    return text.encode("gbk", errors="replace")


# -- reading --------------------------------------------------------------------------


def _unzip(packed: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(packed)) as archive:
            members = archive.infolist()
            if not 1 <= len(members) <= FILES_MAX:
                raise BillFormatError(f"a zip of {len(members)} files")
            texts = []
            for member in members:
                if member.file_size > BYTES_MAX:
                    raise BillFormatError("a file of the bill is larger than BYTES_MAX")
                with archive.open(member) as opened:
                    data = opened.read(BYTES_MAX + 1)
                if len(data) > BYTES_MAX:
                    raise BillFormatError("a file of the bill is larger than BYTES_MAX")
                texts.append(data.decode("gbk"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise BillFormatError(f"not a readable zip: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise BillFormatError("a file of the bill is not GBK text") from exc
    return texts


def _table(text: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows under the header ``names`` (the lines not starting with #)."""
    body = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(body) - 1 > ROWS_MAX:
        raise BillFormatError("too many rows")
    records = list(csv.reader(body))
    if not records or tuple(cell.strip() for cell in records[0]) != names:
        raise BillFormatError("the header is not the bill's columns")
    table = []
    for record in records[1:]:
        if len(record) != len(names):
            raise BillFormatError(f"a row of {len(record)} fields, expected {len(names)}")
        table.append({name: value.strip() for name, value in zip(names, record, strict=True)})
    return table


def _fen(text: str, column: str) -> Fen:
    try:
        return yuan_to_fen(text or "0", field=column, allow_negative=True)
    except MoneyError as exc:
        raise BillFormatError(str(exc)) from exc


def _row(record: dict[str, str]) -> tuple[BillRow, Fen]:
    kind = record["业务类型"]
    received = _fen(record["商家实收（元）"], "商家实收（元）")
    try:
        done_at = datetime.strptime(record["完成时间"], TIME_FORMAT)
    except ValueError as exc:
        raise BillFormatError(f"完成时间 {record['完成时间'][:20]!r}") from exc
    if kind == TRADE and received >= 0:
        row = BillRow(traded_at=done_at, out_trade_no=record["商户订单号"],
                      trade_no=record["支付宝交易号"], state=PAID, amount_fen=received)
    elif kind == REFUND_KIND and received <= 0:
        row = BillRow(traded_at=done_at, out_trade_no=record["商户订单号"],
                      trade_no=record["支付宝交易号"], state=REFUND, amount_fen=0,
                      refund_fen=-received, out_refund_no=record["退款批次号/请求号"],
                      refund_id=record["支付宝交易号"])
    else:
        raise BillFormatError(f"业务类型 {kind[:10]!r} with 商家实收 {received}")
    return row, _fen(record["服务费（元）"], "服务费（元）")


def _check(rows: list[tuple[BillRow, Fen]], total: dict[str, str]) -> None:
    trades = sum(1 for row, _ in rows if row.state == PAID)
    if (total["交易订单总笔数"], total["退款订单总笔数"]) != (str(trades),
                                                           str(len(rows) - trades)):
        raise BillFormatError(f"the summary counts {total['交易订单总笔数']} trades and "
                              f"{total['退款订单总笔数']} refunds, the detail "
                              f"{trades} and {len(rows) - trades}")
    received = sum(row.amount_fen - row.refund_fen for row, _ in rows)
    if _fen(total["商家实收（元）"], "商家实收（元）") != received:
        raise BillFormatError(f"商家实收 {total['商家实收（元）']} is not the sum of the rows")
    if _fen(total["服务费（元）"], "服务费（元）") != sum(fee for _, fee in rows):
        raise BillFormatError(f"服务费 {total['服务费（元）']} is not the sum of the rows")
