"""After a patron is erased, no trace of their name, identifiers, patron key or uuid remains in
the raw database file and its write-ahead log, the event store's Parquet files (bytes and
decoded values), reject reports and the process's log — on SQLite; on PostgreSQL in the event
store, the files around it and a ``pg_dump`` of the database.

A separate process (the real services, a file-backed database, a fresh LIBCRM_HOME) registers
a patron with a unique marker name and four identifiers, a second record of the same person
merged into the first (so some events live under a merged key), a household, a consent, events
imported by identifier (one row rejected on purpose), staff views and a reveal in the audit
trail; then erases the patron. Positive controls: a second patron's key, uuid and events are
still found by the same scans, and so is a plaintext field of that patron.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests import environment
from tests.raw_files import byte_hits, run_in_fresh_install

SCRIPT = r"""
import json, logging, pathlib, shutil, sys, tempfile
import django
django.setup()
from django.conf import settings
from django.db import connection
from libcrm.ingest.services import ingest_file
from libcrm.patrons.models import Identifier, NameTerm, Patron
from libcrm.patrons.services import (
    create_household, join_household, record_patron_viewed, register_patron, reveal_identifier,
)
from libcrm.privacy.actors import Actor
from libcrm.subjects.services import erase_patron, export_subject

m = json.loads(sys.argv[1])
ids = m["ids"]
actor = Actor.system("erasure-probe")
patron = register_patron(actor, {
    "name": m["name"], "category": "resident", "birth_year": 1990,
    "address": "Addr" + m["name"], "notes": "Note" + m["name"],
}, [
    {"kind": "library_card", "value": ids["card"]},
    {"kind": "phone", "value": ids["phone"]},
    {"kind": "email", "value": ids["email"]},
    {"kind": "wechat_openid", "value": ids["openid"]},
])
twin = register_patron(actor, {"name": m["name"] + " Twin", "category": "resident"},
                       [{"kind": "email", "value": ids["twin_email"]}])
other = register_patron(actor, {
    "name": "Other" + m["control"], "category": "resident",
    "research_specialty": "Control" + m["control"],
}, [{"kind": "library_card", "value": "LC" + m["control"].upper()}])
household = create_household(actor, "Home" + m["name"], "HomeAddr" + m["name"])
join_household(actor, patron, household, "head")

rows = []
for day in range(1, 21):
    for kind, value in (("email", ids["email"]), ("library_card", ids["card"]),
                        ("email", ids["twin_email"]),
                        ("library_card", "LC" + m["control"].upper())):
        rows.append(json.dumps({"identifier": {"kind": kind, "value": value},
                                "occurred_at": f"2026-10-{day:02d}T09:00:00+08:00",
                                "type": "loan", "channel": "physical",
                                "item_id": f"item-{day}"}))
rows.append(json.dumps({"identifier": {"kind": "phone", "value": ids["phone"]},
                        "occurred_at": "2026-10-01T09:00:00+08:00", "type": "no_such_type",
                        "channel": "physical"}))
with tempfile.TemporaryDirectory() as folder:
    source = pathlib.Path(folder) / "events.ndjson"
    source.write_text("\n".join(rows) + "\n")
    run = ingest_file(actor, source, format="ndjson", source="probe")
assert run.added == 80 and run.rejected == 1, (run.added, run.rejected)

from libcrm.consent.services import set_consent
set_consent(actor, patron, "loan_history", True, via="staff")
from libcrm.linkage.services import merge_patrons
merge_patrons(actor, patron, twin, reason="the same person")
record_patron_viewed(actor, patron)
reveal_identifier(actor, patron.identifiers.filter(kind="email").first())
export_subject(actor, patron)

# What erasure must physically remove, besides the plaintext: the stored ciphertexts and the
# keyed digests (blind indexes) of the patron's name and identifiers.
with connection.cursor() as cursor:
    cursor.execute("SELECT name, address FROM patrons_patron WHERE id = %s", [patron.pk])
    sealed = [v for v in cursor.fetchone() if v]
    cursor.execute("SELECT value FROM patrons_identifier WHERE patron_id = %s", [patron.pk])
    sealed += [v for (v,) in cursor.fetchall() if v]
