"""Benchmark: find a patron by an identifier through the keyed blind index.

Baseline, measured in the same run on the same database: the same lookup on a plaintext,
indexed copy of the identifiers (what a system without encryption at rest would do). The
ratio is the price of encrypting identifiers; the absolute figures say whether front-desk
lookups feel instant.

    .venv/bin/python -m benchmarks.identifier_lookup --patrons 100000 --lookups 2000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.environ["LIBCRM_HOME"] = tempfile.mkdtemp(prefix="libcrm-bench-")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "libcrm.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from libcrm.patrons.models import Identifier, Patron
    from libcrm.patrons.selectors import find_patron_by_identifier
    from libcrm.patrons.services import identifier_digest
    from libcrm.privacy import crypto
    from libcrm.privacy.keys import get_keyring

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    keyring = get_keyring()
    phones = [f"+861{rng.randint(3, 9)}{rng.randrange(10**9):09d}" for _ in range(args.patrons)]
    phones = list(dict.fromkeys(phones))

    started = time.perf_counter()
    with transaction.atomic():
        batch = 5_000
        for start in range(0, len(phones), batch):
            chunk = phones[start : start + batch]
            patrons = []
            for _ in chunk:
                patron = Patron(
                    name="Benchmark Patron", category="undergraduate", uuid=uuid.uuid4()
                )
                patron.patron_key = crypto.pseudonym(keyring, str(patron.uuid))
                patrons.append(patron)
            Patron.objects.bulk_create(patrons)
            Identifier.objects.bulk_create(
                Identifier(
                    patron=p, kind="phone", value=phone, digest=identifier_digest("phone", phone)
                )
                for p, phone in zip(patrons, chunk, strict=True)
            )
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_plain (patron_id bigint, kind varchar(16), value text)"
            )
            cursor.executemany(
                "INSERT INTO bench_plain VALUES (?, 'phone', ?)",
                list(
                    zip(
                        Identifier.objects.order_by("id").values_list("patron_id", flat=True),
                        phones,
                        strict=True,
                    )
                ),
            )
            cursor.execute("CREATE UNIQUE INDEX bench_plain_kv ON bench_plain (kind, value)")
    load_seconds = time.perf_counter() - started

    probes = [rng.choice(phones) for _ in range(args.lookups)]
    written = [f"{p[3:6]} {p[6:10]} {p[10:]}" for p in probes]  # as a librarian types it

    def timed(fn, values):  # type: ignore[no-untyped-def]
        samples = []
        for value in values:
            t0 = time.perf_counter()
            found = fn(value)
            samples.append(time.perf_counter() - t0)
            assert found is not None
        return samples

    def baseline(value: str) -> object:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.id, p.name FROM bench_plain b JOIN patrons_patron p ON p.id = b.patron_id "
                "WHERE b.kind = 'phone' AND b.value = ?",
                [value],
            )
            return cursor.fetchone()

    digests = {p: identifier_digest("phone", p) for p in probes}

    def orm_only(value: str) -> object:
        # The Django floor: the same ORM query with the digest already known (no normalising,
        # no HMAC), so the gap to the full lookup is what encryption at rest costs.
        return (
            Identifier.objects.select_related("patron")
            .filter(kind="phone", digest__in=[digests[value]])
            .first()
        )

    timed(baseline, probes[:100])
    timed(orm_only, probes[:100])
    timed(lambda v: find_patron_by_identifier("phone", v), written[:100])
    base = timed(baseline, probes)
    orm = timed(orm_only, probes)
    ours = timed(lambda v: find_patron_by_identifier("phone", v), written)

    def q(samples: list[float], pct: float) -> float:
        return statistics.quantiles(samples, n=100)[int(pct) - 1] * 1000

    print(f"patrons: {len(phones):,} (loaded in {load_seconds:.1f} s), lookups: {len(probes):,}")
    print(f"{'':34}{'median ms':>10}{'p95 ms':>10}")
    print(
        f"{'baseline: plaintext index, raw SQL':34}{statistics.median(base) * 1000:>10.3f}{q(base, 95):>10.3f}"
    )
    print(
        f"{'ORM, digest precomputed':34}{statistics.median(orm) * 1000:>10.3f}{q(orm, 95):>10.3f}"
    )
    print(
        f"{'libcrm: normalise+HMAC+ORM+decrypt':34}{statistics.median(ours) * 1000:>10.3f}{q(ours, 95):>10.3f}"
    )
    print(
        f"ratio to raw SQL (median): {statistics.median(ours) / statistics.median(base):.2f}x; "
        f"to the ORM floor: {statistics.median(ours) / statistics.median(orm):.2f}x"
    )


if __name__ == "__main__":
    main()
