"""The entries reads owe: concurrent reads of one process share one commit, and each answers only once its own
entry is committed; a failed commit refuses every read it carried and writes none of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smartcity import db as dbmod
from smartcity.platform.audit import service as audit
from smartcity.platform.audit.models import AuditEntry

READERS = 6


def _read(number: int, failures: list[BaseException]) -> None:
    session = dbmod.session_factory()()
    try:
        session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()  # the read itself
        audit.record_read(session, actor=audit.Actor(label=f"reader{number}"), action="test.read", detail={"n": number})
        session.commit()
    except BaseException as exc:
        failures.append(exc)
    finally:
        session.close()


def _first_batch_held(monkeypatch: pytest.MonkeyPatch, fail: bool) -> tuple[list[int], threading.Event]:
    """Make the first commit wait inside the chain until the other readers have queued behind it."""
    sizes: list[int] = []
    inside = threading.Event()
    real: Callable[[Session, list[dict[str, Any]]], None] = audit._append

    def held(session: Session, contents: list[dict[str, Any]]) -> None:
        sizes.append(len(contents))
        if len(sizes) == 1:
            inside.set()
            deadline = time.monotonic() + 10
            while len(audit._READS._queue) < READERS - 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        real(session, contents)
        if fail and len(sizes) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "_append", held)
    return sizes, inside


def _run_readers(inside: threading.Event) -> list[BaseException]:
    failures: list[BaseException] = []
    first = threading.Thread(target=_read, args=(0, failures))
    first.start()
    assert inside.wait(10)
    rest = [threading.Thread(target=_read, args=(n, failures)) for n in range(1, READERS)]
    for thread in rest:
        thread.start()
    for thread in [first, *rest]:
        thread.join(timeout=20)
        assert not thread.is_alive()
    return failures


def _entries(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "test.read")))


def test_reads_queued_behind_a_commit_share_the_next_one(committed: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes, inside = _first_batch_held(monkeypatch, fail=False)
    assert _run_readers(inside) == []
    assert sizes == [1, READERS - 1]
    assert sorted(_entries(committed)) == sorted(f"reader{n}" for n in range(READERS))
    with Session(committed) as session:
        assert audit.verify(session).ok


def test_a_failed_group_commit_refuses_every_read_it_carried(
    committed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes, inside = _first_batch_held(monkeypatch, fail=True)
    failures = _run_readers(inside)
    assert sizes == [1, READERS - 1]
    assert len(failures) == READERS - 1
    assert sum(isinstance(f, audit.AuditWriteFailed) for f in failures) == READERS - 2  # and the writer's own error
    assert _entries(committed) == ["reader0"]
    _read(99, failures)  # the journal is free again
    assert len(failures) == READERS - 1
    assert sorted(_entries(committed)) == ["reader0", "reader99"]
    with Session(committed) as session:
        assert audit.verify(session).ok
