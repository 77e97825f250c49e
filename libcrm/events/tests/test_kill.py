"""The kill drill: an import SIGKILLed in the middle, then run again, ends with exactly the
events of its input — no loss, no duplicate — on the real ledger (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from libcrm.events import schema
from libcrm.events.tests.factories import event_table

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
EVENTS = 120_000
BATCH_ROWS = 20_000  # six ledger batches


@pytest.fixture(scope="module")
def child_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for the child processes: their own database, migrated once."""
    home = tmp_path_factory.mktemp("kill-home")
    env = {**os.environ, "LIBCRM_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("LIBCRM_TEST_DATABASE", None)
    parent_url = os.environ.get("DATABASE_URL", "")
    dropper = None
    if parent_url.startswith("postgres"):
        import psycopg

        name = f"libcrm_kill_{uuid.uuid4().hex[:8]}"
        server = parent_url.rsplit("/", 1)[0]
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{server}/{name}"

        def dropper() -> None:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        env["DATABASE_URL"] = f"sqlite:///{home / 'ledger.sqlite3'}"
    run(env, "migrate")
    yield env
    if dropper:
        dropper()


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own module, run by this interpreter
        [sys.executable, "-m", "libcrm.events.tests.kill_child", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def input_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file of EVENTS rows in which 3 % repeat an earlier event (a source that re-sends)."""
    table = event_table(EVENTS, seed=31, patrons=500, days=120)
    rng = random.Random(31)
    repeats = sorted(rng.sample(range(1000, EVENTS), EVENTS * 3 // 100))
    ids = table.column("event_id").to_pylist()
    for i in repeats:
        ids[i] = ids[rng.randrange(i)]
    table = table.set_column(0, "event_id", pa.array(ids, pa.string()))
    path = tmp_path_factory.mktemp("kill-input") / "input.parquet"
    pq.write_table(table, path)
    return path


def strike(env: dict[str, str], root: Path, source: Path, pause: str | None, delay: float) -> int:
    """Start an import, SIGKILL it at the chosen moment; return how many batches it had
    published by then."""
    args = ["import", str(root), str(source), "--batch-rows", str(BATCH_ROWS)]
    if pause:
        args += ["--pause-at", pause, "--pause-batch", "1"]
    child = subprocess.Popen(  # noqa: S603 - our own module, run by this interpreter
        [sys.executable, "-m", "libcrm.events.tests.kill_child", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    published = 0
    assert child.stdout is not None
    for line in child.stdout:
        message: dict[str, Any] = json.loads(line)
        if message.get("stage") == "published":
            published += 1
            if not pause and published == 1:
                time.sleep(delay)  # somewhere inside the second batch
                break
        if message.get("paused") or message.get("done"):
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    return published


def live_rows(root: Path) -> pa.Table:
    manifest = json.loads((root / "_manifest.json").read_text())
    files = [root / f["path"] for f in manifest["files"]]
    return pa.concat_tables(pq.read_table(f).cast(schema.EVENT_SCHEMA) for f in files)


@pytest.mark.parametrize(
    ("pause", "delay"),
    [
        ("validated", 0.0),  # pending ledger row, nothing on disk
        ("written", 0.0),  # files renamed into the partitions, ledger still pending
        ("committed", 0.0),  # ledger committed, manifest not yet published
        (None, 0.05),  # wherever the second batch happens to be
        (None, 0.3),
    ],
)
def test_sigkill_mid_import_then_rerun_gives_exactly_the_input(
    child_env: dict[str, str],
    input_file: Path,
    tmp_path: Path,
    pause: str | None,
    delay: float,
) -> None:
    root = tmp_path / "events"
    published = strike(child_env, root, input_file, pause, delay)
    assert published >= 1
    before = live_rows(root).num_rows
    assert before < EVENTS  # the kill really cut the import short

    output = run(child_env, "import", str(root), str(input_file), "--batch-rows", str(BATCH_ROWS))
    assert json.loads(output.strip().splitlines()[-1])["done"]

    source = pq.read_table(input_file)
    first = {}
    for row in source.to_pylist():
        first.setdefault(row["event_id"], row)
    stored = live_rows(root)
    ids = stored.column("event_id").to_pylist()
    assert len(ids) == len(set(ids)) == len(first)  # no duplicate, no loss
    assert set(ids) == set(first)
    for row in stored.take(pa.array(range(0, stored.num_rows, 997))).to_pylist():
        expected = first[row["event_id"]]
        assert {k: row[k] for k in expected} == expected  # each event is its first occurrence

    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}
    listed = {f["path"] for f in json.loads((root / "_manifest.json").read_text())["files"]}
    assert on_disk == listed and not list(root.rglob("*.tmp"))
    assert not (root / "_writer.json").exists()
    states = json.loads(run(child_env, "ledger", str(root)))
    assert "pending" not in states
    if pause in ("validated", "written"):
        assert states.get("rolled_back") == 1
