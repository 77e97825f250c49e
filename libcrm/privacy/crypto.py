"""Field encryption, blind indexes and pseudonyms: the pure core of personal-data protection.

Personal data is sealed with AES-256-GCM; the associated data binds each ciphertext to the
field it belongs to, so a value copied into another column fails to open. Exact-match search
goes through a keyed blind index (HMAC-SHA256 of the normalised value), and analytics see only a
pseudonymous ``patron_key`` derived with a separate secret. Nothing here imports Django.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(Exception):
    """A ciphertext could not be opened: unknown key id, tampering, or the wrong field."""


class KeyringError(Exception):
    """The keyring is malformed or incomplete; the message says which part and how to fix it."""


@dataclass(frozen=True)
class Keyring:
    """Every secret libcrm holds, by purpose.

    Field and index keys are keyed by a short id so that rotation can keep old keys readable
    until every value has been rewritten under the primary one. The pseudonym key is never
    rotated in place: changing it would change every ``patron_key`` in the event store.
    """

    field_keys: dict[str, bytes]
    field_primary: str
    index_keys: dict[str, bytes]
    index_primary: str
    pseudonym_key: bytes

    def __post_init__(self) -> None:
        if self.field_primary not in self.field_keys:
            raise KeyringError(f"field_primary {self.field_primary!r} is not among field_keys")
        if self.index_primary not in self.index_keys:
            raise KeyringError(f"index_primary {self.index_primary!r} is not among index_keys")
        for purpose, keys in (("field_keys", self.field_keys), ("index_keys", self.index_keys)):
            for kid, key in keys.items():
                if len(key) != KEY_BYTES:
                    raise KeyringError(f"{purpose}[{kid!r}] must be {KEY_BYTES} bytes")
        if len(self.pseudonym_key) != KEY_BYTES:
            raise KeyringError(f"pseudonym_key must be {KEY_BYTES} bytes")


def new_key_id() -> str:
    return secrets.token_hex(4)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encrypt(keyring: Keyring, plaintext: str, context: str) -> str:
    """Seal ``plaintext`` for the field named by ``context``; returns ``kid:base64``."""
    kid = keyring.field_primary
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.field_keys[kid]).encrypt(
        nonce, plaintext.encode("utf-8"), context.encode("utf-8")
    )
    return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def decrypt(keyring: Keyring, token: str, context: str) -> str:
    kid, sep, body = token.partition(":")
    if not sep:
        raise DecryptionError(f"{context}: value is not a libcrm ciphertext")
    key = keyring.field_keys.get(kid)
    if key is None:
        raise DecryptionError(
            f"{context}: sealed with key {kid!r}, which is not in the keyring "
            "(was a key removed before rotation finished?)"
        )
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(f"{context}: ciphertext failed authentication") from exc
    return opened.decode("utf-8")


def key_id_of(token: str) -> str:
    """The id of the key a ciphertext was sealed with (used by rotation to find stale values)."""
    return token.partition(":")[0]


def _index_digest(key: bytes, context: str, normalised: str) -> str:
    message = context.encode("utf-8") + b"\x00" + normalised.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def blind_index(keyring: Keyring, context: str, normalised: str) -> str:
    """The digest stored beside a value, under the primary index key."""
    return _index_digest(keyring.index_keys[keyring.index_primary], context, normalised)


def blind_index_candidates(keyring: Keyring, context: str, normalised: str) -> list[str]:
    """Digests under every index key, so lookups keep working while a rotation is half done."""
    primary = blind_index(keyring, context, normalised)
    others = [
        _index_digest(key, context, normalised)
        for kid, key in keyring.index_keys.items()
        if kid != keyring.index_primary
    ]
    return [primary, *others]


def stable_digest(keyring: Keyring, context: str, normalised: str) -> str:
    """A keyed digest under the never-rotated pseudonym key, for values kept *only* as a hash
    (national IDs): their plaintext is gone, so they could not be re-digested after rotation."""
    return _index_digest(keyring.pseudonym_key, context, normalised)


def pseudonym(keyring: Keyring, subject: str) -> str:
    """A stable pseudonymous key for ``subject`` (a patron's internal UUID).

    Base32 of the first 15 bytes of HMAC-SHA256: 24 characters, 120 bits, unguessable without the
    pseudonym key and safe to use as a file-system or Parquet partition value.
    """
    digest = hmac.new(keyring.pseudonym_key, subject.encode("utf-8"), hashlib.sha256).digest()
    return "pk" + base64.b32encode(digest[:15]).decode("ascii").lower()
