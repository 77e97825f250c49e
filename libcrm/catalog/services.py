"""Every write to the catalogue: importing MARC files and loading the classification schedules.

An import is idempotent — items are matched by ``item_id`` (source + control number), so
importing a file again updates items in place and never duplicates them — and it commits the
good records in batches while each rejected record is reported, never half-written. Each run is
recorded as a :class:`~libcrm.catalog.models.CatalogImport`, the catalogue's audit record.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from django.db import DatabaseError, transaction
from django.db.models import Model
from django.utils import timezone

from libcrm.catalog import schedules
from libcrm.catalog.classification import Scheme, parse_code, schedule_parent
from libcrm.catalog.crosswalk import ItemRecord
from libcrm.catalog.errors import CatalogError, RecordProblem
from libcrm.catalog.marc import ReadRecord, read_marc
from libcrm.catalog.models import CatalogImport, Classification, Item
from libcrm.privacy.actors import Actor

DEFAULT_SOURCE = "ils"
BATCH_SIZE = 500
#: Rejects kept with the import record; a file that is wholly broken should not bloat the table.
MAX_STORED_REJECTS = 10_000
REJECT_REPORT_HEADER = ["file", "record", "offset", "field", "reason"]
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass
class ImportReport:
    """What an import did. ``read`` counts the records found in the file, rejected or not;
    ``rejects`` lists every record (and any part of the file) that did not land."""

    import_id: int
    file_name: str
    source: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[RecordProblem] = field(default_factory=list)
    warnings: list[RecordProblem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def summary(self) -> str:
        return (
            f"read {self.read:,}, created {self.created:,}, updated {self.updated:,}, "
            f"unchanged {self.unchanged:,}, rejected {self.rejected:,}"
        )

    def write_rejects(self, target: str | os.PathLike[str] | TextIO) -> None:
        """The reject report as CSV (file, record, offset, field, reason), for the librarian."""
        if isinstance(target, str | os.PathLike):
            with open(target, "w", newline="", encoding="utf-8-sig") as stream:
                self.write_rejects(stream)
            return
        writer = csv.writer(target)
        writer.writerow(REJECT_REPORT_HEADER)
        writer.writerows(problem.as_row() for problem in self.rejects)


def import_marc(
    actor: Actor,
    source_file: str | os.PathLike[str] | BinaryIO,
    *,
    source: str = DEFAULT_SOURCE,
    format: str = "auto",
    encoding: str = "auto",
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the MARC records of a file (a path or a binary stream) as catalogue items.

    ``source`` names the catalogue the records come from and prefixes their control numbers to
    make item ids ("ils:000123"); keep it the same from one import to the next. ``format`` and
    ``encoding`` are those of :func:`libcrm.catalog.marc.read_marc`. ``progress`` is called with
    the number of records read after each committed batch.
    """
    if not _SOURCE.fullmatch(source):
        raise CatalogError(
            "source must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a "
            f"letter or digit (got {source!r})"
        )
    if batch_size < 1:
        raise CatalogError(f"batch size must be at least 1 (got {batch_size})")
    if isinstance(source_file, str | os.PathLike):
        path = Path(source_file)
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise CatalogError(f"cannot read {path}: {exc.strerror or exc}") from None
        with stream:
            return _import_stream(
                actor, stream, str(path), source, format, encoding, batch_size, progress
            )
    name = str(getattr(source_file, "name", "") or "<stream>")
    return _import_stream(actor, source_file, name, source, format, encoding, batch_size, progress)


