"""Domain errors and their rendering as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartcity.platform.i18n import N_, Message, gettext

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPES: dict[str, type[DomainError]] = {}


@dataclass(frozen=True)
class FieldProblem:
    """One field that broke one rule."""

    field: str
    message: str


class DomainError(Exception):
    """A rule of the domain was broken; carries its HTTP status and a stable problem type."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = N_("Bad request")

    def __init__(self, detail: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(detail.format(**params) if params else detail)
        self.detail = detail
        self.params = params
        self.field = field
        self.headers: dict[str, str] = {}  # response headers the error calls for (e.g. Retry-After)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PROBLEM_TYPES.setdefault(cls.slug, cls)

    def localised_detail(self, locale: str) -> str:
        """The detail message in `locale`, parameters filled in (parameters that are Messages translated too)."""
        return Message(self.detail, **self.params).render(locale)


class InvalidInput(DomainError):
    """The request is well-formed but a field breaks a rule."""

    status = 422
    slug = "invalid-input"
    title = N_("Invalid input")


class NotAuthenticated(DomainError):
    """No valid credentials were presented."""

    status = 401
    slug = "not-authenticated"
    title = N_("Authentication required")


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    status = 403
    slug = "permission-denied"
    title = N_("Permission denied")


class NotFound(DomainError):
    """The resource does not exist or is not visible to the caller."""

    status = 404
    slug = "not-found"
    title = N_("Not found")


class Conflict(DomainError):
    """The request conflicts with the current state of a resource."""

    status = 409
    slug = "conflict"
    title = N_("Conflict")


class PayloadTooLarge(DomainError):
    """The request body exceeds the configured limit."""

    status = 413
    slug = "payload-too-large"
    title = N_("Payload too large")


def problem_type_uri(slug: str) -> str:
    """The `type` member of a problem: a relative URI that the platform documents at /problems."""
    return f"/problems/{slug}"


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": problem_type_uri(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def request_locale(request: Request) -> str:
    """The locale chosen by the locale middleware (zh_CN when none ran)."""
    return str(getattr(request.state, "locale", "zh_CN"))


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


# Pydantic error types and the rule each one names, as message ids filled from the error's context.
RULE_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Must be at least {min_length} characters."),
    "string_too_long": N_("Must be at most {max_length} characters."),
    "string_pattern_mismatch": N_("Must match the pattern {pattern}."),
    "string_type": N_("Must be text."),
    "too_short": N_("Must have at least {min_length} items."),
    "too_long": N_("Must have at most {max_length} items."),
    "enum": N_("Must be one of: {expected}."),
    "literal_error": N_("Must be one of: {expected}."),
    "extra_forbidden": N_("Unknown field."),
    "int_parsing": N_("Must be a whole number."),
    "int_type": N_("Must be a whole number."),
    "bool_parsing": N_("Must be true or false."),
    "bool_type": N_("Must be true or false."),
    "greater_than_equal": N_("Must be at least {ge}."),
    "less_than_equal": N_("Must be at most {le}."),
    "datetime_parsing": N_("Must be a date and time (ISO 8601)."),
    "datetime_from_date_parsing": N_("Must be a date and time (ISO 8601)."),
    "json_invalid": N_("The body is not valid JSON."),
    "list_type": N_("Must be a list."),
    "model_attributes_type": N_("Must be an object."),
    "dict_type": N_("Must be an object."),
}


def pydantic_message(error: Mapping[str, Any]) -> Message:
    """One Pydantic error as a Message naming the rule, translated when shown; unknown types keep Pydantic's text."""
    template = RULE_MESSAGES.get(str(error.get("type", "")))
    if template is None:
        return Message(str(error.get("msg", "invalid")))
    return Message(template, **{key: str(value) for key, value in (error.get("ctx") or {}).items()})


def validation_problems(errors: Sequence[Mapping[str, Any]], locale: str) -> list[FieldProblem]:
    """Pydantic's errors as (field path, message in `locale`) pairs."""
    return [
        FieldProblem(field=_field_path(e.get("loc", ())), message=pydantic_message(e).render(locale)) for e in errors
    ]


HtmlRenderer = Callable[[Request, int, str, str], Response]


def wants_problem_json(request: Request) -> bool:
    """API paths and non-browser clients get problem+json; console pages get HTML."""
    if request.url.path.startswith("/api/"):
        return True
    return "text/html" not in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, html: HtmlRenderer) -> None:
    """Render every error as problem+json for the API, and through `html` for console pages."""

    def render(
        request: Request, status: int, slug: str, title: str, detail: str, errors: list[FieldProblem] | None
    ) -> Response:
        if wants_problem_json(request):
            headers = {"WWW-Authenticate": 'Bearer realm="smartcity"'} if status == 401 else None
            return problem_response(
                status=status,
                slug=slug,
                title=title,
                detail=detail,
                instance=request.url.path,
                errors=errors,
                headers=headers,
            )
        return html(request, status, title, detail)

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        locale = request_locale(request)
        errors = [FieldProblem(exc.field, exc.localised_detail(locale))] if exc.field else None
        response = render(
            request, exc.status, exc.slug, gettext(locale, exc.title), exc.localised_detail(locale), errors
        )
        response.headers.update(exc.headers)
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        locale = request_locale(request)
        problems = validation_problems(exc.errors(), locale)
        first = problems[0] if problems else FieldProblem("body", "invalid")
        detail = gettext(locale, "Field '{field}': {message}").format(field=first.field, message=first.message)
        return render(request, 422, "validation-failed", gettext(locale, "Validation failed"), detail, problems)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        locale = request_locale(request)
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
            exc.status_code, "http-error"
        )
        titles = {404: N_("Not found"), 405: N_("Method not allowed"), 413: N_("Payload too large")}
        title = gettext(locale, titles.get(exc.status_code, "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = render(request, exc.status_code, slug, title, gettext(locale, detail), None)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        locale = request_locale(request)
        return render(
            request,
            500,
            "internal-error",
            gettext(locale, "Internal error"),
            gettext(locale, "The server could not complete the request; the error has been logged."),
            None,
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
