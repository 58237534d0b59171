"""Files exchanged with institutions (9101 upload, 9102 download): TXT files in a ZIP,
tab-separated, one record per line. Catalogue files (1301-1306) belong to the policy
centre ``plc`` and any institution may fetch them; other files only their owner."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select

from yibao.domain.errors import Refused
from yibao.services.context import Ctx
from yibao.store.schema import stored_file

POLICY_CENTRE = "plc"
FILE_BYTES_MAX = 20 * 1024 * 1024
UNZIPPED_BYTES_MAX = 64 * 1024 * 1024  # what the TXT files of an archive may add up to
# what zipfile raises for an archive it opens but cannot read: corrupt data, an
# unsupported compression method, encryption, a truncated member
_UNREADABLE = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
               UnicodeDecodeError, KeyError)


@dataclass(frozen=True, slots=True)
class StoredFile:
    file_qury_no: str
    filename: str
    content: bytes


def zip_rows(inner_name: str, rows: Iterable[Sequence[object]]) -> bytes:
    text = "".join("\t".join(_cell(v) for v in row) + "\n" for row in rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(inner_name, text.encode("utf-8"))
    return buffer.getvalue()


def unzip_rows(content: bytes) -> list[list[str]]:
    """The tab-separated rows of every TXT file in a ZIP (E-ENV-005 if it is not one)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            # declared sizes: zipfile never reads past them (a member that inflates
            # further fails its check), so a small bomb is refused before it is read
            if sum(info.file_size for info in archive.infolist()) > UNZIPPED_BYTES_MAX:
                raise Refused("E-ENV-006", f"files larger than {UNZIPPED_BYTES_MAX} bytes "
                              "once unzipped")
            text = "".join(
                archive.read(name).decode("utf-8-sig") for name in archive.namelist()
            )
    except _UNREADABLE as exc:
        raise Refused("E-ENV-005", "file is not a ZIP of UTF-8 TXT files") from exc
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")


def store(ctx: Ctx, owner: str, filename: str, content: bytes) -> str:
    if len(content) > FILE_BYTES_MAX:
        raise Refused("E-ENV-006", f"file larger than {FILE_BYTES_MAX} bytes")
    file_qury_no = ctx.ids.new("F")
    ctx.conn.execute(
        insert(stored_file).values(
            file_qury_no=file_qury_no, fixmedins_code=owner, filename=filename,
            content=content, created_at=ctx.now,
        )
    )
    return file_qury_no


def fetch(ctx: Ctx, file_qury_no: str, filename: str) -> StoredFile:
    row = ctx.conn.execute(
        select(stored_file).where(stored_file.c.file_qury_no == file_qury_no)
    ).mappings().first()
    if row is None or row["fixmedins_code"] not in (POLICY_CENTRE, ctx.institution.code):
        raise Refused("E-ENV-005", f"no file {file_qury_no[:40]} for this institution")
    if filename and filename != row["filename"]:
        raise Refused("E-ENV-005", f"file {file_qury_no} is named {row['filename']}")
    return StoredFile(row["file_qury_no"], row["filename"], row["content"])
