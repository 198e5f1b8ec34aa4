"""Request-scoped dependencies: the transaction the edge owns, and the caller's address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from smartcity.db import begin_for_writing, session_factory


@contextmanager
def request_session(method: str) -> Iterator[Session]:
    """One request's session: committed when the block succeeds, rolled back when it raises.

    A request that may change something begins its transaction ready to write (see db.begin_for_writing).
    """
    session = session_factory()()
    if method not in ("GET", "HEAD", "OPTIONS"):
        begin_for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_db(request: Request) -> Iterator[Session]:
    """The request's session as a dependency (see request_session)."""
    with request_session(request.method) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is the response.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    """The peer address of the request."""
    return request.client.host if request.client else None


# A database row id in a path: positive and within a 32-bit integer, so no id reaches the database as an overflow.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
