"""Fixtures shared by every test: staff members per role, patrons, an Actor."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libcrm.privacy.actors import Actor

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 is slow on purpose (about 0.17 s a hash); tests are about accounts, not about
    hashing strength, and create hundreds of them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def actor() -> Actor:
    return Actor(label="test-librarian", via="cli", ip="127.0.0.1")


@pytest.fixture
def make_staff(db: Any) -> Callable[..., Any]:
    """Create a staff member with a role: ``make_staff("front_desk")``."""
    from libcrm.staff.services import create_staff_member

    def make(role: str, username: str | None = None, password: str = "correct-horse-42") -> Any:
        name = username or f"{role}-{next(_counter)}"
        return create_staff_member(
            Actor.system("test"),
            username=name,
            password=password,
            role=role,
            display_name=name.title(),
        )

    return make


@pytest.fixture
def make_patron(db: Any) -> Callable[..., Any]:
    """Register a patron through the real service: ``make_patron(name="李娜", phone=...)``."""
    from libcrm.patrons.services import register_patron

    def make(identifiers: list[dict[str, Any]] | None = None, **fields: Any) -> Any:
        n = next(_counter)
        fields.setdefault("name", f"Test Patron {n}")
        fields.setdefault("category", "undergraduate")
        if identifiers is None:
            identifiers = [{"kind": "library_card", "value": f"TC{n:06d}", "source": "test"}]
        return register_patron(Actor.system("test"), fields, identifiers)

    return make


@pytest.fixture
def staff_client(client: Any, make_staff: Callable[..., Any]) -> Callable[[str], Any]:
    """A Django test client signed in as a new staff member of ``role``, fully: second factor
    passed and identity freshly confirmed (see libcrm.staff.testing)."""
    from libcrm.staff.testing import sign_in_fully

    def signed_in(role: str) -> Any:
        user = make_staff(role)
        sign_in_fully(client, user)
        client.user = user
        return client

    return signed_in


@pytest.fixture
def key_file(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the session's key file, in force for this test only (for tests that
    rotate keys or break the key file on purpose)."""
    from django.conf import settings
    from django.test import override_settings

    from libcrm.privacy import keyfile
    from libcrm.privacy.keys import reload_keyring

    path = tmp_path / "keys" / "libcrm-keys.json"
    material = json.loads(json.dumps(settings.LIBCRM_KEY_MATERIAL))
    keyfile.write_atomic(path, material)
    with override_settings(
        LIBCRM_HOME=tmp_path,
        LIBCRM_KEY_FILE=path,
        LIBCRM_KEY_MATERIAL=material,
        LIBCRM_KEY_SOURCE=f"key file {path}",
    ):
        reload_keyring()
        yield path
    reload_keyring()
