"""Reads of the feature table: one patron's features, the whole table (for the segments
engine), and the catalogue that explains each column."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events.store.aliases import check_key
from libcrm.features.definitions import FEATURES, Feature
from libcrm.features.services import feature_file
from libcrm.features.storage import Provenance


def feature_table() -> pa.Table:
    """Every patron's features, one row per pseudonymous key, in key order."""
    table, _ = feature_file().read()
    return table


def feature_relation(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """The feature table as a relation on ``con`` (zero-copy from Arrow), for DuckDB queries."""
    return con.from_arrow(feature_table())


def feature_table_version() -> tuple[Any, ...] | None:
    """A value that changes whenever the stored table does (None before the first refresh)."""
    return feature_file().version()


def feature_provenance() -> Provenance | None:
    """What the stored table was computed from (None before the first refresh)."""
    return feature_file().read_provenance()


def features_of(patron_key: str) -> dict[str, Any]:
    """A patron's features by name (with ``as_of``); empty when the patron has no activity
    in the event store (or the table was never computed)."""
    check_key(patron_key)
    table = feature_table()
    rows = table.filter(pc.equal(table.column("patron_key"), patron_key)).to_pylist()
    if not rows:
        return {}
    row = rows[0]
    row.pop("patron_key")
    return row


def feature_catalogue() -> tuple[Feature, ...]:
    return FEATURES
