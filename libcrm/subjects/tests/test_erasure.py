"""Erasure: the patron and everything pointing at them leave the registry, their events leave
the store (under merged keys too), past audit records lose the patron's key, the chain still
verifies, and the erasure's own record names nobody."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from libcrm.events.selectors import patron_timeline
from libcrm.events.services import event_store, merge_patron_events
from libcrm.patrons.models import Household, Identifier, NameTerm, Patron
from libcrm.patrons.services import create_household, join_household, reveal_identifier
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import verify_audit_chain
from libcrm.privacy.signals import patron_erased
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.services import erase_patron

pytestmark = pytest.mark.django_db


def _audit_text(record: AuditEvent) -> str:
    return json.dumps(
        [record.patron_key, record.target, record.detail, record.patron_id], default=str
    )


def test_erasure_removes_the_patron_everywhere(
    make_patron: Callable[..., Any], add_events: Callable[..., int], actor: Actor
) -> None:
    patron = make_patron(
        name="Erasable Person",
        identifiers=[
            {"kind": "library_card", "value": "ER000001"},
            {"kind": "email", "value": "erasable@example.org"},
        ],
    )
    other = make_patron(name="Someone Else")
    key, uuid, pk = patron.patron_key, str(patron.uuid), patron.pk
    household = create_household(actor, "Erasable family")
    join_household(actor, patron, household, "head")
    reveal_identifier(actor, patron.identifiers.first())
    add_events(key, [("loan", 30, "A"), ("return", 20, "A"), ("gate_in", 3, None)])
    add_events(other.patron_key, [("gate_in", 3, None)])
    heard: list[str] = []

    def receiver(sender: Any, patron_key: str, **kwargs: Any) -> None:
        heard.append(patron_key)

    patron_erased.connect(receiver)
    try:
        report = erase_patron(actor, patron, reason="patron_request")
    finally:
        patron_erased.disconnect(receiver)

    assert not Patron.objects.filter(pk=pk).exists()
    assert not Identifier.objects.filter(patron_id=pk).exists()
    assert not NameTerm.objects.filter(patron_id=pk).exists()
    assert not Household.objects.filter(pk=household.pk).exists()  # they were its only member
    assert patron_timeline(key).events == []
    assert len(patron_timeline(other.patron_key).events) == 1
    assert report.events_deleted == 3 and report.identifiers == 2 and report.records == 1
    assert heard == [key]
    # no audit record names the patron any more; the erasure's record names nobody
    leftovers = [
        r for r in AuditEvent.objects.all() if key in _audit_text(r) or uuid in _audit_text(r)
    ]
    assert leftovers == []
    assert not AuditEvent.objects.filter(patron_id=pk).exists()
    erased = AuditEvent.objects.get(action=AuditAction.ERASE_PATRON)
    assert erased.patron_id is None and erased.patron_key == "" and erased.target == ""
    assert erased.detail["reason"] == "patron_request"
    assert erased.detail["events_deleted"] == 3
    assert "Erasable" not in json.dumps(erased.detail)
    chain = verify_audit_chain(Actor.system("test"))
    assert chain.ok, chain.problems
    assert chain.redacted >= report.audit_records_redacted > 0


def test_records_merged_into_the_patron_are_erased_too(
    make_patron: Callable[..., Any], add_events: Callable[..., int], actor: Actor
) -> None:
    survivor, merged = make_patron(), make_patron()
    add_events(survivor.patron_key, [("gate_in", 2, None)])
    add_events(merged.patron_key, [("gate_in", 5, None), ("loan", 6, "B")])
    merge_patron_events(merged.patron_key, survivor.patron_key)
    with pytest.raises(SubjectError, match="merged into another"):
        erase_patron(actor, merged, reason="patron_request")
    report = erase_patron(actor, survivor, reason="patron_request")
    assert report.events_deleted == 3
    assert merged.patron_key not in event_store().manifest.aliases
    assert not Patron.objects.filter(pk=survivor.pk).exists()


def test_household_with_other_members_stays(make_patron: Callable[..., Any], actor: Actor) -> None:
    leaving, staying = make_patron(), make_patron()
    household = create_household(actor, "Two people")
    join_household(actor, leaving, household, "head")
    join_household(actor, staying, household, "partner")
    erase_patron(actor, leaving, reason="account_closed")
    assert list(household.members.all()) == [staying]


def test_a_reason_outside_the_list_is_refused_and_nothing_changes(
    make_patron: Callable[..., Any], actor: Actor
) -> None:
    patron = make_patron()
    with pytest.raises(SubjectError) as caught:
        erase_patron(actor, patron, reason="because Zhang Wei asked")
    assert caught.value.field == "reason"
    assert Patron.objects.filter(pk=patron.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.ERASE_PATRON).exists()


def test_sqlite_connections_zero_deleted_content(db: Any) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        assert cursor.fetchone()[0] == 1
