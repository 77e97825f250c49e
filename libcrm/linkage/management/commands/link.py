"""``libcrm link``: run identity linkage over the registry.

Pairs above the review threshold join the review queue (console → Possible duplicates); with
``--auto-merge P`` pairs at or above match probability P merge without review (off by default:
the library decides how much it trusts its model). Decided pairs are never proposed again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from libcrm.linkage.engine import LinkSettings, TooManyPairs
from libcrm.linkage.services import run_linkage
from libcrm.privacy.actors import Actor


class Command(BaseCommand):
    help = "Find records of the same person; propose them for review (and optionally merge)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--review-threshold", type=float, default=LinkSettings.review_threshold,
            help="match probability from which a pair is proposed for review (default 0.5)",
        )  # fmt: skip
        parser.add_argument(
            "--auto-merge", type=float, default=None, metavar="P",
            help="merge pairs at or above this match probability without review (default: off)",
        )  # fmt: skip
        parser.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            link_settings = LinkSettings(
                review_threshold=options["review_threshold"],
                auto_merge_threshold=options["auto_merge"],
                backend=options["backend"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            outcome = run_linkage(Actor.system("link"), link_settings)
        except TooManyPairs as exc:
            raise CommandError(str(exc)) from exc
        run = outcome.run
        self.stdout.write(
            _(
                "%(records)d records linked in %(seconds).1f s: %(pairs)d candidate pairs, "
                "%(proposed)d new in the review queue, %(merged)d merged automatically, "
                "%(skipped)d already decided."
            )
            % {
                "records": run.records,
                "seconds": sum(run.timings.values()),
                "pairs": run.pairs_found,
                "proposed": run.proposed,
                "merged": run.auto_merged,
                "skipped": run.skipped_decided,
            }
        )
