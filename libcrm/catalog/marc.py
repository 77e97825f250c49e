"""Reading MARC files — ISO 2709 ("binary") or MARCXML, MARC 21 or UNIMARC/CNMARC, UTF-8 or
MARC-8 — into catalogue items, record by record, so that a broken record is reported with its
number, byte offset, field and reason while every good record around it is still read.

Why not ``pymarc.MARCReader(permissive=True)`` alone: after a record whose leader length is
not a number, or a truncated one, it stops reading (``FatalReaderError``), losing every record
behind it. Here records are framed by their end-of-record mark instead, which re-synchronises
after any damage, and pymarc decodes each frame once its structure has been checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pymarc import Record

from libcrm.catalog import marcxml
from libcrm.catalog.crosswalk import ItemRecord, RecordFormat, detect_format, item_from_record
from libcrm.catalog.errors import CatalogError, RecordProblem, RecordRejected

BLOCK = 1 << 16
#: A leader writes the record length in five digits.
MAX_RECORD_LENGTH = 99_999
RECORD_TERMINATOR = 0x1D
FIELD_TERMINATOR = 0x1E
ESCAPE = 0x1B
#: Bytes some systems put between records (line breaks, DOS end-of-file, tape padding).
PADDING = b"\r\n\x1a\x00 \t"

FORMATS = ("auto", "marc21", "unimarc")
ENCODINGS = ("auto", "utf-8", "marc-8", "gb18030")


@dataclass(frozen=True)
class ReadRecord:
    """A record that became an item; ``warnings`` name what was left out of it (a bad ISBN)."""

    number: int
    offset: int | None
    line: int | None
    item: ItemRecord
    warnings: tuple[RecordProblem, ...] = ()


def read_marc(
    stream: BinaryIO, *, file_name: str = "", format: str = "auto", encoding: str = "auto"
) -> Iterator[ReadRecord | RecordProblem]:
    """Every record of a MARC file, as an item or as the problem that kept it out.

    MARCXML and ISO 2709 are told apart by the first bytes. ``format`` is "auto" (per record:
    MARC 21 has field 245, UNIMARC field 200), "marc21" or "unimarc". ``encoding`` applies to
    ISO 2709 only (XML declares its own): "auto" reads UTF-8, and MARC-8 where a MARC 21 leader
    says so and the bytes agree; GBK/GB18030 is detected and refused unless asked for.
    """
    # Checked now, not at the first record, so that a caller learns of a bad option before it
    # starts writing anything.
    if format not in FORMATS:
        raise CatalogError(f"format must be one of {', '.join(FORMATS)} (got {format!r})")
    if encoding not in ENCODINGS:
        raise CatalogError(f"encoding must be one of {', '.join(ENCODINGS)} (got {encoding!r})")
    return _read(stream, file_name, format, encoding)


def _read(
    stream: BinaryIO, file_name: str, format: str, encoding: str
) -> Iterator[ReadRecord | RecordProblem]:
    first = stream.read(BLOCK)
    if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        outcomes = _marcxml_records(stream, first, format)
    else:
        outcomes = _iso2709_records(stream, first, format, encoding)
    for number, offset, line, outcome in outcomes:
        if isinstance(outcome, RecordRejected):
            yield RecordProblem(file_name, number, offset, outcome.field, outcome.reason, line)
            continue
        record, record_format = outcome
        try:
            item, omissions = item_from_record(record, record_format)
        except RecordRejected as exc:
            yield RecordProblem(file_name, number, offset, exc.field, exc.reason, line)
            continue
        warnings = tuple(
            RecordProblem(file_name, number, offset, field, reason, line)
            for field, reason in omissions
        )
        yield ReadRecord(number or 0, offset, line, item, warnings)


_Decoded = tuple[Record, RecordFormat]
_Outcome = tuple[int | None, int | None, int | None, _Decoded | RecordRejected]


def _record_format(tags: list[str], wanted: str) -> RecordFormat:
    if wanted != "auto":
        return RecordFormat(wanted)
    detected = detect_format(tags)
    if detected is None:
        raise RecordRejected(
            "record",
            "cannot tell MARC 21 from UNIMARC: the record has neither field 245 nor field 200 "
            "(the title); give the format explicitly",
        )
    return detected


def _marcxml_records(stream: BinaryIO, first: bytes, wanted: str) -> Iterator[_Outcome]:
    for number, offset, line, outcome in marcxml.read_records(stream, first):
        if isinstance(outcome, RecordRejected):
            yield number, offset, line, outcome
            continue
        try:
            record_format = _record_format([f.tag for f in outcome.fields], wanted)
        except RecordRejected as exc:
            yield number, offset, line, exc
            continue
        yield number, offset, line, (outcome, record_format)


# --- ISO 2709 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    offset: int
    data: bytes
    terminated: bool
    overlong: bool = False


def _frames(stream: BinaryIO, first: bytes) -> Iterator[_Frame]:
    """Split the stream at end-of-record marks; the data cannot contain one (it is a control
    character in UTF-8, MARC-8 and GB18030 alike), so a damaged record never hides the next."""
    buffer, pos, consumed, skipping = bytearray(first), 0, 0, False
    while True:
        end = buffer.find(RECORD_TERMINATOR, pos)
        if end < 0:
            del buffer[:pos]
            consumed, pos = consumed + pos, 0
            if len(buffer) > MAX_RECORD_LENGTH and not skipping:
                start = len(buffer) - len(buffer.lstrip(PADDING))
                yield _Frame(consumed + start, bytes(buffer[start:]), False, overlong=True)
                skipping = True
            if skipping:
                consumed += len(buffer)
                buffer.clear()
            block = stream.read(BLOCK)
            if not block:
                break
            buffer += block
            continue
        chunk, offset, pos = bytes(buffer[pos : end + 1]), consumed + pos, end + 1
        if skipping:  # the rest of an over-long record, already reported
            skipping = False
            continue
        data = chunk.lstrip(PADDING)
        if len(data) > 1:
            yield _Frame(offset + len(chunk) - len(data), data, True)
    tail = bytes(buffer[pos:])
    data = tail.lstrip(PADDING)
    if data.rstrip(PADDING) and not skipping:
        yield _Frame(consumed + pos + len(tail) - len(data), data, False)


def _iso2709_records(
    stream: BinaryIO, first: bytes, wanted: str, encoding: str
) -> Iterator[_Outcome]:
    for number, frame in enumerate(_frames(stream, first), start=1):
        try:
            yield number, frame.offset, None, _decode(frame, wanted, encoding)
        except RecordRejected as exc:
            yield number, frame.offset, None, exc


def _leader_length(leader: bytes) -> int:
    digits = leader[:5].decode("ascii", "replace")
    if not digits.isdigit():
        raise RecordRejected(
            "leader", f"leader is broken: record length {digits!r} is not a number"
        )
    return int(digits)


def _structure(frame: _Frame) -> tuple[str, list[tuple[str, bytes]]]:
    """The leader and the (tag, bytes) of each field, after checking everything pymarc would
    otherwise trip over with a less precise message."""
    data = frame.data
    if frame.overlong:
        raise RecordRejected(
            "record",
            f"no end-of-record mark within {MAX_RECORD_LENGTH:,} bytes, the most a MARC record "
            "can hold; skipped to the next end-of-record mark",
        )
    declared = _leader_length(data[:24])
    if not frame.terminated:
        raise RecordRejected(
            "record",
            f"record is truncated: the file ends {len(data)} bytes into a record whose leader "
            f"announces {declared} bytes",
        )
    if len(data) < 24:
        raise RecordRejected("leader", f"leader is broken: the record has only {len(data)} bytes")
    try:
        leader = data[:24].decode("ascii")
    except UnicodeDecodeError:
        raise RecordRejected("leader", "leader is broken: it holds non-ASCII bytes") from None
    if declared != len(data):
        raise RecordRejected(
            "leader",
            f"leader is broken: record length says {declared} bytes but the record ends after "
            f"{len(data)} bytes",
        )
    if not leader[12:17].isdigit():
        raise RecordRejected(
            "leader", f"leader is broken: base address of data {leader[12:17]!r} is not a number"
        )
    base = int(leader[12:17])
    if not 24 < base < len(data) or data[base - 1] != FIELD_TERMINATOR:
        raise RecordRejected(
            "directory", f"directory is broken: base address {base} does not follow it"
        )
    directory = data[24 : base - 1]
    if len(directory) % 12:
        raise RecordRejected(
            "directory",
            f"directory is broken: its length {len(directory)} is not a multiple of 12",
        )
    fields = []
    for start in range(0, len(directory), 12):
        entry = directory[start : start + 12].decode("ascii", "replace")
        tag, length, position = entry[:3], entry[3:7], entry[7:12]
        if not (tag.isalnum() and length.isdigit() and position.isdigit()):
            raise RecordRejected(
                "directory", f"directory is broken: entry {entry!r} is not tag+length+position"
            )
        first, last = base + int(position), base + int(position) + int(length)
        if int(length) == 0 or last > len(data) - 1:
            raise RecordRejected(tag, f"directory is broken: field {tag} lies outside the record")
        if data[last - 1] != FIELD_TERMINATOR:
            raise RecordRejected(
                tag, f"field {tag} is broken: it does not end where the directory says"
            )
        fields.append((tag, data[first : last - 1]))
    return leader, fields


def _looks_like_gbk(raw: bytes) -> bool:
    """GBK/GB18030 Chinese: valid GB18030 with two or more double-byte characters in a row.
    MARC-8 never has four high bytes in a row (its diacritics precede a Latin letter, and its
    CJK sets are reached by escape sequences), so the two are not confused."""
    if not re.search(rb"[\x81-\xfe]{4}", raw):
        return False
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _choose_encoding(
    leader: str, fields: list[tuple[str, bytes]], record_format: RecordFormat, encoding: str
) -> str:
    if encoding == "gb18030":
        for tag, raw in fields:
            try:
                raw.decode("gb18030")
            except UnicodeDecodeError:
                raise RecordRejected(tag, f"field {tag} is not valid GB18030") from None
    if encoding in ("marc-8", "gb18030"):
        return encoding
    # MARC-8 is possible only in MARC 21 (UNIMARC never used it) when leader/09 does not say
    # UTF-8; its CJK and other non-Latin sets are reached by escape sequences.
    marc8_possible = (
        encoding == "auto" and record_format is RecordFormat.MARC21 and leader[9] != "a"
    )
    if marc8_possible and any(ESCAPE in raw for _, raw in fields):
        return "marc-8"
    invalid = []
    for tag, raw in fields:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            invalid.append((tag, raw, exc))
    if not invalid:
        return "utf-8"
    for tag, raw, _ in invalid:
        if _looks_like_gbk(raw):
            raise RecordRejected(
                tag,
                f"field {tag} is not UTF-8 but looks like GBK/GB18030; re-export the records as "
                "UTF-8, or import them with encoding gb18030",
            )
    if marc8_possible:
        return "marc-8"
    tag, raw, exc = invalid[0]
    raise RecordRejected(
        tag,
        f"field {tag} is not valid UTF-8 (byte 0x{raw[exc.start]:02X} at position {exc.start} "
        "of the field)",
    )


def _decode(frame: _Frame, wanted: str, encoding: str) -> _Decoded:
    leader, fields = _structure(frame)
    record_format = _record_format([tag for tag, _ in fields], wanted)
    chosen = _choose_encoding(leader, fields, record_format, encoding)
    data = frame.data
    if chosen != "utf-8":  # pymarc reads UTF-8 whenever leader/09 is "a", whatever it is told
        data = data[:9] + b" " + data[10:]
    try:
        record = Record(
            data,
            to_unicode=True,
            force_utf8=chosen == "utf-8",
            hide_utf8_warnings=True,
            file_encoding="gb18030" if chosen == "gb18030" else "iso8859-1",
        )
    except Exception as exc:  # pymarc raises many kinds; each means this record is unreadable
        raise RecordRejected("record", f"record could not be decoded as {chosen}: {exc}") from None
    return record, record_format
