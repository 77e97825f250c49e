"""``libcrm demo``: the demo library (明德大学图书馆) and a year of its life — patrons (some
registered twice), staff, a catalogue and about a million interaction events, written as the
files real library systems export and ingested through libcrm's own pipeline, so that every page
of libcrm has something to show. Its ground truth is kept apart, beside the files."""

from __future__ import annotations

import argparse
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from libcrm.patrons.models import Patron
from libcrm.privacy.actors import Actor
from libcrm.staff.mfa import DEMO_SECRET
from libcrm.staff.roles import Role
from libcrm.world import campus
from libcrm.world.export import BuiltWorld, build_and_write
from libcrm.world.generate import DEMO_PASSWORD, STAFF
from libcrm.world.ingestion import IngestionFailed, IngestSummary, ingest_world
from libcrm.world.load import DemoError, LoadReport, demo_loaded, load_demo
from libcrm.world.stages import StageTimes
from libcrm.world.truth import write_people_truth
from libcrm.world.world import (
    DEFAULT_DAYS,
    DEFAULT_DUPLICATE_SHARE,
    DEFAULT_PATRONS,
    TIME_ZONE,
    People,
    WorldConfig,
    build_people,
)

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


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date written YYYY-MM-DD: {text!r}") from None


class Command(BaseCommand):
    help = (
        "Load the demo library: a Chinese university library serving its campus and community, "
        "with patrons (some registered twice, on WeChat or at the community point), staff, a "
        "catalogue and a year of behaviour ingested from real-format files. Does nothing if "
        "already loaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--patrons",
            type=int,
            default=DEFAULT_PATRONS,
            help=f"patron records to register, duplicates included (default {DEFAULT_PATRONS:,})",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_DAYS,
            help=f"days of behaviour, ending --until (default {DEFAULT_DAYS}; 0: patrons only)",
        )
        parser.add_argument(
            "--until", type=_day, default=None, help="last day of the world (default: today)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=42,
            help="random seed: the same seed gives the same library (default 42)",
        )
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="folder for the source files and ground truth (default: "
            "LIBCRM_DATA_DIR/world/<seed>)",
        )
        parser.add_argument(
            "--duplicates",
            type=float,
            default=DEFAULT_DUPLICATE_SHARE,
            help=f"share of people registered more than once (default {DEFAULT_DUPLICATE_SHARE})",
        )
        parser.add_argument(
            "--clean-files",
            action="store_true",
            help="leave out the few deliberately broken lines that show off the reject reports",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count, seed, days = options["patrons"], options["seed"], options["days"]
        if not 0 <= count <= MAX_PATRONS:
            raise CommandError(f"--patrons must be between 0 and {MAX_PATRONS:,} (got {count})")
        if not 0 <= days <= 3660:
            raise CommandError(f"--days must be between 0 and 3,660 (got {days})")
        if not 0 <= options["duplicates"] <= 0.5:
            raise CommandError("--duplicates must be a share between 0 and 0.5")
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
        today = timezone.localdate()
        until = options["until"] or today
        now = timezone.now().astimezone(ZoneInfo(TIME_ZONE)).replace(tzinfo=None)
        config = WorldConfig(
            until=until,
            patrons=count,
            days=days,
            seed=seed,
            duplicate_share=options["duplicates"],
            bad_lines=not options["clean_files"],
            end=now if until >= today else None,
        )
        folder = options["out"] or Path(settings.LIBCRM_DATA_DIR) / "world" / str(seed)
        self._run(config, folder.resolve())

    def _run(self, config: WorldConfig, folder: Path) -> None:
        times = StageTimes()
        with times.stage("generate people and duplicates"):
            people = build_people(config)
        self.stdout.write(
            f"Loading the demo library of {campus.UNIVERSITY_ZH} ({campus.UNIVERSITY_EN}): "
            f"{len(people.records):,} patron records of {len(people.library.patrons):,} people, "
            f"{config.days} days up to {config.until}, seed {config.seed}…"
        )
        actor = Actor.system("libcrm demo")
        built: BuiltWorld | None = None
        if config.days:
            # The behaviour is drawn and written in a process of its own (Arrow work on the
            # other core) while this one fills the registry; a thread would fight it for the GIL.
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                building = pool.submit(build_and_write, people, folder)
                report = self._register(people, actor, times)
                with times.stage("wait for the world's files"):
                    try:
                        built = building.result()
                    except Exception as exc:
                        raise CommandError(f"could not build the world: {exc}") from exc
            for name, seconds in built.seconds.items():
                times.add(f"{name} (in parallel)", seconds)
        else:
            report = self._register(people, actor, times)
        write_people_truth(people, folder, report.patron_keys)
        self._print_registry(people, report)
        if built is not None:
            try:
                summary = ingest_world(built.written, actor, times, self.stdout)
            except IngestionFailed as exc:
                raise CommandError(
                    f"ingestion stopped: {exc}; the patrons are registered and the files are in "
                    f"{folder}: fix the cause and import them with libcrm ingest"
                ) from exc
            self._print_events(built, summary, folder)
            self._insight(actor, times)
        self._link(actor, times)
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Time by stage"))
        for line in times.lines():
            self.stdout.write(line)
        self._print_staff(password_known=True, kept=[s.username for s in report.staff_kept])

    def _insight(self, actor: Actor, times: StageTimes) -> None:
        """The feature table, the starter tags and segments and their first snapshot, as a
        library's nightly refresh would leave them."""
        from libcrm.features.services import refresh_features
        from libcrm.segments.services import install_starter_set, take_snapshot

        with times.stage("features, starter segments and their snapshots"):
            refreshed = refresh_features()
            segments = install_starter_set(actor)
            for segment in segments:
                take_snapshot(actor, segment)
        self.stdout.write(
            self.style.SUCCESS(
                f"✔ Insight: features of {refreshed.patrons:,} patrons; "
                f"{len(segments)} starter tags and segments with their first snapshot."
            )
        )

    def _link(self, actor: Actor, times: StageTimes) -> None:
        """Fill the review queue of possible duplicates, as a library's nightly run would."""
        from libcrm.linkage.services import run_linkage

        with times.stage("link identities (review queue)"):
            run = run_linkage(actor).run
        self.stdout.write(
            self.style.SUCCESS(
                f"✔ Identity linkage: {run.pairs_found:,} possible duplicates among "
                f"{run.records:,} records are in the review queue (console → Duplicates)."
            )
        )

    def _register(self, people: People, actor: Actor, times: StageTimes) -> LoadReport:
        try:
            with times.stage("register patrons and staff (bulk services)"):
                return load_demo(
                    people.registry(), actor, progress=ProgressBar(self.stdout, "patrons")
                )
        except DemoError as exc:
            raise CommandError(f"{exc} (nothing was written)") from exc

    def _require_migrated(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("the database is not set up yet; run: libcrm migrate")

    def _print_registry(self, people: People, report: LoadReport) -> None:
        records = people.records
        categories = Counter(p.category for p in records)
        statuses = Counter(p.status for p in records)
        duplicated = len({d.person for d in people.duplicates})
        self.stdout.write(
            self.style.SUCCESS(
                f"✔ Loaded {report.patrons:,} patrons ({report.households:,} households; "
                f"{len(people.duplicates):,} are further registrations of {duplicated:,} "
                f"people), {report.branches} branches and {report.departments} schools."
            )
        )
        self.stdout.write("  " + " · ".join(f"{k} {v:,}" for k, v in categories.most_common()))
        self.stdout.write("  " + " · ".join(f"{k} {v:,}" for k, v in statuses.most_common()))

    def _print_events(self, built: BuiltWorld, summary: IngestSummary, folder: Path) -> None:
        rejected = summary.catalogue_rejected
        self.stdout.write(
            self.style.SUCCESS(f"✔ Catalogue: {summary.catalogue_created:,} items imported")
            + (f" ({rejected} broken record rejected on purpose)" if rejected else "")
        )
        for line in summary.lines():
            self.stdout.write(line)
        expected = built.written.expected_events
        mark = self.style.SUCCESS("✔") if summary.added == expected else "!"
        self.stdout.write(
            f"{mark} Events: {summary.added:,} in the store (the files hold {expected:,}); "
            f"{summary.rejected:,} rows rejected (the deliberate ones are listed in "
            "manifest.json)."
        )
        if summary.provisional:
            self.stdout.write(
                self.style.WARNING(
                    f"! {summary.provisional:,} provisional patrons were created for identifiers "
                    "no demo patron holds: a bug in the world generator"
                )
            )
        self.stdout.write(f"  Files and ground truth: {folder}")

    def _print_staff(self, *, password_known: bool, kept: list[str] | None = None) -> None:
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
            "Second step of sign-in: the code from `libcrm demo-code`, or add the key "
            f"{DEMO_SECRET} to an authenticator app (time-based, 6 digits)."
        )
        self.stdout.write(
            f"Run `libcrm serve`, then sign in at "
            f"http://127.0.0.1:{settings.LIBCRM_PORT}{_login_path()}"
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
