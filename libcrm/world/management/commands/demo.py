"""``libcrm demo``: load the demo library (明德大学图书馆) with its patrons, families and one staff
account per role, so that every page of libcrm has something to show."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from libcrm.patrons.models import Patron
from libcrm.privacy.actors import Actor
from libcrm.staff.roles import Role
from libcrm.world import campus
from libcrm.world.generate import DEMO_PASSWORD, DemoLibrary, generate
from libcrm.world.load import DemoError, LoadReport, demo_loaded, load_demo

MAX_PATRONS = 200_000


class ProgressBar:
    """One line redrawn in place on a terminal; a line per quarter when output is a file."""

    def __init__(self, out: OutputWrapper, label: str, width: int = 30) -> None:
        self.out = out
        self.label = label
        self.width = width
        self.interactive = out.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        step = percent // (1 if self.interactive else 25)
        if step == self.shown or (step == 0 and not self.interactive):
            return
        self.shown = step
        filled = self.width * done // total if total else self.width
        bar = "█" * filled + "░" * (self.width - filled)
        line = f"  {self.label} {bar} {percent:3d}%  {done:,}/{total:,}"
        if self.interactive:
            self.out.write(f"\r{line}", ending="\n" if done == total else "")
            self.out.flush()
        else:
            self.out.write(line)


class Command(BaseCommand):
    help = (
        "Load the demo library: a Chinese university library serving its campus and community, "
        "with patrons, families and one staff account per role. Does nothing if already loaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patrons", type=int, default=300, help="how many patrons to register (default 300)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=42,
            help="random seed: the same seed gives the same library (default 42)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count, seed = options["patrons"], options["seed"]
        if not 0 <= count <= MAX_PATRONS:
            raise CommandError(f"--patrons must be between 0 and {MAX_PATRONS:,} (got {count})")
        self._require_migrated()
        if demo_loaded():
            self.stdout.write(
                "The demo library is already loaded (its branches are there); nothing to do."
            )
            self._print_staff(password_known=False)
            return
        existing = Patron.objects.count()
        if existing:
            raise CommandError(
                f"this database already holds {existing:,} patrons, so it is not a fresh install; "
                "the demo (with its published staff password) belongs in an empty one, e.g. "
                "LIBCRM_HOME=./demo libcrm migrate && LIBCRM_HOME=./demo libcrm demo"
            )
        library = generate(count, seed, timezone.localdate())
        self.stdout.write(
            f"Loading the demo library of {campus.UNIVERSITY_ZH} ({campus.UNIVERSITY_EN}): "
            f"{count:,} patrons, seed {seed}…"
        )
        try:
            report = load_demo(
                library, Actor.system("libcrm demo"), progress=ProgressBar(self.stdout, "patrons")
            )
        except DemoError as exc:
            raise CommandError(f"{exc} (nothing was written)") from exc
        self._print_summary(library, report)
        self._print_staff(password_known=True, kept=[s.username for s in report.staff_kept])

    def _require_migrated(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("the database is not set up yet; run: libcrm migrate")

    def _print_summary(self, library: DemoLibrary, report: LoadReport) -> None:
        categories = Counter(p.category for p in library.patrons)
        statuses = Counter(p.status for p in library.patrons)
        self.stdout.write(
            self.style.SUCCESS(
                f"✔ Loaded {report.patrons:,} patrons ({report.households:,} households), "
                f"{report.branches} branches and {report.departments} schools "
                f"in {report.seconds:.1f} s."
            )
        )
        self.stdout.write("  " + " · ".join(f"{k} {v:,}" for k, v in categories.most_common()))
        self.stdout.write("  " + " · ".join(f"{k} {v:,}" for k, v in statuses.most_common()))

    def _print_staff(self, *, password_known: bool, kept: list[str] | None = None) -> None:
        from libcrm.world.generate import STAFF

        kept = kept or []
        self.stdout.write("")
        if password_known:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"Staff accounts (password for every one: {DEMO_PASSWORD})"
                )
            )
        else:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"Staff accounts of the demo (password {DEMO_PASSWORD} unless changed since)"
                )
            )
        self.stdout.write(f"  {'username':<14}{'role':<26}name")
        for spec in STAFF:
            note = "  (already existed: password unchanged)" if spec.username in kept else ""
            role = str(Role(spec.role).label)
            self.stdout.write(f"  {spec.username:<14}{role:<26}{spec.display_name}{note}")
        self.stdout.write("")
        self.stdout.write(
            f"Run `libcrm serve`, then sign in at http://127.0.0.1:8000{_login_path()}"
        )
        if password_known:
            self.stdout.write(
                self.style.WARNING(
                    "The demo password is published: never load the demo into a real library's "
                    "database."
                )
            )


def _login_path() -> str:
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/"
