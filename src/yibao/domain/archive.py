"""What an institution may store with 9101: the standard's file, a ZIP of TXT files,
within limits. Pure rules: bytes (and counts) in, a refusal out."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from yibao.domain.errors import Refused

ZIP_MAGIC = b"PK\x03\x04"  # a local file header: an archive with at least one member
UPLOAD_BYTES_MAX = 1024 * 1024  # the ZIP itself: its base64 fits the string limit of every route
UNZIPPED_BYTES_MAX = 64 * 1024 * 1024  # what its TXT files may add up to once unzipped
MEMBERS_MAX = 100
NAME_LENGTH_MAX = 200
# what zipfile raises for an archive it opens but cannot read: corrupt data, an
# unsupported compression method, encryption, a truncated member
UNREADABLE = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
              UnicodeDecodeError, KeyError, ValueError)
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@dataclass(frozen=True, slots=True)
class Quota:
    """What one institution may upload in a window of time."""

    files_max: int
    bytes_max: int


def check_upload(content: bytes) -> None:
    """Refuse anything but a readable ZIP of TXT files within the limits (E-UPL-001/002).
    Every member is read (its CRC checked): zipfile never inflates a member past its
    declared size, and the declared sizes are bounded first, so a bomb costs nothing."""
    if len(content) > UPLOAD_BYTES_MAX:
        raise Refused("E-UPL-002", f"file larger than {UPLOAD_BYTES_MAX} bytes")
    if not content.startswith(ZIP_MAGIC):
        raise Refused("E-UPL-001", "not a ZIP archive (no PK header)")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            check_members(members)
            for info in members:
                with archive.open(info) as member:  # read through: zipfile checks the CRC
                    while member.read(1 << 20):
                        continue
    except UNREADABLE as exc:
        raise Refused("E-UPL-001", "the ZIP archive cannot be read") from exc


def check_members(members: list[zipfile.ZipInfo]) -> None:
    """The members of an archive: TXT files, plain names, unencrypted, bounded sizes."""
    if not 1 <= len(members) <= MEMBERS_MAX:
        raise Refused("E-UPL-001", f"1 to {MEMBERS_MAX} TXT files expected")
    for info in members:
        name = info.filename
        if (info.is_dir() or not name.lower().endswith(".txt") or "/" in name
                or "\\" in name or len(name) > NAME_LENGTH_MAX):
            raise Refused("E-UPL-001", "members must be TXT files without folders")
        if info.flag_bits & 1 or info.compress_type not in _METHODS:
            raise Refused("E-UPL-001", "members must be stored or deflated, unencrypted")
    if sum(info.file_size for info in members) > UNZIPPED_BYTES_MAX:
        raise Refused("E-UPL-002", f"files larger than {UNZIPPED_BYTES_MAX} bytes unzipped")


def check_quota(quota: Quota, held_files: int, held_bytes: int, size: int) -> None:
    """Refuse an upload that would take an institution past its quota (E-UPL-003)."""
    if held_files + 1 > quota.files_max:
        raise Refused("E-UPL-003", f"at most {quota.files_max} files per window")
    if held_bytes + size > quota.bytes_max:
        raise Refused("E-UPL-003", f"at most {quota.bytes_max} bytes per window")
