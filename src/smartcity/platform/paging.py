"""Offset pagination shared by list endpoints and console tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageParams:
    """Which page of a list the caller wants."""

    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: int = Query(1, ge=1, le=100_000, description="1-based page number"),
    page_size: int = Query(20, ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}"),
) -> PageParams:
    """FastAPI dependency reading `page` and `page_size`."""
    return PageParams(page=page, page_size=page_size)


class Page(BaseModel, Generic[T]):
    """One page of a list and where it sits in the whole."""

    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int


def fetch_page(session: Session, stmt: Select[T], params: PageParams) -> tuple[list[T], int]:
    """The rows of `stmt` on the requested page, and the total row count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(params.page_size).offset(params.offset)))
    return rows, int(total)


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` items fill."""
    return max(1, math.ceil(total / page_size))


def page_body(items: Sequence[Any], total: int, params: PageParams) -> dict[str, Any]:
    """The fields of a `Page` holding `items`, the requested page of `total` items."""
    return {
        "items": list(items),
        "total": total,
        "page": params.page,
        "page_size": params.page_size,
        "pages": page_count(total, params.page_size),
    }


def pager(total: int, params: PageParams, url_for_page: Callable[[int], str]) -> dict[str, Any]:
    """What a console table's pagination control reads: the total, this page, the page count and page links."""
    return {
        "total": total,
        "page": params.page,
        "pages": page_count(total, params.page_size),
        "url_for_page": url_for_page,
    }
