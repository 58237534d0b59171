"""Files, storage and exports attacked: 9101 with anything but the standard's ZIP, past
the size limits or the institution's quota; 9102 with a Chinese or quoted filename, or
after the download deadline; 1301 called again and again. Every refusal is checked to
store nothing."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import func, insert, select

from concurrency import run_threads
from flows import ok, refused
from yibao.api.hospital import ROUTE
from yibao.domain import archive
from yibao.services import files
from yibao.store.schema import catalogue_item, stored_file

OTHER = "H11010500002"
DAY = {"stmt_begndate": "2026-05-11", "stmt_enddate": "2026-05-11", "clr_type": "11"}


def a_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def stored(db, **where: Any) -> int:
    query = select(func.count()).select_from(stored_file)
    for name, value in where.items():
        query = query.where(stored_file.c[name] == value)
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def upload(his, content: bytes, filename: str = "stmt.zip") -> dict[str, Any]:
    return his.call("9101", {"fsUploadIn": {
        "in": base64.b64encode(content).decode("ascii"), "filename": filename,
        "fixmedins_code": his.code}})


def download_http(http, his, file_qury_no: str, filename: str, code: str):
    body = json.dumps(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": file_qury_no, "filename": filename, "fixmedins_code": code}}),
        ensure_ascii=False).encode()
    return http.post(ROUTE, content=body, headers=his.headers())


def fetch(his, file_qury_no: str, filename: str, code: str) -> dict[str, Any]:
    return his.call("9102", {"fsDownloadIn": {
        "file_qury_no": file_qury_no, "filename": filename, "fixmedins_code": code}})


# ------------------------------------------------------------ 9102 filenames


@pytest.mark.parametrize("name, ascii_name, encoded", [
    ("对账明细.zip", "____.zip", "%E5%AF%B9%E8%B4%A6%E6%98%8E%E7%BB%86.zip"),
    ('a"b\\c.zip', 'a\\"b\\\\c.zip', "a%22b%5Cc.zip"),
])
def test_9102_names_any_file_in_rfc_6266_form(db, http, his, name, ascii_name, encoded):
    content = a_zip({"stmt.txt": b"P1\tM1\n"})
    up = ok(upload(his, content, name))
    reply = download_http(http, his, up["file_qury_no"], name, his.code)
    assert reply.status_code == 200 and reply.content == content
    assert reply.headers["content-disposition"] == (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}")
    assert unquote(encoded) == name


# ------------------------------------------------------------ 9101 content


def _not_zips() -> dict[str, bytes]:
    good = a_zip({"detail.txt": b"S1\tM1\n"})
    return {
        "text": b"S1\tM1\tP1\t10.00\t8.00\t0\t0\n",
        "pdf": b"%PDF-1.4\n" + good,
        "truncated": good[: len(good) // 2],
        "empty zip": a_zip({}),
        "not txt": a_zip({"run.exe": b"MZ"}),
        "folder": a_zip({"../../etc/cron.txt": b"x"}),
        "encrypted": _encrypted(good),
    }


def _encrypted(good: bytes) -> bytes:
    raw = bytearray(good)
    raw[6] |= 1
    central = good.rindex(b"PK\x01\x02")
    raw[central + 8] |= 1
    return bytes(raw)


@pytest.mark.parametrize("kind", list(_not_zips()))
def test_9101_stores_only_a_zip_of_txt_files(db, his, kind):
    refused(upload(his, _not_zips()[kind]), "E-UPL-001")
    assert stored(db) == 0


def test_9101_refuses_a_file_over_the_size_limits(db, his):
    big = archive.ZIP_MAGIC + bytes(archive.UPLOAD_BYTES_MAX)
    refused(upload(his, big), "E-UPL-002")
    bomb = a_zip({"a.txt": bytes(archive.UNZIPPED_BYTES_MAX // 2 + 1),
                  "b.txt": bytes(archive.UNZIPPED_BYTES_MAX // 2 + 1)})
    assert len(bomb) < 200_000
    refused(upload(his, bomb), "E-UPL-002")
    assert stored(db) == 0


def test_9101_quota_per_institution_and_window(db, his, his_factory, clock, monkeypatch):
    monkeypatch.setattr(files, "QUOTA", archive.Quota(files_max=2, bytes_max=10_000))
    content = a_zip({"a.txt": b"a\n"})
    first = ok(upload(his, content))
    ok(upload(his, content))
    refused(upload(his, content), "E-UPL-003")
    assert stored(db, fixmedins_code=his.code) == 2
    ok(upload(his_factory(OTHER), content))  # another institution has its own quota
    clock.now += files.QUOTA_WINDOW + timedelta(seconds=1)
    ok(upload(his, content))
    assert stored(db, fixmedins_code=his.code) == 3
    assert first["dld_endtime"] == "2026-05-14 09:30:00"  # 72 hours


def test_9101_quota_counts_bytes_too(db, his, monkeypatch):
    monkeypatch.setattr(files, "QUOTA", archive.Quota(files_max=100, bytes_max=1000))
    noise = a_zip({"a.txt": os.urandom(600)})
    assert 600 < len(noise) < 1000
    ok(upload(his, noise))
    refused(upload(his, noise), "E-UPL-003")
    assert stored(db) == 1


# ------------------------------------------------------------ 1301 one file per version


def test_1301_stores_one_file_per_catalogue_version(db, his, his_factory, clock):
    first = ok(his.call("1301", {"data": {"ver": "0"}}))
    clock.now += timedelta(hours=1)
    again = ok(his.call("1301", {"data": {"ver": "0"}}))
    other = ok(his_factory(OTHER).call("1301", {"data": {"ver": "0"}}))
    assert again["file_qury_no"] == first["file_qury_no"] == other["file_qury_no"]
    assert again["filename"] == first["filename"]
    assert stored(db) == 1
    with db.write() as conn:
        conn.execute(insert(catalogue_item).values(
            region="110000", code="XA09ZZZ0009", name="新药", list_type="101",
            chrgitm_lv="01", selfpay_ratio="0", valid_from=date(2026, 1, 1), ver="20260101"))
    newer = ok(his.call("1301", {"data": {"ver": "0"}}))
    assert newer["file_qury_no"] != first["file_qury_no"] and newer["data_cnt"] == 4
    ok(his.call("1301", {"data": {"ver": "20240101"}}))  # only the new item: a third file
    ok(his.call("1301", {"data": {"ver": "20240101"}}))
    assert stored(db) == 3


def test_a_served_catalogue_file_stays_downloadable(db, his, clock):
    first = ok(his.call("1301", {"data": {"ver": "0"}}))
    assert first["dld_end_time"] == "2026-05-18"
    clock.now += timedelta(days=files.CATALOGUE_DOWNLOAD_DAYS, seconds=1)
    refused(fetch(his, first["file_qury_no"], first["filename"], "plc"), "E-UPL-005")
    again = ok(his.call("1301", {"data": {"ver": "0"}}))  # the same file, a new deadline
    assert again["file_qury_no"] == first["file_qury_no"]
    assert his.send_raw(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": again["file_qury_no"], "filename": again["filename"],
        "fixmedins_code": "plc"}}))[:4] == archive.ZIP_MAGIC
    assert stored(db) == 1


# ------------------------------------------------------------ 3202 dld_endtime


def _detail(his, file_qury_no: str) -> dict[str, Any]:
    return his.call("3202", {"data": {
        **DAY, "setl_optins": "110000", "file_qury_no": file_qury_no, "medfee_sumamt": "0",
        "fund_pay_sumamt": "0", "cash_payamt": "0", "fixmedins_setl_cnt": "0",
        "fixmedins_refd_setl_flag": "1"}})


def test_3202_result_cannot_be_downloaded_after_dld_endtime(db, his, clock):
    up = ok(upload(his, a_zip({"detail.txt": b""})))
    info = ok(_detail(his, up["file_qury_no"]))["fileinfo"]
    assert info["dld_endtime"] == "2026-05-12 09:30:00"
    clock.now += timedelta(hours=24)
    assert his.send_raw(his.envelope("9102", {"fsDownloadIn": {
        "file_qury_no": info["file_qury_no"], "filename": info["filename"],
        "fixmedins_code": his.code}}))[:4] == archive.ZIP_MAGIC  # at the deadline: served
    clock.now += timedelta(seconds=1)
    message = refused(fetch(his, info["file_qury_no"], info["filename"], his.code),
                      "E-UPL-005")
    assert "2026-05-12 09:30:00" in message
    assert stored(db) == 2  # refusing changed nothing


def test_3202_refuses_an_upload_past_its_deadline(db, his, clock):
    up = ok(upload(his, a_zip({"detail.txt": b""})))
    clock.now += timedelta(hours=files.UPLOAD_DOWNLOAD_HOURS, seconds=1)
    refused(_detail(his, up["file_qury_no"]), "E-UPL-005")
    assert stored(db) == 1


# ------------------------------------------------------------ at the same moment


def _message(his, infno: str, payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(his.envelope(infno, payload), ensure_ascii=False).encode()
    return his.headers(), body


def test_parallel_uploads_cannot_pass_the_quota_together(app, db, his, monkeypatch):
    monkeypatch.setattr(files, "QUOTA", archive.Quota(files_max=1, bytes_max=10_000))
    content = base64.b64encode(a_zip({"a.txt": b"a\n"})).decode()
    requests = [_message(his, "9101", {"fsUploadIn": {
        "in": content, "filename": f"{i}.zip", "fixmedins_code": his.code}})
        for i in range(4)]
    answers = run_threads(app.state.hospital.handle, requests)
    assert sorted(a["infcode"] for a in answers) == [-1, -1, -1, 0]
    assert all(a["err_msg"].startswith("E-UPL-003") for a in answers if a["infcode"])
    assert stored(db) == 1


def test_parallel_first_catalogue_calls_store_one_file(app, db, his_factory):
    hospitals = [his_factory(code) for code in ("H11010500001", OTHER, "H11010500003")]
    requests = [_message(h, "1301", {"data": {"ver": "0"}}) for h in hospitals]
    answers = run_threads(app.state.hospital.handle, requests)
    assert len({ok(a)["file_qury_no"] for a in answers}) == 1
    assert stored(db) == 1
