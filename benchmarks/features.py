"""Benchmark: the behavioural feature table over 10 million events and 100,000 patrons.

The events come from the event-store benchmark's generator (:mod:`benchmarks.event_store`),
appended through the real store and compacted, as a library's year of data would be. Measured
in one run, each beside its baseline:

* the full refresh (``refresh_features``: one DuckDB query of the Ibis-compiled expression
  over every file, and the atomic write of the table) against a plain DuckDB
  ``COUNT(*) GROUP BY patron_key`` over the same files and a hand-written DuckDB SQL of the
  core features (window counts by group, first and last seen) in one pass;
* the incremental refresh after each of several 100,000-event batches
  (``refresh_appended_features``: only the batch's rows read and aggregated, combined with the
  touched patrons' stored partials in one query, their rows written as an overlay of the table
  and the batch's partials as a delta; the refresh that finds the overlays grown past their
  limit folds them) against the full refresh in the same run, and the table and partials it
  leaves against those of a full refresh after the batches.

    .venv/bin/python -m benchmarks.features --events 10000000 --patrons 100000 --batches 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.event_store import generate, patron_keys, peak_mb

AS_OF = date(2025, 12, 31)


def timed(label: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<66} {seconds:7.2f} s   (peak RSS {peak_mb():,.0f} MB)", flush=True)
    return result, seconds


HAND_WRITTEN = """
WITH e AS (
    SELECT patron_key, CAST(occurred_at + INTERVAL 8 HOUR AS DATE) AS day, type
    FROM read_parquet($files)
    WHERE type NOT IN ('gate_out', 'message_out', 'course_enrolment', 'research_output')
)
SELECT patron_key,
    count(*) FILTER (WHERE day > $d30) AS all_30,
    count(*) FILTER (WHERE day > $d90) AS all_90,
    count(*) FILTER (WHERE day > $d365) AS all_365,
    count(DISTINCT day) FILTER (WHERE day > $d365) AS days_365,
    count(*) FILTER (WHERE day > $d30 AND type IN ('gate_in', 'space_24h_use')) AS visits_30,
    count(*) FILTER (WHERE day > $d365 AND type IN ('gate_in', 'space_24h_use')) AS visits_365,
    count(*) FILTER (WHERE day > $d30 AND type = 'loan') AS loans_30,
    count(*) FILTER (WHERE day > $d365 AND type = 'loan') AS loans_365,
    count(*) FILTER (WHERE day > $d365 AND type IN ('eresource_access', 'download',
        'reading_session')) AS digital_365,
    min(day) AS first_seen, max(day) AS last_seen
