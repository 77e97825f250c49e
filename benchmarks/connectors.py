"""Benchmark: parse throughput of the NDJSON and EZproxy connectors (the first pipeline stage).

Each figure stands beside a floor measured in the same run on the same file:
* NDJSON — Arrow's JSON reader alone on the whole file (multi-threaded, no checks, no ids);
* EZproxy — one pure-Python regular expression per line (no checks, no ids, no URL work).
The ratio is what validation, event ids and rejects cost over bare parsing.

    .venv/bin/python -m benchmarks.connectors --lines 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json

from libcrm.events.connectors import ezproxy, ndjson
from libcrm.events.connectors.base import Chunk

_TYPES = ("loan", "return", "gate_in", "gate_out", "eresource_access", "space_checkin")
_URLS = (
    "https://kns.cnki.net/kcms/detail/detail.aspx?dbcode=CJFD&filename=JSJX2020{:05d}",
    "https://www.sciencedirect.com/science/article/pii/S09574174203{:05d}/pdfft",
    "https://ieeexplore.ieee.org/document/87{:05d}",
    "https://link.springer.com/content/pdf/10.1007/s10115-020-{:05d}-5.pdf",
    "https://d.wanfangdata.com.cn/periodical/jsjxb2020{:05d}",
    "https://www.jstor.org/stable/{}",
)


def write_ndjson(path: Path, lines: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            event = {
                "identifier": {"kind": "library_card", "value": f"C{rng.randrange(10**7):07d}"},
                "occurred_at": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}+08:00",
                "type": rng.choice(_TYPES),
                "channel": "physical",
                "branch": rng.choice(("总馆", "东区分馆", "main")),
                "item_id": f"b{rng.randrange(10**6)}",
            }
            if n % 3 == 0:
                event["attrs"] = {"call_number": "TP312/42", "题名": "数据挖掘"}
            out.write(json.dumps(event, ensure_ascii=False) + "\n")


def write_ezproxy(path: Path, lines: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        for _ in range(lines):
            url = rng.choice(_URLS).format(rng.randrange(99999))
            user = "-" if rng.random() < 0.02 else f"C{rng.randrange(10**7):07d}"
            when = f"{rng.randint(10, 28):02d}/Mar/2024:{rng.randint(10, 23)}:{rng.randint(10, 59)}"
            out.write(
                f"10.{rng.randrange(256)}.{rng.randrange(256)}.7 s{rng.randrange(10**6)} {user} "
                f'[{when}:{rng.randint(10, 59)} +0800] "GET {url} HTTP/1.1" 200 '
                f'{rng.randrange(100000)} "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"\n'
            )


def drain(chunks: Iterator[Chunk]) -> tuple[int, int]:
    rows = rejects = 0
    for chunk in chunks:
        rows += chunk.batch.num_rows if chunk.batch is not None else 0
        rejects += len(chunk.rejects)
    return rows, rejects


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="libcrm-bench-connectors-"))
    events, log = folder / "events.ndjson", folder / "ezproxy.log"
    write_ndjson(events, args.lines, rng)
    write_ezproxy(log, args.lines, rng)

    schema = pa.schema([("identifier", pa.struct([("kind", pa.string()), ("value", pa.string())]))])

    def arrow_floor() -> None:
        pa_json.read_json(
            events,
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )

    line_re = re.compile(r'\S+ (\S+) (\S+) \[([^\]]*)\] "([A-Z]+) (\S+)[^"]*" (\d{3}|-) ')

    def python_floor() -> None:
        with log.open(encoding="utf-8") as lines:
            for line in lines:
                line_re.match(line)

    rows, rejects = drain(ndjson.read(events, source="bench", tz="Asia/Shanghai"))
    assert rows == args.lines and rejects == 0
    timings = {
        "ndjson floor: pyarrow.json.read_json": best_of(args.runs, arrow_floor),
        "ndjson connector": best_of(
            args.runs, lambda: drain(ndjson.read(events, source="bench", tz="Asia/Shanghai"))
        ),
        "ezproxy floor: one Python regex a line": best_of(args.runs, python_floor),
        "ezproxy connector": best_of(
            args.runs, lambda: drain(ezproxy.read(log, source="bench", tz="Asia/Shanghai"))
        ),
    }
    size = {"ndjson": events.stat().st_size, "ezproxy": log.stat().st_size}
    print(f"lines per file: {args.lines:,}; best of {args.runs} runs")
    print(f"{'':40}{'seconds':>9}{'lines/s':>12}{'MB/s':>8}")
    for name, seconds in timings.items():
        mb = size[name.split()[0]] / seconds / 1e6
        print(f"{name:40}{seconds:>9.2f}{args.lines / seconds:>12,.0f}{mb:>8.0f}")
    print(
        f"ndjson: {timings['ndjson connector'] / timings['ndjson floor: pyarrow.json.read_json']:.1f}x "
        f"the Arrow floor; ezproxy: "
        f"{timings['ezproxy connector'] / timings['ezproxy floor: one Python regex a line']:.1f}x "
        "the Python floor"
    )
    for path in (events, log):
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
