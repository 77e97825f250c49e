"""``libcrm backup``: one encrypted, checksummed archive of the database and the data folder,
to the backup folder and, when configured, to S3-compatible storage (docs/operators.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from libcrm.backup import s3
from libcrm.backup.services import BackupError, create_backup, list_backups
from libcrm.privacy.actors import Actor


class Command(BaseCommand):
    help = "Write an encrypted backup archive (database + event store + data files)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--local-only", action="store_true", help="do not upload to S3 even if configured"
        )
        parser.add_argument("--list", action="store_true", help="list the archives and stop")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for row in list_backups():
                self.stdout.write(f"{row['name']}  {filesizeformat(row['size'])}  {row['sha256']}")
            for row in s3.list_offsite():
                self.stdout.write(f"{row['uri']}  {filesizeformat(row['size'])}")
            return
        try:
            result = create_backup(
                Actor.system("libcrm backup"),
                upload=not options["local_only"],
                on_step=lambda text: self.stderr.write(f"… {text}"),
            )
        except (BackupError, s3.OffsiteError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backup written: {result.path}\n"
            f"  {filesizeformat(result.size)}, sha256 {result.sha256}\n"
            f"  {sum(result.counts.values())} rows in {len(result.counts)} tables, "
            f"{result.events} events, {result.members} files, {result.seconds:.1f} s"
        )
        if result.s3_uri:
            self.stdout.write(f"  off-site copy: {result.s3_uri}")
        self.stdout.write("The keys are not in the archive: keep the key file safe, apart.")
