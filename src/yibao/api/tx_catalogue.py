"""Catalogue and files: 1301-1306 downloads, 1312/1318/1319 queries, 1901 dictionaries,
9101 upload and 9102 download; the institution's catalogue matchings (3301/3302, listed
by 1317) and the institutions (1201)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer, FileReply, Handler
from yibao.domain import paging
from yibao.domain.catalogue import charge_category
from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.domain.text import is_digits
from yibao.services import catalogue, files, matching
from yibao.services import institutions as institution_service
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


def read_page(data: Fields, *, required: bool = False,
              size_max: int = catalogue.PAGE_SIZE_MAX) -> Page:
    """page_num and page_size (default 1 and 100 unless ``required``; a size above
    ``size_max`` is cut to it)."""
    for name in ("page_num", "page_size"):
        value = data.text(name, required=required, max_len=6)
        if value and not is_digits(value):
            raise Refused("E-ENV-005", f"{data.where}.{name} must be a number")
    num = int(data.text("page_num", required=False, max_len=6) or "1")
    size = int(data.text("page_size", required=False, max_len=6) or "100")
    return paging.numbered(num, size, size_max)


def paged_answer(found: tuple[list[Any], int], page: Page, render: Any, *,
                 node: str = "data") -> dict[str, Any]:
    """One page of rows under ``node``, with how many there are and the page's place."""
    rows, total = found
    num, pages = page.offset // page.limit + 1, paging.pages(total, page.limit)
    return {node: [render(r) for r in rows], "recordCounts": total, "pageNum": num,
            "pageSize": page.limit, "pages": pages, "firstPage": num == 1,
            "lastPage": num >= pages}


def _query(inp: Fields, **only: Any) -> tuple[Fields, ItemFilter, Page]:
    data = inp.child("data")
    page = read_page(data)
    day = data.day("query_date", required=False)
    code = data.text("hilist_code", required=False, max_len=50)
    return data, ItemFilter(code=code, day=day, **only), page


def _base(call: Call, r: Any) -> dict[str, Any]:
    return {"hilist_code": r["code"], "insu_admdvs": call.institution.pool_area,
            "begndate": r["valid_from"].isoformat(),
            "enddate": r["valid_to"].isoformat() if r["valid_to"] else "", "vali_flag": "1"}


def hilist(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp)
    return paged_answer(catalogue.item_page(call, only, page), page, lambda r: dict(
        _base(call, r), hilist_name=r["name"], list_type=r["list_type"],
        chrgitm_lv=r["chrgitm_lv"], lmt_used_flag="0",
        med_chrgitm_type=charge_category(r["med_chrgitm_type"], r["list_type"]),
        med_use_flag="1", matn_used_flag="0", hilist_use_type="1", lmt_cpnd_type="0",
        ver=r["ver"]))


def ethnic_drugs(call: Call, inp: Fields) -> dict[str, Any]:
    page = read_page(inp.child("data"))
    return paged_answer(catalogue.reference_page(call, "ethnic", page), page, lambda r: {
        "med_list_codg": r["code"], "drug_prodname": r["name"], "drug_genname": r["name"],
        "vali_flag": "1", "ver": r["ver"]})


def list_matching(call: Call, inp: Fields) -> dict[str, Any]:
    """In yibao the medical list code and the insurance list code are the same item."""
    data, only, page = _query(inp)
    code = only.code or data.text("med_list_codg", required=False, max_len=50)
    found = catalogue.item_page(call, replace(only, code=code), page)
    return paged_answer(found, page, lambda r: dict(
        _base(call, r), med_list_codg=r["code"], list_type=r["list_type"], memo="",
        rid=f"{r['region']}-{r['code']}", updt_time=r["valid_from"].isoformat()))


def price_limits(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp, capped=True)
    return paged_answer(catalogue.item_page(call, only, page), page, lambda r: dict(
        _base(call, r), hilist_lmtpric_type="1", overlmt_dspo_way="1",
        hilist_pric_uplmt_amt=r["price_cap"]))


