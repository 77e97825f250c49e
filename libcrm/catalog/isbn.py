"""Standard numbers as catalogue records write them ("978-7-5366-9293-0 (pbk.)", "ISBN 7536692935
: CNY23.00", "0028-0836"), checked and put in one form so that two records of one edition match.
ISBNs are kept as ISBN-13, the only form issued since 2007."""

from __future__ import annotations

import re
import unicodedata

_ISBN = re.compile(r"(?:ISBN)?[:：]?(97[89]\d{10}|\d{9}[\dX])(?![\dX])")
_ISSN = re.compile(r"(?<!\d)(\d{4})-?(\d{3}[\dX])(?![\dX])")


def _compact(raw: str) -> str:
    return re.sub(r"[\s\-‐‑]", "", unicodedata.normalize("NFKC", raw or "").upper())


def isbn13_check_digit(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def _isbn10_valid(isbn: str) -> bool:
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(isbn))
    return "X" not in isbn[:9] and total % 11 == 0


def normalise_isbn(raw: str) -> str | None:
    """The ISBN-13 written at the start of ``raw``, or None if there is none or its check digit
    is wrong (a typo that would otherwise match another book)."""
    match = _ISBN.match(_compact(raw))
    if not match:
        return None
    isbn = match[1]
    if len(isbn) == 10:
        if not _isbn10_valid(isbn):
            return None
        core = "978" + isbn[:9]
        return core + isbn13_check_digit(core)
    return isbn if isbn13_check_digit(isbn[:12]) == isbn[12] else None


def normalise_issn(raw: str) -> str | None:
    """The ISSN in ``raw`` as NNNN-NNNC, or None if there is none or its check digit is wrong."""
    match = _ISSN.search(unicodedata.normalize("NFKC", raw or "").upper())
    if not match:
        return None
    digits = match[1] + match[2]
    total = sum((8 - i) * int(d) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    if digits[7] != ("X" if check == 10 else str(check)):
        return None
    return f"{match[1]}-{match[2]}"
