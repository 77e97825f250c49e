"""libcrm's own raw event format: newline-delimited JSON, one event per line.

Each line is an object with these members (who, ``occurred_at``, ``type`` and ``channel`` are
required — the event schema's vocabulary for the last two is checked by the pipeline)::

    {"identifier": {"kind": "library_card", "value": "C0012345"},   # or "patron_key": "pk…"
     "occurred_at": "2024-03-05T09:15:00+08:00",                    # ISO 8601
     "type": "loan", "channel": "physical", "branch": "main", "space": "24h-room",
     "item_id": "b1234", "subject": "TP312", "quantity": 1, "duration_s": 3600,
     "attrs": {"call_number": "TP312/42"}, "source_id": "evt-8812"}

``identifier`` names the patron as the source knows them (``kind`` is a libcrm identifier kind);
a source that is already pseudonymised sends ``patron_key`` instead. A time without an offset is
local time in the library's zone. ``source_id``, the source's own id for the event, is its
natural key when given; otherwise the line's text is, so an identical line is the same event.
Attribute values may be text, numbers or booleans (kept as text); at most 16 keys, keys up to 64
characters, every value up to 1 KB.

Speed: blocks of lines go to Arrow's multi-threaded JSON reader with an explicit schema and are
checked column-wise; only a block the reader refuses is examined line by line (with ``json``),
its bad lines rejected and the rest handed back to the same column-wise checks — one set of
rules, whichever path a line took.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from libcrm.events.connectors.base import (
    ATTRS_TYPE,
    DEFAULT_BATCH_ROWS,
    IDENTIFIER_KINDS,
    MAX_ATTR_KEY_CHARS,
    MAX_ATTRS,
    MAX_VALUE_BYTES,
    RAW_SCHEMA,
    Chunk,
    ColumnChecks,
    Findings,
    Input,
    attrs_from_columns,
    check_batch_size,
    check_source,
    event_ids_of_lines,
    source_prefix,
)
from libcrm.events.connectors.reading import (
    EMPTY_FILE,
    UTF8,
    LineBlock,
    LineSource,
    TextDecoder,
    input_name,
    open_input,
)
from libcrm.events.connectors.timestamps import check_time_zone, iso_strings_to_utc
from libcrm.events.schema import PATRON_KEY_PATTERN

_TEXT_FIELDS = (
    "source_id",
    "patron_key",
    "occurred_at",
    "type",
    "channel",
    "branch",
    "space",
    "item_id",
    "subject",
)
_WHOLE_FIELDS = ("quantity", "duration_s")
_OPTIONAL_TEXT = ("branch", "space", "item_id", "subject")
KNOWN_FIELDS = frozenset({*_TEXT_FIELDS, *_WHOLE_FIELDS, "identifier", "attrs"})
_STRING = pa.string()
_IDENTIFIER = pa.struct([("kind", pa.string()), ("value", pa.string())])
_EXPLICIT = pa.schema(
    [(name, pa.string()) for name in _TEXT_FIELDS]
    + [(name, pa.int64()) for name in _WHOLE_FIELDS]
    + [("identifier", _IDENTIFIER)]
)  # attrs is left to inference: Arrow has no JSON → map conversion
# The reader splits a block into parse tasks of this size, one per core.
_PARSE_BLOCK_BYTES = 1 << 20

UNKNOWN_FIELD = "unknown field (known: " + ", ".join(sorted(KNOWN_FIELDS)) + ")"
UNKNOWN_IDENTIFIER_PART = "unknown field (known: kind, value)"
MISSING = "missing"
NOT_TEXT = "must be text"
NOT_WHOLE = "must be a whole number"
NEGATIVE = "must not be negative"
NOT_IDENTIFIER = 'must be an object {"kind": …, "value": …}'
NO_WHO = "missing: give identifier {kind, value} or patron_key"
BOTH_WHO = "give identifier or patron_key, not both"
BAD_PATRON_KEY = "not a libcrm pseudonym ('pk' and 24 base32 characters)"
NOT_ATTRS = "must be an object of text values"
NOT_ATTR_VALUE = "must be text, a number or true/false"
EMPTY_ATTR_KEY = "keys must not be empty"
TOO_MANY_ATTRS = f"at most {MAX_ATTRS} keys"
LONG_ATTR_KEY = f"key longer than {MAX_ATTR_KEY_CHARS} characters"
TOO_LONG = f"longer than {MAX_VALUE_BYTES // 1024} KB"
NOT_OBJECT = "not a JSON object: each line must be one {…} event"
DUPLICATE = "given twice"


def read(
    data: Input, /, *, source: str, tz: str, batch_size: int = DEFAULT_BATCH_ROWS
) -> Iterator[Chunk]:
    """Raw events from a libcrm NDJSON file (plain or gzip), ``batch_size`` lines at a time."""
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    findings = Findings(input_name(data))
    # Arrow parses the next block on a worker thread (it releases the GIL) while this thread
    # hashes and checks the current one.
    with open_input(data) as opened, ThreadPoolExecutor(1, "ndjson-parse") as pool:
        decoder = TextDecoder(findings)
        parser = _BlockParser(source, tz, findings)
        waiting: _Parsing | None = None
        source_lines = LineSource(opened, findings, block_lines=batch_size)
        for block in source_lines:
            parsing = parser.start(block, decoder, pool)
            if waiting is not None:
                yield findings.chunk(parser.finish(waiting, decoder))
            waiting = parsing
        if waiting is not None:
            yield findings.chunk(parser.finish(waiting, decoder))
        if source_lines.lines_read == 0 and not findings.truncated:
            findings.reject(1, "", EMPTY_FILE)
    yield findings.final()


def _read_json(data: bytes) -> pa.Table:
    return pa_json.read_json(
        pa.py_buffer(data),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=_PARSE_BLOCK_BYTES),
        parse_options=pa_json.ParseOptions(
            explicit_schema=_EXPLICIT, unexpected_field_behavior="infer"
        ),
    )


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _attr_text(value: str | int | float | bool) -> str:
    """Attribute values as Arrow casts them on the fast path, so both paths agree."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shape_problems(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, reason) for every member whose JSON type cannot be an event's."""
    for key, value in obj.items():
        if key not in KNOWN_FIELDS:
            yield key, UNKNOWN_FIELD
        elif value is None:
            continue
        elif key == "identifier":
            if not isinstance(value, dict):
                yield key, NOT_IDENTIFIER
                continue
            for part, text in value.items():
                if part not in ("kind", "value"):
                    yield (
                        f"identifier.{part}",
                        UNKNOWN_IDENTIFIER_PART,
                    )
                elif text is not None and not isinstance(text, str):
                    yield f"identifier.{part}", NOT_TEXT
        elif key == "attrs":
            if not isinstance(value, dict):
                yield key, NOT_ATTRS
                continue
            for name, text in value.items():
                if text is None or isinstance(text, str | bool | int):
                    continue
                if not (isinstance(text, float) and math.isfinite(text)):
                    yield f"attrs.{name}", NOT_ATTR_VALUE
        elif key in _WHOLE_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 1 << 63:
                yield key, NOT_WHOLE
        elif not isinstance(value, str):
            yield key, NOT_TEXT


