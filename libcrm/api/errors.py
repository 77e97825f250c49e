"""One error shape for every API response that is not a success.

Every error is ``{"error": {"code", "message", "fields": [{"path", "message"}]}}``: ``code`` is a
stable word a client can branch on, ``message`` a sentence in the request's language
(Accept-Language), and each field path names where in the request the problem is
(``body.identifiers[0].value``, ``query.limit``, ``path.uuid``). Validation by pydantic, refusals
by domain services and HTTP-level failures are all turned into this shape here, so handlers only
raise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from libcrm.patrons.errors import PatronError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str


class ApiError(Exception):
    """An error the API reports as it is: raise it from a handler or an auth check."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.headers = dict(headers or {})


class BodyNotAnObject(ValueError):
    """The body parsed as JSON but is not an object (every body this API accepts is one)."""


class NulCharacters(ValueError):
    """Strings of the body hold a NUL character, which no field accepts (PostgreSQL cannot even
    compare with one)."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


NUL = "\x00"


def nul_paths(value: Any, path: str) -> list[str]:
    """The request paths (``body.identifiers[0].value``) of the strings — keys included — in
    ``value``, a parsed JSON body, that hold a NUL character."""
    found: list[str] = []
    if isinstance(value, str):
        if NUL in value:
            found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}"
            if NUL in str(key):
                found.append(inner)
            found.extend(nul_paths(item, inner))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(nul_paths(item, f"{path}[{i}]"))
    return found


def nul_message() -> str:
    return _("must not contain a NUL character (U+0000)")


class JsonObjectParser(Parser):
    """Ninja's JSON parser, refusing bodies whose top level is not an object, so that ``[]`` or
    ``"text"`` is reported as such instead of as a list of missing fields."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise BodyNotAnObject(type(data).__name__)
        paths = nul_paths(data, "body")
        if paths:
            raise NulCharacters(paths)
        return data


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body = {
        "error": {
            "code": code,
            "message": str(message),
            "fields": [{"path": f.path, "message": str(f.message)} for f in fields],
        }
    }
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def path_from_loc(loc: Sequence[str | int]) -> str:
    """``("body", "payload", "identifiers", 0, "value")`` → ``body.identifiers[0].value``.

    Ninja puts the handler's parameter name second in a body location; clients never see that
    name, so it is dropped.
    """
    parts = list(loc)
    if len(parts) >= 2 and parts[0] == "body":
        del parts[1]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _choices(expected: str) -> str:
    """Pydantic's "'a', 'b' or 'c'" as a plain, language-neutral "a, b, c"."""
    words = expected.replace(" or ", ", ").split(", ")
    return ", ".join(w.strip().strip("'") for w in words)


def pydantic_message(error: Mapping[str, Any]) -> str:
    """A translatable message for one pydantic error, worded like the patron validation's own
    messages so a client sees one vocabulary whichever layer refused the value."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("is required")
    if kind == "extra_forbidden":
        return _("is not a known field")
    if kind == "string_type":
        return _("must be text")
    if kind == "string_too_long":
        return _("must be at most %(limit)d characters") % {"limit": ctx.get("max_length", 0)}
    if kind == "string_too_short":
        return _("must be at least %(limit)d characters") % {"limit": ctx.get("min_length", 0)}
    if kind in {"int_type", "int_parsing", "int_from_float", "int_parsing_size"}:
        return _("must be a whole number")
    if kind in {"bool_type", "bool_parsing"}:
        return _("must be true or false")
    if kind.startswith("date_"):
        return _("must be a date written YYYY-MM-DD")
    if kind.startswith("datetime_"):
        return _("must be a date and time written YYYY-MM-DDTHH:MM:SS")
    if kind.startswith("uuid_"):
        return _("must be a UUID")
    if kind == "list_type":
        return _("must be a list")
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return _("must be an object")
    if kind == "too_long":
        return _("must have at most %(limit)d items") % {"limit": ctx.get("max_length", 0)}
    if kind in {"greater_than_equal", "greater_than"}:
        limit = ctx.get("ge", ctx.get("gt"))
        return _("must be at least %(limit)s") % {"limit": limit}
    if kind in {"less_than_equal", "less_than"}:
        limit = ctx.get("le", ctx.get("lt"))
        return _("must be at most %(limit)s") % {"limit": limit}
    if kind in {"enum", "literal_error"}:
        return _("must be one of: %(choices)s") % {"choices": _choices(ctx.get("expected", ""))}
    return str(error.get("msg", _("is not valid")))


def invalid(fields: Iterable[FieldError]) -> ApiError:
    """The 422 every refused field leads to."""
    return ApiError(422, "invalid", _("Some fields are not valid; see fields."), fields)


def patron_error_fields(exc: PatronError, prefix: str = "body") -> list[FieldError]:
    """A service's problem paths (``identifiers[0].value``) as request paths."""
    fields = []
    for problem in exc.problems:
        path = f"{prefix}.{problem.path}" if problem.path else prefix
        fields.append(FieldError(path, problem.message))
    return fields


