"""The process the backup drills run (a real libcrm process with its own LIBCRM_HOME).

    python -m libcrm.backup.tests.drill_child seed MARKERS_JSON
    python -m libcrm.backup.tests.drill_child backup [--pause-at STEP]
    python -m libcrm.backup.tests.drill_child inspect

``seed`` migrates, registers a patron whose personal fields carry the markers and imports a few
hundred events for them; ``backup --pause-at STEP`` stops inside the backup at that step (as if
descheduled there) and waits to be killed; ``inspect`` prints what the installation holds, as
JSON, for the test to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import django


def _seed(markers: dict[str, str]) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from libcrm.ingest.services import ingest_file
    from libcrm.patrons.services import register_patron
    from libcrm.privacy.actors import Actor

    actor = Actor.system("backup drill")
    register_patron(
        actor,
        {
            "name": "Name" + markers["text"],
            "category": "resident",
            "address": "Addr" + markers["text"],
            "notes": "Note" + markers["text"],
            "research_specialty": "Control" + markers["control"],
        },
        [
            {"kind": "email", "value": markers["text"] + "@example.org"},
            {"kind": "library_card", "value": "LC" + markers["text"].upper()},
        ],
    )
    lines = [
        json.dumps(
            {
                "identifier": {"kind": "library_card", "value": "LC" + markers["text"].upper()},
                "occurred_at": f"2026-{1 + day % 10:02d}-{1 + day % 27:02d}T{8 + day % 12:02d}"
                ":00:00+08:00",
                "type": "gate_in",
                "channel": "physical",
            }
        )
        for day in range(300)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.ndjson"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        run = ingest_file(actor, path, format="ndjson", source="drill")
    print(json.dumps({"added": run.added, "status": run.status}))


def _backup(pause_at: str | None) -> None:
    from libcrm.backup.services import create_backup
    from libcrm.privacy.actors import Actor

    def step(name: str) -> None:
        print(json.dumps({"step": name}), flush=True)
        if name == pause_at:
            while True:  # wait here to be killed
                time.sleep(1)

    result = create_backup(Actor.system("backup drill"), on_step=step)
    print(json.dumps({"path": str(result.path), "s3": result.s3_uri, "events": result.events}))


def _inspect() -> None:
    from libcrm.events.services import event_store
    from libcrm.patrons.models import Patron

    store = event_store()
    print(
        json.dumps(
            {
                "names": sorted(p.name for p in Patron.objects.all()),
                "events": sum(e.rows for e in store.manifest.files.values()),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "backup", "inspect"])
    parser.add_argument("markers", nargs="?")
    parser.add_argument("--pause-at")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "libcrm.settings")
    django.setup()
    if args.command == "seed":
        _seed(json.loads(args.markers))
    elif args.command == "backup":
        _backup(args.pause_at)
    else:
        _inspect()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
