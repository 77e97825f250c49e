"""A streaming MARCXML reader that reports each broken ``<record>`` on its own.

pymarc's own MARCXML reader stops at the first record it cannot build (a field without a tag, a
leader of the wrong length); this one builds the same pymarc records with expat directly, so it
knows each record's byte offset and line, rejects only the broken record, and reads files of any
size in constant memory. It also reads MARCXchange (ISO 25577), the XML of UNIMARC, which uses
the same element names. DTDs are refused: MARCXML needs none, and entity expansion is how
hostile XML exhausts memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import BinaryIO
from xml.parsers import expat

from pymarc import Field, Indicators, Leader, Record

from libcrm.catalog.errors import RecordRejected

BLOCK = 1 << 16

#: (record number, byte offset, line, the record or why it was rejected); a record number of
#: None is a problem with the file itself.
Outcome = tuple[int | None, int | None, int | None, Record | RecordRejected]


class _DtdRefused(Exception):
    pass


class _Collector:
    """Expat callbacks that assemble pymarc records and queue them as they complete."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.ready: deque[Outcome] = deque()
        self.number = 0
        self.record: Record | None = None
        self.problem: RecordRejected | None = None
        self.has_leader = False
        self.field: Field | None = None
        self.code: str | None = None
        self.text: list[str] = []
        self.offset: int | None = None
        self.line: int | None = None

    def reject(self, field: str, reason: str) -> None:
        if self.problem is None:
            self.problem = RecordRejected(field, reason)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        element = name.rsplit(" ", 1)[-1]
        self.text = []
        if element == "record":
            self.number += 1
            self.offset = self.parser.CurrentByteIndex
            self.line = self.parser.CurrentLineNumber
            self.record, self.problem, self.has_leader, self.field = Record(), None, False, None
            return
        if self.record is None or self.problem is not None:
            return
        if element in ("controlfield", "datafield"):
            tag = (attrs.get("tag") or "").strip()
            if len(tag) != 3 or not tag.isalnum():
                self.reject("record", f"a {element} has tag {tag!r}, which is not a MARC tag")
            elif element == "controlfield":
                self.field = Field(tag=tag, data="")
            else:
                indicators = Indicators(attrs.get("ind1") or " ", attrs.get("ind2") or " ")
                self.field = Field(tag=tag, indicators=indicators, subfields=[])
        elif element == "subfield":
            code = attrs.get("code") or ""
            if self.field is None or len(code) != 1:
                tag = self.field.tag if self.field is not None else "record"
                self.reject(tag, f"field {tag} has a subfield with code {code!r}")
            self.code = code

    def end(self, name: str) -> None:
        element = name.rsplit(" ", 1)[-1]
        text = "".join(self.text)
        self.text = []
        if element == "record":
            self._finish_record()
        elif self.record is None or self.problem is not None:
            return
        elif element == "leader":
            if len(text) != 24:
                self.reject("leader", f"leader is broken: it has {len(text)} characters, not 24")
            else:
                self.record.leader = Leader(text)
                self.has_leader = True
        elif element == "controlfield" and self.field is not None:
            self.field.data = text
            self.record.add_field(self.field)
            self.field = None
        elif element == "datafield" and self.field is not None:
            self.record.add_field(self.field)
            self.field = None
        elif element == "subfield" and self.field is not None and self.code:
            self.field.add_subfield(self.code, text)
            self.code = None

    def _finish_record(self) -> None:
        if self.record is None:
            return
        if self.problem is None and not self.has_leader:
            self.reject("leader", "leader is missing")
        outcome = self.problem if self.problem is not None else self.record
        self.ready.append((self.number, self.offset, self.line, outcome))
        self.record, self.problem = None, None

    def characters(self, data: str) -> None:
        self.text.append(data)

    def refuse_dtd(self, *args: object) -> None:
        raise _DtdRefused


def read_records(stream: BinaryIO, first_block: bytes = b"") -> Iterator[Outcome]:
    """Every ``<record>`` of a MARCXML stream, whose first bytes may already have been read."""
    parser = expat.ParserCreate(namespace_separator=" ")
    collector = _Collector(parser)
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.characters
    parser.StartDoctypeDeclHandler = collector.refuse_dtd
    parser.buffer_text = True
    block = first_block
    try:
        while True:
            if not block:
                block = stream.read(BLOCK)
            final = not block
            parser.Parse(block, final)
            while collector.ready:
                yield collector.ready.popleft()
            if final:
                return
            block = b""
    except ValueError as exc:  # pyexpat refuses multi-byte encodings other than UTF-8/16
        if "encoding" not in str(exc):
            raise
        yield (
            None,
            None,
            parser.CurrentLineNumber,
            RecordRejected(
                "file",
                f"the XML declares an encoding libcrm cannot read ({exc}); MARCXML is UTF-8 — "
                "re-export the file as UTF-8 (a GBK file can also be converted with iconv)",
            ),
        )
    except _DtdRefused:
        yield (
            None,
            None,
            parser.CurrentLineNumber,
            RecordRejected(
                "file", "the file declares a DTD; MARCXML needs none and libcrm does not read them"
            ),
        )
    except expat.ExpatError as exc:
        while collector.ready:
            yield collector.ready.popleft()
        message = expat.errors.messages[exc.code]
        if collector.record is not None:
            yield (
                collector.number,
                collector.offset,
                collector.line,
                RecordRejected(
                    "record",
                    f"record is cut short: the XML breaks off at line {exc.lineno}, column "
                    f"{exc.offset} ({message}); nothing after it could be read",
                ),
            )
        else:
            yield (
                None,
                None,
                exc.lineno,
                RecordRejected(
                    "file",
                    f"the XML is malformed at line {exc.lineno}, column {exc.offset} ({message}); "
                    "nothing after it could be read",
                ),
            )
