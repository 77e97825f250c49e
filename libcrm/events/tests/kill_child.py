"""The process the kill test SIGKILLs: imports a Parquet file into an event store.

    python -m libcrm.events.tests.kill_child migrate
    python -m libcrm.events.tests.kill_child import ROOT INPUT [--pause-at STAGE --pause-batch N]
    python -m libcrm.events.tests.kill_child ledger ROOT

Progress goes to stdout, one JSON object per line, so the test knows when to strike. With
``--pause-at`` the import stops at that step of that batch (as if descheduled there) and waits
to be killed. The database comes from DATABASE_URL, like any libcrm process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["migrate", "import", "ledger"])
    parser.add_argument("root", nargs="?")
    parser.add_argument("input", nargs="?")
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--pause-at")
    parser.add_argument("--pause-batch", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "libcrm.settings")
    django.setup()
    from django.core.management import call_command

    if args.command == "migrate":
        call_command("migrate", verbosity=0)
        return

    import pyarrow.parquet as pq

    from libcrm.events.ledger import DjangoLedger
    from libcrm.events.models import EventBatch
    from libcrm.events.store import EventStore, Progress

    store = EventStore(args.root, DjangoLedger())
    if args.command == "ledger":
        states = Counter(
            EventBatch.objects.filter(store=store.store_id).values_list("state", flat=True)
        )
        print(json.dumps(dict(states)))
        return

    def progress(step: Progress) -> None:
        print(json.dumps({"stage": step.stage, "batch": step.batch_index}), flush=True)
        if step.stage == args.pause_at and step.batch_index == args.pause_batch:
            print(json.dumps({"paused": True}), flush=True)
            while True:
                time.sleep(60)

    source = pq.ParquetFile(args.input).iter_batches(batch_size=7_001)
    report = store.append(
        source, source="kill-test", batch_rows=args.batch_rows, on_progress=progress
    )
    print(
        json.dumps({"done": True, "added": report.added, "duplicates": report.duplicates}),
        flush=True,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
