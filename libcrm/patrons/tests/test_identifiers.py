"""Identifier kinds: normalisation for exact matching, format errors, masking."""

from __future__ import annotations

import pytest

from libcrm.patrons.identifiers import (
    IdentifierKind,
    InvalidIdentifier,
    guess_kinds,
    mask,
    normalise,
)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("phone", "138 0013 8000", "+8613800138000"),
        ("phone", "138-0013-8000", "+8613800138000"),
        ("phone", "+86 138 0013 8000", "+8613800138000"),
        ("phone", "0086 13800138000", "+8613800138000"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "(010) 6275-1234", "01062751234"),
        ("phone", "１３８００１３８０００", "+8613800138000"),  # full-width digits from an IME
        ("email", "  Zhang.Wei@Example.EDU.cn ", "zhang.wei@example.edu.cn"),
        ("library_card", "lc-2024-001", "LC-2024-001"),
        ("campus_id", "2021011234", "2021011234"),
        ("wechat_openid", "oABCD1234efgh5678ijkl9012mno", "oABCD1234efgh5678ijkl9012mno"),
        ("wechat_unionid", "o6_bmasdasdsad6_2sgVt7hMZOPfL", "o6_bmasdasdsad6_2sgVt7hMZOPfL"),
        ("weibo_id", "1234567890", "1234567890"),
        ("douyin_id", "reader.2024", "reader.2024"),
        ("national_id", "11010519491231002x", "11010519491231002X"),
        ("other", "ALMA:99123", "ALMA:99123"),
    ],
)
def test_normalise_gives_one_canonical_form(kind: str, raw: str, expected: str) -> None:
    assert normalise(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        ("phone", "138abc38000", "only digits"),
        ("phone", "12345", "6 to 15 digits"),
        ("email", "reader.example.org", "needs an '@'"),
        ("email", "reader@localhost", "domain"),
        ("wechat_openid", "oABCD1234", "exactly 28"),
        ("wechat_unionid", "o" * 40, "28 or 29"),
        ("weibo_id", "abc", "5 to 16 digits"),
        ("library_card", "a", "3 to 32"),
        ("national_id", "110105194912310021", "check digit"),
        ("national_id", "1234", "17 digits"),
        ("library_card", "   ", "empty"),
        ("other", "x" * 200, "at most 128"),
        ("email", "a\x00b@example.org", "control characters"),
    ],
)
def test_bad_values_are_refused_with_the_reason(kind: str, raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as caught:
        normalise(kind, raw)
    assert caught.value.field == "value"


def test_unknown_kind_points_at_the_kind() -> None:
    with pytest.raises(InvalidIdentifier, match="unknown identifier kind") as caught:
        normalise("qq_number", "12345")
    assert caught.value.field == "kind"


def test_mask_shows_enough_to_recognise_and_no_more() -> None:
    assert mask("email", "zhang.wei@example.edu.cn") == "z•••@example.edu.cn"
    assert mask("phone", "+8613800138000") == "+86138••••8000"
    assert mask("library_card", "LC20240001") == "LC•••01"
    assert mask("national_id", None) == "••••••"
    assert "13800138000" not in mask("phone", "+8613800138000")


def test_search_box_guesses_the_kinds_a_value_could_be() -> None:
    assert IdentifierKind.EMAIL in guess_kinds("reader@example.org")
    phone_like = guess_kinds("13800138000")
    assert IdentifierKind.PHONE in phone_like and IdentifierKind.LIBRARY_CARD in phone_like
    assert IdentifierKind.NATIONAL_ID not in guess_kinds("11010519491231002X")
