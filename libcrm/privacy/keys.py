"""The process's keyring, parsed once from the settings' key material."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from libcrm.privacy import keyfile
from libcrm.privacy.crypto import Keyring


@lru_cache(maxsize=1)
def get_keyring() -> Keyring:
    return keyfile.parse(settings.LIBCRM_KEY_MATERIAL, settings.LIBCRM_KEY_SOURCE)


def reload_keyring() -> Keyring:
    """Forget the cached keyring (after a rotation rewrote the key material)."""
    get_keyring.cache_clear()
    return get_keyring()
