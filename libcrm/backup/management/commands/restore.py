"""``libcrm restore ARCHIVE``: rebuild this (empty) installation from a backup archive — a
local file or an ``s3://bucket/key`` — and verify its checksums and counts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.backup import s3
from libcrm.backup.archive import ArchiveError
from libcrm.backup.services import BackupError, restore_backup, verify_backup


class Command(BaseCommand):
    help = "Restore an encrypted backup archive into an empty installation and verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="archive path or s3://bucket/key")
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="decrypt and check every checksum, restore nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify_only"]:
            try:
                manifest = verify_backup(options["source"])
            except ArchiveError as exc:
                raise CommandError(f"the archive was refused: {exc}") from exc
            except (BackupError, s3.OffsiteError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"the backup of {manifest['created_at']} is intact: "
                f"{len(manifest['members'])} files, {manifest['events']} events, "
                f"{sum(manifest['tables'].values())} rows — every checksum matches."
            )
            return
        try:
            result = restore_backup(
                options["source"], on_step=lambda text: self.stderr.write(f"… {text}")
            )
        except ArchiveError as exc:
            raise CommandError(f"the archive was refused: {exc}") from exc
        except (BackupError, s3.OffsiteError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored the backup of {result.created_at}: " + ", ".join(result.checked) + " — "
            "every checksum and count matches."
        )
