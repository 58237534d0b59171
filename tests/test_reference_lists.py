"""Code lists beside the item catalogue: 1307-1315 downloads, 1304 and 1316 queries."""

from __future__ import annotations

import io
import zipfile

from flows import ok


def download(his, infno: str, ver: str = "0") -> list[list[str]]:
    answer = ok(his.call(infno, {"data": {"ver": ver}}))
    raw = his.send_raw(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": answer["file_qury_no"], "filename": answer["filename"],
        "fixmedins_code": "plc"}}))
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    rows = [row.split("\t") for row in text.splitlines()]
    assert len(rows) == answer["data_cnt"]
    return rows


def test_disease_operation_and_chronic_lists(his):
    diseases = download(his, "1307")
    assert ["J18.900", "肺炎"] in [row[:2] for row in diseases]
    assert [row[0] for row in download(his, "1308")] == ["47.0100"]
    assert {row[0] for row in download(his, "1309")} == {"M03900", "M01600"}
    assert download(his, "1307", ver="20240101") == []
    assert download(his, "1310") == []


def test_list_matching_and_ethnic_drugs(his):
    page = ok(his.call("1316", {"data": {"med_list_codg": "XB02BBB0002", "page_num": "1",
                                         "page_size": "10"}}))
    assert [(r["med_list_codg"], r["hilist_code"]) for r in page["data"]] == [
        ("XB02BBB0002", "XB02BBB0002")]
    assert ok(his.call("1304", {"data": {"page_num": 1, "page_size": 10}}))["data"] == []
