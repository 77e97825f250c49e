"""A token's life as a client sees it: use, lack of scope, revocation, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from libcrm.api import router
from libcrm.api.models import ApiToken, Scope
from libcrm.api.services import revoke_api_token
from libcrm.api.tests.helpers import TokenClient, error_of, issue_token
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

PATRONS = "/api/v1/patrons"


def assert_unauthorized(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == code


def test_token_lifecycle_use_then_revoke() -> None:
    token, plaintext = issue_token(Scope.PATRONS_READ)
    client = TokenClient(plaintext)
    assert client.get(PATRONS).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None

    revoke_api_token(Actor.system("test"), token)
    assert_unauthorized(client.get(PATRONS), "token_revoked")


def test_expired_token_is_refused() -> None:
    token, plaintext = issue_token(
        Scope.PATRONS_READ, expires_at=timezone.now() + timedelta(days=1)
    )
    client = TokenClient(plaintext)
    assert client.get(PATRONS).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_unauthorized(client.get(PATRONS), "token_expired")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-token",
        "Bearer lcrm_abcdefgh12_unknownsecret",
    ],
)
def test_missing_or_unknown_tokens_get_401(header: str | None) -> None:
    issue_token(Scope.PATRONS_READ)
    headers = {} if header is None else {"Authorization": header}
    response = TokenClient(None, **headers).get(PATRONS)
    assert response.status_code == 401
    assert error_of(response)["code"] in {"not_authenticated", "invalid_token"}


def test_right_prefix_wrong_secret_is_refused_like_an_unknown_token() -> None:
    token, plaintext = issue_token(Scope.PATRONS_READ)
    forged = f"lcrm_{token.prefix}_{'A' * 43}"
    assert forged != plaintext
    response = TokenClient(forged).get(PATRONS)
    assert_unauthorized(response, "invalid_token")
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None


def test_token_without_the_scope_gets_403_naming_it_and_the_refusal_is_audited() -> None:
    token, plaintext = issue_token(Scope.PATRONS_WRITE)
    response = TokenClient(plaintext).get(PATRONS)
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "missing_scope"
    assert "patrons:read" in error["message"]
    denied = AuditEvent.objects.get(action=AuditAction.DENIED)
    assert denied.via == "api" and denied.actor_label == f"token:{token.name}"
    assert denied.detail["missing_scopes"] == ["patrons:read"]


def test_scope_is_checked_before_the_body_is_read() -> None:
    _token, plaintext = issue_token(Scope.PATRONS_READ)
    response = TokenClient(plaintext).post(PATRONS, "{not json")
    assert response.status_code == 403


def test_last_used_is_not_rewritten_on_every_request() -> None:
    token, plaintext = issue_token(Scope.PATRONS_READ)
    client = TokenClient(plaintext)
    client.get("/api/v1/patrons?limit=1")
    stamped = ApiToken.objects.get(pk=token.pk).last_used_at
    client.get("/api/v1/patrons?limit=1")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == stamped


def test_health_needs_no_token() -> None:
    response = TokenClient(None).get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "api_version": "1"}


def test_health_answers_503_when_the_database_does_not(monkeypatch) -> None:
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(router.connection, "cursor", refuse)
    response = TokenClient(None).get("/api/v1/health")
    assert response.status_code == 503
    assert error_of(response)["code"] == "unavailable"
