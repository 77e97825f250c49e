"""Fixtures of the segments tests: registry patrons under chosen keys, since the profile a rule
runs on has one row per active patron of the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def register_keys(make_patron: Callable[..., Any]) -> Callable[..., list[Any]]:
    """``register_keys("k1", "k2", category="faculty")``: active patrons with those keys."""
    from libcrm.patrons.models import Patron

    def register(*keys: str, **fields: Any) -> list[Any]:
        out = []
        for key in keys:
            patron = make_patron(**fields)
            Patron.objects.filter(pk=patron.pk).update(patron_key=key)
            patron.refresh_from_db()
            out.append(patron)
        return out

    return register
