"""No plaintext of personal data in the raw database files (and the SQLite write-ahead log),
the event store's Parquet files, reject reports, backup archives and the process's log, on
SQLite and on PostgreSQL.

A separate process (the real ``libcrm`` command and services, a file-backed database) registers
a patron whose every personal field carries a random marker; the test then reads the database's
files byte by byte. A field that is *not* encrypted (research specialty) carries a marker too,
as a positive control proving the scan would see plaintext if it were there.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests import environment
from tests.raw_files import byte_hits, run_in_fresh_install

REGISTER = r"""
import json, sys
import django
django.setup()
from libcrm.patrons.services import register_patron, create_household, join_household
from libcrm.privacy.actors import Actor
m = json.loads(sys.argv[1])
actor = Actor.system("plaintext-probe")
patron = register_patron(actor, {
    "name": "Name" + m["text"], "category": "resident", "address": "Addr" + m["text"],
    "notes": "Note" + m["text"], "research_specialty": "Control" + m["control"],
}, [
    {"kind": "email", "value": m["text"] + "@example.org"},
    {"kind": "phone", "value": "+86139" + m["digits"]},
    {"kind": "library_card", "value": "LC" + m["text"].upper()},
    {"kind": "wechat_openid", "value": ("o" + m["text"] + "x" * 28)[:28]},
    {"kind": "national_id", "value": m["national_id"]},
])
household = create_household(actor, "Home" + m["text"], "HomeAddr" + m["text"])
join_household(actor, patron, household, "head")

# Interaction data keyed by the patron's identifiers (one row rejected on purpose: its reject
# report must not carry the identifier either), then a backup of everything.
import logging, pathlib, tempfile
from libcrm.backup.services import create_backup
from libcrm.ingest.services import ingest_file
logging.getLogger("libcrm").info("probe run for %s", patron.patron_key)
rows = []
for day in range(1, 29):
    for kind, value in (("email", m["text"] + "@example.org"),
                        ("library_card", "LC" + m["text"].upper())):
        rows.append(json.dumps({"identifier": {"kind": kind, "value": value},
                                "occurred_at": f"2026-10-{day:02d}T09:00:00+08:00",
                                "type": "gate_in", "channel": "physical"}))
rows.append(json.dumps({"identifier": {"kind": "email", "value": m["text"] + "@example.org"},
                        "occurred_at": "2026-10-01T09:00:00+08:00", "type": "no_such_type",
                        "channel": "physical"}))
with tempfile.TemporaryDirectory() as folder:
    source = pathlib.Path(folder) / "events.ndjson"
    source.write_text("\n".join(rows) + "\n")
    run = ingest_file(actor, source, format="ndjson", source="probe")
assert run.added == 56 and run.rejected == 1, (run.added, run.rejected)
create_backup(actor, upload=False)
from django.conf import settings
from django.db import connection
if connection.vendor == "sqlite":  # the WAL vanishes at a clean exit: keep a copy to scan
    import shutil
    wal = pathlib.Path(settings.DATABASES["default"]["NAME"] + "-wal")
    shutil.copy(wal, settings.LIBCRM_DATA_DIR / "wal-snapshot.bin")
print(patron.name)
"""


def _national_id(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def _markers() -> dict[str, str]:
    return {
        "text": secrets.token_hex(6),
        "digits": f"{secrets.randbelow(10**8):08d}",
        "control": secrets.token_hex(6),
        "national_id": _national_id("110105" + f"{secrets.randbelow(10**11):011d}"),
    }


def _register(home: Path, markers: dict[str, str], database_url: str | None) -> str:
    import json

    return run_in_fresh_install(home, REGISTER, json.dumps(markers), database_url).stdout.strip()


def _hits(root: Path, needles: list[bytes]) -> dict[str, list[str]]:
    return byte_hits(root, [n.decode() for n in needles])


def _secret_needles(m: dict[str, str]) -> list[bytes]:
    return [s.encode() for s in (m["text"], m["text"].upper(), m["digits"], m["national_id"])]


@pytest.mark.slow
def test_sqlite_files_hold_no_plaintext_personal_data(tmp_path: Path) -> None:
    if environment.DATABASE_KIND != "sqlite":
        pytest.skip("the SQLite leg checks the SQLite files")
    markers = _markers()
    assert _register(tmp_path, markers, None) == "Name" + markers["text"]
    data_dir = tmp_path / "data"
    assert (data_dir / "libcrm.sqlite3").exists()
    assert (data_dir / "wal-snapshot.bin").stat().st_size > 0
    assert list((data_dir / "events").rglob("*.parquet")), "no events were written"
    assert list((tmp_path / "backups").glob("*.lcbk")), "no backup was written"
    assert _hits(data_dir, [("Control" + markers["control"]).encode()]), "positive control not seen"
    # the database, its WAL, the event store's Parquet, reject reports, backups and the log
    assert _hits(tmp_path, _secret_needles(markers)) == {}


@pytest.mark.slow
def test_postgresql_files_hold_no_plaintext_personal_data(tmp_path: Path) -> None:
    cluster = environment._postgres
    if cluster is None:
        pytest.skip("runs in the PostgreSQL leg (LIBCRM_TEST_DATABASE=postgres)")
    import psycopg

    admin_url = f"postgres://libcrm@127.0.0.1:{cluster.port}/postgres"
    name = f"probe_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        markers = _markers()
        url = f"postgres://libcrm@127.0.0.1:{cluster.port}/{name}"
        assert _register(tmp_path, markers, url) == "Name" + markers["text"]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        assert _hits(cluster.data, [("Control" + markers["control"]).encode()])
        assert _hits(cluster.data, _secret_needles(markers)) == {}
        assert list((tmp_path / "backups").glob("*.lcbk")), "no backup was written"
        # the event store, reject reports, backups and the log of this installation
        assert _hits(tmp_path, _secret_needles(markers)) == {}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
