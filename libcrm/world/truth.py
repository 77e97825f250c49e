"""The world's ground truth, written beside its source files and never into libcrm's stores:
who is really who (persons → their patron records, the true identity clusters), each person's
latent group, and the loans held out of the files — what identity linkage, clustering and
recommendations are measured against (issues 4, 5 and 7).

Parquet files under ``ground_truth/``; see docs/world.md for their columns. Pure: no Django.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from libcrm.world.activity import col
from libcrm.world.generate import PatronSpec
from libcrm.world.groups import GROUPS
from libcrm.world.population import BRANCH_CODES
from libcrm.world.sources import Clock
from libcrm.world.world import Behaviour, People

FOLDER = "ground_truth"
RECORDS, PERSONS, PAIRS, HELD_OUT, GROUPS_FILE = (
    "records.parquet", "persons.parquet", "duplicate_pairs.parquet", "heldout_loans.parquet",
    "groups.json",
)  # fmt: skip
#: The catalogue source ``libcrm demo`` imports the MARC file under (item ids "ils:<001>").
CATALOGUE_SOURCE = "ils"


def _card(spec: PatronSpec) -> str:
    return next(i.value for i in spec.identifiers if i.kind == "library_card")


def write_people_truth(
    people: People, folder: Path, patron_keys: Sequence[str] | None = None
) -> None:
    """Records, persons, duplicate pairs and the group definitions. ``patron_keys`` (one per
    record, in registration order) are added once the registry has given them."""
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    changes = {}
    for duplicate in people.duplicates:
        changes[id(duplicate.spec)] = duplicate
    records = {
        "record": list(range(len(people.records))),
        "person": people.record_person,
        "kind": people.record_kind,
        "library_card": [_card(r) for r in people.records],
        "name": [r.name for r in people.records],
        "birth_year": [r.birth_year for r in people.records],
        "category": [r.category for r in people.records],
        "registered_on": [r.registered_on for r in people.records],
        "name_change": [getattr(changes.get(id(r)), "name_change", "") for r in people.records],
        "birth_year_change": [
            getattr(changes.get(id(r)), "birth_year_change", "") for r in people.records
        ],
        "phone_change": [getattr(changes.get(id(r)), "phone_change", "") for r in people.records],
        "patron_key": list(patron_keys)
        if patron_keys is not None
        else [None] * len(people.records),
    }
    table = pa.table(records)
    table = table.set_column(
        table.schema.get_field_index("patron_key"), "patron_key",
        pc.cast(table.column("patron_key"), pa.string()),
    )  # fmt: skip
    pq.write_table(table, target / RECORDS)
    by_person: list[list[int]] = [[] for _ in people.library.patrons]
    for record, person in enumerate(people.record_person):
        by_person[person].append(record)
    persons = people.library.patrons
    pq.write_table(
        pa.table(
            {
                "person": list(range(len(persons))),
                "group": people.groups,
                "category": [p.category for p in persons],
                "discipline": [p.discipline for p in persons],
                "department": [p.department for p in persons],
                "household": pa.array([p.household for p in persons], pa.int64()),
                "records": pa.array(by_person, pa.list_(pa.int64())),
            }
        ),
        target / PERSONS,
    )
    pairs: dict[str, list] = {"record_a": [], "record_b": [], "card_a": [], "card_b": []}
    cards = records["library_card"]
    for members in by_person:
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs["record_a"].append(a)
                pairs["record_b"].append(b)
                pairs["card_a"].append(cards[a])
                pairs["card_b"].append(cards[b])
    pq.write_table(
        pa.table(pairs, schema=pa.schema([("record_a", pa.int64()), ("record_b", pa.int64()),
                                          ("card_a", pa.string()), ("card_b", pa.string())])),
        target / PAIRS,
    )  # fmt: skip
    definitions = [
        {"code": g.code, "name_zh": g.name_zh, "name_en": g.name_en, "summary": g.summary}
        for g in GROUPS
    ]
    (target / GROUPS_FILE).write_text(
        json.dumps(definitions, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def write_held_out(people: People, behaviour: Behaviour, folder: Path) -> int:
    """The held-out loans (the last ones of each active record), with the item as the
    catalogue knows it; returns how many."""
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    loans = behaviour.loans.filter(behaviour.held_out)
    items = behaviour.catalogue.items
    item = col(loans, "item")
    record = col(loans, "record")
    clock = Clock(people.config.first_day)
    numbers = pa.array([i.itemnumber for i in items], pa.int64())
    local = pc.cast(pc.add(col(loans, "t"), clock.base), pa.timestamp("s"))
    loaned_at = pc.cast(pc.assume_timezone(local, "Asia/Shanghai"), pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "record": record,
            "person": col(loans, "person"),
            "library_card": pc.take(behaviour.population.record_card, record),
            "itemnumber": pc.take(numbers, item),
            "item_id": pc.binary_join_element_wise(
                CATALOGUE_SOURCE + ":", pc.cast(pc.take(numbers, item), pa.string()), ""
            ),
            "clc": pc.take(pa.array([i.clc for i in items]), item),
            "loaned_at": loaned_at,
            "branch": pc.take(pa.array(BRANCH_CODES), col(loans, "branch")),
        }
    )
    pq.write_table(table, target / HELD_OUT)
    return table.num_rows
