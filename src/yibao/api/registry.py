"""What a transaction of the national interface is: infno, handler, whether it writes and
whether it needs sign-in. The table of them is built by api/transactions.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from yibao.api.fields import Fields
from yibao.services.context import Call, Effect


@dataclass(frozen=True, slots=True)
class Answer:
    """A transaction's output and what it did (stored with the answer: 2601 undoes it)."""

    output: dict[str, Any]
    effect: Effect | None = None


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


Reply = dict[str, Any] | Answer | FileReply
Handler = Callable[[Call, Fields], Reply]


@dataclass(frozen=True, slots=True)
class Transaction:
    infno: str
    title: str
    handler: Handler
    writes: bool
    signin: bool = True


def index(entries: Iterable[Transaction]) -> dict[str, Transaction]:
    """infno -> transaction (the hospital route's dispatch: one dict lookup); a second
    entry for one infno is a programming error."""
    table: dict[str, Transaction] = {}
    for entry in entries:
        if entry.infno in table:
            raise ValueError(f"infno {entry.infno} listed twice")
        table[entry.infno] = entry
    return table
