"""The paging parameters of the REST list routes: ``limit`` (1..REST_ROWS_MAX) and
``offset`` (0..OFFSET_MAX), as query parameters (operators' GET routes) or body fields
(channels' POST routes that carry the PIN). The page goes into the SQL."""

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from yibao.domain.paging import OFFSET_MAX, REST_ROWS_DEFAULT, REST_ROWS_MAX, Page

Limit = Annotated[int, Query(ge=1, le=REST_ROWS_MAX, description="rows of the page")]
Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="rows skipped before it")]


class PageIn(BaseModel):
    limit: int = Field(REST_ROWS_DEFAULT, ge=1, le=REST_ROWS_MAX)
    offset: int = Field(0, ge=0, le=OFFSET_MAX)

    @property
    def page(self) -> Page:
        return Page(self.limit, self.offset)
