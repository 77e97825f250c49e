"""Benchmark: a five-condition segment over 10 million events and 100,000 patrons.

Events (patron_key, occurred_at, type) are generated with numpy into one Parquet file: a
400-day span ending on the as-of date, activity skewed towards some patrons, six event types.
A profile with the five features the segment reads (one row per patron) is built from them by
one DuckDB query, as the feature refresh does (:mod:`libcrm.features`, measured in
``benchmarks/features.py``; here a hand-written query of just those five, so this benchmark
measures the segment engine and not the feature catalogue). Measured in one run, each beside
its baseline, with identical members checked:

1. the segment on the stored profile: ``libcrm.segments.evaluate`` (check, compile with
   sqlglot, run on DuckDB, Arrow out) against a hand-written DuckDB SQL of the same meaning
   over the same Parquet file (target: within 1.25×);
2. from the events: profile query + engine, against one hand-written DuckDB query over the
   events (GROUP BY … HAVING) (target: within 1.25×);
3. a straightforward pandas implementation over the events (read, group, filter) against (2)
   (target: at least 20× slower).

    .venv/bin/python -m benchmarks.segments --events 10000000 --patrons 100000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from libcrm.segments import compiler
from libcrm.segments.compiler import compile_rule
from libcrm.segments.evaluate import evaluate
from libcrm.segments.rules import catalogue_of

AS_OF = date(2025, 12, 31)
SPAN_DAYS = 400
TYPES = ["gate_in", "loan", "download", "eresource_access", "web_visit", "program_attendance"]
TYPE_WEIGHTS = [0.30, 0.15, 0.10, 0.20, 0.20, 0.05]

CATALOGUE = catalogue_of(
    {
        "loans_365d": "int",
        "visits_90d": "int",
        "downloads_365d": "int",
        "night_share_365d": "float",
        "last_seen": "date",
    }
)
RULE = {
    "all": [
        {"field": "loans_365d", "op": ">=", "value": 5},
        {"field": "visits_90d", "op": "between", "value": [2, 30]},
        {"field": "downloads_365d", "op": ">=", "value": 1},
        {"field": "night_share_365d", "op": "<", "value": 0.3},
        {"field": "last_seen", "op": "within", "value": {"days": 30}},
    ]
}

# Days are UTC days, counted as integers from 1970-01-01 as the feature expression does
# (zoned timestamp functions cost DuckDB 20× more); the meaning is the same in all three
# implementations, which is what is compared.
_DAYS = """
    epoch_us(occurred_at) // 86400000000 AS day,
    (epoch_us(occurred_at) // 3600000000) % 24 AS hour
"""
PROFILE_SQL = f"""
WITH e AS (SELECT patron_key, type, {_DAYS} FROM read_parquet($events))
SELECT patron_key,
    count(*) FILTER (WHERE day > {{day}} - 365 AND type = 'loan') AS loans_365d,
    count(*) FILTER (WHERE day > {{day}} - 90 AND type = 'gate_in') AS visits_90d,
    count(*) FILTER (WHERE day > {{day}} - 365 AND type = 'download') AS downloads_365d,
    CASE WHEN count(*) FILTER (WHERE day > {{day}} - 365) > 0
         THEN (count(*) FILTER (WHERE day > {{day}} - 365 AND (hour >= 22 OR hour < 6)))::DOUBLE
              / count(*) FILTER (WHERE day > {{day}} - 365)
    END AS night_share_365d,
    DATE '1970-01-01' + CAST(max(day) AS INTEGER) AS last_seen
FROM e GROUP BY patron_key ORDER BY patron_key
"""
SEGMENT_SQL = """
SELECT patron_key FROM read_parquet($profile)
WHERE loans_365d >= 5 AND visits_90d BETWEEN 2 AND 30 AND downloads_365d >= 1
  AND night_share_365d < 0.3
  AND last_seen BETWEEN DATE '{start}' AND DATE '{as_of}'
ORDER BY patron_key
"""
EVENTS_SQL = f"""
WITH e AS (SELECT patron_key, type, {_DAYS} FROM read_parquet($events))
SELECT patron_key FROM e GROUP BY patron_key
HAVING count(*) FILTER (WHERE day > {{day}} - 365 AND type = 'loan') >= 5
   AND count(*) FILTER (WHERE day > {{day}} - 90 AND type = 'gate_in') BETWEEN 2 AND 30
   AND count(*) FILTER (WHERE day > {{day}} - 365 AND type = 'download') >= 1
   AND count(*) FILTER (WHERE day > {{day}} - 365) > 0
   AND (count(*) FILTER (WHERE day > {{day}} - 365 AND (hour >= 22 OR hour < 6)))::DOUBLE
       / count(*) FILTER (WHERE day > {{day}} - 365) < 0.3
   AND max(day) BETWEEN {{day}} - 29 AND {{day}}
ORDER BY patron_key
"""


def generate_events(path: Path, events: int, patrons: int, seed: int) -> None:
    """``events`` rows written in chunks of two million (bounded memory)."""
    rng = np.random.default_rng(seed)
    keys = np.array([f"p{i:07d}" for i in range(patrons)])
    end = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day).timestamp()) + 86_400
    span = SPAN_DAYS * 86_400
    writer = None
    try:
        for start in range(0, events, 2_000_000):
            n = min(2_000_000, events - start)
            # Some patrons are much more active than others (a power of a uniform draw).
            who = (rng.random(n) ** 2.0 * patrons).astype(np.int64)
            # Recent days are busier: most patrons were seen lately, some lapsed.
            seconds = end - 1 - (rng.random(n) ** 1.5 * span).astype(np.int64)
            kind = rng.choice(len(TYPES), size=n, p=TYPE_WEIGHTS)
            batch = pa.table(
                {
                    "patron_key": pa.array(keys[who]),
                    "occurred_at": pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC")),
                    "type": pa.array(np.array(TYPES)[kind]),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
            writer.write_table(batch, row_group_size=500_000)
    finally:
        if writer is not None:
            writer.close()


def pandas_members(events: Path) -> list[str]:
    """What an analyst would write in pandas: read the events, count per patron, filter."""
    import pandas as pd

    df = pd.read_parquet(events)
    day = df["occurred_at"].dt.tz_convert(None).dt.normalize()
    as_of = pd.Timestamp(AS_OF)
    in365 = day > as_of - pd.Timedelta(days=365)
    in90 = day > as_of - pd.Timedelta(days=90)
    hour = df["occurred_at"].dt.hour
    night = (hour >= 22) | (hour < 6)
    key = df["patron_key"]
    loans = df[in365 & (df["type"] == "loan")].groupby(key).size()
    visits = df[in90 & (df["type"] == "gate_in")].groupby(key).size()
    downloads = df[in365 & (df["type"] == "download")].groupby(key).size()
    night_share = night[in365].groupby(key[in365]).mean()
    last_seen = day.groupby(key).max()
    profile = pd.DataFrame({"last_seen": last_seen})
    for name, series in [("loans", loans), ("visits", visits), ("downloads", downloads)]:
        profile[name] = series.reindex(profile.index).fillna(0)
    profile["night_share"] = night_share.reindex(profile.index)
    chosen = profile[
        (profile["loans"] >= 5)
        & profile["visits"].between(2, 30)
        & (profile["downloads"] >= 1)
        & (profile["night_share"] < 0.3)
        & (profile["last_seen"] > as_of - pd.Timedelta(days=30))
        & (profile["last_seen"] <= as_of)
    ]
    return sorted(chosen.index)


def timed(label: str, repeat: int, fn: Any) -> tuple[Any, float]:
    """The result and the median of ``repeat`` runs (after one warm-up when repeating)."""
    [(result, median)] = paired([(label, fn)], repeat)
    return result, median


def paired(entries: list[tuple[str, Any]], repeat: int) -> list[tuple[Any, float]]:
    """Runs the entries in turn, ``repeat`` rounds after one warm-up round when repeating, so
    that load from other processes falls on all of them alike; medians per entry."""
    if repeat > 1:
        for _, fn in entries:
            fn()
    times: list[list[float]] = [[] for _ in entries]
    results: list[Any] = [None] * len(entries)
    for _ in range(repeat):
        for i, (_, fn) in enumerate(entries):
            started = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - started)
    out = []
    for (label, _), result, spent in zip(entries, results, times, strict=True):
        median = statistics.median(spent)
        print(f"  {label:<68} {median * 1000:10.1f} ms  (median of {repeat})", flush=True)
        out.append((result, median))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="runs of the profile queries")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="libcrm-bench-segments-"))
    try:
        events, profile = folder / "events.parquet", folder / "profiles.parquet"
        started = time.perf_counter()
        generate_events(events, args.events, args.patrons, args.seed)
        print(f"generated {args.events:,} events in {time.perf_counter() - started:.1f} s")
        con = duckdb.connect()
        as_of = AS_OF.isoformat()
        day = (AS_OF - date(1970, 1, 1)).days
        table = con.execute(PROFILE_SQL.format(day=day), {"events": str(events)}).arrow()
        table = table.read_all() if hasattr(table, "read_all") else table
        pq.write_table(table, profile)
        print(f"profile: {table.num_rows:,} patrons, {len(table.schema)} columns\n")

        print("1. the segment on the stored profile (Parquet)")
        compiler._compiled.clear()
        started = time.perf_counter()
        compile_rule(RULE, CATALOGUE, AS_OF).sql("profile", "duckdb", reasons=False)
        cold = time.perf_counter() - started
        hand_sql = SEGMENT_SQL.format(start=AS_OF - timedelta(days=29), as_of=as_of)
        (ours, t_ours), (hand, t_hand), (_, t_reasons) = paired(
            [
                (
                    "libcrm.segments.evaluate (check + compiled SQL + DuckDB + Arrow)",
                    lambda: evaluate(
                        RULE, CATALOGUE, profile, AS_OF, reasons=False, connection=con
                    ),
                ),
                (
                    "hand-written DuckDB SQL",
                    lambda: con.execute(hand_sql, {"profile": str(profile)}).arrow(),
                ),
                (
                    "libcrm.segments.evaluate with reasons (c0…c4 and the five values)",
                    lambda: evaluate(RULE, CATALOGUE, profile, AS_OF, connection=con),
                ),
            ],
            args.repeat,
        )
        print(f"  (compiling the rule the first time: {cold * 1000:.1f} ms, then kept)")
        members = ours.column("patron_key").to_pylist()
        assert members == _keys(hand), "engine and hand-written SQL disagree"

        print("\n2. from the events")
        repeat = max(1, args.repeat // 5)

        def engine_from_events() -> pa.Table:
            built = con.execute(PROFILE_SQL.format(day=day), {"events": str(events)}).arrow()
            built = built.read_all() if hasattr(built, "read_all") else built
            return evaluate(RULE, CATALOGUE, built, AS_OF, reasons=False, connection=con)

        (from_events, t_e_ours), (hand_events, t_e_hand) = paired(
            [
                ("profile query + libcrm.segments.evaluate", engine_from_events),
                (
                    "hand-written DuckDB SQL over the events (GROUP BY … HAVING)",
                    lambda: con.execute(
                        EVENTS_SQL.format(day=day), {"events": str(events)}
                    ).arrow(),
                ),
            ],
            repeat,
        )
        assert from_events.column("patron_key").to_pylist() == members
        assert _keys(hand_events) == members

        print("\n3. pandas over the events")
        in_pandas, t_pandas = timed("pandas: read, group by patron, filter", 1,
                                    lambda: pandas_members(events))  # fmt: skip
        assert in_pandas == members, "pandas and the engine disagree"

        print(f"\nmembers: {len(members):,} of {table.num_rows:,} patrons (identical in all)")
        print("ratios:")
        print(f"  on the profile: engine / hand-written SQL        {t_ours / t_hand:6.2f}×"
              "   (target ≤ 1.25×)")  # fmt: skip
        print(f"  with reasons / without                           {t_reasons / t_ours:6.2f}×")
        print(f"  from events: engine / hand-written SQL           {t_e_ours / t_e_hand:6.2f}×"
              "   (target ≤ 1.25×)")  # fmt: skip
        print(f"  pandas over events / engine from events          {t_pandas / t_e_ours:6.1f}×"
              "   (target ≥ 20×)")  # fmt: skip
        print(f"  pandas over events / engine on stored profile    {t_pandas / t_ours:6.0f}×")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _keys(result: Any) -> list[str]:
    table = result.read_all() if hasattr(result, "read_all") else result
    return table.column("patron_key").to_pylist()


if __name__ == "__main__":
    main()
