"""Retention policies: the seeded defaults detach loan history 14 days after the return unless
the patron keeps it (consent ``loan_history``); ``libcrm retention --dry-run`` reports without
changing; runs and policy edits are audited; bad policies are refused with the field named."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.utils import timezone

from libcrm.events import schema
from libcrm.events.services import append_events, event_store
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.models import RetentionPolicy
from libcrm.subjects.retention import apply_retention_policies, save_retention_policy

pytestmark = pytest.mark.django_db


def _owners() -> dict[str, str]:
    files = event_store().files()
    rows = pa.concat_tables(pq.read_table(f).cast(schema.EVENT_SCHEMA) for f in files)
    return dict(
        zip(rows.column("event_id").to_pylist(), rows.column("patron_key").to_pylist(), strict=True)
    )


def _types_of(owners: dict[str, str], key: str) -> int:
    return sum(1 for owner in owners.values() if owner == key)


def test_defaults_are_seeded() -> None:
    loans = RetentionPolicy.objects.get(name="Loan history")
    assert (loans.age_days, loans.measured_from, loans.action, loans.exempt_consent) == (
        14,
        "return",
        "anonymise",
        "loan_history",
    )
    assert set(loans.event_types) == {"loan", "return", "renewal", "hold"}


def test_loan_history_follows_consent(make_patron: Callable[..., Any], actor: Actor) -> None:
    from libcrm.consent.services import set_consent

    reader, keeper = make_patron(birth_year=1990), make_patron(birth_year=1990)
    set_consent(actor, keeper, "loan_history", True, via="staff")
    now = timezone.now()  # the run measures ages from the real clock
    rows = []
    for n, patron in enumerate((reader, keeper)):
        for type_, days, item in (("loan", 40, "A"), ("return", 20, "A"), ("loan", 10, "B")):
            rows.append(
                {
                    "event_id": f"ret-{n}-{type_}-{item}",
                    "patron_key": patron.patron_key,
                    "occurred_at": now - timedelta(days=days),
                    "type": type_,
                    "channel": "physical",
                    "item_id": item,
                    "source": "test",
                }
            )
    append_events(rows, source="test")

    dry = apply_retention_policies(actor, dry_run=True)
    assert dry.rows_anonymised == 2 and dry.spared_patrons["loan_history"] >= 1
    assert _types_of(_owners(), schema.ANONYMOUS_PATRON_KEY) == 0

    report = apply_retention_policies(actor)
    owners = _owners()
    assert report.rows_anonymised == 2
    assert report.by_type == {"anonymised": {"loan": 1, "return": 1}}
    assert owners["ret-0-loan-A"] == owners["ret-0-return-A"] == schema.ANONYMOUS_PATRON_KEY
    assert owners["ret-0-loan-B"] == reader.patron_key  # not returned yet
    assert owners["ret-1-loan-A"] == keeper.patron_key  # keeps their loan history
    runs = AuditEvent.objects.filter(action=AuditAction.RETENTION_RUN).order_by("seq")
    assert [r.detail["dry_run"] for r in runs] == [True, False]
    assert runs.last().detail["rows_anonymised"] == 2


def test_command_dry_run_prints_the_report() -> None:
    out = StringIO()
    call_command("retention", "--dry-run", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["dry_run"] is True
    assert "Loan history" in report["policies"]
    out = StringIO()
    call_command("retention", stdout=out)
    assert "anonymised" in out.getvalue()


def test_policy_edits_are_checked_and_audited(actor: Actor) -> None:
    policy = RetentionPolicy.objects.get(name="Feedback and surveys")
    save_retention_policy(actor, policy, {"age_days": 365})
    policy.refresh_from_db()
    assert policy.age_days == 365
    record = AuditEvent.objects.filter(action=AuditAction.RETENTION_RUN).last()
    assert record.detail["fields"] == ["age_days"]
    for changes, field in (
        ({"age_days": 0}, "age_days"),
        ({"event_types": ["borrowing"]}, "event_types"),
        ({"action": "shred"}, "action"),
        ({"exempt_consent": "everything"}, "exempt_consent"),
        ({"measured_from": "return"}, "measured_from"),  # feedback has no return
        ({"name": "Loan history"}, "name"),  # taken
    ):
        with pytest.raises(SubjectError) as caught:
            save_retention_policy(actor, policy, changes)
        assert caught.value.field == field
    policy.refresh_from_db()
    assert policy.age_days == 365 and policy.name == "Feedback and surveys"
