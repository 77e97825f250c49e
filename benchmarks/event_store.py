"""Benchmark: the event store against the floor of writing the same rows with pyarrow.

Synthetic events (a year of a big library: types, channels, branches, skewed activity per
patron) are generated as Arrow batches with pyarrow compute kernels, never row by row. Measured
in one run, each beside its baseline:

* ingestion: ``EventStore.append`` (validate, digest, ledger, de-duplicate, partition, write,
  fsync, publish) against pyarrow writing the same batches to one zstd Parquet file; generation
  time is measured on its own and taken out of both;
* compaction of the whole store;
* one patron's timeline (latest 50) over the compacted store, for a few hundred random
  patrons: median and 95th percentile;
* re-importing a 1-million-event file: the digest fast path (same file, same batching) and the
  event-level path (same events, different batching, so every row goes through the join).

    .venv/bin/python -m benchmarks.event_store --events 10000000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_US = 365 * 86_400 * 1_000_000
TYPE_WEIGHTS = {
    "gate_in": 22, "gate_out": 20, "loan": 8, "return": 7, "renewal": 3, "hold": 1,
    "eresource_access": 14, "download": 6, "reading_session": 3, "web_visit": 8,
    "app_visit": 4, "space_booking": 1, "space_checkin": 1, "space_24h_use": 1,
    "consultation": 0.5, "message_in": 0.3, "message_out": 0.5, "program_registration": 0.2,
    "program_attendance": 0.2,
}  # fmt: skip
CHANNELS = ["physical", "web", "app", "wechat", "kiosk", "email"]
BRANCHES = ["main", "north", "south", "medical", "law"]
SUBJECTS = ["TP311", "I247", "O13", "F832", "R73", "D922", "K825", "G642"]


def patron_keys(n: int) -> pa.Array:
    """Well-formed keys (as libcrm.privacy.crypto.pseudonym makes them), computed once."""
    return pa.array(
        "pk" + base64.b32encode(hashlib.sha256(b"bench%d" % i).digest()[:15]).decode().lower()
        for i in range(n)
    )


def _cumulative(weights: list[float]) -> pa.Array:
    total = sum(weights)
    running, out = 0.0, []
    for w in weights[:-1]:
        running += w / total
        out.append(running)
    return pa.array(out, pa.float64())


def _pick(r: pa.Array, cumulative: list[float]) -> pa.Array:
    """Index of the bucket each uniform draw falls in (vectorised: one comparison per edge)."""
    index = pa.repeat(pa.scalar(0, pa.int32()), len(r))
    for edge in cumulative:
        index = pc.add(index, pc.cast(pc.greater_equal(r, edge), pa.int32()))
    return index


def _draw(n: int, seed: int) -> pa.Array:
    return pc.random(n, initializer=seed)


def generate(
    total: int,
    batch: int,
    keys: pa.Array,
    seed: int = 7,
    first_id: int = 0,
    window: tuple[float, float] = (0.0, 1.0),
) -> Iterator[pa.RecordBatch]:
    """``total`` events in record batches of ``batch`` rows, reproducible from ``seed``, at
    times spread over ``window`` (fractions of the year: an export of those weeks)."""
    window_start = int(YEAR_START.timestamp() * 1_000_000 + window[0] * YEAR_US)
    window_us = (window[1] - window[0]) * YEAR_US
    type_names = pa.array(list(TYPE_WEIGHTS))
    type_edges = _cumulative(list(TYPE_WEIGHTS.values())).to_pylist()
    channel_edges = _cumulative([40, 20, 15, 15, 5, 5]).to_pylist()
    for start in range(0, total, batch):
        n = min(batch, total - start)
        s = seed * 1_000_003 + start
        counter = pa.array(range(first_id + start, first_id + start + n), pa.int64())
        scrambled = pc.bit_wise_and(pc.multiply(counter, 0x5DEECE66D), (1 << 53) - 1)
        event_id = pc.binary_join_element_wise("bm-", pc.cast(scrambled, pa.string()), "")
        # Activity is skewed: a power of a uniform draw favours low patron numbers.
        who = pc.cast(pc.floor(pc.multiply(pc.power(_draw(n, s + 1), 2.5), len(keys))), pa.int32())
        offset = pc.cast(pc.floor(pc.multiply(_draw(n, s + 2), window_us)), pa.int64())
        at = pc.cast(pc.add(offset, window_start), pa.timestamp("us", tz="UTC"))
        kind = pc.take(type_names, _pick(_draw(n, s + 3), type_edges))
        r = _draw(n, s + 4)
        is_loan = pc.is_in(kind, value_set=pa.array(["loan", "return", "renewal", "hold"]))
        item = pc.binary_join_element_wise(
            "it", pc.cast(pc.cast(pc.floor(pc.multiply(r, 400_000)), pa.int64()), pa.string()), ""
        )
        reading = pc.equal(kind, "reading_session")
        yield pa.RecordBatch.from_pydict(
            {
                "event_id": event_id,
                "patron_key": pc.take(keys, who),
                "occurred_at": at,
                "type": kind,
                "channel": pc.take(pa.array(CHANNELS), _pick(_draw(n, s + 5), channel_edges)),
                "branch": pc.take(
                    pa.array(BRANCHES), pc.cast(pc.floor(pc.multiply(r, 5)), pa.int32())
                ),
                "space": pa.nulls(n, pa.string()),
                "item_id": pc.if_else(is_loan, item, pa.scalar(None, pa.string())),
                "subject": pc.if_else(
                    is_loan,
                    pc.take(
                        pa.array(SUBJECTS),
                        pc.cast(pc.floor(pc.multiply(_draw(n, s + 6), len(SUBJECTS))), pa.int32()),
                    ),
                    pa.scalar(None, pa.string()),
                ),
                "quantity": pa.nulls(n, pa.float64()),
                "duration_s": pc.if_else(
                    reading,
                    pc.cast(pc.floor(pc.multiply(r, 7200)), pa.int32()),
                    pa.scalar(None, pa.int32()),
                ),
                "source": pa.repeat(pa.scalar("bench"), n),
                "attrs": pa.nulls(n, pa.map_(pa.string(), pa.string())),
            }
        )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.2f} s   (peak RSS {peak_mb():,.0f} MB)", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument(
        "--file-events",
        type=int,
        default=1_000_000,
        help="events per imported file (one append call each)",
    )
    parser.add_argument("--batch-rows", type=int, default=500_000)
    parser.add_argument("--gen-rows", type=int, default=65_536, help="rows per generated batch")
    parser.add_argument("--timelines", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the store folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="libcrm-bench-"))
    os.environ["LIBCRM_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "libcrm.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from libcrm.events.ledger import DjangoLedger
    from libcrm.events.store import EventStore, StoreOptions

    call_command("migrate", verbosity=0)
    keys = patron_keys(args.patrons)
    files = list(range(0, args.events, args.file_events))

    def source_file(i: int, whole_year: bool = False) -> Iterator[pa.RecordBatch]:
        """File ``i`` (its first event number): by default an export of its own weeks, as
        libraries export (monthly circulation files, daily logs); ``whole_year`` spreads it over
        the year, the worst case for de-duplication (every file touches every month)."""
        size = min(args.file_events, args.events - i)
        share = (i / args.events, (i + size) / args.events)
        return generate(
            size,
            args.gen_rows,
            keys,
            seed=args.seed + i,
            first_id=i,
            window=(0.0, 1.0) if whole_year else share,
        )

    print(
        f"libcrm event store benchmark: {args.events:,} events, {args.patrons:,} patrons, "
        f"{len(files)} files of {args.file_events:,}, ledger batches of {args.batch_rows:,} "
        f"rows, {os.cpu_count()} CPUs\n"
    )
    print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("ingestion")

    def generate_all() -> int:
        return sum(b.num_rows for i in files for b in source_file(i))

    _, gen_s = timed("generate only (taken out of the figures below)", generate_all)

    floor_path = home / "floor.parquet"

    def floor() -> None:
        first = next(source_file(0))
        with pq.ParquetWriter(floor_path, first.schema, compression="zstd") as writer:
            for i in files:
                for b in source_file(i):
                    writer.write_batch(b)
        fd = os.open(floor_path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    _, floor_s = timed("floor: pyarrow writes the same batches to one file", floor)
    floor_net = floor_s - gen_s

    def ingest(target: EventStore, whole_year: bool) -> int:
        added = 0
        for i in files:
            added += target.append(source_file(i, whole_year), source="bench").added
        return added

    def ingest_report(label: str, root: Path, whole_year: bool) -> EventStore:
        target = EventStore(root, DjangoLedger(), StoreOptions(batch_rows=args.batch_rows))
        added, seconds = timed(label, ingest, target, whole_year)
        net = seconds - gen_s
        stored = sum(e.bytes for e in target.manifest.files.values())
        print(
            f"    {args.events / net:,.0f} events/s (floor {args.events / floor_net:,.0f}); "
            f"store/floor time {net / floor_net:.2f}x; rows added {added:,}; "
            f"{stored / 1e6:,.0f} MB in {len(target.manifest.files)} files "
            f"(floor {floor_path.stat().st_size / 1e6:,.0f} MB)"
        )
        return target

    worst = ingest_report(
        "libcrm, worst case: every file spans the whole year",
        home / "events-worst",
        whole_year=True,
    )
    worst.close()
    shutil.rmtree(home / "events-worst")
    store_root = home / "events"
    store = ingest_report(
        "libcrm: EventStore.append, file by file (chronological)", store_root, whole_year=False
    )
    print()

    print("compaction")
    report, _ = timed("compact every month (sort by patron, 2048-row groups)", store.compact)
    print(
        f"  {report.files_before} files -> {report.files_after}; "
        f"{report.bytes_after / 1e6:,.0f} MB\n"
    )

    print("timeline of one patron, latest 50")
    rng = random.Random(args.seed)
    present = keys.to_pylist()
    probes = [rng.choice(present) for _ in range(args.timelines)]
    store.timeline(probes[0])  # warm: footers of the compacted files

    def latencies(fn) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for key in probes:
            started = time.perf_counter()
            fn(key)
            out.append((time.perf_counter() - started) * 1000)
        return sorted(out)

    def report_ms(label: str, samples: list[float]) -> None:
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(f"  {label:<58} median {statistics.median(samples):6.2f} ms   p95 {p95:6.2f} ms")

    cold = EventStore(store_root, DjangoLedger())
    report_ms(
        "first read per patron, fresh process state (cold footers)",
        latencies(lambda k: cold.timeline(k, limit=50)),
    )
    warm = latencies(lambda k: store.timeline(k, limit=50))
    report_ms("libcrm: EventStore.timeline (warm footers)", warm)
    report_ms(
        "patron page activity (counts + heatmap, whole history)",
        latencies(lambda k: store.patron_activity(k, tz="Asia/Shanghai")),
    )
    every = [str(p) for p in store.files()]
    baseline = duckdb.connect(config={"threads": 2, "memory_limit": "256MB"})
    base = latencies(
        lambda k: baseline.execute(
            "SELECT * FROM read_parquet($f) WHERE patron_key = $k "
            "ORDER BY occurred_at DESC LIMIT 50",
            {"f": every, "k": k},
        ).to_arrow_table()
    )
    baseline.close()
    report_ms("baseline: one DuckDB query over the same files", base)
    print(
        f"  timeline vs DuckDB query: {statistics.median(base) / statistics.median(warm):.1f}x "
        "faster (median)\n"
    )

    print("re-import of a file already imported (the file held in memory: store time only)")
    size = min(args.file_events, args.events)
    again = list(source_file(0))
    fast, _ = timed(
        f"same {size:,}-event file, same batching (digest fast path)",
        store.append,
        again,
        source="bench",
    )
    slow, _ = timed(
        f"same {size:,} events, other batching (event-level path)",
        store.append,
        again,
        source="bench",
        batch_rows=args.batch_rows // 2 + 1,
    )
    print(
        f"  fast path: {fast.added} added, {fast.skipped_batches} of {len(fast.batches)} "
        f"batches skipped; event path: {slow.added} added, {slow.duplicates:,} duplicates"
    )
    del again
    print(f"\npeak RSS of the whole run: {peak_mb():,.0f} MB")
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    store.close()
    cold.close()
    if args.keep:
        print(f"store kept in {store_root}")
    else:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
