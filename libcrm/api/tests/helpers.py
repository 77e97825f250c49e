"""Test helpers for API clients: issue a real token through the service, call with it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.test import Client

from libcrm.api.models import ApiToken, Scope
from libcrm.api.services import create_api_token
from libcrm.privacy.actors import Actor

ALL_SCOPES = tuple(Scope.values)


def issue_token(
    *scopes: str, name: str = "test client", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    return create_api_token(Actor.system("test"), name, scopes or ALL_SCOPES, expires_at=expires_at)


class TokenClient:
    """A Django test client that sends ``Authorization: Bearer <token>`` and JSON bodies."""

    def __init__(self, plaintext: str | None, **headers: str) -> None:
        self.client = Client()
        self.headers = dict(headers)
        if plaintext is not None:
            self.headers["Authorization"] = f"Bearer {plaintext}"

    def _send(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        headers = {**self.headers, **extra.pop("headers", {})}
        if body is None:
            return getattr(self.client, method)(path, headers=headers, **extra)
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(self.client, method)(
            path, data=data, content_type="application/json", headers=headers, **extra
        )

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(
            path, params or {}, headers={**self.headers, **extra.pop("headers", {})}, **extra
        )

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self._send("post", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self._send("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self._send("delete", path, **extra)


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of an error response, after checking the envelope is whole."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert error["message"], error
    return error


def field_paths(response: Any) -> set[str]:
    return {field["path"] for field in error_of(response)["fields"]}
