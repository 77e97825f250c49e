"""Connectors: real library data formats → raw interaction rows, with row-level rejects.

Each module reads one family of formats and yields :class:`~.base.Chunk` objects: an Arrow
record batch of :data:`~.base.RAW_SCHEMA` (patron identifiers still as the source wrote them)
or, for COUNTER, of :data:`~.counter.USAGE_SCHEMA`, plus the :class:`~.base.Reject` rows and
:class:`~.base.Notice` messages found on the way. Every ``read`` has the signature
``read(path_or_stream, *, source, tz, batch_size=65_536, **options)``, streams (memory bounded by
the batch size), reads gzip transparently and detects GBK/GB18030 text (see
:mod:`~.reading`). Nothing here imports Django: the ingestion pipeline validates, resolves
identity, pseudonymises and stores what these produce.

Time zones, by format: NDJSON, FOLIO and Koha's REST API write ISO 8601 — an offset is honoured,
a time without one is local time in ``tz``; Koha CSV exports, gate counters and spreadsheets
hold local time → ``tz`` (unless a value carries an offset); EZproxy logs carry their own
offset; COUNTER counts calendar months. All output times are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping

from libcrm.events.connectors import counter, ezproxy, folio, gate, koha, ndjson, tabular
from libcrm.events.connectors.base import (
    RAW_SCHEMA,
    Chunk,
    Connector,
    ConnectorError,
    Notice,
    Reject,
    event_id,
)
from libcrm.events.connectors.counter import USAGE_SCHEMA
from libcrm.events.connectors.tabular import ColumnMapping, Preview, preview

#: Formats that give per-patron raw events (``libcrm ingest --format``).
EVENT_FORMATS: Mapping[str, Connector] = {
    "ndjson": ndjson.read,
    "ezproxy": ezproxy.read,
    "koha": koha.read,
    "folio": folio.read,
    "gate": gate.read,
}
#: Formats that give aggregate usage rows, stored apart from events.
USAGE_FORMATS: Mapping[str, Connector] = {"counter": counter.read}

__all__ = [
    "EVENT_FORMATS",
    "RAW_SCHEMA",
    "USAGE_FORMATS",
    "USAGE_SCHEMA",
    "Chunk",
    "ColumnMapping",
    "Connector",
    "ConnectorError",
    "Notice",
    "Preview",
    "Reject",
    "event_id",
    "preview",
    "tabular",
]
