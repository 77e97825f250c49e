"""Opening source files: gzip by its magic bytes, complete lines in blocks, text encodings.

Everything streams: a file is read in 1 MiB chunks and handed on as blocks of whole lines, so
memory stays bounded whatever the file size. A line longer than ``max_line_bytes`` is rejected
and skipped without being held in memory.

Encodings. UTF-8 with or without a byte-order mark is the norm. Chinese Windows software
exports GBK, so a file whose lines are not UTF-8 but decode cleanly as GB18030 (a superset of
GBK and GB2312) is *decoded as GB18030, with a notice saying so* — rejecting it would only send
the librarian to a text editor. Which one a file "is" is decided by the first block holding
non-ASCII bytes (the encoding more of its non-ASCII lines decode in); a line that fails in that
encoding is tried in the other one (and counted in a notice), and a line valid in neither is
rejected as ``line N: not valid UTF-8 or GB18030``. UTF-16 with a byte-order mark (Excel's
"Unicode text") is converted to UTF-8 on the fly, also with a notice.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from libcrm.events.connectors.base import Findings, Input

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20
UTF8 = "utf-8"
GB18030 = "gb18030"
NOT_DECODABLE = "line {line}: not valid UTF-8 or GB18030"
EMPTY_FILE = "the file is empty"


def input_name(data: Input) -> str:
    """The file name rejects are reported against (no directories: they mean nothing to the
    librarian who uploaded the file)."""
    if isinstance(data, str | os.PathLike):
        return Path(data).name
    name = getattr(data, "name", None)
    return Path(name).name if isinstance(name, str) and name else "<upload>"


class _Reads(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


#: What connectors read from: buffered, so it can be peeked at and read a piece at a time.
Stream = io.BufferedReader | gzip.GzipFile


class _Prefixed(io.RawIOBase):
    """A stream with its first bytes put back, so the gzip magic can be sniffed on pipes."""

    def __init__(self, head: bytes, rest: _Reads) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Utf16AsUtf8(io.RawIOBase):
    """UTF-16 text re-encoded as UTF-8 while it streams."""

    def __init__(self, raw: _Reads) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
        self._out = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        while not self._out and not self._eof:
            data = self._raw.read(CHUNK_BYTES)
            self._eof = not data
            self._out = self._decoder.decode(data, final=self._eof).encode(UTF8)
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


@dataclass(slots=True)
class Opened:
    stream: Stream
    name: str
    compressed: bool

    def peek(self, size: int = 64) -> bytes:
        """The first bytes of the content without consuming them (for telling JSON from CSV);
        empty when even those cannot be read (a damaged gzip — the reader will say so)."""
        try:
            return self.stream.peek(size)[:size]
        except (EOFError, OSError, zlib.error):
            return b""


@contextmanager
def open_input(data: Input) -> Iterator[Opened]:
    """A binary stream of the file's content, gunzipped when it starts with the gzip magic
    (whatever its name says); paths are closed afterwards, caller's streams are not."""
    name = input_name(data)
    raw: IO[bytes]
    if isinstance(data, str | os.PathLike):
        raw = open(data, "rb")  # noqa: SIM115 - closed in the finally below
        owned = True
    else:
        raw, owned = data, False
    try:
        head = raw.read(2)
        stream: Stream = io.BufferedReader(_Prefixed(head, raw), CHUNK_BYTES)
        compressed = head == GZIP_MAGIC
        if compressed:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        yield Opened(stream, name, compressed)
    finally:
        if owned:
            raw.close()


@dataclass(slots=True)
class LineBlock:
    """Consecutive lines of the file without their terminators; ``first`` is the 1-based line
    number of ``lines[0]``."""

    first: int
    lines: list[bytes]


