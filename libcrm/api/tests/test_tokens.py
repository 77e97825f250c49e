"""The token string format: pure functions, no database."""

from __future__ import annotations

import pytest

from libcrm.api.tokens import (
    PREFIX_LENGTH,
    TokenParts,
    generate_token,
    hash_secret,
    parse_token,
    secret_matches,
)


def test_generated_tokens_have_the_documented_shape_and_parse_back() -> None:
    parts = generate_token()
    assert parts.plaintext.startswith(f"lcrm_{parts.prefix}_")
    assert len(parts.prefix) == PREFIX_LENGTH and parts.prefix.isalnum()
    assert len(parts.secret) >= 43  # 32 random bytes, URL-safe base64
    assert parse_token(parts.plaintext) == parts


def test_generated_tokens_differ() -> None:
    tokens = {generate_token().plaintext for _ in range(50)}
    assert len(tokens) == 50


def test_secret_with_underscores_still_parses() -> None:
    assert parse_token("lcrm_abcdefgh12_se_cr_et") == TokenParts("abcdefgh12", "se_cr_et")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "lcrm",
        "lcrm_abcdefgh12",
        "lcrm_abcdefgh12_",
        "xcrm_abcdefgh12_secret",
        "lcrm_short_secret",
        "lcrm_ABCDEFGH12_secret",
        "lcrm_abcdefgh12_" + "x" * 200,
    ],
)
def test_malformed_token_strings_are_refused(text: str) -> None:
    assert parse_token(text) is None


def test_only_the_sha256_of_the_secret_is_compared() -> None:
    stored = hash_secret("s3cret")
    assert len(stored) == 64 and "s3cret" not in stored
    assert secret_matches("s3cret", stored)
    assert not secret_matches("s3cret ", stored)
