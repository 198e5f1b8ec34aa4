"""ASGI middleware: locale negotiation and the request body limit."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcity.platform.errors import PROBLEM_MEDIA_TYPE, problem_type_uri
from smartcity.platform.i18n import gettext, negotiate

LOCALE_COOKIE = "sc_lang"
LIMITED_TYPES = ("application/json", "application/x-www-form-urlencoded", "+json", "text/")


class LocaleMiddleware:
    """Sets scope state `locale` from the language cookie, then Accept-Language, then the default."""

    def __init__(self, app: ASGIApp, default_locale: str) -> None:
        self.app = app
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:
                cookie = SimpleCookie()
            chosen = cookie[LOCALE_COOKIE].value if LOCALE_COOKIE in cookie else None
            scope.setdefault("state", {})["locale"] = negotiate(
                chosen, headers.get("accept-language"), self.default_locale
            )
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses JSON and form bodies over `max_bytes` with 413 problem+json before any handler runs."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
        await self.app(
            scope, _replay([{"type": "http.request", "body": b"".join(body), "more_body": False}], receive), send
        )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        locale = str(scope.get("state", {}).get("locale", "zh_CN"))
        body = json.dumps(
            {
                "type": problem_type_uri("payload-too-large"),
                "title": gettext(locale, "Payload too large"),
                "status": 413,
                "detail": gettext(locale, "The request body exceeds the limit of {limit} bytes.").format(
                    limit=self.max_bytes
                ),
                "instance": scope.get("path", ""),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
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
