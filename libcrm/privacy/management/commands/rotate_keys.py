"""``libcrm rotate-keys``: new encryption and blind-index keys, every value re-sealed under them.

Safe to interrupt: data stays readable at every point, and running the command again finishes
an interrupted rotation (see :mod:`libcrm.privacy.rotation`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.privacy import rotation
from libcrm.privacy.actors import Actor


class Command(BaseCommand):
    help = (
        "Rotate the keys that encrypt personal data and index it for search: stage new keys, "
        "re-seal every value and recompute every digest under them, then retire the old keys. "
        "Stop `libcrm serve` and workers first. With keys in LIBCRM_KEYS, add the new keys "
        "there and use --reseal-only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reseal-only",
            action="store_true",
            help="re-seal everything under the current primary keys without changing any key "
            "(for keys given in LIBCRM_KEYS, after making the new keys primary there)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("libcrm rotate-keys")
        self.stdout.write(f"Keys from {settings.LIBCRM_KEY_SOURCE}.")
        try:
            if options["reseal_only"]:
                report = rotation.reseal_only(actor)
            else:
                report = rotation.rotate_keys(actor)
        except rotation.RotationError as exc:
            raise CommandError(str(exc)) from exc
        self._print(report, reseal_only=options["reseal_only"])

    def _print(self, report: rotation.RotationReport, *, reseal_only: bool) -> None:
        ok = self.style.SUCCESS("✔")
        if report.resumed:
            self.stdout.write(f"{ok} finished an interrupted rotation with the keys it had staged")
        elif not reseal_only:
            self.stdout.write(f"{ok} staged new keys in the key file (old keys kept readable)")
        self.stdout.write(
            f"{ok} re-sealed {report.values_resealed:,} values with field key "
            f"{report.field_primary}"
        )
        self.stdout.write(
            f"{ok} recomputed {report.digests_recomputed:,} search digests with index key "
            f"{report.index_primary}"
        )
        retired = report.retired_field_keys + report.retired_index_keys
        if reseal_only:
            if retired:
                self.stdout.write(
                    self.style.WARNING(
                        "! nothing uses these keys any more; remove them from LIBCRM_KEYS "
                        f"and restart: field keys {', '.join(report.retired_field_keys) or '-'}; "
                        f"index keys {', '.join(report.retired_index_keys) or '-'}"
                    )
                )
            else:
                self.stdout.write(f"{ok} no retired keys to remove")
        else:
            self.stdout.write(
                f"{ok} retired field keys {', '.join(report.retired_field_keys) or '-'} and "
                f"index keys {', '.join(report.retired_index_keys) or '-'}"
            )
        self.stdout.write(
            self.style.SUCCESS("Done.")
            + " Restart libcrm serve and any worker so that they load the new keys."
        )
