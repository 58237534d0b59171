"""Files exchanged with institutions (9101 upload, 9102 download): TXT files in a ZIP,
tab-separated, one record per line. Catalogue files (1301-1315) belong to the policy
centre ``plc`` and any institution may fetch them; other files only their owner. Every
file has a download deadline (``dld_endtime``): 9102 refuses it afterwards and
``yibao purge`` removes it (services/retention.py)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from yibao.domain import archive
from yibao.domain.errors import Refused
from yibao.services.context import Call
from yibao.store import institutions
from yibao.store.schema import stored_file

POLICY_CENTRE = "plc"
UPLOAD = "upload"
RESULT = "result"
CATALOGUE = "catalogue"
UPLOAD_DOWNLOAD_HOURS = 72  # an uploaded file serves 3202 (and 9102) this long
CATALOGUE_DOWNLOAD_DAYS = 7  # from the last 1301-1315 call that answered the file
QUOTA_WINDOW = timedelta(hours=24)
QUOTA = archive.Quota(files_max=200, bytes_max=100 * 1024 * 1024)
UNZIPPED_BYTES_MAX = archive.UNZIPPED_BYTES_MAX
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # members carry no clock: equal rows, equal bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    file_qury_no: str
    filename: str
    content: bytes
    dld_endtime: datetime


def zip_rows(inner_name: str, rows: Iterable[Sequence[object]]) -> bytes:
    text = "".join("\t".join(_cell(v) for v in row) + "\n" for row in rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        member = zipfile.ZipInfo(inner_name, date_time=_ZIP_TIME)
        zipped.writestr(member, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def unzip_rows(content: bytes) -> list[list[str]]:
    """The tab-separated rows of every TXT file in a ZIP (E-ENV-005 if it is not one)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zipped:
            # declared sizes: zipfile never reads past them (a member that inflates
            # further fails its check), so a small bomb is refused before it is read
            if sum(info.file_size for info in zipped.infolist()) > UNZIPPED_BYTES_MAX:
                raise Refused("E-ENV-006", f"files larger than {UNZIPPED_BYTES_MAX} bytes "
                              "once unzipped")
            text = "".join(
                zipped.read(name).decode("utf-8-sig") for name in zipped.namelist()
            )
    except archive.UNREADABLE as exc:
        raise Refused("E-ENV-005", "file is not a ZIP of UTF-8 TXT files") from exc
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")


def store(call: Call, owner: str, filename: str, content: bytes, *, kind: str,
          dld_endtime: datetime, content_key: str | None = None) -> str:
    file_qury_no = call.ids.new("F")
    call.conn.execute(insert(stored_file).values(
        file_qury_no=file_qury_no, fixmedins_code=owner, filename=filename, content=content,
        created_at=call.now, kind=kind, content_key=content_key, dld_endtime=dld_endtime))
    return file_qury_no


def upload(call: Call, filename: str, content: bytes) -> tuple[str, datetime]:
    """9101: the institution's ZIP, checked and within its quota; its number and deadline."""
    archive.check_upload(content)
    code = call.institution.code
    # one upload of an institution at a time, so two cannot both pass the quota
    institutions.lock(call.conn, code)
    c = stored_file.c
    held_files, held_bytes = call.conn.execute(
        select(func.count(), func.coalesce(func.sum(func.length(c.content)), 0)).where(
            c.fixmedins_code == code, c.kind == UPLOAD,
            c.created_at > call.now - QUOTA_WINDOW)).one()
    archive.check_quota(QUOTA, int(held_files), int(held_bytes), len(content))
    deadline = call.now + timedelta(hours=UPLOAD_DOWNLOAD_HOURS)
    return store(call, code, filename, content, kind=UPLOAD, dld_endtime=deadline), deadline


def catalogue_file(call: Call, key: str, filename: str, content: bytes) -> StoredFile:
    """The one stored file of a catalogue version (``key``): made by the first call, served
    to every later one, its deadline moved on by each."""
    deadline = call.now + timedelta(days=CATALOGUE_DOWNLOAD_DAYS)
    found = _by_key(call, key, deadline)
    if found is not None:
        return found
    # a concurrent first call of the same version stored it: read that one
    with suppress(IntegrityError), call.conn.begin_nested():
        store(call, POLICY_CENTRE, filename, content, kind=CATALOGUE, dld_endtime=deadline,
              content_key=key)
    found = _by_key(call, key, deadline)
    assert found is not None, key
    return found


def _by_key(call: Call, key: str, deadline: datetime) -> StoredFile | None:
    c = stored_file.c
    # moving the deadline first keeps a concurrent purge from removing the file
    call.conn.execute(update(stored_file).where(c.content_key == key, c.dld_endtime < deadline)
                     .values(dld_endtime=deadline))
    row = call.conn.execute(select(c.file_qury_no, c.filename, c.content, c.dld_endtime)
                           .where(c.content_key == key)).first()
    return None if row is None else StoredFile(*row)


def fetch(call: Call, file_qury_no: str, filename: str) -> StoredFile:
    """A file this institution may read, before its deadline (E-UPL-004, E-UPL-005)."""
    c = stored_file.c
    row = call.conn.execute(
        select(c.file_qury_no, c.filename, c.content, c.dld_endtime, c.fixmedins_code)
        .where(c.file_qury_no == file_qury_no)).first()
    if row is None or row.fixmedins_code not in (POLICY_CENTRE, call.institution.code):
        raise Refused("E-UPL-004", f"no file {file_qury_no[:40]} for this institution")
    if filename and filename != row.filename:
        raise Refused("E-UPL-004", f"file {file_qury_no} has another filename")
    if call.now > row.dld_endtime:
        raise Refused("E-UPL-005", f"file {file_qury_no} could be downloaded until "
                      f"{row.dld_endtime:%Y-%m-%d %H:%M:%S}")
    return StoredFile(row.file_qury_no, row.filename, row.content, row.dld_endtime)
