"""Request-scoped dependencies: the transaction the edge owns, and the caller's address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from smartcity.db import begin_for_writing, session_factory


def get_db(request: Request) -> Iterator[Session]:
    """One session per request: committed when the handler returns, rolled back when it raises.

    A request that may change something begins its transaction ready to write (see db.begin_for_writing).
    """
    session = session_factory()()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        begin_for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit is the response.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    """The peer address of the request."""
    return request.client.host if request.client else None


# A database row id in a path: positive and within a 32-bit integer, so no id reaches the database as an overflow.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