def selfpay_ratios(call: Call, inp: Fields) -> dict[str, Any]:
    _, only, page = _query(inp, chrgitm_lv="02")
    return paged_answer(catalogue.item_page(call, only, page), page, lambda r: dict(
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


def institutions(call: Call, inp: Fields) -> dict[str, Any]:
    """1201 医药机构信息获取: ``medinsinfo{fixmedins_type, fixmedins_name (a part of the
    name), fixmedins_code}`` -> ``medinsinfo[]`` (every match, by code; empty when none)."""
    node = inp.child("medinsinfo")
    found = institution_service.look_up(
        call.conn, node.code("fixmedins_type", catalogue.dictionaries()["fixmedins_type"]
                             ["values"]),
        name_part=node.text("fixmedins_name", required=False, max_len=200),
        code=node.text("fixmedins_code", required=False, max_len=30))
    return {"medinsinfo": [
        {"fixmedins_code": f.code, "fixmedins_name": f.name, "uscc": f.uscc,
         "fixmedins_type": f.fixmedins_type, "hosp_lv": f.hosp_lv, "exp_content": ""}
        for f in found]}


MATCHING_DETAIL = (("aprvno", 30), ("dosform", 200), ("exct_cont", 2000), ("item_cont", 2000),
                   ("prcunt", 100), ("spec", 200), ("pacspec", 100), ("memo", 500))


def _list_type(node: Fields) -> str:
    return node.code("list_type", catalogue.dictionaries()["list_type"]["values"])


def upload_matching(call: Call, inp: Fields) -> dict[str, Any]:
    """3301 目录对照上传: ``data``, one object or a list of them; each item must be in
    the catalogue of the caller's area (E-CAT-001)."""
    items = inp.list_of("data")
    if not items:
        raise Refused("E-ENV-004", "input.data is empty")
    rows = []
    for item in items:
        begin, end = item.day("begndate"), item.day("enddate")
        assert begin is not None and end is not None
        detail = ((name, item.text(name, required=False, max_len=length))
                  for name, length in MATCHING_DETAIL)
        rows.append(matching.Matching(
            medins_code=item.text("fixmedins_hilist_id", max_len=30),
            medins_name=item.text("fixmedins_hilist_name", max_len=200),
            list_type=_list_type(item), list_code=item.text("med_list_codg", max_len=30),
            begin=begin, end=end, detail=tuple((k, v) for k, v in detail if v)))
    matching.upload(call, rows)
    return {}


def cancel_matching(call: Call, inp: Fields) -> dict[str, Any]:
    """3302 目录对照撤销: ``data{fixmedins_code, fixmedins_hilist_id, list_type,
    med_list_codg}`` (the standard names no node: a body without ``data`` is read as
    the node itself)."""
    data = inp.child("data") if "data" in inp.node else inp
    if data.text("fixmedins_code", max_len=30) != call.institution.code:
        raise Refused("E-AUTH-006", f"{data.where}.fixmedins_code")
    matching.cancel(call, data.text("fixmedins_hilist_id", max_len=30), _list_type(data),
                    data.text("med_list_codg", max_len=30))
    return {}


def institution_matching(call: Call, inp: Fields) -> dict[str, Any]:
    """1317 医药机构目录匹配信息查询: the caller's matchings (3301) updated at or after
    ``updt_time``, paged as 1312 (page_num and page_size required)."""
    data = inp.child("data")
    page = read_page(data, required=True)
    code = data.text("fixmedins_code", required=False, max_len=30)
    if code and code != call.institution.code:
        raise Refused("E-AUTH-006", f"{data.where}.fixmedins_code")
    updated = data.moment("updt_time")
    assert updated is not None
    vali_flag = data.text("vali_flag", required=False, max_len=3)
    if vali_flag not in ("", matching.IN_FORCE, matching.CANCELLED):
        raise Refused("E-ENV-007", f"{data.where}.vali_flag={vali_flag}")
    found = matching.listed(call, matching.MatchingFilter(
        updated=updated, day=data.day("query_date", required=False),
        medins_code=data.text("medins_list_codg", required=False, max_len=30),
        medins_name=data.text("medins_list_name", required=False, max_len=200),
        list_type=data.text("list_type", required=False, max_len=30),
        list_code=data.text("med_list_codg", required=False, max_len=30),
        begin=data.day("begndate", required=False), vali_flag=vali_flag), page)
    return paged_answer(found, page, _matching_row)


def _matching_row(r: Any) -> dict[str, Any]:
    detail = matching.detail_of(r)
    return {
        "fixmedins_code": r["fixmedins_code"], "medins_list_codg": r["medins_list_codg"],
        "medins_list_name": r["medins_list_name"], "insu_admdvs": r["insu_admdvs"],
        "list_type": r["list_type"], "med_list_codg": r["med_list_codg"],
        "begndate": r["begndate"].isoformat(), "enddate": r["enddate"].isoformat(),
        **{name: detail.get(name, "") for name, _length in MATCHING_DETAIL},
        "vali_flag": r["vali_flag"], "rid": r["rid"], "updt_time": r["updt_time"],
        "crter_id": "", "crter_name": "", "crte_time": r["crte_time"],
        "crte_optins_no": r["fixmedins_code"], "opter_id": "", "opter_name": r["opter_name"],
        "opt_time": r["updt_time"], "optins_no": r["fixmedins_code"],
        "poolarea_no": r["insu_admdvs"],
    }