class LineSource:
    """The complete lines of a stream, ``block_lines`` at a time.

    A gzip stream that ends early or fails its checksum ends the source with one reject naming
    the last complete line; the bytes after it (a cut-off line) are dropped.
    """

    def __init__(
        self,
        opened: Opened,
        findings: Findings,
        *,
        block_lines: int,
        chunk_bytes: int = CHUNK_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.opened = opened
        self.findings = findings
        self.block_lines = block_lines
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self.lines_read = 0
        self._damaged = ""  # what gzip said, when the stream failed its checks

    def _read(self, stream: Stream) -> tuple[bytes, bool]:
        """Up to ``chunk_bytes`` and whether the stream has ended.

        ``read1`` pieces are gathered by hand: a buffered ``read`` that meets the end of a
        truncated gzip raises and drops what it had already decompressed.
        """
        parts: list[bytes] = []
        size = 0
        while size < self.chunk_bytes:
            try:
                piece = stream.read1(self.chunk_bytes - size)
            except EOFError:
                self.findings.truncated = True
                return b"".join(parts), True
            except (gzip.BadGzipFile, zlib.error) as exc:
                self.findings.truncated = True
                self._damaged = str(exc)
                return b"".join(parts), True
            if not piece:
                return b"".join(parts), True
            parts.append(piece)
            size += len(piece)
        return b"".join(parts), False

    def _chunks(self) -> Iterator[bytes]:
        stream = self.opened.stream
        first = True
        ended = False
        while not ended:
            chunk, ended = self._read(stream)
            if first:
                first = False
                if chunk.startswith(codecs.BOM_UTF8):
                    chunk = chunk[len(codecs.BOM_UTF8) :]
                elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    self.findings.notice("the file is UTF-16 (Excel 'Unicode text'); read as such")
                    rest: _Reads = stream if not ended else io.BytesIO(b"")
                    stream = io.BufferedReader(_Utf16AsUtf8(_Prefixed(chunk, rest)))
                    ended = False
                    continue
            if chunk:
                yield chunk

    def __iter__(self) -> Iterator[LineBlock]:
        pending: list[bytes] = []
        first_pending = 1
        tail = b""
        skipping = False  # inside an over-long line, discarding up to its end
        for chunk in self._chunks():
            if skipping:
                cut = chunk.find(b"\n")
                if cut < 0:
                    continue
                skipping = False
                pending.append(self._too_long(first_pending + len(pending)))
                chunk = chunk[cut + 1 :]
            data = tail + chunk if tail else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                if len(tail) > self.max_line_bytes:
                    tail, skipping = b"", True
                continue
            body, tail = data[:cut], data[cut + 1 :]
            if b"\r" in body:
                body = body.removesuffix(b"\r").replace(b"\r\n", b"\n")
            lines = body.split(b"\n")
            if len(body) > self.max_line_bytes:
                for i, line in enumerate(lines):
                    if len(line) > self.max_line_bytes:
                        lines[i] = self._too_long(first_pending + len(pending) + i)
            pending.extend(lines)
            if len(tail) > self.max_line_bytes:
                tail, skipping = b"", True
            while len(pending) >= self.block_lines:
                block, pending = pending[: self.block_lines], pending[self.block_lines :]
                self.lines_read = first_pending + len(block) - 1
                yield LineBlock(first_pending, block)
                first_pending += len(block)
        if self.findings.truncated:
            tail = b""  # a cut-off last line is not a line
            skipping = False
        if skipping:
            pending.append(self._too_long(first_pending + len(pending)))
        elif tail:
            pending.append(tail.removesuffix(b"\r"))
        if pending:
            self.lines_read = first_pending + len(pending) - 1
            yield LineBlock(first_pending, pending)
        if self.findings.truncated:
            n = self.lines_read
            reason = (
                f"file damaged (gzip: {self._damaged}) after line {n}"
                if self._damaged
                else f"file truncated (gzip stream ended early) after line {n}"
            )
            self.findings.reject(n + 1, "", reason)

    def _too_long(self, line: int) -> bytes:
        limit = self.max_line_bytes // 1024
        self.findings.reject(line, "", f"line {line}: longer than {limit:,} KiB; skipped")
        return b""


class TextDecoder:
    """Decodes lines in the file's encoding (see the module docstring for the rule)."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.encoding: str | None = None  # undecided while every line has been ASCII
        self.utf8_as_read = True

    def _decide(self, lines: list[bytes]) -> str:
        as_utf8 = as_gb = 0
        for line in lines:
            if line.isascii():
                continue
            try:
                line.decode(UTF8)
                as_utf8 += 1
            except UnicodeDecodeError:
                try:
                    line.decode(GB18030)
                    as_gb += 1
                except UnicodeDecodeError:
                    pass
        if as_gb > as_utf8:
            self.findings.notice(
                "the file is not UTF-8; it was read as GB18030 (GBK), "
                "the encoding of Chinese Windows exports"
            )
            return GB18030
        return UTF8

    def _line(self, raw: bytes, line: int) -> str | None:
        primary = self.encoding or UTF8
        try:
            return raw.decode(primary)
        except UnicodeDecodeError:
            pass
        other = GB18030 if primary == UTF8 else UTF8
        try:
            text = raw.decode(other)
        except UnicodeDecodeError:
            self.findings.reject(line, "", NOT_DECODABLE.format(line=line))
            return None
        self.findings.count(f"lines that were not {primary.upper()} were read as {other.upper()}")
        return text

    def texts(self, block: LineBlock) -> list[str | None]:
        """The block's lines as text; ``None`` for a line that was rejected as undecodable.

        Afterwards :attr:`utf8_as_read` says whether every line was UTF-8 as it stood in the
        file, so callers may hash the original bytes instead of re-encoding the text.
        """
        lines = block.lines
        self.utf8_as_read = True
        if self.encoding is None:
            if all(line.isascii() for line in lines):
                return [line.decode("ascii") for line in lines]
            self.encoding = self._decide(lines)
        try:
            texts: list[str | None] = [line.decode(self.encoding) for line in lines]
            self.utf8_as_read = self.encoding == UTF8
            return texts
        except UnicodeDecodeError:
            self.utf8_as_read = False
            return [self._line(raw, block.first + i) for i, raw in enumerate(lines)]

    def utf8(self, block: LineBlock) -> tuple[list[bytes | None], bool]:
        """The block's lines as UTF-8 bytes (``None`` where undecodable) and whether every line
        was already valid UTF-8 — the fast path hands the bytes to Arrow untouched."""
        lines = block.lines
        if self.encoding != GB18030:
            joined = b"\n".join(lines)
            if joined.isascii():
                return list(lines), True
            if self.encoding is None:
                self.encoding = self._decide(lines)
            if self.encoding == UTF8:
                try:
                    joined.decode(UTF8)
                    return list(lines), True
                except UnicodeDecodeError:
                    pass
        texts = self.texts(block)
        return [None if t is None else t.encode(UTF8) for t in texts], False
