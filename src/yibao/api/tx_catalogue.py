"""Catalogue and files: 1301-1306 downloads, 1312/1318/1319 queries, 1901 dictionaries,
9101 upload and 9102 download."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer, FileReply, Handler
from yibao.domain import paging
from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.domain.text import is_digits
from yibao.services import catalogue, files
from yibao.services.catalogue import ItemFilter
from yibao.services.context import Call, Effect, EffectKind

ITEM_DOWNLOADS = {
    "1301": ("西药中成药目录下载", ("101",)),
    "1302": ("中药饮片目录下载", ("102",)),
    "1303": ("医疗机构制剂目录下载", ("103",)),
    "1305": ("医疗服务项目目录下载", ("201",)),
    "1306": ("医用耗材目录下载", ("301",)),
}
REFERENCE_DOWNLOADS = {
    "1307": ("疾病与诊断目录下载", "disease"),
    "1308": ("手术操作目录下载", "operation"),
    "1309": ("门诊慢特病种目录下载", "chronic"),
    "1310": ("按病种付费病种目录下载", "bydise"),
    "1311": ("日间手术治疗病种目录下载", "daysurg"),
    "1313": ("肿瘤形态学目录下载", "tumour"),
    "1314": ("中医疾病目录下载", "tcm_dise"),
    "1315": ("中医证候目录下载", "tcm_synd"),
}


def item_download(infno: str, list_types: tuple[str, ...]) -> Handler:
    """The handler of a catalogue download (ITEM_DOWNLOADS): items of ``list_types``."""

    def download(call: Call, inp: Fields) -> dict[str, Any]:
        ver = inp.child("data").text("ver", max_len=20)
        rows = catalogue.items(call, ItemFilter(list_types=list_types, after_ver=ver))
        return catalogue.download_file(call, infno, rows, catalogue.ITEM_COLUMNS)

    return download


def reference_download(infno: str, kind: str) -> Handler:
    """The handler of a code-list download (REFERENCE_DOWNLOADS): the list ``kind``."""

    def download(call: Call, inp: Fields) -> dict[str, Any]:
        ver = inp.child("data").text("ver", max_len=20)
        rows = catalogue.reference(call, kind, after_ver=ver)
        return catalogue.download_file(call, infno, rows, catalogue.REFERENCE_COLUMNS)

    return download


def _page(data: Fields) -> Page:
    """page_num and page_size (default 1 and 100; a size above PAGE_SIZE_MAX is cut)."""
    for name in ("page_num", "page_size"):
        value = data.text(name, required=False, max_len=6)
        if value and not is_digits(value):
            raise Refused("E-ENV-005", f"input.data.{name} must be a number")
    num = int(data.text("page_num", required=False, max_len=6) or "1")
    size = int(data.text("page_size", required=False, max_len=6) or "100")
    return paging.numbered(num, size, catalogue.PAGE_SIZE_MAX)


def _answer(found: tuple[list[Any], int], page: Page, render: Any) -> dict[str, Any]:
    rows, total = found
    num, pages = page.offset // page.limit + 1, paging.pages(total, page.limit)
    return {"data": [render(r) for r in rows], "recordCounts": total, "pageNum": num,
            "pageSize": page.limit, "pages": pages, "firstPage": num == 1,
            "lastPage": num >= pages}


def _query(inp: Fields, **only: Any) -> tuple[Fields, ItemFilter, Page]:
    data = inp.child("data")
    page = _page(data)
    day = data.day("query_date", required=False)
    code = data.text("hilist_code", required=False, max_len=50)
    return data, ItemFilter(code=code, day=day, **only), page


def _base(call: Call, r: Any) -> dict[str, Any]:
    return {"hilist_code": r["code"], "insu_admdvs": call.institution.pool_area,
            "begndate": r["valid_from"].isoformat(),
            "enddate": r["valid_to"].isoformat() if r["valid_to"] else "", "vali_flag": "1"}


def hilist(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp)
    return _answer(catalogue.item_page(call, only, page), page, lambda r: dict(
        _base(call, r), hilist_name=r["name"], list_type=r["list_type"],
        chrgitm_lv=r["chrgitm_lv"], med_chrgitm_type=r["list_type"], lmt_used_flag="0",
        med_use_flag="1", matn_used_flag="0", hilist_use_type="1", lmt_cpnd_type="0",
        ver=r["ver"]))


def ethnic_drugs(call: Call, inp: Fields) -> dict[str, Any]:
    page = _page(inp.child("data"))
    return _answer(catalogue.reference_page(call, "ethnic", page), page, lambda r: {
        "med_list_codg": r["code"], "drug_prodname": r["name"], "drug_genname": r["name"],
        "vali_flag": "1", "ver": r["ver"]})


def list_matching(call: Call, inp: Fields) -> dict[str, Any]:
    """In yibao the medical list code and the insurance list code are the same item."""
    data, only, page = _query(inp)
    code = only.code or data.text("med_list_codg", required=False, max_len=50)
    found = catalogue.item_page(call, replace(only, code=code), page)
    return _answer(found, page, lambda r: dict(
        _base(call, r), med_list_codg=r["code"], list_type=r["list_type"], memo="",
        rid=f"{r['region']}-{r['code']}", updt_time=r["valid_from"].isoformat()))


def price_limits(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp, capped=True)
    return _answer(catalogue.item_page(call, only, page), page, lambda r: dict(
        _base(call, r), hilist_lmtpric_type="1", overlmt_dspo_way="1",
        hilist_pric_uplmt_amt=r["price_cap"]))


def selfpay_ratios(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp, chrgitm_lv="02")
    return _answer(catalogue.item_page(call, only, page), page, lambda r: dict(
        _base(call, r), selfpay_prop_psn_type="", selfpay_prop_type="1",
        selfpay_prop=r["selfpay_ratio"]))


def dictionary(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    name = data.text("type", max_len=30)
    table = catalogue.dictionaries().get(name)
    if table is None:
        raise Refused("E-ENV-007", f"no dictionary {name}")
    created = datetime(2024, 1, 1).date().isoformat()
    return {"list": [
        {"type": name, "label": label, "value": value, "parentValue": "", "sort": i,
         "valiFlag": "1", "createUser": "yibao", "createDate": created, "version": 1}
        for i, (value, label) in enumerate(table["values"].items(), start=1)
    ]}


def _bytes(node: Fields) -> bytes:
    raw = node.node.get("in")
    if isinstance(raw, list):
        try:
            return bytes(int(b) for b in raw)
        except (TypeError, ValueError) as exc:
            raise Refused("E-ENV-005", "fsUploadIn.in must be bytes 0..255") from exc
    if isinstance(raw, str) and raw:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused("E-ENV-005", "fsUploadIn.in is not base64") from exc
    raise Refused("E-ENV-004", "input.fsUploadIn.in")


def upload(call: Call, inp: Fields) -> Answer:
    node = inp.child("fsUploadIn")
    filename = node.text("filename", max_len=200)
    code = node.text("fixmedins_code", max_len=30)
    if code != call.institution.code:
        raise Refused("E-AUTH-006", "fsUploadIn.fixmedins_code")
    file_qury_no, deadline = files.upload(call, filename, _bytes(node))
    return Answer({"file_qury_no": file_qury_no, "filename": filename, "fixmedins_code": code,
                   "dld_endtime": f"{deadline:%Y-%m-%d %H:%M:%S}"},
                  Effect(EffectKind.FILE, file_qury_no))


def download(call: Call, inp: Fields) -> FileReply:
    node = inp.child("fsDownloadIn")
    stored = files.fetch(
        call, node.text("file_qury_no", max_len=60),
        node.text("filename", required=False, max_len=200),
    )
    return FileReply(stored.filename, stored.content)
