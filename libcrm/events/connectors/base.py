"""What every connector produces: raw event batches, row-level rejects and notices.

A connector turns one source file into Arrow record batches of :data:`RAW_SCHEMA` — interaction
rows that still carry the source's patron identifier — plus a :class:`Reject` for every row it
could not read. The ingestion pipeline validates, resolves identity and pseudonymises later.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events import schema
from libcrm.events.schema import Channel, EventType
from libcrm.patrons.identifiers import IdentifierKind

#: Anything a connector reads: a path, or an open binary stream (an upload, a gzip member...).
Input: TypeAlias = str | os.PathLike[str] | IO[bytes]

DEFAULT_BATCH_ROWS = 65_536
#: 24 hex digits = 96 bits: a store of 10^9 events has a collision chance of about 10^-11.
EVENT_ID_HEX = 24
# Limits a raw row is held to before the pipeline's own validation: the event schema's.
MAX_VALUE_BYTES = schema.MAX_ATTR_VALUE
MAX_ATTRS = schema.MAX_ATTRS
MAX_ATTR_KEY_CHARS = schema.MAX_ATTR_KEY

UTC_MICROS = pa.timestamp("us", tz="UTC")
ATTRS_TYPE = pa.map_(pa.string(), pa.string())

RAW_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("identifier_kind", pa.string()),
        pa.field("identifier_value", pa.string()),
        pa.field("patron_key", pa.string()),
        pa.field("occurred_at", UTC_MICROS, nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("branch", pa.string()),
        pa.field("space", pa.string()),
        pa.field("item_id", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("quantity", pa.int64()),
        pa.field("duration_s", pa.int64()),
        pa.field("attrs", ATTRS_TYPE),
        pa.field("source", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ],
    metadata={"libcrm.schema": "raw-event", "libcrm.version": "1"},
)
"""One row per interaction, as the source told it.

``identifier_kind``/``identifier_value`` (a libcrm identifier kind and the value as written in
the source, not yet normalised) or ``patron_key`` (already pseudonymised sources) says who;
``line`` is the source line or record number, kept so that later stages can still report
rejects against the file the librarian uploaded.
"""

RAW_FIELDS: tuple[str, ...] = tuple(RAW_SCHEMA.names)

# The event types and channels the connectors emit, named by the event schema.
LOAN = EventType.LOAN.value
RETURN = EventType.RETURN.value
RENEWAL = EventType.RENEWAL.value
GATE_IN = EventType.GATE_IN.value
GATE_OUT = EventType.GATE_OUT.value
ERESOURCE_ACCESS = EventType.ERESOURCE_ACCESS.value
DOWNLOAD = EventType.DOWNLOAD.value
PHYSICAL = Channel.PHYSICAL.value
WEB = Channel.WEB.value
IDENTIFIER_KINDS: frozenset[str] = frozenset(kind.value for kind in IdentifierKind)


class ConnectorError(ValueError):
    """A connector was called with options that cannot work (unknown time zone, bad mapping).

    Raised before any row is read: it is the caller's mistake, not the file's.
    """


@dataclass(frozen=True, slots=True)
class Reject:
    """A row (or the rest of a file) that was not imported, and why, in the librarian's terms.

    ``line`` is the 1-based line or record number in the source file (the spreadsheet row for
    XLSX); ``field`` names the source's own column or JSON path, empty when the whole line is bad.
    """

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the librarian should know that is not an error (an encoding guess, skipped
    anonymous rows); ``count`` says how many rows it concerns."""

    file: str
    message: str
    count: int = 1

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" + (
            f" ({self.count:,} rows)" if self.count > 1 else ""
        )


@dataclass(slots=True)
class Chunk:
    """One step of a connector's output: a batch (possibly ``None``) and what was found since
    the previous chunk — rejects and notices of the same stretch of the file (a connector that
    reads ahead may hand over a reject of the next stretch early, never late), so a pipeline can
    record a batch and its rejects together. Counted notices come in the last chunk.
    """

    batch: pa.RecordBatch | None
    rejects: list[Reject] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


class Connector(Protocol):
    """``read(data, source=..., tz=...)`` of every connector module (extra options are keywords
    with defaults, bound with :func:`functools.partial` by the caller)."""

    def __call__(
        self, data: Input, /, *, source: str, tz: str, batch_size: int = ...
    ) -> Iterator[Chunk]: ...


