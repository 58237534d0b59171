"""The paging parameters of the REST list routes: ``limit`` (1..REST_ROWS_MAX) and
``offset`` (0..OFFSET_MAX), as query parameters (operators' GET routes) or body fields
(channels' POST routes that carry the PIN). The page goes into the SQL. A row id in a
path or a cursor is bounded by the range of the id columns (a 32-bit INTEGER on
PostgreSQL): a larger number is refused 422, never sent to the database."""

from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, Field

from yibao.domain.paging import OFFSET_MAX, REST_ROWS_DEFAULT, REST_ROWS_MAX, Page

Limit = Annotated[int, Query(ge=1, le=REST_ROWS_MAX, description="rows of the page")]
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="rows skipped before it")]
ROW_ID_MAX = 2**31 - 1  # the largest value of an INTEGER id column on PostgreSQL
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="the row's id")]


class PageIn(BaseModel):
    limit: int = Field(REST_ROWS_DEFAULT, ge=1, le=REST_ROWS_MAX)
    offset: int = Field(0, ge=0, le=OFFSET_MAX)

    @property
    def page(self) -> Page:
        return Page(self.limit, self.offset)
