"""Schemas every part of the API shares: the error envelope and the health answer.

Domain routers (``libcrm/patrons/api.py``) define their own schemas next to their handlers and
list :data:`ERROR_RESPONSES` so that OpenAPI documents the one error shape for each status.
"""

from __future__ import annotations

from ninja import Schema
from pydantic import Field


class FieldErrorOut(Schema):
    path: str = Field(description="Where in the request: body.identifiers[0].value, query.limit…")
    message: str


class ErrorDetailOut(Schema):
    code: str = Field(
        description="Stable, for programs: invalid, malformed_json, not_authenticated, "
        "invalid_token, token_revoked, token_expired, missing_scope, not_found, "
        "identifier_conflict, payload_too_large, method_not_allowed, server_error."
    )
    message: str = Field(description="For people, in the language of Accept-Language.")
    fields: list[FieldErrorOut]


class ErrorOut(Schema):
    error: ErrorDetailOut


class HealthOut(Schema):
    status: str = Field(description="ok when the service and its database answer.")
    api_version: str


ERROR_RESPONSES: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}
WRITE_ERROR_RESPONSES: dict[int, type[Schema]] = {**ERROR_RESPONSES, 409: ErrorOut}
