"""``libcrm features refresh [--full] [--as-of DATE] [--engine duckdb|spark]``: recompute the
behavioural feature table from the event store, and ``libcrm features show KEY``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.features import selectors, services


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: {text!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Refresh or show the behavioural features of patrons (from the event store)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser("refresh", help="recompute the feature table")
        refresh.add_argument(
            "--full",
            action="store_true",
            help="every patron (run daily: windows end today); without it, only patrons "
            "with events newer than the table",
        )
        refresh.add_argument("--as-of", type=_date, default=None, help="windows end on this day")
        refresh.add_argument("--engine", choices=("duckdb", "spark"), default=None)
        show = sub.add_parser("show", help="print one patron's features as JSON")
        show.add_argument("patron_key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "show":
                found = selectors.features_of(options["patron_key"])
                self.stdout.write(json.dumps(found, default=str, ensure_ascii=False, indent=2))
                return
            report = self._refresh(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        kind = "full" if report.full else "incremental"
        self.stdout.write(
            f"{kind} refresh as of {report.as_of} on {report.engine}: {report.patrons:,} "
            f"patrons computed, {report.table_rows:,} in the table, {report.seconds:.2f} s"
        )

    def _refresh(self, options: dict[str, Any]) -> services.RefreshReport:
        if options["full"]:
            return services.refresh_features(as_of=options["as_of"], engine_name=options["engine"])
        keys = services.patrons_with_new_events()
        if keys is None:  # never computed, or the store was replaced: nothing to go by
            return services.refresh_features(as_of=options["as_of"], engine_name=options["engine"])
        # The new batches merged into the kept partials (or, without them, those patrons
        # recomputed over their history).
        return services.refresh_appended_features(
            as_of=options["as_of"], engine_name=options["engine"]
        )