mine = Identifier.objects.filter(patron__in=[patron, twin])
digests = list(mine.values_list("digest", flat=True))
digests += list(NameTerm.objects.filter(patron=patron).values_list("digest", flat=True))
secrets_out = {
    "keys": [patron.patron_key, twin.patron_key],
    "uuids": [str(patron.uuid), str(twin.uuid)],
    "sealed": [s[:48] for s in sealed],
    "digests": digests,
    "control_key": other.patron_key,
    "control_uuid": str(other.uuid),
}
report = erase_patron(actor, patron, reason="patron_request")
assert report.records == 2 and report.events_deleted == 60, report
if connection.vendor == "sqlite":  # the WAL vanishes at a clean exit: keep a copy to scan
    wal = pathlib.Path(settings.DATABASES["default"]["NAME"] + "-wal")
    if wal.exists():
        shutil.copy(wal, settings.LIBCRM_DATA_DIR / "wal-snapshot.bin")
print(json.dumps({**secrets_out, "scrub": report.scrub}))
"""


def _markers() -> dict[str, Any]:
    token = secrets.token_hex(5)
    return {
        "name": f"Erasure{token}",
        "control": secrets.token_hex(6),
        "ids": {
            "card": f"LC{secrets.token_hex(5).upper()}",
            "phone": f"+86139{secrets.randbelow(10**8):08d}",
            "email": f"erase{token}@example.org",
            "twin_email": f"twin{token}@example.org",
            "openid": ("o" + secrets.token_hex(16))[:28],
        },
    }


def _run(home: Path, markers: dict[str, Any], database_url: str | None) -> dict[str, Any]:
    done = run_in_fresh_install(home, SCRIPT, json.dumps(markers), database_url)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _needles(markers: dict[str, Any], found: dict[str, Any]) -> list[str]:
    ids = markers["ids"]
    values = [markers["name"], *ids.values(), ids["phone"].removeprefix("+86")]
    values += found["keys"] + found["uuids"] + [u.replace("-", "") for u in found["uuids"]]
    return values + found["sealed"] + found["digests"]


def _parquet_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every value of every column of every Parquet file, live or not (pages are compressed)."""
    hits: dict[str, list[str]] = {}
    for path in root.rglob("*.parquet"):
        text = json.dumps(pq.read_table(path).to_pylist(), default=str)
        for needle in needles:
            if needle in text:
                hits.setdefault(needle, []).append(path.name)
    return hits


@pytest.mark.slow
def test_sqlite_keeps_no_trace_of_an_erased_patron(tmp_path: Path) -> None:
    if environment.DATABASE_KIND != "sqlite":
        pytest.skip("the SQLite leg checks the SQLite files")
    markers = _markers()
    found = _run(tmp_path, markers, None)
    assert found["scrub"]["scrubbed"] and found["scrub"]["wal_truncated"]
    data_dir = tmp_path / "data"
    database = data_dir / "libcrm.sqlite3"
    events = data_dir / "events"
    assert list(events.rglob("*.parquet")), "no events are left at all"
    # positive controls: the scans see plaintext keys, uuids and fields where they are
    assert byte_hits(data_dir, [found["control_key"]]), "control key not seen in the files"
    assert database.read_bytes().count(found["control_uuid"].replace("-", "").encode())
    assert _parquet_hits(events, [found["control_key"]]), "control key not seen in Parquet"
    assert byte_hits(data_dir, ["Control" + markers["control"]]), "control field not seen"

    needles = _needles(markers, found)
    assert byte_hits(tmp_path, needles) == {}  # database, WAL, Parquet, rejects, the log
    assert _parquet_hits(events, needles) == {}


@pytest.mark.slow
def test_postgresql_keeps_no_trace_of_an_erased_patron(tmp_path: Path) -> None:
    cluster = environment._postgres
    if cluster is None:
        pytest.skip("runs in the PostgreSQL leg (LIBCRM_TEST_DATABASE=postgres)")
    import psycopg

    admin_url = f"postgres://libcrm@127.0.0.1:{cluster.port}/postgres"
    name = f"erasure_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        markers = _markers()
        url = f"postgres://libcrm@127.0.0.1:{cluster.port}/{name}"
        found = _run(tmp_path, markers, url)
        assert found["scrub"] == {"scrubbed": True, "vacuumed": 5}
        dump = tmp_path / "dump.sql"
        subprocess.run(
            [str(cluster.bindir / "pg_dump"), "--no-owner", "-f", str(dump), url],
            check=True,
            capture_output=True,
        )
        events = tmp_path / "data" / "events"
        assert byte_hits(tmp_path, [found["control_key"], found["control_uuid"]])
        assert _parquet_hits(events, [found["control_key"]])
        needles = _needles(markers, found)
        assert byte_hits(tmp_path, needles) == {}  # pg_dump, Parquet, rejects, the log
        assert _parquet_hits(events, needles) == {}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
