"""``libcrm import-marc PATH``: load catalogue items from a MARC file (MARC 21 or UNIMARC, ISO 2709
or MARCXML), print what became of its records, and write the rejected ones to a CSV report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.catalog.errors import CatalogError
from libcrm.catalog.marc import ENCODINGS, FORMATS
from libcrm.catalog.services import DEFAULT_SOURCE, import_marc
from libcrm.privacy.actors import Actor

#: Rejects shown on the terminal when no --rejects file is given.
SHOWN_REJECTS = 20


class Command(BaseCommand):
    help = (
        "Import catalogue items from a MARC file: MARC 21 or UNIMARC/CNMARC, ISO 2709 or "
        "MARCXML. Importing the same file again updates the items instead of duplicating them. "
        "Broken records are reported (record number, byte offset, field, reason) and skipped; "
        "the good ones are imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the MARC file (.mrc, .iso, .xml)")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="auto",
            help="MARC 21 or UNIMARC; 'auto' (default) tells them apart record by record",
        )
        parser.add_argument(
            "--source",
            default=DEFAULT_SOURCE,
            help="name of the catalogue the records come from, the prefix of item ids "
            f"(default {DEFAULT_SOURCE!r}); keep it the same across imports",
        )
        parser.add_argument(
            "--encoding",
            choices=ENCODINGS,
            default="auto",
            help="text encoding of an ISO 2709 file; 'auto' (default) reads UTF-8 and MARC-8",
        )
        parser.add_argument(
            "--rejects",
            type=Path,
            metavar="CSV",
            help="write the reject report (file, record, offset, field, reason) to this file",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("libcrm import-marc")
        try:
            report = import_marc(
                actor,
                options["path"],
                source=options["source"],
                format=options["format"],
                encoding=options["encoding"],
            )
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        ok = self.style.SUCCESS("✔")
        self.stdout.write(f"{ok} {report.file_name}: {report.summary()}")
        if report.warnings:
            self.stdout.write(
                self.style.WARNING(
                    f"! {len(report.warnings):,} records were kept with a value left out:"
                )
            )
            for problem in report.warnings[:SHOWN_REJECTS]:
                self.stdout.write(f"  {problem}")
        if not report.rejects:
            return
        self.stdout.write(self.style.WARNING(f"! {report.rejected:,} rejected:"))
        for problem in report.rejects[:SHOWN_REJECTS]:
            self.stdout.write(f"  {problem}")
        if options["rejects"] is not None:
            try:
                report.write_rejects(options["rejects"])
            except OSError as exc:
                raise CommandError(f"cannot write {options['rejects']}: {exc.strerror}") from exc
            self.stdout.write(f"Reject report written to {options['rejects']}.")
        elif report.rejected > SHOWN_REJECTS:
            self.stdout.write(
                f"… and {report.rejected - SHOWN_REJECTS:,} more; use --rejects FILE."
            )