FROM e GROUP BY patron_key
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100_000, help="events in each new batch")
    parser.add_argument("--batches", type=int, default=4, help="batches appended in turn")
    parser.add_argument("--file-events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="libcrm-bench-features-"))
    os.environ["LIBCRM_HOME"] = str(home)
    os.environ["LIBCRM_TIME_ZONE"] = "Asia/Shanghai"
    os.environ["LIBCRM_FEATURES_ON_APPEND"] = "false"  # the bulk load: refreshed in full below
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "libcrm.settings"
    import django

    django.setup()
    import duckdb
    from django.conf import settings
    from django.core.management import call_command

    from libcrm.events.services import append_events, event_store
    from libcrm.features import services, storage
    from libcrm.features.selectors import feature_table

    call_command("migrate", verbosity=0)
    keys = patron_keys(args.patrons)
    print(
        f"libcrm feature benchmark: {args.events:,} events, {args.patrons:,} patrons, "
        f"batch of {args.batch:,}, {os.cpu_count()} CPUs; load average "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("setup (not measured against anything)")
    store = event_store()

    def load() -> int:
        added = 0
        for i in range(0, args.events, args.file_events):
            size = min(args.file_events, args.events - i)
            window = (i / args.events, (i + size) / args.events)
            batches = generate(size, 65_536, keys, seed=args.seed + i, first_id=i, window=window)
            added += append_events(batches, source="bench").added
        return added

    timed(f"append {args.events:,} events", load)
    timed("compact (sort every month by patron)", store.compact)
    files = [str(p) for p in store.files()]
    print(f"  {len(files)} files, {sum(Path(f).stat().st_size for f in files) / 1e6:,.0f} MB\n")

    print("full refresh")
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    con.execute("SET TimeZone = 'UTC'")
    _, count_s = timed(
        "baseline: DuckDB COUNT(*) GROUP BY patron_key over the files",
        lambda: con.execute(
            "SELECT patron_key, count(*) FROM read_parquet($f) GROUP BY patron_key", {"f": files}
        ).to_arrow_table(),
    )
    days = {f"d{n}": date.fromordinal(AS_OF.toordinal() - n) for n in (30, 90, 365)}
    hand, hand_s = timed(
        "baseline: hand-written DuckDB SQL, 11 core features, one pass",
        lambda: con.execute(HAND_WRITTEN, {"files": files, **days}).to_arrow_table(),
    )
    con.close()
    services.refresh_features(as_of=AS_OF)  # warm: Parquet footers, the compiled SQL
    report, full_s = timed(
        "libcrm: refresh_features (86 features + partials, Ibis -> DuckDB, written)",
        services.refresh_features,
        as_of=AS_OF,
    )
    table = feature_table()
    print(
        f"    {report.table_rows:,} patrons x {table.num_columns - 1} features "
        f"(hand-written: {hand.num_rows:,} patrons); {full_s / count_s:.1f}x the COUNT(*) scan, "
        f"{full_s / hand_s:.1f}x the hand-written query\n"
    )

    print(f"incremental refresh after each of {args.batches} batches of {args.batch:,} events")
    settings.LIBCRM_FEATURES_ON_APPEND = False  # measured step by step below
    folder = services.feature_file().folder
    spent: list[float] = []
    for n in range(args.batches):
        batch = list(generate(args.batch, 65_536, keys, seed=args.seed + 999 + n,
                              first_id=args.events + n * args.batch,
                              window=(0.995, 1.0)))  # fmt: skip
        appended, _ = timed(f"batch {n + 1}: append (store only)", append_events, batch,
                            source="bench")  # fmt: skip
        found = services.appended_patron_keys(store, appended)
        inc, inc_s = timed(
            f"batch {n + 1}: libcrm refresh_appended_features",
            services.refresh_appended_features,
            appended,
            as_of=AS_OF,
        )
        spent.append(inc_s)
        overlays = len(list(folder.glob(storage.OVERLAY_GLOB)))
        deltas = len(list(folder.glob(storage.DELTA_GLOB))) // 2
        print(
            f"    {inc.patrons:,} patrons refreshed ({len(found):,} keys in the batch); "
            f"{full_s / inc_s:.1f}x faster than the full refresh; "
            f"now {overlays} overlay(s) of the table, {deltas} delta(s) of the partials"
            + (" (the table folded into a new base)" if not overlays else "")
            + (" (the partials folded into a new base)" if not deltas else "")
        )
    print(
        f"    incremental: first {spent[0]:.2f} s, median {statistics.median(spent):.2f} s, "
        f"max {max(spent):.2f} s, mean {statistics.mean(spent):.2f} s "
        f"(full refresh {full_s:.2f} s)"
    )
    incremental_table = feature_table()
    incremental_partials = services.stored_partials()
    one = found[len(found) // 2]
    _, one_s = timed("one patron's history (a merge follow-up)", services.refresh_patron_features,
                     [one], as_of=AS_OF)  # fmt: skip
    _, check_s = timed(
        "check: full refresh after the batch", services.refresh_features, as_of=AS_OF
    )
    same = feature_table().equals(incremental_table)
    now = services.stored_partials()
    same_partials = (
        now is not None
        and incremental_partials is not None
        and now.sorted().bands.equals(incremental_partials.sorted().bands)
        and now.sorted().subjects.equals(incremental_partials.sorted().subjects)
    )
    print(
        f"    one patron {one_s * 1000:.0f} ms; full refresh after the batch {check_s:.2f} s "
        f"({check_s / spent[0]:.1f}x the first incremental); "
        f"incremental table == full refresh: {same}; "
        f"partials equal: {same_partials}"
    )


if __name__ == "__main__":
    main()