@dataclass(slots=True)
class _Parsing:
    """A block on its way through Arrow's reader (``table`` is ``None`` for the slow path)."""

    block: LineBlock
    lines: list[bytes | None]
    table: Future[pa.Table | None] | None


def _parse_utf8(data: bytes, check: bool) -> pa.Table | None:
    """Arrow's reader does not validate UTF-8, so a block not yet known to be valid is checked
    first — by Arrow too, off the GIL; ``None`` sends the block down the line-by-line path."""
    if check:
        offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
        text = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
        try:
            text.cast(pa.large_string())
        except pa.ArrowInvalid:
            return None
    return _read_json(data)


class _BlockParser:
    """Turns blocks of UTF-8 lines into RAW_SCHEMA batches, rejecting bad lines."""

    def __init__(self, source: str, tz: str, findings: Findings) -> None:
        self.source = source
        self.tz = tz
        self.findings = findings
        self.prefix = source_prefix(source)

    def start(self, block: LineBlock, decoder: TextDecoder, pool: Executor) -> _Parsing:
        """Hand a block to Arrow on ``pool`` when it can take the fast path."""
        lines: list[bytes | None] = list(block.lines)
        if not all(lines):  # blank lines: Arrow skips them and the line numbers would drift
            return _Parsing(block, lines, None)
        if decoder.encoding == UTF8:
            return _Parsing(block, lines, pool.submit(_parse_utf8, b"\n".join(block.lines), True))
        lines, clean = decoder.utf8(block)
        if not clean:
            return _Parsing(block, lines, None)
        joined = b"\n".join(lines)  # type: ignore[arg-type]
        return _Parsing(block, lines, pool.submit(_parse_utf8, joined, False))

    def finish(self, parsing: _Parsing, decoder: TextDecoder) -> pa.RecordBatch | None:
        first, lines = parsing.block.first, parsing.lines
        if parsing.table is not None:
            try:
                table = parsing.table.result()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table = None
            if table is not None and table.num_rows == len(lines):  # else doubled-up lines
                numbers = pa.array(range(first, first + len(lines)), pa.int64())
                return self._convert(table, numbers, lines)  # type: ignore[arg-type]
            if table is None and decoder.encoding == UTF8:
                lines, _ = decoder.utf8(parsing.block)  # not valid UTF-8: decode line by line
        return self._parse_slowly(first, lines)

    def parse(self, block: LineBlock, decoder: TextDecoder) -> pa.RecordBatch | None:
        """One block, start to finish, on this thread."""
        with ThreadPoolExecutor(1) as pool:
            return self.finish(self.start(block, decoder, pool), decoder)

    def _parse_slowly(self, first: int, lines: Sequence[bytes | None]) -> pa.RecordBatch | None:
        """Line by line: reject what ``json`` or the shape rules refuse, convert the rest.

        A line with a wrongly-typed member still goes on, without that member and marked as
        rejected, so the column-wise checks report its other problems in the same run.
        """
        canonical: list[bytes] = []
        originals: list[bytes] = []
        numbers: list[int] = []
        rejected: list[bool] = []
        self._shaped: set[tuple[int, str]] = set()
        for i, raw in enumerate(lines):
            if raw is None or not raw.strip():
                continue  # undecodable (already rejected) or blank
            line = first + i
            loaded = self._load(raw, line)
            if loaded is None:
                continue
            obj, bad = loaded
            attrs = obj.get("attrs")
            if attrs:
                obj["attrs"] = {k: _attr_text(v) for k, v in attrs.items() if v is not None}
            canonical.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())
            originals.append(raw)
            numbers.append(line)
            rejected.append(bad)
        if not canonical:
            return None
        try:
            table = _read_json(b"\n".join(canonical))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Lines that each pass alone can still disagree with one another (an attribute that
            # is a number in one line and a decimal in the next): convert them one at a time.
            batches = []
            for one_line, raw, line, bad in zip(
                canonical, originals, numbers, rejected, strict=True
            ):
                try:
                    one = _read_json(one_line)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    self.findings.reject(line, "", f"could not be read: {exc}")
                    continue
                batch = self._convert(one, pa.array([line], pa.int64()), [raw], pa.array([bad]))
                if batch is not None:
                    batches.append(batch)
            if not batches:
                return None
            return pa.Table.from_batches(batches, RAW_SCHEMA).combine_chunks().to_batches()[0]
        mark = len(self.findings.rejects)
        batch = self._convert(table, pa.array(numbers, pa.int64()), originals, pa.array(rejected))
        # A member removed for its type is not also "missing": keep the first, precise reason.
        self.findings.rejects[mark:] = [
            r
            for r in self.findings.rejects[mark:]
            if (r.line, r.field.partition(".")[0]) not in self._shaped
        ]
        return batch

    def _load(self, raw: bytes, line: int) -> tuple[dict[str, Any], bool] | None:
        """The line's object (without wrongly-typed members) and whether any was found."""
        try:
            obj = json.loads(raw, object_pairs_hook=_pairs, parse_constant=_no_constant)
        except _Duplicate as exc:
            self.findings.reject(line, exc.key, DUPLICATE)
            return None
        except json.JSONDecodeError as exc:
            self.findings.reject(line, "", f"not valid JSON: {exc.msg} (column {exc.colno})")
            return None
        except (ValueError, RecursionError) as exc:
            self.findings.reject(line, "", f"not valid JSON: {exc}")
            return None
        if not isinstance(obj, dict):
            self.findings.reject(line, "", NOT_OBJECT)
            return None
        problems = list(shape_problems(obj))
        for field, reason in problems:
            self.findings.reject(line, field, reason)
            top, _, inner = field.partition(".")
            self._shaped.add((line, field))
            if inner and isinstance(obj.get(top), dict):
                obj[top].pop(inner, None)
            else:
                obj.pop(top, None)
        return obj, bool(problems)

    def _convert(
        self,
        table: pa.Table,
        numbers: pa.Array,
        originals: Sequence[bytes],
        rejected: pa.Array | None = None,
    ) -> pa.RecordBatch | None:
        """Column-wise checks and conversion of rows Arrow has parsed (``rejected`` marks rows
        already refused by the line-by-line path)."""
        n = table.num_rows
        if n == 0:
            return None
        table = table.combine_chunks()
        check = ColumnChecks(n, numbers, self.findings)
        if rejected is not None:
            check.bad = rejected

        def column(name: str, type_: pa.DataType = _STRING) -> pa.Array:
            if name not in table.column_names:
                return pa.nulls(n, type_)
            return table.column(name).chunk(0)

        for name in table.column_names:
            if name not in KNOWN_FIELDS:
                check.flag(column(name).is_valid(), name, UNKNOWN_FIELD)

        identifier = column("identifier", _IDENTIFIER)
        for part in identifier.type:
            if part.name not in ("kind", "value"):
                check.flag(
                    pc.struct_field(identifier, part.name).is_valid(),
                    f"identifier.{part.name}",
                    UNKNOWN_IDENTIFIER_PART,
                )
        kind = pc.struct_field(identifier, "kind")
        value = pc.struct_field(identifier, "value")
        patron_key = _blank_to_null(column("patron_key"))
        has_identifier = identifier.is_valid()
        has_key = patron_key.is_valid()
        check.flag(pc.and_(has_identifier, has_key), "identifier", BOTH_WHO)
        check.flag(pc.invert(pc.or_(has_identifier, has_key)), "identifier", NO_WHO)
        kind_missing = pc.and_(has_identifier, _blank_to_null(kind).is_null())
        check.flag(kind_missing, "identifier.kind", MISSING)
        unknown_kind = pc.invert(pc.is_in(kind, pa.array(sorted(IDENTIFIER_KINDS))))
        check.flag(
            pc.and_(pc.invert(kind_missing), pc.and_(has_identifier, unknown_kind)),
            "identifier.kind",
            lambda i: (
                f"unknown identifier kind {kind[i].as_py()!r}; use one of: "
                + ", ".join(sorted(IDENTIFIER_KINDS))
            ),
        )
        check.flag(
            pc.and_(has_identifier, _blank_to_null(value).is_null()), "identifier.value", MISSING
        )
        bad_key = pc.invert(pc.match_substring_regex(patron_key, PATRON_KEY_PATTERN))
        check.flag(bad_key, "patron_key", BAD_PATRON_KEY)

        raw_time = _blank_to_null(column("occurred_at"))
        check.flag(raw_time.is_null(), "occurred_at", MISSING)
        occurred = iso_strings_to_utc(raw_time, self.tz)
        check.flag(
            pc.and_(raw_time.is_valid(), occurred.is_null()),
            "occurred_at",
            lambda i: f"not an ISO 8601 date and time: {raw_time[i].as_py()!r}",
        )
        type_ = _blank_to_null(column("type"))
        check.flag(type_.is_null(), "type", MISSING)
        channel = _blank_to_null(column("channel"))
        check.flag(channel.is_null(), "channel", MISSING)

        for name, arr in (
            *((name, column(name)) for name in _TEXT_FIELDS),
            ("identifier.kind", kind),
            ("identifier.value", value),
        ):
            check.too_long(arr, name)
        for name in _WHOLE_FIELDS:
            check.flag(pc.less(column(name, pa.int64()), 0), name, NEGATIVE)

        attrs = self._attrs(column("attrs", pa.null()), check)

        keep = pc.invert(check.bad)
        kept = pc.indices_nonzero(keep).to_pylist()
        if not kept:
            return None
        source_ids = column("source_id")
        if source_ids.null_count == n:
            keys = originals if len(kept) == n else [originals[i] for i in kept]
        else:
            keys = [
                b"id\x1f" + sid.encode() if sid else originals[i]
                for i, sid in zip(
                    kept, pc.take(source_ids, pa.array(kept)).to_pylist(), strict=True
                )
            ]
        arrays = {
            "event_id": pa.array(event_ids_of_lines(self.prefix, keys), pa.string()),
            "identifier_kind": pc.filter(kind, keep),
            "identifier_value": pc.filter(value, keep),
            "patron_key": pc.filter(patron_key, keep),
            "occurred_at": pc.filter(occurred, keep),
            "type": pc.filter(type_, keep),
            "channel": pc.filter(channel, keep),
            **{name: pc.filter(_blank_to_null(column(name)), keep) for name in _OPTIONAL_TEXT},
            **{name: pc.filter(column(name, pa.int64()), keep) for name in _WHOLE_FIELDS},
            "attrs": pc.filter(attrs, keep),
            "source": pa.array([self.source] * len(kept), pa.string()),
            "line": pc.filter(numbers, keep),
        }
        return pa.RecordBatch.from_arrays([arrays[f] for f in RAW_SCHEMA.names], schema=RAW_SCHEMA)

    def _attrs(self, attrs: pa.Array, check: ColumnChecks) -> pa.Array:
        n = len(attrs)
        if pa.types.is_null(attrs.type):
            return pa.nulls(n, ATTRS_TYPE)
        if not pa.types.is_struct(attrs.type):
            check.flag(attrs.is_valid(), "attrs", NOT_ATTRS)
            return pa.nulls(n, ATTRS_TYPE)
        entries: dict[str, pa.Array] = {}
        for child in attrs.type:
            values = pc.struct_field(attrs, child.name)
            present = values.is_valid()
            field = f"attrs.{child.name}"
            if pa.types.is_null(child.type):
                continue
            if not child.name:
                check.flag(present, "attrs", EMPTY_ATTR_KEY)
                continue
            if len(child.name) > MAX_ATTR_KEY_CHARS:
                check.flag(present, f"attrs.{child.name[:MAX_ATTR_KEY_CHARS]}…", LONG_ATTR_KEY)
                continue
            if pa.types.is_string(child.type):
                text = values
            elif _is_scalar(child.type):
                text = pc.cast(values, pa.string())
            else:
                check.flag(present, field, NOT_ATTR_VALUE)
                continue
            check.too_long(text, field)
            entries[child.name] = text
        if entries:
            counts = pc.cast(entries[next(iter(entries))].is_valid(), pa.int32())
            for text in list(entries.values())[1:]:
                counts = pc.add(counts, pc.cast(text.is_valid(), pa.int32()))
            check.flag(
                pc.greater(counts, MAX_ATTRS),
                "attrs",
                lambda i: f"{TOO_MANY_ATTRS} (this line has {counts[i].as_py()})",
            )
        return attrs_from_columns(entries, n)


def _is_scalar(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_boolean(type_)
    )


def _blank_to_null(arr: pa.Array) -> pa.Array:
    if not pa.types.is_string(arr.type):
        return arr
    if arr.null_count == len(arr):
        return arr
    blank = pc.or_(pc.equal(arr, ""), pc.utf8_is_space(arr))
    return pc.if_else(blank, None, arr) if pc.any(blank).as_py() else arr
