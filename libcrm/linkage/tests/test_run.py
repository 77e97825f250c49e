"""A linker run over the registry: pairs of one person reach the review queue, decisions
stick across runs, auto-merge (when switched on) merges, and the run is audited."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from libcrm.linkage.engine import LinkSettings
from libcrm.linkage.models import CandidateStatus, LinkRun, MatchCandidate, Merge
from libcrm.linkage.services import decide_candidate, run_linkage
from libcrm.patrons.models import Patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

PEOPLE = [
    ("欧阳婧萱", 1998, "13912345678"),
    ("司马光远", 1985, "13800001111"),
    ("诸葛晓雯", 2001, "13700002222"),
    ("上官云飞", 1979, "13600003333"),
    ("慕容雪", 1990, "13500004444"),
    ("张伟", 1995, "13400005555"),
    ("李娜", 1988, "13300006666"),
]


@pytest.fixture(autouse=True)
def event_store_dir(settings: Any, tmp_path: Path) -> None:
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"


@pytest.fixture
def registry(make_patron: Callable[..., Patron]) -> list[tuple[Patron, Patron]]:
    """Each person twice: a desk record and a WeChat registration spelled in pinyin, with the
    same phone number entered as an "other" contact (the registry never shares a phone)."""
    from pypinyin import lazy_pinyin

    pairs = []
    for n, (name, year, phone) in enumerate(PEOPLE):
        first = make_patron(
            name=name,
            birth_year=year,
            identifiers=[
                {"kind": "library_card", "value": f"D{n:05d}", "source": "desk"},
                {"kind": "phone", "value": phone, "source": "desk"},
            ],
        )
        spelled = " ".join(p.capitalize() for p in lazy_pinyin(name))
        second = make_patron(
            name=spelled,
            birth_year=year,
            identifiers=[
                {"kind": "library_card", "value": f"W{n:05d}", "source": "wechat"},
                {"kind": "other", "value": phone, "source": "wechat"},
            ],
        )
        pairs.append((first, second))
    return pairs


def true_pairs(registry: list[tuple[Patron, Patron]]) -> set[tuple[int, int]]:
    return {tuple(sorted((a.pk, b.pk))) for a, b in registry}  # type: ignore[misc]


def test_a_run_proposes_the_pairs_and_remembers_decisions(
    registry: list[tuple[Patron, Patron]],
) -> None:
    actor = Actor.system("test")
    outcome = run_linkage(actor)
    found = set(MatchCandidate.objects.values_list("left_id", "right_id"))
    assert true_pairs(registry) <= found
    assert outcome.run.records == 2 * len(PEOPLE)
    assert outcome.run.model  # the trained weights are kept to show staff
    assert AuditEvent.objects.filter(action=AuditAction.LINK_RUN).count() == 1

    rejected = MatchCandidate.objects.order_by("pk").first()
    assert rejected is not None
    decide_candidate(actor, rejected, same_person=False, note="twins")
    second = run_linkage(actor)
    rejected.refresh_from_db()
    assert rejected.status == CandidateStatus.REJECTED
    assert second.run.skipped_decided >= 1
    assert second.run.proposed == 0  # nothing new: the same pairs were updated, not repeated
    assert MatchCandidate.objects.count() == len(found)


def test_auto_merge_merges_pairs_above_its_threshold(
    registry: list[tuple[Patron, Patron]],
) -> None:
    outcome = run_linkage(
        Actor.system("test"), LinkSettings(review_threshold=0.5, auto_merge_threshold=0.99)
    )
    merged_pairs = {tuple(sorted((m.survivor_id, m.merged_id))) for m in Merge.objects.all()}
    assert merged_pairs and merged_pairs <= true_pairs(registry)
    assert outcome.run.auto_merged == len(merged_pairs)
    for merge in Merge.objects.all():  # the older record survives
        assert merge.survivor.registered_on <= merge.merged.registered_on


def test_the_link_command_reports_and_refuses_bad_thresholds(
    registry: list[tuple[Patron, Patron]],
) -> None:
    out = StringIO()
    call_command("link", stdout=out)
    assert "review queue" in out.getvalue()
    assert LinkRun.objects.count() == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="auto_merge_threshold"):
        call_command("link", "--auto-merge", "0.2", stdout=StringIO())
    assert LinkRun.objects.count() == 1
