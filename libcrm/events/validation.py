"""Validation of event rows before they reach the store: good rows pass, bad rows are reported.

A batch is checked as a whole, column by column (Arrow compute kernels, no Python loop per row
for Arrow input), and each refused row is reported with its index, the field and the reason so
that a librarian can fix the source. One bad row never stops the others. Pure: no Django import.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events import schema as s
from libcrm.events.errors import EventSchemaError

DEFAULT_MAX_SKEW = timedelta(minutes=5)
DEFAULT_EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
DEFAULT_MAX_REJECTS = 10_000
_STORE_FIELD_NAMES = frozenset(f.name for f in s.STORE_FIELDS)
_INPUT_TYPES = {f.name: f.type for f in s.INPUT_FIELDS}
_ATTRS_LIST = pa.list_(
    pa.field(
        "entries",
        pa.struct([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())]),
        nullable=False,
    )
)


@dataclass(frozen=True)
class Reject:
    """One problem of one row: ``row`` is its 0-based index in the batch that was validated."""

    row: int
    field: str
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        shown = f" (got {self.value})" if self.value is not None else ""
        return f"row {self.row}: {self.field or 'row'}: {self.reason}{shown}"


@dataclass
class ValidationResult:
    """Accepted rows in the canonical input schema, and what was wrong with the others.

    ``accepted_index`` maps each accepted row back to its index in the input. ``rejects`` holds
    at most ``max_rejects`` problems (first rows first); ``rejected_rows`` counts every refused
    row even when the detail was cut.
    """

    accepted: pa.Table
    accepted_index: pa.Array
    rejects: list[Reject] = field(default_factory=list)
    rejected_rows: int = 0
    truncated: bool = False

    @property
    def received(self) -> int:
        return self.accepted.num_rows + self.rejected_rows


def validate(
    rows: pa.Table | pa.RecordBatch | Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    earliest: datetime = DEFAULT_EARLIEST,
    max_rejects: int | None = DEFAULT_MAX_REJECTS,
) -> ValidationResult:
    """Check a batch of events given as an Arrow table or as plain dicts (parsed JSON).

    Structural mistakes of a connector (a required column missing from an Arrow table, a column
    of an unusable type, naive timestamps) raise :class:`EventSchemaError`: they are bugs to fix
    in code, not rows to report. Everything else is a row-level reject.
    """
    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    if isinstance(rows, pa.Table):
        table, coerced = _coerce_table(rows)
    else:
        table, coerced = _coerce_rows(rows)
    problems = _Problems(table.num_rows)
    flagged_rows: dict[str, list[int]] = {}
    for index, fld, reason, value in coerced:
        problems.add_rows(fld, reason, pa.array([index], pa.int64()), [value])
        flagged_rows.setdefault(fld, []).append(index)
    flagged = {fld: pa.array(rows, pa.int64()) for fld, rows in flagged_rows.items()}
    _check(table, problems, now or datetime.now(UTC), max_skew, earliest, flagged)
    return problems.result(table, max_rejects)


class _Problems:
    """Collects (rows, field, reason) as arrays; rejects are materialised once at the end and
    only for as many problems as will be reported, so a batch of a million bad rows stays cheap."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.parts: list[tuple[pa.Array, str, str, pa.Array | list[Any] | None]] = []

    def add_mask(
        self,
        fld: str,
        reason: str,
        mask: pa.Array,
        values: Callable[[], pa.Array] | None = None,
    ) -> None:
        """Record the rows where ``mask`` is true; ``values`` (what to show of each row) is only
        computed when there is something to report."""
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        shown = values().filter(mask) if values is not None else None
        self.add_rows(fld, reason, pc.indices_nonzero(mask), shown)

    def add_rows(
        self, fld: str, reason: str, rows: pa.Array, values: pa.Array | list[Any] | None
    ) -> None:
        if isinstance(rows, pa.ChunkedArray):
            rows = rows.combine_chunks()
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.parts.append((rows.cast(pa.int64()), fld, reason, values))

    def result(self, table: pa.Table, max_rejects: int | None) -> ValidationResult:
        if not self.parts:
            return ValidationResult(accepted=table, accepted_index=row_numbers(table.num_rows))
        all_rows = pa.concat_arrays([p[0] for p in self.parts])
        bad_rows = pc.unique(all_rows)
        every_row = row_numbers(table.num_rows)
        keep = pc.invert(pc.is_in(every_row, value_set=bad_rows))
        starts = list(itertools.accumulate((len(p[0]) for p in self.parts), initial=0))
        order = pc.sort_indices(all_rows)  # stable: one row's problems stay in check order
        limit = len(order) if max_rejects is None else min(max_rejects, len(order))
        rejects = []
        for position in order.slice(0, limit).to_pylist():
            part = bisect.bisect_right(starts, position) - 1
            rows, fld, reason, values = self.parts[part]
            offset = position - starts[part]
            value = None
            if isinstance(values, pa.Array):
                value = values[offset].as_py()
            elif values is not None:
                value = values[offset]
            rejects.append(Reject(rows[offset].as_py(), fld, reason, _show(value)))
        return ValidationResult(
            accepted=table.filter(keep),
            accepted_index=pc.indices_nonzero(keep).cast(pa.int64()),
            rejects=rejects,
            rejected_rows=len(bad_rows),
            truncated=limit < len(order),
        )


