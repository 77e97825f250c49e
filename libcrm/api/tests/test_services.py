"""Creating and revoking API tokens: validation, what is stored, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from libcrm.api.models import ApiToken, Scope
from libcrm.api.services import (
    ApiTokenError,
    create_api_token,
    record_token_use,
    revoke_api_token,
)
from libcrm.api.tokens import hash_secret, parse_token
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_actor(make_staff) -> Actor:
    user = make_staff("administrator")
    return Actor(label=user.username, via="console", user_id=user.pk, ip="10.0.0.9")


def test_create_stores_only_a_hash_and_audits(admin_actor: Actor) -> None:
    token, plaintext = create_api_token(
        admin_actor, "  Koha   sync ", [Scope.PATRONS_WRITE, Scope.PATRONS_READ]
    )
    parts = parse_token(plaintext)
    assert parts is not None and parts.prefix == token.prefix
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.name == "Koha sync"
    assert stored.scopes == ["patrons:read", "patrons:write"]
    assert stored.secret_hash == hash_secret(parts.secret)
    assert parts.secret not in stored.secret_hash
    assert stored.created_by_id == admin_actor.user_id
    event = AuditEvent.objects.get(action=AuditAction.CREATE_TOKEN)
    assert event.actor_id == admin_actor.user_id
    assert event.target == f"token:{token.prefix}"
    assert event.detail["scopes"] == ["patrons:read", "patrons:write"]
    assert parts.secret not in str(event.detail)


@pytest.mark.parametrize(
    ("name", "scopes", "expires_in", "field"),
    [
        ("", [Scope.PATRONS_READ], None, "name"),
        ("x" * 81, [Scope.PATRONS_READ], None, "name"),
        ("ok", [], None, "scopes"),
        ("ok", ["patrons:delete"], None, "scopes"),
        ("ok", [Scope.PATRONS_READ], timedelta(minutes=-1), "expires_at"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(
    admin_actor: Actor, name: str, scopes: list[str], expires_in: timedelta | None, field: str
) -> None:
    expires_at = timezone.now() + expires_in if expires_in else None
    with pytest.raises(ApiTokenError) as caught:
        create_api_token(admin_actor, name, scopes, expires_at=expires_at)
    assert caught.value.field == field
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE_TOKEN).exists()


def test_revoke_is_audited_once_and_idempotent(admin_actor: Actor) -> None:
    token, _plaintext = create_api_token(admin_actor, "gate", [Scope.PATRONS_READ])
    revoke_api_token(admin_actor, token)
    first = ApiToken.objects.get(pk=token.pk).revoked_at
    assert first is not None and token.revoked_at == first
    revoke_api_token(admin_actor, token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at == first
    assert AuditEvent.objects.filter(action=AuditAction.REVOKE_TOKEN).count() == 1


def test_last_used_is_stamped_at_most_once_a_minute(admin_actor: Actor) -> None:
    token, _plaintext = create_api_token(admin_actor, "gate", [Scope.PATRONS_READ])
    start = timezone.now()
    record_token_use(token, start)
    record_token_use(token, start + timedelta(seconds=30))
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start
    later = start + timedelta(seconds=61)
    record_token_use(token, later)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == later
