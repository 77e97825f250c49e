"""The starter set is valid against the feature catalogue, and its lifecycle stages put every
active patron in exactly one stage."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa
import pytest

from libcrm.features.definitions import FEATURES
from libcrm.segments.attributes import ATTRIBUTES
from libcrm.segments.evaluate import evaluate
from libcrm.segments.models import Segment
from libcrm.segments.rules import catalogue_of, validate
from libcrm.segments.services import install_starter_set, save_segment
from libcrm.segments.starter import LIFECYCLE, STARTER

CATALOGUE = {**catalogue_of(FEATURES), **catalogue_of(ATTRIBUTES)}
RULES = {s.slug: s.rule for s in STARTER}
AS_OF = date(2026, 6, 30)


def test_every_starter_rule_is_valid() -> None:
    for s in STARTER:
        assert validate(s.rule, CATALOGUE, RULES.get, slug=s.slug) == [], s.slug


def test_lifecycle_stages_partition_the_active_patrons() -> None:
    rnd = random.Random(2)
    rows = []
    for i in range(500):
        since = rnd.choice([0, 5, 29, 30, 31, 89, 90, 200, 364, 365, 800])
        span = rnd.choice([0, 10, 60, 89, 90, 91, 400, 1000])
        last = AS_OF - timedelta(days=since)
        rows.append({"patron_key": f"k{i:03d}", "days_since_last": since, "last_seen": last,
                     "first_seen": last - timedelta(days=span)})  # fmt: skip
    profile = pa.Table.from_pylist(
        rows,
        schema=pa.schema([("patron_key", pa.string()), ("days_since_last", pa.int64()),
                          ("last_seen", pa.date32()), ("first_seen", pa.date32())]),
    )  # fmt: skip
    seen: dict[str, list[str]] = {}
    for slug in LIFECYCLE:
        found = evaluate({"segment": slug}, CATALOGUE, profile, AS_OF, resolve=RULES.get,
                         reasons=False)  # fmt: skip
        assert found.num_rows > 0, slug
        for key in found.column("patron_key").to_pylist():
            seen.setdefault(key, []).append(slug)
    assert len(seen) == profile.num_rows
    assert all(len(stages) == 1 for stages in seen.values())


@pytest.mark.django_db
def test_installing_the_starter_set_keeps_a_librarys_edits(actor) -> None:
    assert len(install_starter_set(actor)) == len(STARTER)
    stricter = {"field": "loans_events_365d", "op": ">=", "value": 30}
    save_segment(actor, slug="heavy-borrowers", name_en="Heavy borrowers", name_zh="借阅活跃读者",
                 rule=stricter, kind="tag")  # fmt: skip
    assert install_starter_set(actor) == []
    edited = Segment.objects.get(slug="heavy-borrowers")
    assert edited.current_version.rule["value"] == 30 and edited.current_version.number == 2
    assert Segment.objects.count() == len(STARTER)
