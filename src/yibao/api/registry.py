"""Which transactions exist: infno -> handler, and whether it writes or needs sign-in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from yibao.api.fields import Fields
from yibao.services.context import Ctx

Handler = Callable[[Ctx, Fields], Any]


@dataclass(frozen=True, slots=True)
class FileReply:
    """A transaction answered with a file stream instead of an envelope (9102)."""

    filename: str
    content: bytes

    @property
    def disposition(self) -> str:
        """Content-Disposition (RFC 6266): an ASCII ``filename`` with quotes and
        backslashes escaped, and the exact name as ``filename*`` (RFC 5987, UTF-8)."""
        ascii_name = "".join(ch if " " <= ch <= "~" else "_" for ch in self.filename)
        quoted = ascii_name.replace("\\", "\\\\").replace('"', '\\"')
        return (f'attachment; filename="{quoted}"; '
                f"filename*=UTF-8''{quote(self.filename, safe='')}")


@dataclass(frozen=True, slots=True)
class Transaction:
    infno: str
    title: str
    handler: Handler
    writes: bool
    signin: bool = True


REGISTRY: dict[str, Transaction] = {}


def transaction(
    infno: str, title: str, *, writes: bool, signin: bool = True
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        assert infno not in REGISTRY, infno
        REGISTRY[infno] = Transaction(infno, title, handler, writes, signin)
        return handler

    return register
