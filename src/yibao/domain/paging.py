"""Lists are read a page at a time: LIMIT and OFFSET go into the SQL, never a slice of
every row in Python. A page is (limit, offset); the national queries send page_num and
page_size (1-based), the REST routes limit and offset."""

from __future__ import annotations

from dataclasses import dataclass

from yibao.domain.errors import Refused

REST_ROWS_MAX = 100  # rows of one REST list page (claims, filings)
REST_ROWS_DEFAULT = 50
OFFSET_MAX = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int = 0

    def __post_init__(self) -> None:
        assert self.limit >= 1 and self.offset >= 0, self


def numbered(num: int, size: int, size_max: int) -> Page:
    """The standard's page_num (1-based) and page_size; a size above the maximum is cut
    to it (E-ENV-005 for a page or size below 1)."""
    if num < 1 or size < 1:
        raise Refused("E-ENV-005", "page_num and page_size must be positive")
    size = min(size, size_max)
    return Page(limit=size, offset=(num - 1) * size)


def pages(total: int, size: int) -> int:
    """How many pages of ``size`` rows ``total`` rows fill (at least one)."""
    return max(1, -(-total // size))
