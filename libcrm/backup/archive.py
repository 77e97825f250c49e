"""The encrypted backup archive format: a tar stream sealed in authenticated chunks. Pure: no
Django.

Layout of an archive file::

    magic  b"LIBCRMBK"                      8 bytes
    version 1                               1 byte
    salt                                    16 bytes   (a fresh key per archive, see below)
    key check                               16 bytes   HMAC(archive key, "key check")
    nonce prefix                            8 bytes
    then chunks:  length (4 bytes, big-endian) || AES-256-GCM ciphertext+tag

Every chunk is sealed with the archive key, a nonce of ``prefix || counter`` and associated data
binding the header, the chunk's position and whether it is the last one. So a flipped byte, a
reordered, dropped or duplicated chunk and a cut-off tail are all detected, and each is reported
as what it is. The archive key is HKDF-SHA256 of the backup key and the salt; the backup key is
never stored in the archive (see :func:`libcrm.backup.services.backup_key`). The key check lets
a restore tell "this is the wrong key" from "this archive was altered" before decrypting
anything.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LIBCRMBK"
VERSION = 1
CHUNK = 1 << 20  # plaintext bytes per chunk
_HEADER = struct.Struct(">8sB16s16s8s")
_LENGTH = struct.Struct(">I")
_MAX_SEALED = CHUNK + 16


class ArchiveError(Exception):
    """The archive cannot be read; the message says why, in words for an operator."""


class NotAnArchive(ArchiveError):
    pass


class WrongKey(ArchiveError):
    pass


class TamperedArchive(ArchiveError):
    pass


class TruncatedArchive(ArchiveError):
    pass


def _archive_key(backup_key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"libcrm archive").derive(
        backup_key
    )


def _key_check(key: bytes) -> bytes:
    return hmac.new(key, b"libcrm key check", hashlib.sha256).digest()[:16]


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


class SealingWriter(io.RawIOBase):
    """A write-only file object: bytes written to it land in ``sink`` encrypted. ``close()``
    seals the final chunk; an archive whose writer was never closed reads as truncated."""

    def __init__(self, sink: BinaryIO, backup_key: bytes) -> None:
        super().__init__()
        salt, prefix = os.urandom(16), os.urandom(8)
        self._key = _archive_key(backup_key, salt)
        self._aes = AESGCM(self._key)
        self._header = _HEADER.pack(MAGIC, VERSION, salt, _key_check(self._key), prefix)
        self._prefix = prefix
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        sink.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), final=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, *, final: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aes.encrypt(nonce, plain, _aad(self._header, self._index, final))
        self._sink.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
        super().close()


class OpeningReader(io.RawIOBase):
    """A read-only file object over an archive: yields the plaintext, verifying every chunk as
    it goes, and raises an :class:`ArchiveError` subclass the moment something is wrong."""

    def __init__(self, source: BinaryIO, backup_key: bytes) -> None:
        super().__init__()
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size or not header.startswith(MAGIC):
            raise NotAnArchive("this file is not a libcrm backup archive")
        _magic, version, salt, check, prefix = _HEADER.unpack(header)
        if version != VERSION:
            raise NotAnArchive(f"unsupported backup archive version {version}")
        key = _archive_key(backup_key, salt)
        if not hmac.compare_digest(_key_check(key), check):
            raise WrongKey(
                "the key does not open this archive: restore with the key file (or LIBCRM_KEYS) "
                "of the installation that wrote it"
            )
        self._aes = AESGCM(key)
        self._header = header
        self._prefix = prefix
        self._source = source
        self._index = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        head = self._source.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            raise TruncatedArchive(
                f"the archive ends after chunk {self._index} without its final chunk: "
                "it was cut short (an interrupted copy or upload?)"
            )
        (length,) = _LENGTH.unpack(head)
        if length > _MAX_SEALED or length < 16:
            raise TamperedArchive(f"chunk {self._index} has an impossible length ({length})")
        sealed = self._source.read(length)
        if len(sealed) < length:
            raise TruncatedArchive(f"the archive is cut short inside chunk {self._index}")
        nonce = self._prefix + struct.pack(">I", self._index)
        for final in (False, True):
            try:
                plain = self._aes.decrypt(nonce, sealed, _aad(self._header, self._index, final))
            except InvalidTag:
                continue
            self._index += 1
            if final:
                self._done = True
                if self._source.read(1):
                    raise TamperedArchive("the archive has data after its final chunk")
            return plain
        raise TamperedArchive(
            f"chunk {self._index} fails its integrity check: the archive was altered or damaged"
        )

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = self._next_chunk()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
