"""The engine's input read from the registry: decrypted names, normalised contacts, the items
each patron used from the event store, merged patrons left out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libcrm.events import services as event_services
from libcrm.linkage.engine import RAW_SCHEMA
from libcrm.linkage.records import patron_records
from libcrm.patrons.models import Patron

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    return tmp_path / "events"


def _loan(key: str, item: str, n: int) -> dict[str, Any]:
    return {
        "event_id": f"link-test-{n}",
        "patron_key": key,
        "occurred_at": datetime(2026, 3, 1, 10, n, tzinfo=UTC),
        "type": "loan",
        "channel": "physical",
        "branch": "main",
        "space": None,
        "item_id": item,
        "subject": None,
        "quantity": None,
        "duration_s": None,
        "source": "test",
        "attrs": None,
    }


def test_patron_records_carry_what_the_engine_needs(make_patron, store: Path) -> None:
    first = make_patron(
        name="张伟",
        birth_year=1990,
        gender="male",
        category="faculty",
        identifiers=[
            {"kind": "library_card", "value": "L100000001", "source": "test"},
            {"kind": "phone", "value": "139 1234 5678", "source": "test"},
            {"kind": "email", "value": "Zhang.Wei@Mail.Example", "source": "test"},
            {"kind": "other", "value": "zw@qq.example", "source": "test"},
        ],
    )
    second = make_patron(name="Zhang Wei", category="resident")
    gone = make_patron(name="李娜")
    Patron.objects.filter(pk=gone.pk).update(status="merged")
    event_services.append_events(
        [_loan(first.patron_key, "ils:100001", 1), _loan(first.patron_key, "ils:100002", 2),
         _loan(second.patron_key, "ils:100002", 3)],
        source="test",
    )  # fmt: skip

    table = patron_records()
    assert table.schema.equals(RAW_SCHEMA)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert set(rows) == {first.pk, second.pk}  # the merged patron is not linkable
    row = rows[first.pk]
    assert row["name"] == "张伟"
    assert (row["birth_year"], row["gender"], row["category"]) == (1990, "male", "faculty")
    assert row["phones"] == ["+8613912345678"]
    # the e-mail entered as "other" counts as an e-mail address
    assert row["emails"] == ["zhang.wei@mail.example", "zw@qq.example"]
    assert row["items"] == ["ils:100001", "ils:100002"]
    assert rows[second.pk]["items"] == ["ils:100002"]
    assert rows[second.pk]["phones"] == []

    only = patron_records([second.pk])
    assert only.column("id").to_pylist() == [second.pk]


def test_no_events_no_items(make_patron, store: Path) -> None:
    patron = make_patron(name="王芳")
    row = patron_records().to_pylist()[0]
    assert row["id"] == patron.pk and row["items"] == []


def test_which_person_ids_a_patron_holds_never_their_value(make_patron, store: Path) -> None:
    student = make_patron(
        name="李娜",
        identifiers=[{"kind": "campus_id", "value": "2023010101", "source": "test"}],
    )
    resident = make_patron(
        name="李娜",
        identifiers=[{"kind": "national_id", "value": "11010519491231002X", "source": "test"}],
    )
    bare = make_patron(name="李娜")
    rows = {r["id"]: r for r in patron_records().to_pylist()}
    assert rows[student.pk]["unique_kinds"] == ["campus_id"]
    assert rows[resident.pk]["unique_kinds"] == ["national_id"]
    assert rows[bare.pk]["unique_kinds"] == []
    assert "2023010101" not in repr(rows) and "11010519491231002X" not in repr(rows)
