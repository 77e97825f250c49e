"""The process's keyring, parsed once from the settings' key material."""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
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


def audit_chain_key() -> bytes:
    """The key that seals audit records, derived from the pseudonym key (which never rotates, so
    the chain stays verifiable across key rotations)."""
    return _derive_audit_key(get_keyring().pseudonym_key)


@lru_cache(maxsize=4)
def _derive_audit_key(pseudonym_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"libcrm audit chain v1"
    ).derive(pseudonym_key)