def _show(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- coercion: any reasonable input shape to the canonical input schema ----------------------


def _coerce_table(table: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str, Any]]]:
    names = set(table.column_names)
    unknown = sorted(names - set(_INPUT_TYPES) - _STORE_FIELD_NAMES)
    if unknown:
        raise EventSchemaError(
            f"unknown column(s) {', '.join(unknown)}; an event has {', '.join(_INPUT_TYPES)}"
        )
    missing = [name for name in s.REQUIRED_FIELDS if name not in names]
    if missing:
        raise EventSchemaError(f"required column(s) missing: {', '.join(missing)}")
    problems: list[tuple[int, str, str, Any]] = []
    columns = []
    for f in s.INPUT_FIELDS:
        if f.name not in names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        columns.append(_coerce_column(f, _single(table.column(f.name)), problems))
    return pa.Table.from_arrays(columns, schema=s.INPUT_SCHEMA), problems


def _coerce_column(
    f: pa.Field, col: pa.Array, problems: list[tuple[int, str, str, Any]]
) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if f.name == "occurred_at":
        return _coerce_timestamps(col, problems)
    if f.name == "attrs":
        if not pa.types.is_map(col.type):
            raise EventSchemaError(f"attrs must be a map<string, string> column, not {col.type}")
        col = col.cast(s.ATTRS) if col.type != s.ATTRS else col
        return _empty_maps_as_null(col)
    if f.name == "duration_s":
        return _coerce_duration(col, problems)
    if col.type == f.type:
        out = col
    else:
        try:
            out = col.cast(f.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = _cast_each(f, col, problems)
    if pa.types.is_string(f.type) and f.nullable and pc.min(pc.binary_length(out)).as_py() == 0:
        out = pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)  # "" means unknown
    return out


