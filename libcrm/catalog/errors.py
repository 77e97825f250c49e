"""Errors of the catalogue: a class number that cannot be read, a MARC record that cannot be
imported, an import that cannot start. Each names the place and the reason so that a cataloguer
can find the record and fix it."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidClassNumber(ValueError):
    """A class number that is not valid notation of its scheme; the message says why."""


class CatalogError(Exception):
    """An import could not run at all (missing file, unknown option); nothing was written."""


class RecordRejected(Exception):
    """Raised while reading one record: ``field`` is a MARC tag (or "leader", "directory",
    "record") and ``reason`` is a whole sentence that names the field in words, so that it reads
    on its own in a terminal and in the reject report's reason column."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class RecordProblem:
    """Where and why one record was rejected (or, as a warning, kept in part).

    ``record`` is 1-based; ``offset`` is the byte offset of the record's first byte in the file
    (for MARCXML, of its ``<record>`` tag) and ``line`` the line of that tag, when known.
    """

    file: str
    record: int | None
    offset: int | None
    field: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = [f"record {self.record}" if self.record is not None else "file"]
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.line is not None:
            where.append(f"line {self.line}")
        head = where[0] + (f" ({', '.join(where[1:])})" if len(where) > 1 else "")
        return f"{head}: {self.reason}"

    def as_row(self) -> list[str]:
        """The row of the reject report: file, record, offset, field, reason."""
        return [
            self.file,
            "" if self.record is None else str(self.record),
            "" if self.offset is None else str(self.offset),
            self.field,
            self.reason,
        ]