def _import_stream(
    actor: Actor,
    stream: BinaryIO,
    file_name: str,
    source: str,
    format: str,
    encoding: str,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> ImportReport:
    records = read_marc(stream, file_name=file_name, format=format, encoding=encoding)
    run = CatalogImport.objects.create(
        source=source, file_name=file_name[-255:], actor_label=actor.label[:150], via=actor.via
    )
    report = ImportReport(import_id=run.pk, file_name=file_name, source=source)
    writer = _BatchWriter(source, report)
    seen: dict[str, int] = {}
    for outcome in records:
        if isinstance(outcome, RecordProblem):
            report.rejects.append(outcome)
            report.read = max(report.read, outcome.record or 0)
            continue
        report.read = max(report.read, outcome.number)
        report.warnings.extend(outcome.warnings)
        item_id = f"{source}:{outcome.item.control_number}"
        if item_id in seen:
            report.warnings.append(
                _problem(
                    file_name,
                    outcome,
                    "001",
                    f"repeats item {item_id} of record {seen[item_id]}; the later record wins",
                )
            )
            writer.flush()  # so that the later record is written after the earlier one
        seen[item_id] = outcome.number
        writer.add(item_id, outcome)
        if len(writer.pending) >= batch_size:
            writer.flush()
            if progress is not None:
                progress(report.read)
    writer.flush()
    if progress is not None:
        progress(report.read)
    run.finished_at = timezone.now()
    run.records_read, run.created, run.updated = report.read, report.created, report.updated
    run.unchanged, run.rejected = report.unchanged, report.rejected
    run.rejects = [p.as_row() for p in report.rejects[:MAX_STORED_REJECTS]]
    run.save()
    return report


def _problem(file_name: str, record: ReadRecord, field_name: str, reason: str) -> RecordProblem:
    return RecordProblem(file_name, record.number, record.offset, field_name, reason, record.line)


class _BatchWriter:
    """Holds parsed records until a batch is full, then writes the batch in one transaction.

    If the database refuses the batch (a value it will not store, a concurrent import of the
    same item), each record is retried in its own transaction so that only the refused record
    is rejected.
    """

    def __init__(self, source: str, report: ImportReport) -> None:
        self.source = source
        self.report = report
        self.pending: dict[str, ReadRecord] = {}
        self.known_classes = {
            (scheme, code): pk
            for scheme, code, pk in Classification.objects.values_list("scheme", "code", "pk")
        }

    def add(self, item_id: str, record: ReadRecord) -> None:
        self.pending[item_id] = record

    def flush(self) -> None:
        batch, self.pending = self.pending, {}
        if not batch:
            return
        try:
            with transaction.atomic():
                counts = self._write(batch)
        except DatabaseError:
            counts = [0, 0, 0]
            for item_id, record in batch.items():
                try:
                    with transaction.atomic():
                        one = self._write({item_id: record})
                except DatabaseError as exc:
                    self.report.rejects.append(
                        _problem(
                            self.report.file_name,
                            record,
                            "record",
                            f"the database refused the record: {exc}",
                        )
                    )
                    continue
                counts = [a + b for a, b in zip(counts, one, strict=True)]
        self.report.created += counts[0]
        self.report.updated += counts[1]
        self.report.unchanged += counts[2]

    def _write(self, batch: dict[str, ReadRecord]) -> list[int]:
        existing = {item.item_id: item for item in Item.objects.filter(item_id__in=list(batch))}
        new, changed, unchanged = [], [], 0
        now = timezone.now()
        for item_id, record in batch.items():
            values = self._values(record.item)
            item = existing.get(item_id)
            if item is None:
                new.append(Item(item_id=item_id, **values))
                continue
            differs = [name for name, value in values.items() if getattr(item, name) != value]
            if not differs:
                unchanged += 1
                continue
            for name in differs:
                setattr(item, name, values[name])
            item.updated_at = now
            changed.append(item)
        Item.objects.bulk_create(new)
        if changed:
            Item.objects.bulk_update(changed, [*_ITEM_FIELDS, "updated_at"])
        return [len(new), len(changed), unchanged]

    def _values(self, item: ItemRecord) -> dict[str, Any]:
        number = item.classification
        values: dict[str, Any] = {
            "source": self.source,
            "control_number": item.control_number,
            "record_format": item.record_format.value,
            "title": item.title,
            "subtitle": item.subtitle,
            "authors": list(item.authors),
            "isbns": list(item.isbns),
            "issn": item.issn,
            "language": item.language,
            "publication_year": item.publication_year,
            "publisher": item.publisher,
            "material_type": item.material_type.value,
            "classification_scheme": number.scheme.value if number else "",
            "classification_code": number.code if number else "",
            "classification_path": number.tree_path if number else "",
            "top_class": number.top if number else "",
            "classification_id": None,
            "class_numbers": [
                {"scheme": n.scheme.value, "code": n.code} for n in item.class_numbers
            ],
            "subjects": list(item.subjects),
        }
        if number is not None:
            for step in reversed(number.path):
                pk = self.known_classes.get((number.scheme.value, step))
                if pk is not None:
                    values["classification_id"] = pk
                    break
        return values


_ITEM_FIELDS = [
    "source", "control_number", "record_format", "title", "subtitle", "authors", "isbns", "issn",
    "language", "publication_year", "publisher", "material_type", "classification_scheme",
    "classification_code", "classification_path", "top_class", "classification_id",
    "class_numbers", "subjects",
]  # fmt: skip


def load_classification_schedules(
    classification_model: type[Model] = Classification,
    entries: Iterable[schedules.ScheduleEntry] | None = None,
) -> int:
    """Create or update the named classes of the schedules, parents first; idempotent.

    Data migrations pass their historical model, so that a migration that extends a schedule
    can call this again. Returns the number of classes created or changed.
    """
    model: Any = classification_model
    rows = (
        list(entries)
        if entries is not None
        else [entry for scheme in Scheme for entry in schedules.entries(scheme)]
    )
    paths = {(e.scheme, e.code): parse_code(e.scheme, e.code).path for e in rows}
    rows.sort(key=lambda e: (e.scheme, len(paths[(e.scheme, e.code)])))
    nodes = {(n.scheme, n.code): n for n in model.objects.all()}
    touched = 0
    for entry in rows:
        path = paths[(entry.scheme, entry.code)]
        parent_code = schedule_parent(entry.scheme, entry.code)
        values = {
            "label_zh": entry.label_zh,
            "label_en": entry.label_en,
            "parent": nodes.get((entry.scheme, parent_code)) if parent_code else None,
            "tree_path": "/" + "/".join(path) + "/",
            "depth": len(path),
        }
        node = nodes.get((entry.scheme, entry.code))
        if node is None:
            node = model.objects.create(scheme=entry.scheme, code=entry.code, **values)
            nodes[(entry.scheme, entry.code)] = node
            touched += 1
        elif any(getattr(node, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(node, key, value)
            node.save()
            touched += 1
    return touched
