"""``libcrm doctor``: check configuration, database, data folder, keys and staff, and say what to
fix. Exits with status 1 when anything is wrong (warnings alone exit 0)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from libcrm.console.doctor import Finding, Status, run_checks


class Command(BaseCommand):
    help = (
        "Check libcrm's configuration, database, data folder, keys and staff accounts; every "
        "problem comes with the command that fixes it. Exit status 1 if anything is wrong."
    )
    # The doctor must run on a broken install too: it reports problems instead of stopping.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def handle(self, *args: Any, **options: Any) -> None:
        sections = run_checks()
        symbols = {
            Status.OK: self.style.SUCCESS("✔"),
            Status.WARNING: self.style.WARNING("!"),
            Status.ERROR: self.style.ERROR("✘"),
            Status.SKIPPED: "–",
        }
        findings: list[Finding] = []
        for section in sections:
            self.stdout.write(self.style.MIGRATE_HEADING(section.title))
            for finding in section.findings:
                findings.append(finding)
                self.stdout.write(f"  {symbols[finding.status]} {finding.message}")
                if finding.fix and finding.status is not Status.OK:
                    self.stdout.write(f"      fix: {finding.fix}")
        errors = sum(1 for f in findings if f.status is Status.ERROR)
        warnings = sum(1 for f in findings if f.status is Status.WARNING)
        self.stdout.write("")
        if errors:
            self.stdout.write(
                self.style.ERROR(
                    f"{errors} problem{'s' if errors > 1 else ''}"
                    + (f" and {warnings} warning{'s' if warnings > 1 else ''}" if warnings else "")
                    + ": fix the ✘ lines above, then run libcrm doctor again."
                )
            )
            raise SystemExit(1)
        if warnings:
            self.stdout.write(
                self.style.WARNING(
                    f"Healthy, with {warnings} warning{'s' if warnings > 1 else ''} (the ! lines)."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("Healthy: every check passed."))
