"""``libcrm audit verify``: walk the tamper-evident audit chain and report every break.

Exits with status 1 when a record was altered, deleted or cut off the end, 0 when the chain is
intact; either way the check is itself audited. ``libcrm audit reset-checkpoint`` makes the
checkpoint agree with the chain after an older backup was restored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.privacy import checkpoint
from libcrm.privacy.actors import Actor
from libcrm.privacy.chain import ChainReport
from libcrm.privacy.services import reset_audit_checkpoint, verify_audit_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain (verify) or re-anchor its checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        verify = actions.add_parser(
            "verify",
            help="walk the chain; report altered, deleted and missing records; exit 1 on any",
        )
        verify.add_argument(
            "--checkpoint",
            type=Path,
            metavar="FILE",
            help="compare with this copy of the checkpoint (kept off the machine) instead of "
            "the local one",
        )
        actions.add_parser(
            "reset-checkpoint",
            help="make the checkpoint agree with the chain's current end (only after restoring "
            "an older backup, and after `verify` showed nothing else is wrong)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system(f"libcrm audit {options['action']}")
        try:
            if options["action"] == "reset-checkpoint":
                point = reset_audit_checkpoint(actor)
                self.stdout.write(
                    self.style.SUCCESS("✔")
                    + f" checkpoint {checkpoint.path()} now records seq {point.seq:,}"
                )
                return
            copy = options.get("checkpoint")
            if copy is not None and not copy.is_file():
                raise CommandError(f"--checkpoint: {copy} is not a file")
            report = verify_audit_chain(actor, copy)
        except checkpoint.CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        self._print(report)
        if not report.ok:
            raise CommandError(
                f"the audit chain is broken: {len(report.problems) + report.more_problems} "
                f"problem(s), the first at record {report.problems[0].seq}",
                returncode=1,
            )

    def _print(self, report: ChainReport) -> None:
        if report.checkpoint is None:
            self.stdout.write(
                self.style.WARNING("!")
                + f" no checkpoint at {checkpoint.path()}: records cut off the end of the chain "
                "cannot be detected"
            )
        for problem in report.problems:
            self.stdout.write(self.style.ERROR("✘") + f" [{problem.kind}] {problem.message}")
        if report.more_problems:
            self.stdout.write(self.style.ERROR("✘") + f" … and {report.more_problems} more")
        if report.redacted:
            self.stdout.write(
                f"  {report.redacted:,} field(s) were redacted by erasure (allowed; their "
                "digests still seal the chain)"
            )
        if report.ok:
            last = f"seq {report.last_seq:,}" if report.last_seq is not None else "empty"
            self.stdout.write(
                self.style.SUCCESS("✔")
                + f" audit chain intact: {report.records:,} records ({last}), "
                f"head {report.last_hash[:16]}…"
            )
