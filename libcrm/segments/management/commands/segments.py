"""``libcrm segments``: check a rule, save a tag or segment, install the starter set, take
snapshots (daily, after the feature refresh), list them, and say why a patron is a member.

    libcrm segments check rule.json [--lang zh]
    libcrm segments save SLUG --name-en … --name-zh … --rule rule.json [--parent SLUG] [--kind tag]
    libcrm segments starter
    libcrm segments snapshot [SLUG …] [--engine duckdb|spark]
    libcrm segments list
    libcrm segments why SLUG PATRON_KEY
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from libcrm.privacy.actors import Actor
from libcrm.segments import selectors, services
from libcrm.segments.errors import SegmentError
from libcrm.segments.models import Segment, SegmentSnapshot
from libcrm.segments.rules import validate

ACTOR = Actor.system("libcrm segments")


def _rule(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise CommandError(f"{source}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"{source}: not JSON (line {exc.lineno}: {exc.msg})") from exc


class Command(BaseCommand):
    help = "Check, save, snapshot and explain tags and segments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lang", choices=("en", "zh"), default="en", help="message language")
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="check a rule (a JSON file, or - for stdin)")
        check.add_argument("rule")
        save = sub.add_parser("save", help="create or change a tag or segment")
        save.add_argument("slug")
        save.add_argument("--name-en", required=True)
        save.add_argument("--name-zh", required=True)
        save.add_argument("--rule", required=True, help="a JSON file, or - for stdin")
        save.add_argument("--parent", default=None)
        save.add_argument("--kind", choices=Segment.Kind.values, default=Segment.Kind.SEGMENT)
        save.add_argument("--description", default="")
        sub.add_parser("starter", help="save the built-in definitions a library lacks")
        snapshot = sub.add_parser("snapshot", help="count members now (default: every one)")
        snapshot.add_argument("slugs", nargs="*")
        snapshot.add_argument("--engine", choices=("duckdb", "spark"), default=None)
        sub.add_parser("list", help="every tag and segment with its latest size")
        why = sub.add_parser("why", help="why a patron is in a segment")
        why.add_argument("slug")
        why.add_argument("patron_key")

    def handle(self, *args: Any, **options: Any) -> None:
        lang = options["lang"]
        try:
            getattr(self, f"_{options['action']}")(options)
        except SegmentError as exc:
            for error in exc.errors:
                self.stderr.write(error.message(lang))
            raise CommandError(f"{len(exc.errors)} problem(s); nothing was saved") from exc
        except Segment.DoesNotExist as exc:
            raise CommandError("no such tag or segment") from exc

    def _check(self, options: dict[str, Any]) -> None:
        errors = validate(
            _rule(options["rule"]), selectors.segment_catalogue(), selectors.rule_resolver()
        )
        if errors:
            raise SegmentError(errors)
        self.stdout.write("the rule is valid")

    def _save(self, options: dict[str, Any]) -> None:
        segment = services.save_segment(
            ACTOR,
            slug=options["slug"],
            name_en=options["name_en"],
            name_zh=options["name_zh"],
            rule=_rule(options["rule"]),
            kind=options["kind"],
            description=options["description"],
            parent=options["parent"],
        )
        version = segment.current_version.number if segment.current_version else 0
        self.stdout.write(f"saved {segment.slug}, version {version}")

    def _starter(self, options: dict[str, Any]) -> None:
        saved = services.install_starter_set(ACTOR)
        self.stdout.write(f"saved {len(saved)}: {', '.join(s.slug for s in saved) or '-'}")

    def _snapshot(self, options: dict[str, Any]) -> None:
        segments = Segment.objects.filter(current_version__isnull=False).select_related(
            "current_version", "parent"
        )
        if options["slugs"]:
            segments = segments.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - {s.slug for s in segments}
            if missing:
                raise CommandError(f"no such tag or segment: {', '.join(sorted(missing))}")
        for segment in segments:
            snap = services.take_snapshot(ACTOR, segment, engine=options["engine"])
            self.stdout.write(f"{segment.slug}: {snap.size:,} members as of {snap.as_of}")

    def _list(self, options: dict[str, Any]) -> None:
        latest = {}
        for snap in SegmentSnapshot.objects.order_by("segment_id", "-taken_at"):
            latest.setdefault(snap.segment_id, snap)
        for s in Segment.objects.select_related("parent", "current_version"):
            snap = latest.get(s.pk)
            size = f"{snap.size:,} on {snap.as_of}" if snap else "no snapshot"
            parent = f" (in {s.parent.slug})" if s.parent else ""
            version = s.current_version.number if s.current_version else 0
            self.stdout.write(f"{s.slug}{parent} [{s.kind}] v{version}: {size}")

    def _why(self, options: dict[str, Any]) -> None:
        segment = Segment.objects.select_related("current_version", "parent").get(
            slug=options["slug"]
        )
        reasons = selectors.why_member(segment, options["patron_key"])
        if reasons is None:
            self.stdout.write("not a member")
            return
        zh = options["lang"] == "zh"
        for r in reasons:
            via = " › ".join(r["via"])
            label = r["label_zh"] if zh else r["label"]
            held = "✓" if r["held"] else "✗"
            self.stdout.write(
                f"{held} {via + ' › ' if via else ''}{r['field']} ({label}) {r['op']} "
                f"{json.dumps(r['value'], ensure_ascii=False)}: "
                f"{json.dumps(r['actual'], ensure_ascii=False, default=str)}"
            )
