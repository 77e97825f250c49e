"""The pure encryption core: sealing, tamper detection, blind indexes, pseudonyms."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from libcrm.privacy import crypto
from libcrm.privacy.crypto import DecryptionError, Keyring, KeyringError


def make_keyring(**overrides: object) -> Keyring:
    values: dict[str, object] = {
        "field_keys": {"f1": b"\x01" * 32},
        "field_primary": "f1",
        "index_keys": {"i1": b"\x02" * 32},
        "index_primary": "i1",
        "pseudonym_key": b"\x03" * 32,
    }
    values.update(overrides)
    return Keyring(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_unicode_and_hides_plaintext() -> None:
    ring = make_keyring()
    token = crypto.encrypt(ring, "张伟 Zhang Wei", "patrons.Patron.name")
    assert "张伟" not in token and "Zhang" not in token
    assert token.startswith("f1:")
    assert crypto.decrypt(ring, token, "patrons.Patron.name") == "张伟 Zhang Wei"


def test_same_value_encrypts_differently_each_time() -> None:
    ring = make_keyring()
    assert crypto.encrypt(ring, "x", "c") != crypto.encrypt(ring, "x", "c")


def test_ciphertext_moved_to_another_field_does_not_open() -> None:
    ring = make_keyring()
    token = crypto.encrypt(ring, "138 0013 8000", "patrons.Patron.notes")
    with pytest.raises(DecryptionError, match="failed authentication"):
        crypto.decrypt(ring, token, "patrons.Patron.name")


def test_tampered_ciphertext_is_refused() -> None:
    ring = make_keyring()
    token = crypto.encrypt(ring, "secret", "c")
    kid, body = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    for position in (0, crypto.NONCE_BYTES, len(raw) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(raw)
        tampered[position] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(tampered)).decode()
        with pytest.raises(DecryptionError, match="failed authentication"):
            crypto.decrypt(ring, f"{kid}:{forged}", "c")


def test_unknown_key_id_names_the_key() -> None:
    ring = make_keyring()
    token = crypto.encrypt(ring, "secret", "c")
    other = make_keyring(field_keys={"f2": b"\x09" * 32}, field_primary="f2")
    with pytest.raises(DecryptionError, match="'f1'"):
        crypto.decrypt(other, token, "c")


def test_old_keys_still_open_after_a_new_primary_is_added() -> None:
    ring = make_keyring()
    old_token = crypto.encrypt(ring, "before rotation", "c")
    rotated = dataclasses.replace(
        ring, field_keys={**ring.field_keys, "f2": b"\x04" * 32}, field_primary="f2"
    )
    assert crypto.decrypt(rotated, old_token, "c") == "before rotation"
    assert crypto.key_id_of(crypto.encrypt(rotated, "after", "c")) == "f2"


def test_blind_index_is_deterministic_and_separated_by_context() -> None:
    ring = make_keyring()
    a = crypto.blind_index(ring, "identifier:phone", "+8613800138000")
    assert a == crypto.blind_index(ring, "identifier:phone", "+8613800138000")
    assert a != crypto.blind_index(ring, "identifier:library_card", "+8613800138000")
    assert a != crypto.blind_index(
        make_keyring(index_keys={"i1": b"\x05" * 32}), "identifier:phone", "+8613800138000"
    )


def test_blind_index_candidates_cover_every_index_key_primary_first() -> None:
    ring = make_keyring(index_keys={"i1": b"\x02" * 32, "i2": b"\x06" * 32}, index_primary="i2")
    candidates = crypto.blind_index_candidates(ring, "ctx", "v")
    assert candidates[0] == crypto.blind_index(ring, "ctx", "v")
    assert len(set(candidates)) == 2


def test_pseudonym_is_stable_short_and_keyed() -> None:
    ring = make_keyring()
    key = crypto.pseudonym(ring, "6f1c3f0e-0000-4000-8000-000000000001")
    assert key == crypto.pseudonym(ring, "6f1c3f0e-0000-4000-8000-000000000001")
    assert key.startswith("pk") and len(key) == 26 and key.isalnum()
    assert key != crypto.pseudonym(
        make_keyring(pseudonym_key=b"\x07" * 32), "6f1c3f0e-0000-4000-8000-000000000001"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"field_primary": "nope"}, "field_primary"),
        ({"index_primary": "nope"}, "index_primary"),
        ({"field_keys": {"f1": b"short"}}, "32 bytes"),
        ({"pseudonym_key": b"short"}, "pseudonym_key"),
    ],
)
def test_malformed_keyring_is_refused_with_the_part_named(override: dict, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        make_keyring(**override)
