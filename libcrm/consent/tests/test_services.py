"""Consent choices through the real service and database: defaults, versions, guardians,
erasure and merges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from libcrm.consent import selectors
from libcrm.consent.errors import ConsentError
from libcrm.consent.models import ConsentRecord, ConsentWording, Purpose
from libcrm.consent.services import forget_consents, move_consents, set_consent
from libcrm.patrons.services import create_household, join_household
from libcrm.privacy import signals
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

THIS_YEAR = timezone.localdate().year


def test_defaults_without_any_record(make_patron: Any) -> None:
    adult = make_patron(birth_year=THIS_YEAR - 30)
    assert selectors.has_consent(adult, "analytics") is True
    for purpose in Purpose.values:
        if purpose != "analytics":
            assert selectors.has_consent(adult, purpose) is False, purpose
    child = make_patron(birth_year=THIS_YEAR - 9, category="child")
    assert selectors.has_consent(child, "analytics") is False


def test_a_choice_is_recorded_with_its_wording_and_audited(make_patron: Any, actor: Any) -> None:
    patron = make_patron(birth_year=THIS_YEAR - 30)
    record = set_consent(actor, patron, "outreach_email", True, via="staff")
    assert selectors.has_consent(patron, "outreach_email") is True
    assert record.wording.version == 1 and record.actor_label == actor.label
    audit = AuditEvent.objects.get(action=AuditAction.CHANGE_CONSENT, patron=patron)
    assert audit.detail == {
        "purpose": "outreach_email",
        "granted": True,
        "wording_version": 1,
        "via": "staff",
        "guardian": False,
    }
    set_consent(actor, patron, "outreach_email", False, via="portal")
    assert selectors.has_consent(patron, "outreach_email") is False
    assert selectors.has_consent(patron, "outreach_sms") is False  # per channel


def test_new_wording_is_versioned_and_old_choices_keep_theirs(make_patron: Any, actor: Any) -> None:
    patron = make_patron(birth_year=THIS_YEAR - 30)
    set_consent(actor, patron, "research", True, via="portal")
    ConsentWording.objects.create(
        purpose="research", version=2, text_en="New text.", text_zh="新文本。"
    )
    state = {s.purpose: s for s in selectors.consents_of(patron)}["research"]
    assert state.granted and state.wording.version == 1 and state.latest.version == 2
    assert state.wording_changed
    set_consent(actor, patron, "research", True, via="portal")
    history = list(selectors.consent_history(patron))
    assert [r.wording.version for r in history] == [2, 1]
    assert [r.current for r in history] == [True, False]
    assert not {s.purpose: s for s in selectors.consents_of(patron)}["research"].wording_changed


def test_unpublished_wording_is_not_used_yet(make_patron: Any, actor: Any) -> None:
    patron = make_patron(birth_year=THIS_YEAR - 30)
    ConsentWording.objects.create(
        purpose="research",
        version=2,
        text_en="Future.",
        text_zh="未来。",
        published_at=timezone.now() + timedelta(days=3),
    )
    assert set_consent(actor, patron, "research", True, via="portal").wording.version == 1


def test_consents_of_lists_every_purpose_with_default_flags(make_patron: Any, actor: Any) -> None:
    patron = make_patron(birth_year=THIS_YEAR - 30)
    set_consent(actor, patron, "loan_history", True, via="portal")
    states = selectors.consents_of(patron)
    assert [s.purpose for s in states] == list(Purpose.values)
    by_purpose = {s.purpose: s for s in states}
    assert by_purpose["loan_history"].chosen and by_purpose["loan_history"].granted
    assert not by_purpose["analytics"].chosen and by_purpose["analytics"].granted
    assert by_purpose["research"].wording.text_en


def test_unknown_purpose_and_way_are_refused_and_nothing_is_written(
    make_patron: Any, actor: Any
) -> None:
    patron = make_patron()
    with pytest.raises(ConsentError) as exc:
        set_consent(actor, patron, "marketing", True, via="portal")
    assert exc.value.field == "purpose"
    with pytest.raises(ConsentError) as exc:
        set_consent(actor, patron, "research", True, via="fax")
    assert exc.value.field == "via"
    assert not ConsentRecord.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE_CONSENT).exists()


@pytest.fixture
def family(make_patron: Any, actor: Any) -> dict[str, Any]:
    household = create_household(actor, "The Lis")
    members = {
        "child": make_patron(birth_year=THIS_YEAR - 10, category="child"),
        "mother": make_patron(birth_year=THIS_YEAR - 40, category="resident"),
        "teen": make_patron(birth_year=THIS_YEAR - 16, category="resident"),
        "partner": make_patron(birth_year=THIS_YEAR - 41, category="resident"),
        "neighbour": make_patron(birth_year=THIS_YEAR - 50, category="resident"),
    }
    join_household(actor, members["child"], household, "child")
    join_household(actor, members["mother"], household, "guardian")
    join_household(actor, members["teen"], household, "head")
    join_household(actor, members["partner"], household, "partner")
    neighbours = create_household(actor, "Next door")
    join_household(actor, members["neighbour"], neighbours, "head")
    return members


def test_a_child_under_14_needs_a_guardian_to_say_yes(family: dict[str, Any], actor: Any) -> None:
    child = family["child"]
    with pytest.raises(ConsentError) as exc:
        set_consent(actor, child, "personalisation", True, via="portal")
    assert exc.value.field == "guardian" and "under 14" in exc.value.message
    record = set_consent(
        actor, child, "personalisation", True, via="staff", guardian=family["mother"]
    )
    assert record.guardian == family["mother"]
    assert selectors.has_consent(child, "personalisation") is True
    audit = AuditEvent.objects.filter(action=AuditAction.CHANGE_CONSENT, patron=child).get()
    assert audit.detail["guardian"] is True


def test_a_child_can_always_say_no(family: dict[str, Any], actor: Any) -> None:
    set_consent(actor, family["child"], "analytics", False, via="portal")
    assert selectors.has_consent(family["child"], "analytics") is False


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("neighbour", "same household"),
        ("partner", "guardian or head"),
        ("teen", "18 or older"),
        ("child", "own guardian"),
    ],
)
def test_who_cannot_consent_for_a_child(
    family: dict[str, Any], actor: Any, who: str, reason: str
) -> None:
    with pytest.raises(ConsentError) as exc:
        set_consent(actor, family["child"], "research", True, via="staff", guardian=family[who])
    assert exc.value.field == "guardian" and reason in exc.value.message
    assert not ConsentRecord.objects.exists()


def test_a_guardian_is_refused_for_a_patron_of_14_or_over(
    family: dict[str, Any], actor: Any
) -> None:
    with pytest.raises(ConsentError, match="only for children under 14"):
        set_consent(actor, family["teen"], "research", True, via="staff", guardian=family["mother"])


def test_bulk_keys_agree_with_has_consent(make_patron: Any, actor: Any) -> None:
    adult, refuser, child, unknown_child = (
        make_patron(birth_year=THIS_YEAR - 30),
        make_patron(birth_year=THIS_YEAR - 30),
        make_patron(birth_year=THIS_YEAR - 8, category="child"),
        make_patron(category="child"),
    )
    set_consent(actor, refuser, "analytics", False, via="portal")
    set_consent(actor, adult, "loan_history", True, via="portal")
    patrons = [adult, refuser, child, unknown_child]
    for purpose in ("analytics", "loan_history", "research"):
        keys = selectors.patron_keys_with_consent(purpose)
        expected = {p.patron_key for p in patrons if selectors.has_consent(p, purpose)}
        assert keys == expected, purpose
    assert selectors.patron_keys_with_consent("analytics") == {adult.patron_key}


def test_has_consent_is_one_query(
    make_patron: Any, actor: Any, django_assert_num_queries: Any
) -> None:
    patron = make_patron(birth_year=THIS_YEAR - 30)
    set_consent(actor, patron, "outreach_wechat", True, via="portal")
    with django_assert_num_queries(1):
        assert selectors.has_consent(patron, "outreach_wechat") is True


def test_erasure_deletes_the_patrons_records(family: dict[str, Any], actor: Any) -> None:
    mother, child = family["mother"], family["child"]
    set_consent(actor, mother, "research", True, via="portal")
    set_consent(actor, child, "research", True, via="staff", guardian=mother)
    assert forget_consents(mother) == 1
    assert not ConsentRecord.objects.filter(patron=mother).exists()
    assert ConsentRecord.objects.get(patron=child).guardian is None


def test_the_erasure_signal_deletes_records_by_patron_key(make_patron: Any, actor: Any) -> None:
    patron, other = make_patron(), make_patron()
    set_consent(actor, patron, "research", True, via="portal")
    set_consent(actor, other, "research", True, via="portal")
    signals.patron_erased.send(sender=None, patron_key=patron.patron_key)
    assert list(ConsentRecord.objects.values_list("patron_id", flat=True)) == [other.pk]


def test_merge_moves_history_and_the_most_restrictive_choice_wins(
    make_patron: Any, actor: Any
) -> None:
    survivor = make_patron(birth_year=THIS_YEAR - 30)
    merged = make_patron(birth_year=THIS_YEAR - 30)
    set_consent(actor, survivor, "outreach_email", True, via="portal")  # yes + no → no
    set_consent(actor, merged, "outreach_email", False, via="portal")
    set_consent(actor, merged, "research", True, via="portal")  # nothing + yes → yes
    set_consent(actor, survivor, "loan_history", True, via="portal")  # yes + nothing → yes
    set_consent(actor, survivor, "analytics", False, via="portal")  # no + nothing → no
    assert move_consents(merged, survivor) == 2
    assert not ConsentRecord.objects.filter(patron=merged).exists()
    assert selectors.has_consent(survivor, "outreach_email") is False
    assert selectors.has_consent(survivor, "research") is True
    assert selectors.has_consent(survivor, "loan_history") is True
    assert selectors.has_consent(survivor, "analytics") is False
    assert ConsentRecord.objects.filter(patron=survivor).count() == 6  # 3 own, 2 moved, 1 merge
    latest = selectors.consent_history(survivor).filter(purpose="outreach_email").first()
    assert latest.via == "merge" and latest.granted is False


def test_a_merge_moves_the_records_of_the_merged_patron(
    make_patron: Any, actor: Any, settings: Any, tmp_path: Any
) -> None:
    from libcrm.linkage.services import merge_patrons

    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    survivor, merged = make_patron(), make_patron()
    set_consent(actor, merged, "research", True, via="portal")
    merge_patrons(actor, survivor, merged, reason="same person")
    assert selectors.has_consent(survivor, "research") is True


def test_a_library_can_make_analytics_opt_in(make_patron: Any, settings: Any) -> None:
    settings.LIBCRM_CONSENT_ANALYTICS_DEFAULT = False
    adult = make_patron(birth_year=THIS_YEAR - 30)
    assert selectors.has_consent(adult, "analytics") is False
    assert selectors.patron_keys_with_consent("analytics") == set()
