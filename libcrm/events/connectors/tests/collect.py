"""Running a connector to the end and gathering what it produced, for assertions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from libcrm.events.connectors.base import Chunk, Notice, Reject


@dataclass
class Collected:
    batches: list[pa.RecordBatch] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for batch in self.batches for row in batch.to_pylist()]

    @property
    def problems(self) -> list[tuple[int, str, str]]:
        """(line, field, reason) of every reject, the way a reject report lists them."""
        return [(r.line, r.field, r.reason) for r in self.rejects]

    def column(self, name: str) -> list[Any]:
        return [row[name] for row in self.rows]

    def notice(self, fragment: str) -> Notice:
        found = [n for n in self.notices if fragment in n.message]
        assert found, f"no notice containing {fragment!r} in {[str(n) for n in self.notices]}"
        return found[0]


def collect(chunks: Iterator[Chunk]) -> Collected:
    out = Collected()
    for chunk in chunks:
        if chunk.batch is not None:
            out.batches.append(chunk.batch)
        out.rejects.extend(chunk.rejects)
        out.notices.extend(chunk.notices)
    return out
