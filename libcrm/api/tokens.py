"""The format of API token strings: ``lcrm_<prefix>_<secret>``.

The prefix is public (it is stored in the clear, shown in the console and used to find the
token's row); the secret is 32 random bytes, of which only a SHA-256 digest is stored. A plain
digest is enough because the secret is random and long, unlike a password, so there is nothing to
guess and no need for a slow hash. Pure functions, no Django.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

LABEL = "lcrm"  # the public start of every token string, so scanners can spot leaks
PREFIX_LENGTH = 10
SECRET_BYTES = 32
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class TokenParts:
    prefix: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{LABEL}_{self.prefix}_{self.secret}"


def generate_token() -> TokenParts:
    """A new random prefix and secret. The prefix avoids ``_`` so the string splits unambiguously
    (the URL-safe secret may itself contain ``_``)."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return TokenParts(prefix=prefix, secret=secrets.token_urlsafe(SECRET_BYTES))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response timing says nothing about how much of a guess was
    right."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def parse_token(text: str) -> TokenParts | None:
    """The parts of a token string, or ``None`` if it does not have the token format."""
    label, sep, rest = text.strip().partition("_")
    if label != LABEL or not sep:
        return None
    prefix, sep, secret = rest.partition("_")
    if (
        not sep
        or len(prefix) != PREFIX_LENGTH
        or any(ch not in _PREFIX_ALPHABET for ch in prefix)
        or not secret
        or len(secret) > 128
    ):
        return None
    return TokenParts(prefix=prefix, secret=secret)
