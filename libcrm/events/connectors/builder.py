"""Row-at-a-time construction of raw event batches, for the formats read record by record.

Koha, FOLIO, gate and spreadsheet rows need per-row logic anyway; this keeps their columns in
Python lists and converts a whole batch to Arrow at once (times to UTC in one kernel call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from libcrm.events.connectors.base import ATTRS_TYPE, RAW_FIELDS, RAW_SCHEMA, event_id
from libcrm.events.connectors.timestamps import check_time_zone, to_utc_array


class RawBatchBuilder:
    """Collects rows one at a time (for the row-by-row formats) and makes RAW_SCHEMA batches.

    Times are given as ``datetime``: aware ones are absolute, naive ones are wall-clock time in
    the library's time zone ``tz``; both become UTC when the batch is built (see
    :func:`~libcrm.events.connectors.timestamps.to_utc_array` for the DST rule).
    """

    # The order rows are kept in: one tuple per row, turned into columns once per batch.
    _ORDER = (
        "event_id",
        "identifier_kind",
        "identifier_value",
        "patron_key",
        "type",
        "channel",
        "branch",
        "space",
        "item_id",
        "subject",
        "occurred_at",
        "quantity",
        "duration_s",
        "line",
        "attrs",
    )
    _INTEGERS = frozenset({"quantity", "duration_s", "line"})

    def __init__(self, source: str, tz: str, batch_size: int) -> None:
        self.source = source
        self.tz = check_time_zone(tz)
        self.batch_size = batch_size
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def full(self) -> bool:
        return len(self._rows) >= self.batch_size

    def add(
        self,
        *,
        key: Sequence[str],
        occurred_at: datetime,
        type: str,
        line: int,
        identifier_kind: str | None = None,
        identifier_value: str | None = None,
        patron_key: str | None = None,
        channel: str | None = None,
        branch: str | None = None,
        space: str | None = None,
        item_id: str | None = None,
        subject: str | None = None,
        quantity: int | None = None,
        duration_s: int | None = None,
        attrs: Mapping[str, str | None] | None = None,
    ) -> None:
        """Add one row; ``key`` is its natural key (see :func:`event_id`)."""
        entries = [(k, v) for k, v in attrs.items() if v] if attrs else None
        self._rows.append(
            (
                event_id(self.source, *key),
                identifier_kind,
                identifier_value,
                patron_key,
                type,
                channel,
                branch or None,
                space or None,
                item_id or None,
                subject or None,
                occurred_at,
                quantity,
                duration_s,
                line,
                entries or None,
            )
        )

    def build(self) -> pa.RecordBatch | None:
        """The rows added since the last build, as one batch (``None`` when there are none)."""
        if not self._rows:
            return None
        columns = dict(zip(self._ORDER, zip(*self._rows, strict=True), strict=True))
        n = len(self._rows)
        self._rows = []
        arrays: dict[str, pa.Array] = {}
        for name, values in columns.items():
            if name == "occurred_at":
                arrays[name] = to_utc_array(values, self.tz)
            elif name == "attrs":
                arrays[name] = pa.array(values, ATTRS_TYPE)
            else:
                arrays[name] = pa.array(
                    values, pa.int64() if name in self._INTEGERS else pa.string()
                )
        arrays["source"] = pa.array([self.source] * n, pa.string())
        return pa.RecordBatch.from_arrays([arrays[name] for name in RAW_FIELDS], schema=RAW_SCHEMA)
