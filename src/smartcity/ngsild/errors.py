"""NGSI-LD errors: each is a ProblemDetails (IETF RFC 7807/9457) whose `type` is one of the error type URIs of
ETSI GS CIM 009 (clause 5.5.2), with the HTTP status the specification gives it."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from fastapi import Request
from fastapi.responses import Response

ERRORS_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiLdError(Exception):
    """A refused NGSI-LD request; rendered as the specification's ProblemDetails."""

    status: ClassVar[int] = 400
    name: ClassVar[str] = "InvalidRequest"
    title: ClassVar[str] = "Invalid request"

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status or self.status

    @property
    def type_uri(self) -> str:
        return ERRORS_BASE + self.name

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title, "status": self.status_code}
        body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        return body


class InvalidRequest(NgsiLdError):
    """The request is syntactically invalid (not JSON, a malformed query, a wrong content type)."""

    name = "InvalidRequest"
    title = "Invalid request"


class BadRequestData(NgsiLdError):
    """The request's data does not meet the operation's requirements (an id that is not a URI, an attribute with no
    type, an unknown query operator)."""

    name = "BadRequestData"
    title = "Bad request data"


class AlreadyExists(NgsiLdError):
    status = 409
    name = "AlreadyExists"
    title = "Already exists"


class OperationNotSupported(NgsiLdError):
    status = 422
    name = "OperationNotSupported"
    title = "Operation not supported"


class ResourceNotFound(NgsiLdError):
    status = 404
    name = "ResourceNotFound"
    title = "Resource not found"


class NonexistentTenant(NgsiLdError):
    status = 404
    name = "NonexistentTenant"
    title = "Nonexistent tenant"


class LdContextNotAvailable(NgsiLdError):
    """A @context the request names could not be had: this broker never fetches one from the network."""

    status = 504
    name = "LdContextNotAvailable"
    title = "@context not available"


class TooManyResults(NgsiLdError):
    status = 403
    name = "TooManyResults"
    title = "Too many results"


class TooComplexQuery(NgsiLdError):
    status = 403
    name = "TooComplexQuery"
    title = "Too complex query"


class InternalError(NgsiLdError):
    status = 500
    name = "InternalError"
    title = "Internal error"


def problem_response(error: NgsiLdError, request: Request | None = None) -> Response:
    """The error as a response. NGSI-LD clients read ProblemDetails as application/json (clause 6.3.6)."""
    instance = request.url.path if request is not None else None
    return Response(orjson.dumps(error.problem(instance)), status_code=error.status_code, media_type="application/json")
