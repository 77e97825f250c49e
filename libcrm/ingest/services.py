"""Imports: one function per way data arrives (a file, an HTTP body), each recording an
:class:`IngestionRun` with its reject report, and auditing who imported what."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.events.connectors import EVENT_FORMATS, USAGE_FORMATS, Chunk, ConnectorError, tabular
from libcrm.events.errors import EventSchemaError
from libcrm.ingest.identity import IdentityResolver, UnknownIdentifiers
from libcrm.ingest.models import IngestionRun, ResourceUsage, RunStatus
from libcrm.ingest.pipeline import RejectReport, run_pipeline
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event

TABULAR = "tabular"
FORMATS = (*EVENT_FORMATS, TABULAR, *USAGE_FORMATS)


class IngestError(Exception):
    """The import could not start (unknown format, missing mapping…); nothing was recorded."""


def reject_report_path(run: IngestionRun) -> Path:
    return Path(settings.LIBCRM_DATA_DIR) / "rejects" / f"{run.pk}.csv"


def _reader(format: str, mapping: tabular.ColumnMapping | None) -> Callable[..., Iterable[Chunk]]:
    if format == TABULAR:
        if mapping is None:
            raise IngestError(_("a spreadsheet import needs a column mapping"))
        return lambda data, **kw: tabular.read(data, mapping=mapping, **kw)
    if format in EVENT_FORMATS:
        return EVENT_FORMATS[format]
    if format in USAGE_FORMATS:
        return USAGE_FORMATS[format]
    raise IngestError(
        _("unknown format %(format)s; use one of: %(formats)s")
        % {"format": format, "formats": ", ".join(FORMATS)}
    )


def ingest_file(
    actor: Actor,
    path: Path | str,
    *,
    format: str,
    source: str,
    tz: str | None = None,
    mapping: tabular.ColumnMapping | None = None,
    file_name: str | None = None,
    unknown: str | None = None,
    on_rows: Callable[[int], None] | None = None,
    **options: Any,
) -> IngestionRun:
    """Import one file through its connector; returns the finished run (completed or failed).

    Rejected rows never stop the good ones; a run that fails half-way keeps the batches that
    were committed, and running the same file again adds exactly what is missing.
    """
    path = Path(path)
    unknown = unknown or settings.LIBCRM_INGEST_UNKNOWN
    if unknown not in UnknownIdentifiers.CHOICES:
        raise IngestError(
            _("unknown identifiers must be handled with one of: %(choices)s")
            % {"choices": ", ".join(UnknownIdentifiers.CHOICES)}
        )
    reader = _reader(format, mapping)
    tz = tz or settings.TIME_ZONE
    name = file_name or path.name
    run = IngestionRun.objects.create(
        source=source,
        format=format,
        file_name=name[:255],
        actor_id=actor.user_id,
        actor_label=actor.label[:150],
        content_digest=_file_digest(path),
    )
    earlier = _identical_complete_run(run)
    if earlier is not None:
        return _finish_as_repeat(actor, run, earlier)
    report = RejectReport(reject_report_path(run))
    try:
        chunks = reader(path, source=source, tz=tz, **options)
        if format in USAGE_FORMATS:
            _store_usage(run, chunks, report, name)
        else:
            resolver = IdentityResolver(actor, source, unknown)
            result = run_pipeline(
                chunks,
                resolver=resolver,
                source=source,
                file_name=name,
                rejects=report,
                on_rows=on_rows,
            )
            run.received, run.added, run.duplicates = (
                result.received,
                result.added,
                result.duplicates,
            )
            run.rejected, run.provisional = result.rejected, result.provisional
            run.batch_ids, run.notices = result.batch_ids, result.notices[:200]
        run.status = RunStatus.COMPLETED
    except (ConnectorError, EventSchemaError, OSError, ValueError) as exc:
        run.status, run.error = RunStatus.FAILED, str(exc)[:2000]
        run.rejected = max(run.rejected, report.count)
    finally:
        report.close()
        run.finished_at = timezone.now()
        run.save()
        record_audit_event(
            actor,
            AuditAction.INGEST_EVENTS,
            target=f"ingestion:{run.pk}",
            detail={
                "source": source,
                "format": format,
                "added": run.added,
                "rejected": run.rejected,
                "provisional": run.provisional,
                "status": run.status,
            },
        )
    return run


class BodyTooLarge(IngestError):
    pass


def _file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes: hashing runs at disk speed, parsing does not."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                sha.update(block)
    except OSError:
        return ""
    return sha.hexdigest()


def _identical_complete_run(run: IngestionRun) -> IngestionRun | None:
    """An earlier import of the very same bytes, from the same source in the same format, that
    completed with nothing rejected: reading it again could only find duplicates. (A run with
    rejects is read again: rows refused before may land now, e.g. once a patron exists.)"""
    if not run.content_digest:
        return None
    return (
        IngestionRun.objects.filter(
            content_digest=run.content_digest,
            source=run.source,
            format=run.format,
            status=RunStatus.COMPLETED,
            rejected=0,
            same_as__isnull=True,
        )
        .exclude(pk=run.pk)
        .order_by("started_at")
        .first()
    )


def _finish_as_repeat(actor: Actor, run: IngestionRun, earlier: IngestionRun) -> IngestionRun:
    run.same_as = earlier
    run.received = earlier.received
    run.duplicates = earlier.received
    run.status = RunStatus.COMPLETED
    run.notices = [
        _("This file was already imported in full on %(when)s (run %(run)s); nothing was added.")
        % {
            "when": timezone.localtime(earlier.started_at).strftime("%Y-%m-%d %H:%M"),
            "run": earlier.pk,
        }
    ]
    run.finished_at = timezone.now()
    run.save()
    record_audit_event(
        actor,
        AuditAction.INGEST_EVENTS,
        target=f"ingestion:{run.pk}",
        detail={
            "source": run.source,
            "format": run.format,
            "added": 0,
            "repeat_of": str(earlier.pk),
        },
    )
    return run


def ingest_stream(
    actor: Actor,
    stream: IO[bytes],
    *,
    format: str,
    source: str,
    file_name: str,
    max_bytes: int | None = None,
    **kwargs: Any,
) -> IngestionRun:
    """Import an HTTP body: spooled to a private file first, so connectors stream it from disk
    (gzip detected by its magic bytes) whatever its size — bounded by ``max_bytes`` even when
    the client sent no Content-Length (chunked)."""
    folder = Path(settings.LIBCRM_DATA_DIR) / "incoming"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="body-", delete=False) as spool:
        spooled = Path(spool.name)
        written = 0
        while block := stream.read(1 << 20):
            written += len(block)
            if max_bytes is not None and written > max_bytes:
                spool.close()
                spooled.unlink(missing_ok=True)
                raise BodyTooLarge(
                    _("The request body is larger than the limit of %(limit)d bytes.")
                    % {"limit": max_bytes}
                )
            spool.write(block)
    try:
        return ingest_file(
            actor, spooled, format=format, source=source, file_name=file_name, **kwargs
        )
    finally:
        spooled.unlink(missing_ok=True)


_USAGE_TEXT = ("report_id", "release", "platform", "title", "database", "publisher", "metric_type")
_USAGE_IDS = ("doi", "isbn", "print_issn", "online_issn", "proprietary_id", "uri")


def _store_usage(
    run: IngestionRun, chunks: Iterable[Chunk], report: RejectReport, name: str
) -> None:
    """COUNTER figures: aggregate, no patron in them; a re-import replaces the same figure."""
    for chunk in chunks:
        for reject in chunk.rejects:
            report.add(reject.file or name, reject.line, reject.field, reject.reason)
        run.notices.extend(str(n) for n in chunk.notices)
        if chunk.batch is None or chunk.batch.num_rows == 0:
            continue
        rows = chunk.batch.to_pylist()
        with transaction.atomic():
            for row in rows:
                values: dict[str, Any] = {k: (row.get(k) or "") for k in _USAGE_TEXT}
                values["identifiers"] = {k: row[k] for k in _USAGE_IDS if row.get(k)}
                month = row["month"]
                values["month"] = month if isinstance(month, date) else date.fromisoformat(month)
                values["count"] = int(row["count"])
                values["source"] = run.source
                _obj, created = ResourceUsage.objects.update_or_create(
                    usage_id=row["usage_id"], defaults=values
                )
                run.added += int(created)
                run.duplicates += int(not created)
        run.usage_rows += len(rows)
        run.received += len(rows)
    run.rejected = report.count
    run.received += report.count