class Findings:
    """Rejects and notices gathered while reading, handed out with the next chunk.

    Counted notices (``count``) accumulate under their message and come out once, at the end,
    so a file with 10^6 anonymous lines gives one notice, not a million.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.rejects: list[Reject] = []
        self.notices: list[Notice] = []
        self.counted: Counter[str] = Counter()
        self.truncated = False

    def reject(self, line: int, field: str, reason: str) -> None:
        self.rejects.append(Reject(self.file, line, field, reason))

    def notice(self, message: str) -> None:
        self.notices.append(Notice(self.file, message))

    def count(self, message: str, n: int = 1) -> None:
        self.counted[message] += n

    def absorb(self, other: Findings) -> None:
        """Take over what a worker thread found in its block."""
        self.rejects.extend(other.rejects)
        self.notices.extend(other.notices)
        self.counted.update(other.counted)

    def chunk(self, batch: pa.RecordBatch | None = None) -> Chunk:
        """A chunk carrying ``batch`` and everything found since the last one."""
        self.rejects.sort(key=lambda reject: reject.line)
        out = Chunk(batch, self.rejects, self.notices)
        self.rejects, self.notices = [], []
        return out

    def final(self) -> Chunk:
        for message, n in self.counted.items():
            self.notices.append(Notice(self.file, message, n))
        self.counted.clear()
        return self.chunk()


def check_source(source: str) -> str:
    """Source names end up in every event id and in the store; keep them short and printable."""
    if not isinstance(source, str) or not source.strip():
        raise ConnectorError("source must be a non-empty name such as 'ezproxy-main'")
    if len(source) > 64 or any(unicodedata.category(ch).startswith("C") for ch in source):
        raise ConnectorError("source must be at most 64 printable characters")
    return source


def check_identifier_kind(kind: str) -> str:
    if kind not in IDENTIFIER_KINDS:
        raise ConnectorError(
            f"identifier kind {kind!r} is not one of: {', '.join(sorted(IDENTIFIER_KINDS))}"
        )
    return kind


def check_batch_size(batch_size: int) -> int:
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 1 << 22:
        raise ConnectorError("batch_size must be between 1 and 4,194,304 rows")
    return batch_size


def source_prefix(source: str) -> bytes:
    """The bytes every event id of ``source`` is hashed after (see :func:`event_id`)."""
    return source.encode("utf-8") + b"\x1f"


def event_id(source: str, *key: str) -> str:
    """A deterministic id: sha256 of the source name and the row's natural key, short hex.

    The natural key is what identifies the interaction in the source (a loan id and what
    happened to it, a log line's text), never its position in the file, so re-importing a file
    — or a longer export that contains it — gives the same ids and the store can drop repeats.
    Parts are joined with U+001F so that ("ab", "c") and ("a", "bc") differ.
    """
    text = "\x1f".join((source, *key))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:EVENT_ID_HEX]


def event_ids_of_lines(prefix: bytes, lines: Sequence[bytes]) -> list[str]:
    """:func:`event_id` with the whole (UTF-8) text line as the key, for log-like formats;
    the hot loop of NDJSON and EZproxy, so it hashes bytes directly."""
    sha = hashlib.sha256
    n = EVENT_ID_HEX // 2
    return [sha(prefix + line).digest()[:n].hex() for line in lines]


def attrs_from_columns(columns: Mapping[str, pa.Array], length: int) -> pa.MapArray:
    """A map<string, string> column from named string columns, leaving out null entries.

    Rows without any entry get a null map (cheaper to store than an empty one). Entries keep
    the order of ``columns``.
    """
    if not columns:
        return pa.nulls(length, ATTRS_TYPE)
    valid = [pc.cast(arr.is_valid(), pa.int32()) for arr in columns.values()]
    counts = valid[0]
    for more in valid[1:]:
        counts = pc.add(counts, more)
    ends = pc.cumulative_sum(counts)
    total = ends[-1].as_py() if length else 0
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends])
    empty = pc.equal(counts, 0)  # a row with no entry is a null map
    if total == 0:
        keys = pa.array([], pa.string())
        values = pa.array([], pa.string())
    else:
        rows = []
        orders = []
        keys_parts = []
        values_parts = []
        for order, (name, arr) in enumerate(columns.items()):
            where = pc.indices_nonzero(arr.is_valid())
            if len(where) == 0:
                continue
            rows.append(where)
            orders.append(pa.array([order] * len(where), pa.int32()))
            keys_parts.append(pa.array([name] * len(where), pa.string()))
            values_parts.append(pc.take(arr, where))
        long = pa.table(
            {
                "row": pa.concat_arrays(rows),
                "order": pa.concat_arrays(orders),
                "key": pa.concat_arrays(keys_parts),
                "value": pa.concat_arrays(values_parts),
            }
        )
        long = long.take(pc.sort_indices(long, [("row", "ascending"), ("order", "ascending")]))
        keys = long.column("key").combine_chunks()
        values = long.column("value").combine_chunks()
    return pa.MapArray.from_arrays(offsets, keys, values, type=ATTRS_TYPE, mask=empty)


class ColumnChecks:
    """Column-wise row checks for the vectorised connectors.

    ``flag`` rejects the rows of a mask (naming the field and reason, which may be a function of
    the row for messages quoting the value); ``skip`` leaves rows out with a counted notice (an
    anonymous request is not an error). ``bad`` marks every row refused either way.
    """

    def __init__(self, n: int, numbers: pa.Array, findings: Findings) -> None:
        self.bad = pa.array([False] * n)
        self.numbers = numbers
        self.findings = findings

    def flag(self, mask: pa.Array, field: str, reason: str | Callable[[int], str]) -> None:
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        self.bad = pc.or_(self.bad, mask)
        for i in pc.indices_nonzero(mask).to_pylist():
            text = reason(i) if callable(reason) else reason
            self.findings.reject(self.numbers[i].as_py(), field, text)

    def skip(self, mask: pa.Array, message: str) -> None:
        mask = pc.and_(pc.fill_null(mask, False), pc.invert(self.bad))
        count = pc.sum(mask).as_py() or 0
        if count:
            self.bad = pc.or_(self.bad, mask)
            self.findings.count(message, count)

    def too_long(self, arr: pa.Array, field: str) -> None:
        if not (pa.types.is_string(arr.type) or pa.types.is_binary(arr.type)):
            return
        sizes = pc.binary_length(arr)
        self.flag(
            pc.greater(sizes, MAX_VALUE_BYTES),
            field,
            lambda i: f"longer than {MAX_VALUE_BYTES // 1024} KB ({sizes[i].as_py():,} bytes)",
        )
