"""ASGI middleware: how many requests run at once, locale negotiation and the request body limit."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcity.platform.errors import PROBLEM_MEDIA_TYPE, problem_type_uri
from smartcity.platform.i18n import gettext, negotiate

LOCALE_COOKIE = "sc_lang"


class ConcurrencyMiddleware:
    """Works on at most `limit` HTTP requests at once; the next waits in the event loop, holding nothing.

    A request's handlers run on threads, and every thread of a process shares one GIL: forty requests at once (the
    thread pool's size) take turns in slices, each holds its database connection while it waits, and a busy process
    serves fewer requests, each far slower. A request leaves the limit when its response starts: its queries and
    commit are done by then, and a long download streams outside it. Uploads that modules read as a stream
    (`exempt`) are not counted: a slow sender would hold a turn for minutes.
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = [re.compile(pattern) for pattern in exempt]
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _streamed(scope, self.exempt):
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the server's event loop
            self._slots = asyncio.Semaphore(self.limit)
        slots = self._slots
        await slots.acquire()
        held = True

        async def send_and_leave(message: Message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_leave)
        finally:
            if held:
                slots.release()


LIMITED_TYPES = ("application/json", "application/x-www-form-urlencoded", "+json", "text/")


class LocaleMiddleware:
    """Sets scope state `locale` from the language cookie, then Accept-Language, then the default."""

    def __init__(self, app: ASGIApp, default_locale: str) -> None:
        self.app = app
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_cookie = accept_language = None
            for key, value in scope["headers"]:  # ASGI servers give header names in lower case
                if key == b"cookie":
                    raw_cookie = value.decode("latin-1")
                elif key == b"accept-language":
                    accept_language = value.decode("latin-1")
            chosen = _locale_cookie(raw_cookie) if raw_cookie and LOCALE_COOKIE in raw_cookie else None
            scope.setdefault("state", {})["locale"] = negotiate(chosen, accept_language, self.default_locale)
        await self.app(scope, receive, send)


def _locale_cookie(raw: str) -> str | None:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:
        return None
    return cookie[LOCALE_COOKIE].value if LOCALE_COOKIE in cookie else None


NUL_MARKERS = (b"\x00", b"\\u0000", b"%00")
BODILESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})  # ASGI servers give header names in lower case


def _streamed(scope: Scope, patterns: list[re.Pattern[str]]) -> bool:
    """An upload that its module reads as a stream (POST or PUT to one of `patterns`)."""
    return scope.get("method") in {"POST", "PUT"} and any(p.fullmatch(scope.get("path", "")) for p in patterns)


class BodyLimitMiddleware:
    """Refuses JSON and form bodies over `max_bytes` (413), and NUL characters anywhere in a request (422).

    PostgreSQL text cannot hold NUL, and no field of the platform needs it, so it is refused at the edge
    rather than failing deep inside a query. Paths matching `streamed` (file uploads that modules read as a
    stream, with their own size limit and content checks) pass through untouched.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: Iterable[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = [re.compile(pattern) for pattern in streamed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _streamed(scope, self.streamed):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await self._refuse_nul(scope, send)
            return
        if scope.get("method") in BODILESS and not any(k in BODY_HEADERS for k, _ in scope["headers"]):
            await self.app(scope, receive, send)  # no body to limit or to look into
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "application/json").lower()
        if not any(kind in content_type for kind in LIMITED_TYPES):
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        # A chunked body without Content-Length is counted while it arrives.
        body: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            body.append(chunk)
            more = message.get("more_body", False)
        whole = b"".join(body)
        if any(marker in whole for marker in NUL_MARKERS):
            await self._refuse_nul(scope, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": whole, "more_body": False}], receive), send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        locale = str(scope.get("state", {}).get("locale", "zh_CN"))
        detail = gettext(locale, "The request body exceeds the limit of {limit} bytes.").format(limit=self.max_bytes)
        await _send_problem(send, scope, 413, "payload-too-large", gettext(locale, "Payload too large"), detail)

    async def _refuse_nul(self, scope: Scope, send: Send) -> None:
        locale = str(scope.get("state", {}).get("locale", "zh_CN"))
        detail = gettext(locale, "The request contains a NUL character (U+0000), which no field accepts.")
        await _send_problem(send, scope, 422, "invalid-input", gettext(locale, "Invalid input"), detail)


async def _send_problem(send: Send, scope: Scope, status: int, slug: str, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": problem_type_uri(slug), "title": title, "status": status, "detail": detail, "instance": scope["path"]},
        ensure_ascii=False,
    ).encode("utf-8")
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
