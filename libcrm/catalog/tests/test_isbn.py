"""ISBNs and ISSNs as catalogue records write them. No database."""

from __future__ import annotations

import pytest

from libcrm.catalog.isbn import normalise_isbn, normalise_issn


@pytest.mark.parametrize(
    ("raw", "isbn"),
    [
        ("9787536692930", "9787536692930"),
        ("978-7-5366-9293-0 (平装)", "9787536692930"),
        ("ISBN 978-7-5366-9293-0 : CNY23.00", "9787536692930"),
        ("ISBN：９７８７５３６６９２９３０", "9787536692930"),  # full-width, as typed in Chinese
        ("1593276036", "9781593276034"),  # ISBN-10 becomes ISBN-13
        ("0-8044-2957-X", "9780804429573"),  # ISBN-10 with check digit X
        ("080442957x (pbk.)", "9780804429573"),
    ],
)
def test_isbns_are_kept_as_isbn13(raw: str, isbn: str) -> None:
    assert normalise_isbn(raw) == isbn


@pytest.mark.parametrize(
    "raw", ["9787536692931", "1593276037", "12345", "", "(pbk.)", "X123456789"]
)
def test_invalid_isbns_are_refused(raw: str) -> None:
    assert normalise_isbn(raw) is None


def test_issn() -> None:
    assert normalise_issn("0028-0836") == "0028-0836"
    assert normalise_issn("00280836 (print)") == "0028-0836"
    assert normalise_issn("2049-3630") == "2049-3630"
    assert normalise_issn("0028-0837") is None
    assert normalise_issn("n/a") is None