def _empty_maps_as_null(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An empty attribute map means no attributes: stored as null, so that a column of a row
    group holding no attributes at all is entirely null and readers can skip it."""
    if col.null_count == len(col):
        return col
    lengths = pc.list_value_length(col.cast(_ATTRS_LIST))
    empty = pc.fill_null(pc.equal(lengths, 0), False)
    if not pc.any(empty).as_py():
        return col
    return pc.if_else(empty, pa.scalar(None, s.ATTRS), col)


def _coerce_duration(col: pa.Array, problems: list[tuple[int, str, str, Any]]) -> pa.Array:
    """Durations arrive as int64 from most connectors; check the range before narrowing, so that
    a huge value is reported instead of wrapping around."""
    if pa.types.is_integer(col.type):
        wide = col.cast(pa.int64())
    else:
        try:
            wide = col.cast(pa.int64())  # refuses 12.5 s rather than truncating it
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            wide = _cast_each(pa.field("duration_s", pa.int64()), col, problems)
    out_of_range = pc.fill_null(pc.or_(pc.less(wide, 0), pc.greater(wide, s.MAX_DURATION_S)), False)
    if pc.any(out_of_range).as_py():
        for index in pc.indices_nonzero(out_of_range).to_pylist():
            problems.append(
                (
                    index,
                    "duration_s",
                    f"must be between 0 and {s.MAX_DURATION_S} seconds",
                    wide[index].as_py(),
                )
            )
        wide = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), wide)
    return wide.cast(pa.int32())


def _cast_each(f: pa.Field, col: pa.Array, problems: list[tuple[int, str, str, Any]]) -> pa.Array:
    """The slow path, only for a column a vectorised cast refused: find the rows to blame."""
    try:
        values = col.to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EventSchemaError(f"{f.name}: cannot read a {col.type} column ({exc})") from exc
    out: list[Any] = []
    for index, value in enumerate(values):
        try:
            out.append(None if value is None else pa.scalar(value).cast(f.type).as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            problems.append((index, f.name, f"is not a valid {_type_word(f.type)}", value))
            out.append(None)
    return pa.array(out, f.type)


def _type_word(type_: pa.DataType) -> str:
    if pa.types.is_floating(type_):
        return "number"
    if pa.types.is_integer(type_):
        return "whole number"
    return "text" if pa.types.is_string(type_) else str(type_)


def _coerce_timestamps(col: pa.Array, problems: list[tuple[int, str, str, Any]]) -> pa.Array:
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise EventSchemaError(
                "occurred_at has no time zone: convert local times with the source's zone "
                "before appending (the store keeps UTC)"
            )
        return col.cast(s.TIMESTAMP, safe=False)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            return col.cast(s.TIMESTAMP)
        except pa.ArrowInvalid:
            parsed = []
            for index, value in enumerate(col.to_pylist()):
                stamp, reason = _parse_timestamp(value)
                if reason:
                    problems.append((index, "occurred_at", reason, value))
                parsed.append(stamp)
            return pa.array(parsed, s.TIMESTAMP)
    raise EventSchemaError(f"occurred_at must be a timestamp or RFC 3339 text, not {col.type}")


def _parse_timestamp(value: Any) -> tuple[datetime | None, str | None]:
    if value is None or value == "":
        return None, None  # reported as missing by the checks
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            return None, "is not a valid RFC 3339 timestamp"
    else:
        return None, "is not a valid RFC 3339 timestamp"
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        return None, "has no UTC offset (write Z or +08:00)"
    return stamp.astimezone(UTC), None


def _coerce_rows(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[pa.Table, list[tuple[int, str, str, Any]]]:
    problems: list[tuple[int, str, str, Any]] = []
    columns: dict[str, list[Any]] = {f.name: [] for f in s.INPUT_FIELDS}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            problems.append((index, "", "must be an object", type(row).__name__))
            for values in columns.values():
                values.append(None)
            continue
        for key in row:
            if key not in _INPUT_TYPES and key not in _STORE_FIELD_NAMES:
                problems.append((index, str(key), "unknown field", None))
        for f in s.INPUT_FIELDS:
            value, reason = _coerce_value(f.name, row.get(f.name))
            if reason:
                problems.append((index, f.name, reason, row.get(f.name)))
            columns[f.name].append(value)
    arrays = [pa.array(columns[f.name], f.type) for f in s.INPUT_FIELDS]
    attrs = s.INPUT_SCHEMA.get_field_index("attrs")
    arrays[attrs] = _empty_maps_as_null(arrays[attrs])
    return pa.Table.from_arrays(arrays, schema=s.INPUT_SCHEMA), problems


def _coerce_value(name: str, value: Any) -> tuple[Any, str | None]:
    if value is None or (isinstance(value, str) and value == ""):
        return None, None
    if name == "occurred_at":
        return _parse_timestamp(value)
    if name == "quantity":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None, "is not a valid number"
        try:
            return float(value), None
        except (ValueError, OverflowError):
            return None, "is not a valid number"
    if name == "duration_s":
        if isinstance(value, bool):
            return None, "is not a valid whole number"
        try:
            number = int(value) if not isinstance(value, float) else value
        except (ValueError, TypeError):
            return None, "is not a valid whole number"
        if isinstance(number, float) and not number.is_integer():
            return None, "is not a valid whole number"
        number = int(number)
        if not 0 <= number <= s.MAX_DURATION_S:
            return None, f"must be between 0 and {s.MAX_DURATION_S} seconds"
        return number, None
    if name == "attrs":
        if not isinstance(value, Mapping):
            return None, "must be an object of text values"
        out = []
        for key, item in value.items():
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, int | float):
                item = str(item)
            if not isinstance(key, str) or not isinstance(item, str):
                return None, "must be an object of text values"
            out.append((key, item))
        return out, None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, "must be text"
    return str(value), None


# --- the checks -------------------------------------------------------------------------------


def _check(
    t: pa.Table,
    problems: _Problems,
    now: datetime,
    max_skew: timedelta,
    earliest: datetime,
    flagged: dict[str, pa.Array],
) -> None:
    """Every rule, each with a cheap whole-column test first (a null count, a maximum, the
    distinct values) so that a clean batch of a million rows costs a few tens of milliseconds;
    row masks are computed only for rules a batch actually breaks."""
    if t.num_rows == 0:
        return
    col = {name: _single(t.column(name)) for name in t.column_names}
    whole_rows = flagged.get("")
    for name in s.REQUIRED_FIELDS:
        if col[name].null_count:
            mask = pc.is_null(col[name])
            for already in (flagged.get(name), whole_rows):
                if already is not None:
                    mask = pc.and_(mask, pc.invert(pc.is_in(row_numbers(len(mask)), already)))
            problems.add_mask(name, "is required", mask)

    for name, limit in s.STRING_LIMITS.items():
        if (pc.max(pc.binary_length(col[name])).as_py() or 0) > limit:  # bytes >= characters
            problems.add_mask(
                name,
                f"is longer than {limit} characters",
                pc.greater(pc.utf8_length(col[name]), limit),
                lambda name=name: pc.utf8_slice_codeunits(col[name], 0, 40),
            )
    eid = col["event_id"]
    if not pc.all(pc.ascii_is_printable(eid)).as_py():
        problems.add_mask(
            "event_id",
            "must be printable ASCII",
            pc.and_(
                pc.less_equal(pc.utf8_length(eid), s.MAX_EVENT_ID),
                pc.invert(pc.match_substring_regex(eid, s.EVENT_ID_PATTERN)),
            ),
            lambda: eid,
        )
    pk = col["patron_key"]
    _check_distinct(
        problems,
        "patron_key",
        pk,
        lambda keys: pc.equal(keys, s.ANONYMOUS_PATRON_KEY),
        "is reserved for anonymised events",
    )
    _check_distinct(
        problems,
        "patron_key",
        pk,
        lambda keys: pc.and_(
            pc.not_equal(keys, s.ANONYMOUS_PATRON_KEY),
            pc.invert(pc.match_substring_regex(keys, s.PATRON_KEY_PATTERN)),
        ),
        "must be pk followed by 24 base32 characters (a-z, 2-7)",
    )
    _check_distinct(
        problems,
        "source",
        col["source"],
        lambda v: pc.and_(
            pc.less_equal(pc.utf8_length(v), s.MAX_SOURCE),
            pc.invert(pc.match_substring_regex(v, s.SOURCE_PATTERN)),
        ),
        "must be printable text without control characters or outer spaces",
    )
    for name, allowed, word in (
        ("type", s.EVENT_TYPES, "event type"),
        ("channel", s.CHANNELS, "channel"),
    ):
        known = pa.array(sorted(allowed), pa.string())
        _check_distinct(
            problems,
            name,
            col[name],
            lambda v, known=known: pc.invert(pc.is_in(v, value_set=known)),
            f"is not a known {word}",
        )

    at = col["occurred_at"]
    first, last = pc.min_max(at).values()
    latest = now.astimezone(UTC) + max_skew
    if last.is_valid and last.as_py() > latest:
        problems.add_mask(
            "occurred_at",
            f"is in the future (more than {int(max_skew.total_seconds())} s ahead)",
            pc.greater(at, pa.scalar(latest, s.TIMESTAMP)),
            lambda: at,
        )
    if first.is_valid and first.as_py() < earliest:
        problems.add_mask(
            "occurred_at",
            f"is before {earliest:%Y-%m-%d} (a zeroed or mistyped date?)",
            pc.less(at, pa.scalar(earliest, s.TIMESTAMP)),
            lambda: at,
        )
    q = col["quantity"]
    if q.null_count < len(q):
        low, high = pc.min_max(q).values()
        if (
            pc.any(pc.is_nan(q)).as_py()
            or abs(low.as_py()) > s.MAX_ABS_QUANTITY
            or abs(high.as_py()) > s.MAX_ABS_QUANTITY
        ):
            problems.add_mask(
                "quantity",
                f"must be a finite number within ±{s.MAX_ABS_QUANTITY:g}",
                pc.or_(pc.is_nan(q), pc.greater(pc.abs(q), s.MAX_ABS_QUANTITY)),
                lambda: q,
            )
    _check_attrs(col["attrs"], problems)


def _single(column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Columns stay in their chunks (compute kernels take chunked arrays, and combining a
    million rows costs more than the whole validation); attribute maps are combined because
    their list-parent indexes must count rows of the whole batch."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if pa.types.is_map(column.type) else column


def row_numbers(n: int) -> pa.Array:
    """0..n-1 as int64 without a Python loop (pyarrow has no arange)."""
    return pc.indices_nonzero(pa.repeat(pa.scalar(True), n)).cast(pa.int64())


def _check_distinct(
    problems: _Problems,
    name: str,
    values: pa.Array,
    is_bad: Callable[[pa.Array], pa.Array],
    reason: str,
) -> None:
    """A rule on a column with few distinct values (type, channel, source, patron keys): test
    the distinct values, then find the rows only if some value is bad."""
    distinct = pc.unique(values).drop_null()
    bad = distinct.filter(pc.fill_null(is_bad(distinct), False))
    if len(bad):
        problems.add_mask(
            name,
            reason,
            pc.is_in(values, value_set=bad),
            lambda: pc.utf8_slice_codeunits(values, 0, 40),
        )


def _check_attrs(attrs: pa.Array, problems: _Problems) -> None:
    if attrs.null_count == len(attrs):
        return
    as_list = attrs.cast(_ATTRS_LIST)
    problems.add_mask(
        "attrs",
        f"has more than {s.MAX_ATTRS} entries",
        pc.greater(pc.list_value_length(as_list), s.MAX_ATTRS),
    )
    entries = pc.list_flatten(as_list)
    if len(entries) == 0:
        return
    parents = pc.list_parent_indices(as_list)
    keys, values = entries.field("key"), entries.field("value")
    distinct_keys = pc.unique(keys)
    bad_keys = distinct_keys.filter(
        pc.invert(pc.match_substring_regex(distinct_keys, s.ATTR_KEY_PATTERN))
    )
    for bad, reason, shown in (
        (
            pc.is_in(keys, value_set=bad_keys),
            f"names must be 1-{s.MAX_ATTR_KEY} printable characters",
            keys,
        ),
        (pc.is_null(values), "values must be text, not null", keys),
        (
            pc.greater(pc.utf8_length(values), s.MAX_ATTR_VALUE),
            f"values must be at most {s.MAX_ATTR_VALUE} characters",
            keys,
        ),
    ):
        bad = pc.fill_null(bad, False)
        if pc.any(bad).as_py():
            rows = pc.unique(parents.filter(bad))
            first = pc.index_in(rows, parents)
            problems.add_rows("attrs", reason, rows, pc.take(shown, first))
    sizes = pc.add(pc.binary_length(keys), pc.fill_null(pc.binary_length(values), 0))
    most_entries = pc.max(pc.list_value_length(as_list)).as_py() or 0
    if (pc.max(sizes).as_py() or 0) * most_entries <= s.MAX_ATTRS_BYTES:
        return
    totals = pa.table({"row": parents, "size": sizes}).group_by("row").aggregate([("size", "sum")])
    over = pc.greater(totals["size_sum"], s.MAX_ATTRS_BYTES)
    if pc.any(over).as_py():
        problems.add_rows(
            "attrs",
            f"are larger than {s.MAX_ATTRS_BYTES} bytes in all",
            totals["row"].filter(over).combine_chunks(),
            None,
        )
