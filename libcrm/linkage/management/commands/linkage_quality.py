"""``libcrm linkage-quality``: how good the identity links are on a synthetic world.

Links every linkable patron of this installation with the probabilistic engine and scores the
links against the ground truth ``libcrm demo`` wrote beside its files (pairs of records of one
person), beside the exact-match baseline (same name and birth year, or a shared phone/e-mail)
measured in the same run. Reads everyone's personal data, so the run is audited (LINK_RUN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from libcrm.linkage.engine import LinkSettings, TooManyPairs
from libcrm.linkage.quality import format_report, measure_installation
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event


class Command(BaseCommand):
    help = "Precision, recall and F1 of identity linkage against the demo world's ground truth."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--world",
            type=Path,
            help="the world folder `libcrm demo` wrote (default: LIBCRM_DATA_DIR/world/<seed>)",
        )
        parser.add_argument("--seed", type=int, default=42, help="the demo's seed (default 42)")
        parser.add_argument(
            "--threshold", type=float, default=LinkSettings.review_threshold,
            help="match probability from which a pair counts as a link (default 0.5)",
        )  # fmt: skip
        parser.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = options["world"] or Path(settings.LIBCRM_DATA_DIR) / "world" / str(options["seed"])
        truth = Path(folder) / "ground_truth"
        if not (truth / "duplicate_pairs.parquet").is_file():
            raise CommandError(
                _("No ground truth in %(folder)s: run `libcrm demo` first or pass --world.")
                % {"folder": truth}
            )
        try:
            link_settings = LinkSettings(
                review_threshold=options["threshold"], backend=options["backend"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            report = measure_installation(truth, link_settings)
        except TooManyPairs as exc:
            raise CommandError(str(exc)) from exc
        record_audit_event(
            Actor.system("linkage-quality"),
            AuditAction.LINK_RUN,
            target="linkage-quality",
            detail={
                "records": report.records,
                "links": report.engine.links,
                "backend": options["backend"],
                "purpose": "quality measurement",
            },
        )
        for line in format_report(report):
            self.stdout.write(line)
        verdict = report.meets()
        self.stdout.write(
            (self.style.SUCCESS if verdict else self.style.WARNING)(
                _("Target F1 ≥ 0.95 with precision ≥ 0.99: %(verdict)s")
                % {"verdict": _("met") if verdict else _("not met")}
            )
        )
