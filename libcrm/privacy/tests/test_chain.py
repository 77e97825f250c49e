"""The tamper-evident audit chain: every alteration, deletion and truncation is found, with the
record's seq, by the service, the console button and ``libcrm audit verify``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from libcrm.privacy import checkpoint
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import (
    AuditRecord,
    record_audit_event,
    record_audit_events,
    redact_audit_subject,
    reset_audit_checkpoint,
    verify_audit_chain,
)

DESK = Actor(label="wang.fang", via="console", ip="10.0.0.7")


@pytest.fixture(autouse=True)
def private_checkpoint(settings: Any, tmp_path: Path) -> Path:
    settings.LIBCRM_AUDIT_CHECKPOINT = tmp_path / "audit" / "checkpoint.json"
    return settings.LIBCRM_AUDIT_CHECKPOINT


def fill(n: int = 10) -> None:
    for i in range(n):
        record_audit_event(
            DESK, AuditAction.SEARCH_PATRONS, target=f"search:{i}", detail={"results": i}
        )


def commit_checkpoint() -> None:
    """Tests run inside a transaction that never commits; take the checkpoint as a commit would."""
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    checkpoint.write(checkpoint.Checkpoint(last.seq, last.hash))


def sql(statement: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def problems(report: Any) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in report.problems]


def test_records_are_chained_in_order(db: Any) -> None:
    fill(3)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = verify_audit_chain(Actor.system("test"))
    assert report.ok and report.records == 3


def test_bulk_writes_continue_the_chain(db: Any, make_patron: Callable[..., Any]) -> None:
    patron = make_patron()
    fill(2)
    record_audit_events(
        DESK,
        [
            AuditRecord(AuditAction.CREATE_PATRON, patron=patron, target=f"p:{i}")
            for i in range(2500)
        ]
        + [AuditRecord(AuditAction.EXPORT, detail={"kinds": ("a", "b")})],
    )
    fill(1)
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert verify_audit_chain(Actor.system("test")).ok


def test_a_record_changed_with_raw_sql_is_found_by_its_seq(db: Any) -> None:
    fill(10)
    sql("UPDATE privacy_auditevent SET actor_label = %s WHERE seq = %s", ["someone.else", 4])
    report = verify_audit_chain(Actor.system("test"))
    assert problems(report) == [("altered", 4)]


@pytest.mark.parametrize(
    ("column", "value"),
    [("detail", '{"results": 99}'), ("action", "login"), ("ip", "10.9.9.9"), ("via", "api")],
)
def test_every_sealed_field_is_covered(db: Any, column: str, value: str) -> None:
    fill(5)
    statement = {
        "detail": "UPDATE privacy_auditevent SET detail = %s WHERE seq = %s",
        "action": "UPDATE privacy_auditevent SET action = %s WHERE seq = %s",
        "ip": "UPDATE privacy_auditevent SET ip = %s WHERE seq = %s",
        "via": "UPDATE privacy_auditevent SET via = %s WHERE seq = %s",
    }[column]
    sql(statement, [value, 2])
    assert problems(verify_audit_chain(Actor.system("test"))) == [("altered", 2)]


def test_changing_the_patron_key_is_altering_but_blanking_it_is_redaction(
    db: Any, make_patron: Callable[..., Any]
) -> None:
    one, other = make_patron(), make_patron()
    record_audit_event(DESK, AuditAction.VIEW_PATRON, patron=one, target=f"patron:{one.uuid}")
    seq = AuditEvent.objects.get(action=AuditAction.VIEW_PATRON).seq
    sql("UPDATE privacy_auditevent SET patron_key = %s WHERE seq = %s", [other.patron_key, seq])
    assert problems(verify_audit_chain(Actor.system("test"))) == [("altered", seq)]

    sql("UPDATE privacy_auditevent SET patron_key = %s WHERE seq = %s", [one.patron_key, seq])
    assert redact_audit_subject(one.patron_key) == 2  # its registration and the view
    assert not AuditEvent.objects.filter(patron_key=one.patron_key).exists()
    report = verify_audit_chain(Actor.system("test"))
    assert report.ok
    assert report.redacted == 4  # patron key and target of both records


def test_a_deleted_middle_record_is_found(db: Any) -> None:
    fill(10)
    AuditEvent.objects.filter(seq__in=[5, 6]).delete()
    report = verify_audit_chain(Actor.system("test"))
    assert problems(report) == [("deleted", 5)]
    assert report.problems[0].until == 6


def test_a_replaced_record_breaks_the_link(db: Any) -> None:
    fill(5)
    sql("UPDATE privacy_auditevent SET prev_hash = %s WHERE seq = %s", ["f" * 64, 3])
    assert ("altered", 3) in problems(verify_audit_chain(Actor.system("test")))


def test_records_cut_off_the_end_are_found_through_the_checkpoint(db: Any) -> None:
    fill(10)
    commit_checkpoint()
    AuditEvent.objects.filter(seq__gte=8).delete()
    report = verify_audit_chain(Actor.system("test"))
    assert problems(report) == [("truncated", 8)]
    assert report.problems[0].until == 10


def test_without_a_checkpoint_a_cut_tail_goes_unseen(db: Any) -> None:
    """The documented limit: the chain alone cannot tell a shorter chain from a cut one."""
    fill(10)
    AuditEvent.objects.filter(seq__gte=8).delete()
    report = verify_audit_chain(Actor.system("test"))
    assert report.ok and report.checkpoint is None


def test_a_rewritten_tail_disagrees_with_the_checkpoint(db: Any) -> None:
    fill(5)
    commit_checkpoint()
    AuditEvent.objects.filter(seq=5).delete()
    record_audit_event(DESK, AuditAction.LOGIN)  # a forger's record takes seq 5
    assert ("altered", 5) in problems(verify_audit_chain(Actor.system("test")))


def test_the_checkpoint_only_moves_forward(db: Any, private_checkpoint: Path) -> None:
    checkpoint.advance(checkpoint.Checkpoint(7, "a" * 64))
    checkpoint.advance(checkpoint.Checkpoint(5, "b" * 64))
    assert json.loads(private_checkpoint.read_text()) == {"seq": 7, "hash": "a" * 64}


def test_reset_checkpoint_accepts_the_current_end(db: Any) -> None:
    fill(5)
    checkpoint.write(checkpoint.Checkpoint(9, "c" * 64))  # as after restoring an older backup
    assert problems(verify_audit_chain(Actor.system("test"))) == [("truncated", 6)]
    reset_audit_checkpoint(Actor.system("test"))
    assert verify_audit_chain(Actor.system("test")).ok


def test_verification_is_audited(db: Any) -> None:
    fill(3)
    verify_audit_chain(Actor.system("auditor"))
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None and last.action == AuditAction.VERIFY_AUDIT
    assert last.detail == {"ok": True, "records": 3, "problems": 0, "redacted": 0}


def test_the_command_exits_0_on_an_intact_chain(db: Any, capsys: Any) -> None:
    fill(3)
    call_command("audit", "verify")
    assert "audit chain intact: 3 records" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action=AuditAction.VERIFY_AUDIT).count() == 1


def test_the_command_fails_naming_the_record(db: Any, capsys: Any) -> None:
    fill(6)
    sql("UPDATE privacy_auditevent SET target = %s WHERE seq = %s", ["elsewhere", 3])
    AuditEvent.objects.filter(seq=5).delete()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify")
    assert failure.value.returncode == 1
    assert "first at record 3" in str(failure.value)
    out = capsys.readouterr().out
    assert "record 3 was altered" in out and "record 5 is missing" in out


def test_the_console_button_reports_the_first_break(
    staff_client: Callable[[str], Any], db: Any
) -> None:
    admin = staff_client("administrator")
    fill(4)
    response = admin.post("/audit/verify/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "The audit chain is intact" in response.text
    sql("UPDATE privacy_auditevent SET detail = %s WHERE seq = %s", ['{"results": 7}', 2])
    response = admin.post("/audit/verify/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "The audit chain is broken (1 problem). First: record 2 was altered." in response.text


def test_a_failed_append_leaves_no_gap(db: Any) -> None:
    fill(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_audit_event(DESK, AuditAction.LOGIN)
        raise RuntimeError("the audited change failed")
    fill(1)
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert verify_audit_chain(Actor.system("test")).ok


@pytest.mark.django_db(transaction=True)
def test_the_checkpoint_follows_commits(private_checkpoint: Path) -> None:
    fill(2)
    record_audit_events(DESK, [AuditRecord(AuditAction.EXPORT) for _ in range(3)])
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    assert json.loads(private_checkpoint.read_text()) == {"seq": 5, "hash": last.hash}


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; the race needs PostgreSQL")
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(20):
                if i % 4 == 0:
                    record_audit_events(
                        DESK,
                        [AuditRecord(AuditAction.EXPORT, target=f"{worker}") for _ in range(5)],
                    )
                else:
                    record_audit_event(DESK, AuditAction.LOGIN, target=f"{worker}:{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEvent.objects.count() == 3 * (15 + 5 * 5)
    assert verify_audit_chain(Actor.system("test")).ok


def test_erasure_redacts_the_patron_from_the_trail(
    db: Any, make_patron: Callable[..., Any]
) -> None:
    from libcrm.privacy.signals import patron_erased

    patron = make_patron()
    record_audit_event(DESK, AuditAction.VIEW_PATRON, patron=patron, target=f"patron:{patron.uuid}")
    patron_erased.send(sender=None, patron_key=patron.patron_key)
    assert not AuditEvent.objects.filter(patron_key=patron.patron_key).exists()
    assert not AuditEvent.objects.filter(target__contains=str(patron.uuid)).exists()
    assert verify_audit_chain(Actor.system("test")).ok


def test_verify_against_an_offsite_copy_of_the_checkpoint(db: Any, tmp_path: Path) -> None:
    fill(6)
    last = AuditEvent.objects.get(seq=6)
    copy = tmp_path / "offsite.json"
    copy.write_text(json.dumps({"seq": 6, "hash": last.hash}))
    AuditEvent.objects.filter(seq__gte=5).delete()
    commit_checkpoint()  # the intruder rewinds the local checkpoint too
    report = verify_audit_chain(Actor.system("test"), copy)
    assert problems(report) == [("truncated", 5)] and report.problems[0].until == 6
    assert verify_audit_chain(Actor.system("test")).ok  # the local checkpoint was fooled
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--checkpoint", str(copy))
