"""Benchmark: end-to-end ingestion of an NDJSON file — parse, validate, resolve identity,
pseudonymise, append — against the floor of pyarrow writing the same rows to Parquet.

The file is in time order, as real exports are. Events carry library card numbers of patrons registered beforehand (through the real keyed
digests), so identity resolution does its real work. The NDJSON is written with Arrow string
kernels (setup, not measured). Ingestion runs in a child process so that its peak memory is its
own. Also measured: re-importing an already-imported 1-million-event file.

    .venv/bin/python -m benchmarks.ingestion --events 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.event_store import generate


def _setup_django(home: Path) -> None:
    os.environ["LIBCRM_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "libcrm.settings"
    import django

    django.setup()


def cards(n: int) -> pa.Array:
    return pc.binary_join_element_wise(
        "BC", pc.utf8_lpad(pc.cast(pa.array(range(n)), pa.string()), 7, "0"), ""
    )


def register_patrons(n: int) -> None:
    """Bulk registration with the real pseudonyms and digests (setup, not measured)."""
    import uuid

    from django.core.management import call_command
    from django.db import transaction

    from libcrm.patrons.models import Identifier, Patron
    from libcrm.patrons.services import identifier_digest
    from libcrm.privacy import crypto
    from libcrm.privacy.keys import get_keyring

    call_command("migrate", verbosity=0)
    keyring = get_keyring()
    numbers = cards(n).to_pylist()
    with transaction.atomic():
        for start in range(0, n, 5000):
            chunk = numbers[start : start + 5000]
            patrons = []
            for _ in chunk:
                patron = Patron(name="Benchmark", category="undergraduate", uuid=uuid.uuid4())
                patron.patron_key = crypto.pseudonym(keyring, str(patron.uuid))
                patrons.append(patron)
            Patron.objects.bulk_create(patrons)
            Identifier.objects.bulk_create(
                Identifier(
                    patron=p,
                    kind="library_card",
                    value=c,
                    digest=identifier_digest("library_card", c),
                )
                for p, c in zip(patrons, chunk, strict=True)
            )


def _optional(name: str, column: pa.Array) -> pa.Array:
    text = pc.binary_join_element_wise(f',"{name}":"', column, '"', "")
    return pc.if_else(pc.is_valid(column), text, "")


def write_ndjson(path: Path, total: int, patrons: int, seed: int) -> pa.Table:
    """The NDJSON file, and the same events as a table (input schema) for the floor."""
    numbers = cards(patrons)
    tables = []
    # A year's export is in time order, as ILS and gate exports are: 24 consecutive windows.
    windows = 24
    per_window = -(-total // windows)

    def batches():  # type: ignore[no-untyped-def]
        for w in range(windows):
            n = min(per_window, total - w * per_window)
            if n > 0:
                yield from generate(
                    n,
                    262_144,
                    numbers,
                    seed=seed + w,
                    first_id=w * per_window,
                    window=(w / windows, (w + 1) / windows),
                )

    with path.open("wb") as out:
        for batch in batches():
            when = pc.strftime(batch.column("occurred_at"), format="%Y-%m-%dT%H:%M:%S", locale="C")
            line = pc.binary_join_element_wise(
                '{"source_id":"',
                batch.column("event_id"),
                '","identifier":{"kind":"library_card","value":"',
                batch.column("patron_key"),
                '"},"occurred_at":"',
                when,
                'Z","type":"',
                batch.column("type"),
                '","channel":"',
                batch.column("channel"),
                '"',
                _optional("branch", batch.column("branch")),
                _optional("item_id", batch.column("item_id")),
                _optional("subject", batch.column("subject")),
                "}\n",
                "",
            )
            out.write("".join(line.to_pylist()).encode())
            tables.append(pa.Table.from_batches([batch]))
    return pa.concat_tables(tables)


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. (``ru_maxrss`` is no good here: Linux carries the
    parent's high-water mark across fork and exec, and the parent holds the generated table.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """Runs in its own process: one ingestion, printing a JSON line of figures."""
    _setup_django(Path(args.home))
    from libcrm.ingest.services import ingest_file
    from libcrm.privacy.actors import Actor

    started = time.perf_counter()
    run = ingest_file(Actor.system("benchmark"), args.child, format="ndjson", source=args.source)
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "received": run.received,
                "added": run.added,
                "rejected": run.rejected,
                "duplicates": run.duplicates,
                "status": run.status,
                "error": run.error,
                "peak_mb": peak_mb,
            }
        )
    )


def run_child(home: Path, path: Path, source: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ingestion",
            "--home",
            str(home),
            "--child",
            str(path),
            "--source",
            source,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--patrons", type=int, default=50_000)
    parser.add_argument("--reimport", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--home")
    parser.add_argument("--child")
    parser.add_argument("--source", default="bench")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    home = Path(tempfile.mkdtemp(prefix="libcrm-bench-ingest-"))
    _setup_django(home)
    t0 = time.perf_counter()
    register_patrons(args.patrons)
    big, small = home / "events.ndjson", home / "again.ndjson"
    table = write_ndjson(big, args.events, args.patrons, args.seed)
    write_ndjson(small, args.reimport, args.patrons, args.seed + 1)
    print(
        f"setup: {args.patrons:,} patrons, {args.events:,} + {args.reimport:,} events "
        f"({big.stat().st_size / 1e6:,.0f} MB NDJSON) in {time.perf_counter() - t0:.0f} s"
    )

    floor_dir = Path(tempfile.mkdtemp(prefix="libcrm-bench-floor-"))
    started = time.perf_counter()
    pq.write_table(table, floor_dir / "events.parquet", compression="zstd")
    floor = time.perf_counter() - started
    del table

    full = run_child(home, big, "bench")
    run_child(home, small, "bench-again")
    again = run_child(home, small, "bench-again")

    rate = full["received"] / full["seconds"]
    floor_rate = args.events / floor
    print(f"{'':44}{'seconds':>9}{'events/s':>13}")
    print(f"{'floor: pyarrow writes the rows to Parquet':44}{floor:>9.1f}{floor_rate:>13,.0f}")
    print(f"{'libcrm ingest (parse→resolve→store)':44}{full['seconds']:>9.1f}{rate:>13,.0f}")
    print(
        f"ratio to the floor: {full['seconds'] / floor:.1f}x  (added {full['added']:,}, "
        f"rejected {full['rejected']:,}, peak memory {full['peak_mb']:,.0f} MB)"
    )
    print(
        f"re-import of {args.reimport:,} events already stored: {again['seconds']:.2f} s, "
        f"{again['added']:,} added, {again['duplicates']:,} recognised"
    )


if __name__ == "__main__":
    main()
