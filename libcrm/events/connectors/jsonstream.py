"""Records out of JSON documents without loading the document: loan lists, checkout arrays,
COUNTER reports.

Accepted shapes: a top-level array of records; a wrapper object whose *container* member
(``loans``, ``Report_Items``) is the array of records — its other members (``totalRecords``,
``Report_Header``) are collected in :attr:`JsonRecords.header`; a single record object; and any
number of these one after another (NDJSON). The container array is read element by element with
the C decoder, so memory holds one record at a time, never the document.

After a malformed record, reading resumes at the next line that starts a record at the same
indentation (a ``{`` at column 0 between top-level documents); a record that contains an
undecodable line is rejected, not imported with replacement characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libcrm.events.connectors.base import Findings
from libcrm.events.connectors.reading import EMPTY_FILE, LineSource, Opened, TextDecoder
from libcrm.events.connectors.timestamps import parse_timestamp

MAX_RECORD_CHARS = 64 << 20
_BLOCK_LINES = 16_384
_COMPACT_AT = 1 << 20
_WS = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One record, with the line it starts on and its JSON path (``$.loans[12]``)."""

    line: int
    path: str
    value: Any


class _Malformed(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _Stop(Exception):
    """Nothing more can be read (a malformed record with no next record to resume at)."""


class _Text:
    """The decoded text read so far, with position → line-number bookkeeping."""

    def __init__(self, source: LineSource, decoder: TextDecoder) -> None:
        self._blocks = iter(source)
        self._decoder = decoder
        self.buf = ""
        self.base_line = 1  # line number of buf[0]
        self.eof = False
        self.bad_lines: set[int] = set()
        self._mark = (0, 1)  # a known (position, line) pair, so counting stays incremental

    def more(self) -> bool:
        """Append the next block of lines; False at the end of the file."""
        if self.eof:
            return False
        block = next(self._blocks, None)
        if block is None:
            self.eof = True
            return False
        texts = self._decoder.texts(block)
        parts = []
        for i, text in enumerate(texts):
            if text is None:
                self.bad_lines.add(block.first + i)
                text = block.lines[i].decode("utf-8", "replace")
            parts.append(text)
        self.buf += "\n".join(parts) + "\n"
        return True

    def ensure(self, pos: int) -> bool:
        """True once ``buf[pos]`` exists (reading more as needed)."""
        while pos >= len(self.buf):
            if not self.more():
                return False
        return True

    def skip_ws(self, pos: int) -> int:
        while True:
            match = _WS.match(self.buf, pos)
            pos = match.end() if match else pos
            if pos < len(self.buf) or not self.more():
                return pos

    def line_at(self, pos: int) -> int:
        mark_pos, mark_line = self._mark
        if pos < mark_pos:
            mark_pos, mark_line = 0, self.base_line
        line = mark_line + self.buf.count("\n", mark_pos, pos)
        self._mark = (pos, line)
        return line

    def column_at(self, pos: int) -> int:
        return pos - (self.buf.rfind("\n", 0, pos) + 1) + 1

    def compact(self, pos: int) -> int:
        """Forget the text before ``pos`` once it grows large; returns the new position."""
        if pos < _COMPACT_AT:
            return pos
        cut = self.buf.rfind("\n", 0, pos) + 1
        if cut == 0:
            return pos
        self.base_line = self.line_at(cut)
        self.buf = self.buf[cut:]
        self._mark = (0, self.base_line)
        return pos - cut

    def value(self, pos: int) -> tuple[Any, int]:
        """Decode one JSON value at ``pos``, reading more lines while it is incomplete."""
        while True:
            try:
                return _DECODER.raw_decode(self.buf, pos)
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(self.buf) or self.buf[exc.pos :].isspace()
                if incomplete and len(self.buf) - pos > MAX_RECORD_CHARS:
                    raise _Malformed(
                        f"a record longer than {MAX_RECORD_CHARS >> 20} MiB", pos
                    ) from None
                if not (incomplete and self.more()):
                    raise _Malformed(exc.msg, exc.pos) from None
            except RecursionError:
                raise _Malformed("nested too deeply", pos) from None


class JsonRecords:
    """Iterate over the records of a JSON file (see the module docstring for the shapes)."""

    def __init__(
        self, opened: Opened, findings: Findings, *, container_keys: tuple[str, ...]
    ) -> None:
        self.findings = findings
        self.container_keys = container_keys
        self.header: dict[str, Any] = {}
        self.documents = 0
        source = LineSource(opened, findings, block_lines=_BLOCK_LINES)
        self._text = _Text(source, TextDecoder(findings))

    def __iter__(self) -> Iterator[JsonRecord]:
        t = self._text
        pos = t.skip_ws(0)
        if pos >= len(t.buf) and not self.findings.truncated:
            self.findings.reject(1, "", EMPTY_FILE)
        while pos < len(t.buf):
            self.documents += 1
            start = pos
            try:
                if t.buf[pos] == "[":
                    pos = yield from self._array(pos, "$")
                elif t.buf[pos] == "{":
                    pos = yield from self._object(pos)
                else:
                    raise _Malformed("expected a JSON object or array", pos)
            except _Malformed as exc:
                try:
                    pos = self._resume(exc, start, r"\n[\[{]", field="")
                except _Stop:
                    return
            except _Stop:
                return
            pos = t.skip_ws(t.compact(pos))

    def _object(self, pos: int) -> Generator[JsonRecord, None, int]:
        """A top-level object: a wrapper around a container array, or a record itself."""
        t = self._text
        line = t.line_at(pos)
        # A record decodes in one C call; a wrapper is walked member by member instead, so that
        # its records keep their own line numbers and a long container never sits in memory.
        try:
            value, end = _DECODER.raw_decode(t.buf, pos)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            if not any(key in value for key in self.container_keys):
                yield from self._checked(JsonRecord(line, "$", value), end)
                return end
        members: dict[str, Any] = {}
        found = False
        pos += 1
        while True:
            pos = t.skip_ws(pos)
            if t.ensure(pos) and t.buf[pos] == "}":
                break
            key, pos = t.value(pos)
            if not isinstance(key, str):
                raise _Malformed("expected a member name in double quotes", pos)
            pos = t.skip_ws(pos)
            if not (t.ensure(pos) and t.buf[pos] == ":"):
                raise _Malformed("expected ':'", pos)
            pos = t.skip_ws(pos + 1)
            if key in self.container_keys and t.ensure(pos) and t.buf[pos] == "[":
                found = True
                pos = yield from self._array(pos, f"$.{key}")
            else:
                members[key], pos = t.value(pos)
                self.header[key] = members[key]
            pos = t.skip_ws(pos)
            if t.ensure(pos) and t.buf[pos] == ",":
                pos += 1
            elif t.ensure(pos) and t.buf[pos] == "}":
                break
            else:
                raise _Malformed("expected ',' or '}'", pos)
        if not found:
            for key in members:
                self.header.pop(key, None)
            yield JsonRecord(line, "$", members)
        return pos + 1

    def _array(self, pos: int, path: str) -> Generator[JsonRecord, None, int]:
        t = self._text
        pos = t.skip_ws(pos + 1)
        index = 0
        while True:
            if not t.ensure(pos):
                raise _Malformed("the array is not closed", pos)
            if t.buf[pos] == "]":
                return pos + 1
            field = f"{path}[{index}]"
            resync = r"\n" + re.escape(" " * (t.column_at(pos) - 1)) + r"\{"
            index += 1
            line = t.line_at(pos)
            try:
                value, end = t.value(pos)
            except _Malformed as exc:
                pos = self._resume(exc, pos, resync, field=field)
                continue
            yield from self._checked(JsonRecord(line, field, value), end)
            pos = t.skip_ws(end)
            if not t.ensure(pos):
                raise _Malformed("the array is not closed", pos)
            if t.buf[pos] == ",":
                pos = t.skip_ws(pos + 1)
            elif t.buf[pos] != "]":
                # Two records without a comma between them: both are intact, so read on.
                self.findings.notice(f"line {t.line_at(pos)}: a ',' is missing between records")
            pos = t.compact(pos)

    def _checked(self, record: JsonRecord, end: int) -> Iterator[JsonRecord]:
        t = self._text
        if t.bad_lines:
            last = t.line_at(end)
            bad = sorted(n for n in t.bad_lines if record.line <= n <= last)
            if bad:
                self.findings.reject(
                    record.line, record.path, f"contains line {bad[0]}, not valid UTF-8 or GB18030"
                )
                return
        yield record

    def _resume(self, exc: _Malformed, start: int, pattern: str, *, field: str) -> int:
        """Report a malformed record; the position of the next record's first character, or
        :class:`_Stop` when there is none."""
        t = self._text
        at = min(exc.pos, len(t.buf))
        if self.findings.truncated and t.eof and not t.buf[at:].strip():
            raise _Stop  # the truncation reject already says why the rest is missing
        where = f"{exc.message} at line {t.line_at(at)} column {t.column_at(at)}"
        first_line = t.line_at(start)
        regex = re.compile(pattern)
        search_from = max(start, t.buf.rfind("\n", 0, at))
        while True:
            match = regex.search(t.buf, search_from)
            if match or not t.more():
                break
        if match is None:
            self.findings.reject(
                first_line, field, f"malformed JSON ({where}); rest of file skipped"
            )
            raise _Stop
        self.findings.reject(first_line, field, f"malformed JSON ({where})")
        return match.end() - 1


class RecordFields:
    """Typed reading of one JSON record's members; problems are collected, not raised, so one
    reject report lists every bad member of the record.

    Names may be dotted (``borrower.barcode``) to reach into embedded objects.
    """

    def __init__(self, record: JsonRecord) -> None:
        self.record = record
        self.obj: dict[str, Any] = record.value if isinstance(record.value, dict) else {}
        self.problems: list[tuple[str, str]] = []

    def where(self, name: str) -> str:
        """The member's JSON path, for reject reports (just the name for a top-level record)."""
        return name if self.record.path == "$" else f"{self.record.path}.{name}"

    def raw(self, name: str) -> Any:
        value: Any = self.obj
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def problem(self, name: str, reason: str) -> None:
        self.problems.append((self.where(name), reason))

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                self.problem(name, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.problem(name, "must be text or a number")
            return ""
        return str(value).strip()

    def time(self, name: str, *, required: bool = False) -> datetime | None:
        text = self.text(name, required=required)
        if not text:
            return None
        value = parse_timestamp(text)
        if value is None:
            self.problem(name, f"not a date and time: {text!r}")
        return value

    def whole(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(name, f"not a whole number: {value!r}")
            return None
        return value

    def flag(self, name: str) -> bool:
        return self.raw(name) in (True, "true", "1", 1)
