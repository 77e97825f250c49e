"""``libcrm retention``: apply the retention policies to the event store.

Run it daily from cron or a systemd timer (docs/privacy-operations.md). ``--dry-run`` reports
what would change and changes nothing; ``--json`` prints the report for monitoring. Either way
the run is audited (``RETENTION_RUN``, counts only).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.privacy.actors import Actor
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.retention import apply_retention_policies


class Command(BaseCommand):
    help = "Anonymise or delete interaction events past their retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; change nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = apply_retention_policies(
                Actor.system("libcrm retention"), dry_run=options["dry_run"]
            )
        except (SubjectError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(asdict(report), ensure_ascii=False, sort_keys=True))
            return
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(
            f"{len(report.policies)} enabled polic(y/ies): {', '.join(report.policies)}"
        )
        for purpose, count in sorted(report.spared_patrons.items()):
            self.stdout.write(f"  {count:,} patron(s) spared by consent to {purpose}")
        self.stdout.write(f"{report.rows_anonymised:,} event(s) {verb} anonymised")
        self.stdout.write(f"{report.rows_deleted:,} event(s) {verb} deleted")
        for action, counts in sorted(report.by_type.items()):
            for name, count in sorted(counts.items()):
                self.stdout.write(f"  {action} {name}: {count:,}")
        if not report.dry_run:
            self.stdout.write(f"{report.files_rewritten:,} event file(s) rewritten")
        for note in report.notes:
            self.stdout.write(self.style.WARNING("! ") + note)
