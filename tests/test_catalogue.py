"""The catalogue as the HIS downloads it: 1301/1305/1306 files fetched with 9102, the
1312/1318/1319 queries, 1901 dictionaries, and 9101 upload / 9102 download of own files."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import pytest

from flows import ok, refused
from yibao.api.hospital import ROUTE
from yibao.store.demo import CATALOGUE_LIMITED

OTHER = "H11010500002"
DRUGS = {"XA01AAA0001", "XB02BBB0002", "XC03CCC0003"}
LIMITED = {code for code, *_ in CATALOGUE_LIMITED}  # the demo items with usage limits


def D(value: object) -> Decimal:
    return Decimal(str(value))


def fetch(his, file_qury_no: str, filename: str, code: str = "plc") -> bytes:
    return his.send_raw(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": file_qury_no, "filename": filename, "fixmedins_code": code}}))


def rows_of(content: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        assert len(names) == 1 and names[0].endswith(".txt"), names
        text = archive.read(names[0]).decode("utf-8")
    return [row.split("\t") for row in text.splitlines()]


def download(his, infno: str, ver: str = "0") -> tuple[dict[str, Any], list[list[str]]]:
    answer = ok(his.call(infno, {"data": {"ver": ver}}))
    rows = rows_of(fetch(his, answer["file_qury_no"], answer["filename"]))
    assert len(rows) == answer["data_cnt"]
    return answer, rows


def a_zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


def upload_file(his, content: bytes, filename: str = "stmt.zip") -> dict[str, Any]:
    return ok(his.call("9101", {"fsUploadIn": {
        "in": base64.b64encode(content).decode("ascii"), "filename": filename,
        "fixmedins_code": his.code}}))


# ------------------------------------------------------------- 1301-1306 + 9102


def test_1301_drug_file_holds_the_three_demo_drugs(his):
    answer = ok(his.call("1301", {"data": {"ver": "0"}}))
    assert answer["data_cnt"] == 3
    assert answer["file_qury_no"] and answer["filename"].endswith(".zip")
    assert answer["filename"].startswith("1301_")
    rows = rows_of(fetch(his, answer["file_qury_no"], answer["filename"]))
    assert len(rows) == 3
    by_code = {row[0]: row for row in rows}
    assert set(by_code) == DRUGS
    # code, name, list_type, chrgitm_lv, price cap, self-pay ratio, ...
    assert by_code["XB02BBB0002"][2:4] == ["101", "02"]
    assert D(by_code["XB02BBB0002"][5]) == D("0.10")
    assert by_code["XA01AAA0001"][1].startswith("阿莫西林")
    assert by_code["XC03CCC0003"][3] == "03"
    assert all(len(row) == len(rows[0]) > 5 for row in rows)


def test_9102_answers_a_zip_file_not_json(his, http):
    answer = ok(his.call("1301", {"data": {"ver": "0"}}))
    body = json.dumps(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": answer["file_qury_no"], "filename": answer["filename"],
        "fixmedins_code": "plc"}}), ensure_ascii=False).encode()
    reply = http.post(ROUTE, content=body, headers=his.headers())
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/zip")
    assert answer["filename"] in reply.headers["content-disposition"]
    assert len(rows_of(reply.content)) == 3


def test_1305_services_and_1306_consumables(his):
    answer, services = download(his, "1305")
    assert answer["data_cnt"] == 5  # and the four with usage limits (docs/supervision.md)
    assert {row[0] for row in services} == {"001102000010000", *LIMITED}
    assert services[0][0] == "001102000010000"
    assert D(services[0][4]) == D("50.00")
    answer, consumables = download(his, "1306")
    assert answer["data_cnt"] == 1
    assert consumables[0][0] == "C01010101001"
    assert consumables[0][3] == "02"


@pytest.mark.parametrize("infno", ["1301", "1305", "1306"])
def test_a_version_newer_than_every_item_gives_nothing(his, infno):
    answer, rows = download(his, infno, ver="20240101")
    assert answer["data_cnt"] == 0 and rows == []
    answer, rows = download(his, infno, ver="20991231")
    assert answer["data_cnt"] == 0 and rows == []
    answer, rows = download(his, infno, ver="20231231")
    assert answer["data_cnt"] >= 1 and len(rows) == answer["data_cnt"]


def test_catalogue_files_can_be_fetched_by_any_institution(his, his_factory):
    answer = ok(his.call("1301", {"data": {"ver": "0"}}))
    other = his_factory(OTHER)
    rows = rows_of(fetch(other, answer["file_qury_no"], answer["filename"]))
    assert {row[0] for row in rows} == DRUGS


def test_9102_with_a_wrong_filename_or_unknown_number_is_refused(his):
    answer = ok(his.call("1301", {"data": {"ver": "0"}}))
    wrong_name = json.loads(fetch(his, answer["file_qury_no"], "other.zip"))
    assert wrong_name["infcode"] == -1 and wrong_name["err_msg"].startswith("E-UPL-004")
    unknown = json.loads(fetch(his, "F0000000000000000000", answer["filename"]))
    assert unknown["infcode"] == -1 and unknown["err_msg"].startswith("E-UPL-004")


# ------------------------------------------------------------ 1312 / 1318 / 1319


def test_1312_pages_through_the_items(his):
    first = ok(his.call("1312", {"data": {"page_num": "1", "page_size": "2"}}))
    assert (first["recordCounts"], first["pages"], first["pageNum"], first["pageSize"]) == (
        9, 5, 1, 2)
    assert first["firstPage"] is True and first["lastPage"] is False
    pages = [first] + [ok(his.call("1312", {"data": {"page_num": str(n), "page_size": "2"}}))
                       for n in range(2, 6)]
    assert pages[-1]["lastPage"] is True and pages[-1]["firstPage"] is False
    codes = [r["hilist_code"] for page in pages for r in page["data"]]
    assert [len(p["data"]) for p in pages] == [2, 2, 2, 2, 1]
    assert sorted(codes) == sorted(DRUGS | {"001102000010000", "C01010101001"} | LIMITED)
    beyond = ok(his.call("1312", {"data": {"page_num": "6", "page_size": "2"}}))
    assert beyond["data"] == []


def test_1312_by_code_and_query_date(his):
    page = ok(his.call("1312", {"data": {"hilist_code": "XB02BBB0002", "page_num": "1",
                                         "page_size": "10"}}))
    assert [(r["hilist_code"], r["chrgitm_lv"], r["list_type"]) for r in page["data"]] == [
        ("XB02BBB0002", "02", "101")]
    before = ok(his.call("1312", {"data": {"query_date": "2019-12-31", "page_num": "1",
                                           "page_size": "10"}}))
    assert before["data"] == [] and before["recordCounts"] == 0


@pytest.mark.parametrize("page", [{"page_num": "0", "page_size": "2"},
                                  {"page_num": "1", "page_size": "x"}])
def test_1312_refuses_bad_paging(his, page):
    refused(his.call("1312", {"data": page}), "E-ENV-005")


def test_1318_returns_the_price_cap(his):
    page = ok(his.call("1318", {"data": {"page_num": "1", "page_size": "10"}}))
    assert [(r["hilist_code"], D(r["hilist_pric_uplmt_amt"])) for r in page["data"]] == [
        ("001102000010000", D("50.00"))]
    one = ok(his.call("1318", {"data": {"hilist_code": "001102000010000"}}))
    assert D(one["data"][0]["hilist_pric_uplmt_amt"]) == D("50.00")
    none = ok(his.call("1318", {"data": {"hilist_code": "XA01AAA0001"}}))
    assert none["data"] == []


def test_1319_returns_the_self_pay_ratios_of_the_class_b_items(his):
    page = ok(his.call("1319", {"data": {"page_num": "1", "page_size": "10"}}))
    got = {r["hilist_code"]: D(r["selfpay_prop"]) for r in page["data"]}
    assert got == {"XB02BBB0002": D("0.10"), "C01010101001": D("0.20")}


# ------------------------------------------------------------------------ 1901


def dictionary(his, name: str) -> dict[str, str]:
    rows = ok(his.call("1901", {"data": {"type": name, "parentValue": ""}}))["list"]
    assert all(r["type"] == name for r in rows)
    return {r["value"]: r["label"] for r in rows}


def test_1901_med_type_has_the_national_values(his):
    table = dictionary(his, "med_type")
    assert table["11"] == "普通门诊" and table["21"] == "普通住院"
    assert {"11", "13", "14", "19", "21", "24", "51", "52"} <= set(table)


def test_1901_gend_has_the_spec_values(his):
    assert dictionary(his, "gend") == {"0": "未知", "1": "男", "2": "女", "9": "未说明性别"}


def test_1901_unknown_type_is_refused(his):
    refused(his.call("1901", {"data": {"type": "no_such_table"}}), "E-ENV-007")


# ------------------------------------------------------------------ 9101 / 9102


def test_9101_upload_then_9102_download_returns_identical_bytes(his):
    content = a_zip("stmt.txt", "P1\tM1\tS1\t0\n")
    up = upload_file(his, content)
    assert (up["filename"], up["fixmedins_code"]) == ("stmt.zip", his.code)
    assert up["file_qury_no"]
    assert fetch(his, up["file_qury_no"], "stmt.zip", his.code) == content


def test_9101_accepts_the_file_as_a_byte_array(his):
    content = a_zip("list.txt", "1\t2\n")
    up = ok(his.call("9101", {"fsUploadIn": {"in": list(content), "filename": "list.zip",
                                              "fixmedins_code": his.code}}))
    assert fetch(his, up["file_qury_no"], "list.zip", his.code) == content
    refused(his.call("9101", {"fsUploadIn": {"in": [1, 256], "filename": "x.zip",
                                              "fixmedins_code": his.code}}), "E-ENV-005")


def test_another_institution_cannot_download_an_uploaded_file(his, his_factory):
    up = upload_file(his, a_zip("stmt.txt", "secret\n"))
    other = his_factory(OTHER)
    raw = fetch(other, up["file_qury_no"], "stmt.zip", other.code)
    answer = json.loads(raw)
    assert answer["infcode"] == -1
    assert answer["err_msg"]
    assert b"secret" not in raw


def test_two_uploads_get_distinct_numbers(his):
    first = upload_file(his, a_zip("a.txt", "a\n"), "a.zip")
    second = upload_file(his, a_zip("b.txt", "b\n"), "b.zip")
    assert first["file_qury_no"] != second["file_qury_no"]
    assert rows_of(fetch(his, second["file_qury_no"], "b.zip", his.code)) == [["b"]]


def test_9101_refuses_bad_content_and_foreign_codes(his):
    refused(his.call("9101", {"fsUploadIn": {"in": "not base64!!", "filename": "x.zip",
                                              "fixmedins_code": his.code}}), "E-ENV-005")
    refused(his.call("9101", {"fsUploadIn": {"in": "", "filename": "x.zip",
                                              "fixmedins_code": his.code}}), "E-ENV-004")
    content = base64.b64encode(a_zip("x.txt", "x\n")).decode()
    refused(his.call("9101", {"fsUploadIn": {"in": content, "filename": "x.zip",
                                              "fixmedins_code": OTHER}}), "E-AUTH-006")


def test_9101_retry_with_the_same_msgid_stores_one_file(his):
    content = base64.b64encode(a_zip("x.txt", "x\n")).decode()
    message = his.envelope("9101", {"fsUploadIn": {"in": content, "filename": "x.zip",
                                                   "fixmedins_code": his.code}})
    first, again = his.send(message), his.send(message)
    assert first["infcode"] == 0 and again["output"] == first["output"]
