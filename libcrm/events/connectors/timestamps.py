"""Reading times as library systems write them, and turning them into UTC.

The rule for every format: a time with a zone or offset is taken as written; a time without
one is wall-clock time in the library's time zone (the ``tz`` argument). In a daylight-saving
change an ambiguous local time is taken as its first occurrence and a time that falls in the
gap is moved to the end of the gap, by the same Arrow kernel for every connector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events.connectors.base import ConnectorError

UTC_MICROS = pa.timestamp("us", tz="UTC")
_NAIVE_MICROS = pa.timestamp("us")

# Spellings beyond ISO 8601 that Chinese and Windows exports use: 2024/3/5 9:05:03,
# 2024.03.05, 2024年3月5日 9时5分, with an optional offset.
_LOOSE = re.compile(
    r"""(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?
        (?:(?:[Tt]|\s+)(?P<H>\d{1,2})\s*[:时点]\s*(?P<M>\d{1,2})\s*分?
           (?:\s*:?\s*(?P<S>\d{1,2})(?:[.,](?P<f>\d{1,9}))?\s*秒?)?)?
        \s*(?P<z>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?""",
    re.VERBOSE,
)
_ZONED = r"^\d{4}-?\d\d-?\d\d[Tt ]\d.*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"


class UnknownTimeZone(ConnectorError):
    """The ``tz`` argument is not an IANA time-zone name."""


def check_time_zone(tz: str) -> str:
    """``tz`` if it names an IANA zone such as ``Asia/Shanghai``."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise UnknownTimeZone(
            f"time zone {tz!r} is not an IANA name such as 'Asia/Shanghai' or 'UTC'"
        ) from None
    return tz


def _offset(text: str) -> timezone:
    if text in {"Z", "z", "UTC", "GMT"}:
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_timestamp(text: str) -> datetime | None:
    """A ``datetime`` (aware when the text has an offset, else naive) or ``None``.

    ISO 8601 first (``datetime.fromisoformat`` is fast and strict), then the looser spellings
    above. Date-only values mean midnight.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _LOOSE.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    try:
        value = datetime(
            int(g["y"]),
            int(g["m"]),
            int(g["d"]),
            int(g["H"] or 0),
            int(g["M"] or 0),
            int(g["S"] or 0),
            int((g["f"] or "0")[:6].ljust(6, "0")),
        )
    except ValueError:
        return None
    return value.replace(tzinfo=_offset(g["z"])) if g["z"] else value


def assume_local(naive: pa.Array, tz: str) -> pa.Array:
    """Naive wall-clock timestamps in ``tz`` → UTC, with the DST rule of the module."""
    local = pc.assume_timezone(naive, tz, ambiguous="earliest", nonexistent="latest")
    return local.cast(UTC_MICROS)  # same instants; only the type's zone label changes


def to_utc_array(values: Sequence[datetime | None], tz: str) -> pa.Array:
    """UTC timestamps from datetimes: aware ones as they are, naive ones as local time."""
    naive = [v if v is not None and v.tzinfo is None else None for v in values]
    if not any(v is not None for v in naive):
        return pa.array(values, UTC_MICROS)
    local = assume_local(pa.array(naive, _NAIVE_MICROS), tz)
    if all(v is None or v.tzinfo is None for v in values):
        return local
    aware = [v if v is not None and v.tzinfo is not None else None for v in values]
    return pc.coalesce(pa.array(aware, UTC_MICROS), local)


def iso_strings_to_utc(strings: pa.Array, tz: str) -> pa.Array:
    """UTC timestamps from a string column, null where the text is missing or unreadable.

    Arrow's ISO 8601 cast does the work for whole columns; a column it refuses (one bad value
    fails the cast) is parsed value by value with :func:`parse_timestamp`, which accepts a
    superset, so both paths agree on every value Arrow accepts.
    """
    zoned = pc.fill_null(pc.match_substring_regex(strings, _ZONED), False)
    none = pa.scalar(None, pa.string())
    try:
        absolute = pc.cast(pc.if_else(zoned, strings, none), UTC_MICROS)
        local = assume_local(pc.cast(pc.if_else(zoned, none, strings), _NAIVE_MICROS), tz)
        return pc.coalesce(absolute, local)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = [None if s is None else parse_timestamp(s) for s in strings.to_pylist()]
        return to_utc_array(parsed, tz)
