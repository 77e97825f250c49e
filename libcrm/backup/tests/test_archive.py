"""The sealed archive format on its own: every kind of damage is caught and named."""

from __future__ import annotations

import io
import os

import pytest

from libcrm.backup import archive

KEY = os.urandom(32)


def seal(data: bytes, key: bytes = KEY) -> bytes:
    sink = io.BytesIO()
    writer = archive.SealingWriter(sink, key)
    for start in range(0, len(data), 300_000):
        writer.write(data[start : start + 300_000])
    writer.close()
    return sink.getvalue()


def open_all(blob: bytes, key: bytes = KEY) -> bytes:
    return archive.OpeningReader(io.BytesIO(blob), key).read()


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(archive.CHUNK * 2 + 12_345)  # three chunks, the last one short


def test_round_trip_of_several_chunks(payload: bytes) -> None:
    assert open_all(seal(payload)) == payload
    assert open_all(seal(b"")) == b""


def test_plaintext_never_appears_in_the_archive() -> None:
    marker = b"PLAINTEXT-MARKER-" + os.urandom(4).hex().encode()
    assert marker not in seal(marker * 1000)


def test_the_wrong_key_is_named_as_such(payload: bytes) -> None:
    with pytest.raises(archive.WrongKey, match="key does not open"):
        open_all(seal(payload), os.urandom(32))


def test_a_flipped_byte_is_detected(payload: bytes) -> None:
    blob = bytearray(seal(payload))
    blob[len(blob) // 2] ^= 0x01
    with pytest.raises(archive.TamperedArchive, match="integrity"):
        open_all(bytes(blob))


def test_a_cut_off_tail_is_detected(payload: bytes) -> None:
    blob = seal(payload)
    with pytest.raises(archive.TruncatedArchive):
        open_all(blob[: len(blob) - 100])
    # cut exactly after a whole non-final chunk: no final chunk was ever seen
    first_chunk_end = 8 + 1 + 16 + 16 + 8 + 4 + archive.CHUNK + 16
    with pytest.raises(archive.TruncatedArchive, match="without its final chunk"):
        open_all(blob[:first_chunk_end])


def test_reordered_chunks_and_trailing_data_are_detected(payload: bytes) -> None:
    blob = seal(payload)
    header = 8 + 1 + 16 + 16 + 8
    size = 4 + archive.CHUNK + 16
    first, second = blob[header : header + size], blob[header + size : header + 2 * size]
    swapped = blob[:header] + second + first + blob[header + 2 * size :]
    with pytest.raises(archive.TamperedArchive):
        open_all(swapped)
    with pytest.raises(archive.TamperedArchive, match="after its final chunk"):
        open_all(blob + b"extra")


def test_something_else_is_not_an_archive() -> None:
    with pytest.raises(archive.NotAnArchive):
        open_all(b"PK\x03\x04 a zip file, say")
