"""``libcrm ingest PATH… --format F --source S``: import files through the ingestion pipeline,
with a progress line and a final summary per file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.ingest.identity import UnknownIdentifiers
from libcrm.ingest.models import RunStatus
from libcrm.ingest.selectors import reject_report
from libcrm.ingest.services import FORMATS, TABULAR, IngestError, ingest_file
from libcrm.privacy.actors import Actor


class Command(BaseCommand):
    help = "Import interaction data (EZproxy, Koha, FOLIO, gate counters, NDJSON, COUNTER)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files to import (.gz accepted)")
        parser.add_argument("--format", required=True, choices=[f for f in FORMATS if f != TABULAR])
        parser.add_argument("--source", required=True, help="name of the sending system, e.g. koha")
        parser.add_argument("--tz", default=None, help="time zone of local times in the files")
        parser.add_argument(
            "--identifier-kind",
            default=None,
            help="kind of the user field (EZproxy, gate card numbers)",
        )
        parser.add_argument(
            "--unknown",
            choices=UnknownIdentifiers.CHOICES,
            default=None,
            help="identifiers no patron holds: provisional patron or reject",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("libcrm ingest")
        extra = {}
        if options["identifier_kind"]:
            extra["identifier_kind"] = options["identifier_kind"]
        failed = 0
        for path in options["paths"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            progress = _Progress(self.stderr, path.name, path.stat().st_size)
            try:
                run = ingest_file(
                    actor,
                    path,
                    format=options["format"],
                    source=options["source"],
                    tz=options["tz"] or settings.TIME_ZONE,
                    unknown=options["unknown"],
                    on_rows=progress.add,
                    **extra,
                )
            except (IngestError, TypeError) as exc:
                raise CommandError(f"{path}: {exc}") from None
            progress.done()
            failed += run.status == RunStatus.FAILED
            self._summary(run, progress.seconds)
        if failed:
            raise CommandError(f"{failed} file(s) could not be imported; see the messages above")

    def _summary(self, run: Any, seconds: float) -> None:
        rate = run.received / seconds if seconds > 0 else 0
        mark = (
            self.style.SUCCESS("✔") if run.status == RunStatus.COMPLETED else self.style.ERROR("✘")
        )
        self.stdout.write(
            f"{mark} {run.file_name}: {run.received:,} rows read, {run.added:,} events added, "
            f"{run.duplicates:,} already there, {run.rejected:,} rejected"
            + (f", {run.provisional:,} provisional patrons" if run.provisional else "")
            + (f", {run.usage_rows:,} usage figures" if run.usage_rows else "")
            + f" in {seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        for notice in run.notices[:10]:
            self.stdout.write(f"  · {notice}")
        if run.error:
            self.stdout.write(self.style.ERROR(f"  {run.error}"))
        report = reject_report(run)
        if report is not None:
            self.stdout.write(f"  reject report: {report}  (run {run.pk})")


class _Progress:
    """Rows read so far: redrawn in place on a terminal, a line every 10 s otherwise."""

    def __init__(self, out: Any, name: str, size: int) -> None:
        self.out, self.name, self.size = out, name, size
        self.rows, self.started = 0, time.perf_counter()
        self.last = self.started
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def add(self, rows: int) -> None:
        self.rows += rows
        now = time.perf_counter()
        if self.tty:
            rate = self.rows / max(now - self.started, 1e-9)
            self.out.write(f"\r  {self.name}: {self.rows:,} rows ({rate:,.0f}/s)", ending="")
            self.out.flush()
        elif now - self.last >= 10:
            self.out.write(f"  {self.name}: {self.rows:,} rows")
            self.last = now

    def done(self) -> None:
        if self.tty and self.rows:
            self.out.write("")