def not_authenticated(message: str, code: str = "not_authenticated") -> ApiError:
    # RFC 6750: a 401 names the scheme the client should use.
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="libcrm"'})


def _on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


def _on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [FieldError(path_from_loc(e.get("loc", ())), pydantic_message(e)) for e in exc.errors]
    return _on_api_error(request, invalid(fields))


def _on_patron_error(request: HttpRequest, exc: PatronError) -> HttpResponse:
    return _on_api_error(request, invalid(patron_error_fields(exc)))


def _payload_too_large() -> ApiError:
    return ApiError(413, "payload_too_large", _("The request body is too large."))


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, RequestDataTooBig):
        return _on_api_error(request, _payload_too_large())
    if isinstance(cause, BodyNotAnObject):
        field = FieldError("body", _("must be a JSON object"))
        return _on_api_error(request, invalid([field]))
    if isinstance(cause, NulCharacters):
        return _on_api_error(request, invalid(FieldError(p, nul_message()) for p in cause.paths))
    if isinstance(cause, json.JSONDecodeError):
        message = _("The request body is not valid JSON (line %(line)d, column %(column)d).") % {
            "line": cause.lineno,
            "column": cause.colno,
        }
        return error_response(400, "malformed_json", message)
    if isinstance(cause, UnicodeDecodeError):
        return error_response(400, "malformed_json", _("The request body is not UTF-8 text."))
    if isinstance(exc, AuthenticationError):
        return _on_api_error(
            request,
            not_authenticated(_("Send an API token: Authorization: Bearer lcrm_…")),
        )
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 429: "throttled"}
    return error_response(exc.status_code, codes.get(exc.status_code, "error"), str(exc))


def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", _("Nothing was found at this address."))


def _on_data_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _on_api_error(request, _payload_too_large())


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: log it with its traceback and tell Django's error reporters (and the test client,
    which re-raises it), but still answer in the API's shape."""
    logger.exception("Unhandled error in API request %s %s", request.method, request.path)
    got_request_exception.send(sender=None, request=request)
    return error_response(
        500, "server_error", _("Something went wrong on the server; the error has been logged.")
    )


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace Ninja's default handlers (which answer ``{"detail": ...}``) with ours."""
    api.add_exception_handler(ApiError, _on_api_error)
    api.add_exception_handler(ValidationError, _on_validation_error)
    api.add_exception_handler(PatronError, _on_patron_error)
    api.add_exception_handler(HttpError, _on_http_error)
    api.add_exception_handler(Http404, _on_not_found)
    api.add_exception_handler(RequestDataTooBig, _on_data_too_big)
    api.add_exception_handler(Exception, _on_unexpected)


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any address under /api/ that no route matches: a JSON 404, not the console's HTML page."""
    return error_response(404, "not_found", _("Nothing was found at this address."))


def method_not_allowed(allowed: Iterable[str]) -> HttpResponse:
    methods = ", ".join(sorted(allowed))
    return error_response(
        405,
        "method_not_allowed",
        _("This address does not accept this method; it accepts: %(methods)s.")
        % {"methods": methods},
        headers={"Allow": methods},
    )
