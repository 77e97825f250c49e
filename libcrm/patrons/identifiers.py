"""Identifier kinds: how each is validated, normalised for exact matching, and masked for display.

Pure functions over strings (no Django): a library card, campus ID, e-mail, phone, WeChat openid
and unionid, Weibo and Douyin ids, national ID (kept only as a keyed hash) and "other".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class IdentifierKind(StrEnum):
    LIBRARY_CARD = "library_card"
    CAMPUS_ID = "campus_id"
    EMAIL = "email"
    PHONE = "phone"
    WECHAT_OPENID = "wechat_openid"
    WECHAT_UNIONID = "wechat_unionid"
    WEIBO_ID = "weibo_id"
    DOUYIN_ID = "douyin_id"
    NATIONAL_ID = "national_id"
    OTHER = "other"


# National IDs are never stored, only their keyed hash: they are needed to recognise a person,
# never to be read back.
HASH_ONLY_KINDS = frozenset({IdentifierKind.NATIONAL_ID})

MAX_VALUE_LENGTH = 254


def gettext_noop(message: str) -> str:
    """Marks a message for translation (Django's extractor knows this name) without importing
    Django: the caller translates ``reason`` when it shows it."""
    return message


class InvalidIdentifier(ValueError):
    """The value does not have its kind's format; ``reason`` says what is wrong in plain words.

    ``field`` is "kind" when the kind itself is unknown, else "value"; ``params`` fill the
    ``%(name)s`` placeholders of ``reason`` after translation.
    """

    def __init__(self, kind: str, reason: str, *, field: str = "value", **params: object) -> None:
        super().__init__(reason % params if params else reason)
        self.kind = kind
        self.reason = reason
        self.field = field
        self.params = params


@dataclass(frozen=True)
class _Format:
    pattern: re.Pattern[str]
    reason: str


_CODE = _Format(
    re.compile(r"[A-Z0-9][A-Z0-9\-]{2,31}"),
    gettext_noop("must be 3 to 32 letters, digits or dashes"),
)
_FORMATS: dict[IdentifierKind, _Format] = {
    IdentifierKind.LIBRARY_CARD: _CODE,
    IdentifierKind.CAMPUS_ID: _CODE,
    IdentifierKind.WECHAT_OPENID: _Format(
        re.compile(r"[A-Za-z0-9_\-]{28}"),
        gettext_noop("a WeChat openid is exactly 28 letters, digits, '-' or '_'"),
    ),
    IdentifierKind.WECHAT_UNIONID: _Format(
        re.compile(r"[A-Za-z0-9_\-]{28,29}"),
        gettext_noop("a WeChat unionid is 28 or 29 letters, digits, '-' or '_'"),
    ),
    IdentifierKind.WEIBO_ID: _Format(
        re.compile(r"[0-9]{5,16}"), gettext_noop("a Weibo user id is 5 to 16 digits")
    ),
    IdentifierKind.DOUYIN_ID: _Format(
        re.compile(r"[A-Za-z0-9._\-]{2,64}"),
        gettext_noop("a Douyin id is 2 to 64 letters, digits, '.', '-' or '_'"),
    ),
}
_EMAIL = re.compile(r"[^@\s]{1,64}@[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\.[a-z0-9\-]{1,63})+")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def normalise(kind: str, value: str) -> str:
    """The canonical form used for exact matching; raises :class:`InvalidIdentifier`."""
    try:
        kind = IdentifierKind(kind)
    except ValueError:
        raise InvalidIdentifier(
            str(kind),
            gettext_noop("unknown identifier kind; use one of: %(kinds)s"),
            field="kind",
            kinds=", ".join(k.value for k in IdentifierKind),
        ) from None
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, gettext_noop("must be text"))
    text = _clean(value)
    if not text:
        raise InvalidIdentifier(kind, gettext_noop("must not be empty"))
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidIdentifier(
            kind, gettext_noop("must be at most %(limit)d characters"), limit=MAX_VALUE_LENGTH
        )
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidIdentifier(kind, gettext_noop("must not contain control characters"))
    if kind is IdentifierKind.EMAIL:
        return _normalise_email(text)
    if kind is IdentifierKind.PHONE:
        return _normalise_phone(text)
    if kind is IdentifierKind.NATIONAL_ID:
        return _normalise_cn_resident_id(text)
    if kind is IdentifierKind.OTHER:
        if len(text) > 128:
            raise InvalidIdentifier(
                kind, gettext_noop("must be at most %(limit)d characters"), limit=128
            )
        return text
    fmt = _FORMATS[kind]
    if kind in {IdentifierKind.LIBRARY_CARD, IdentifierKind.CAMPUS_ID}:
        text = text.upper()
    if not fmt.pattern.fullmatch(text):
        raise InvalidIdentifier(kind, fmt.reason)
    return text


def _normalise_email(text: str) -> str:
    lowered = text.lower()
    if "@" not in lowered:
        raise InvalidIdentifier(
            IdentifierKind.EMAIL, gettext_noop("an e-mail address needs an '@' and a domain")
        )
    if not _EMAIL.fullmatch(lowered):
        raise InvalidIdentifier(
            IdentifierKind.EMAIL,
            gettext_noop("an e-mail address needs a name, '@' and a domain such as example.org"),
        )
    return lowered


def _normalise_phone(text: str) -> str:
    compact = _PHONE_SEPARATORS.sub("", text)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isdigit() or not digits.isascii():
        raise InvalidIdentifier(
            IdentifierKind.PHONE,
            gettext_noop(
                "a phone number may hold only digits, spaces, dashes, brackets and a leading +"
            ),
        )
    if not plus and digits.startswith("00"):
        digits, plus = digits[2:], True
    if not plus and len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits  # a mainland mobile number written without its country code
    if plus and digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        return "+" + digits
    if not 6 <= len(digits) <= 15:
        raise InvalidIdentifier(
            IdentifierKind.PHONE, gettext_noop("a phone number has 6 to 15 digits")
        )
    return ("+" if plus else "") + digits


def _normalise_cn_resident_id(text: str) -> str:
    upper = text.upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", upper):
        raise InvalidIdentifier(
            IdentifierKind.NATIONAL_ID,
            gettext_noop("a resident identity card number is 17 digits followed by a digit or X"),
        )
    total = sum(int(d) * w for d, w in zip(upper[:17], _CN_ID_WEIGHTS, strict=True))
    if _CN_ID_CHECK[total % 11] != upper[17]:
        raise InvalidIdentifier(
            IdentifierKind.NATIONAL_ID, gettext_noop("the check digit does not match")
        )
    return upper


def mask(kind: str, normalised: str | None) -> str:
    """A display form that lets staff recognise an identifier without reading it whole."""
    if not normalised:
        return "••••••"
    if kind == IdentifierKind.EMAIL:
        local, _, domain = normalised.partition("@")
        return f"{local[:1]}•••@{domain}"
    if kind == IdentifierKind.PHONE:
        return (
            f"{normalised[:-8]}••••{normalised[-4:]}"
            if len(normalised) > 8
            else "••••" + normalised[-2:]
        )
    if len(normalised) <= 6:
        return "•••" + normalised[-1:]
    return f"{normalised[:2]}•••{normalised[-2:]}"


def guess_kinds(text: str) -> list[IdentifierKind]:
    """The kinds a search box entry could be, so one box can find a patron by any identifier."""
    kinds = []
    for kind in IdentifierKind:
        if kind in HASH_ONLY_KINDS or kind is IdentifierKind.OTHER:
            continue
        try:
            normalise(kind, text)
        except InvalidIdentifier:
            continue
        kinds.append(kind)
    return kinds
