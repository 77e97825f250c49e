"""Saving tags and segments, their versions and snapshots, and why a patron is a member."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from django.test import override_settings

from libcrm.features.definitions import FEATURE_SCHEMA
from libcrm.features.services import feature_file
from libcrm.features.storage import Provenance
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.segments.errors import SegmentError
from libcrm.segments.models import Segment, SegmentSnapshot, SegmentVersion
from libcrm.segments.selectors import members_of, segments_folder, why_member
from libcrm.segments.services import save_segment, take_snapshot

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 6, 30)


def profile() -> pa.Table:
    """A feature table of four patrons (columns the tests do not use are empty)."""
    given = {
        "patron_key": ["k1", "k2", "k3", "k4"],
        "as_of": [AS_OF] * 4,
        "loans_events_365d": [0, 4, 12, 30],
        "digital_events_30d": [5, 0, 2, 1],
        "last_seen": [date(2026, 6, 29), date(2026, 1, 2), date(2026, 6, 1), date(2026, 6, 20)],
        "top_subjects_365d": [["I"], [], ["T", "O"], ["T"]],
    }
    columns = {
        f.name: pa.array(given[f.name], f.type) if f.name in given else pa.nulls(4, f.type)
        for f in FEATURE_SCHEMA
    }
    return pa.table(columns, schema=FEATURE_SCHEMA)


@pytest.fixture(autouse=True)
def _registry(register_keys) -> None:
    """The profile has a row per active registry patron: the feature table's four keys."""
    register_keys("k1", "k2", "k3", "k4")


def leaf(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


READERS = leaf("loans_events_365d", ">=", 3)


def save(actor, slug, rule, parent=None, **kwargs):
    return save_segment(
        actor, slug=slug, name_en=slug.title(), name_zh="分群", rule=rule, parent=parent, **kwargs
    )


def test_saving_versions_a_changed_rule_and_audits(actor) -> None:
    segment = save(actor, "readers", READERS)
    assert segment.current_version.number == 1
    assert segment.current_version.rule == READERS
    same = save(actor, "readers", READERS, description="Borrowed three or more")
    assert same.current_version.number == 1 and same.description == "Borrowed three or more"
    changed = save(actor, "readers", leaf("loans_events_365d", ">=", 5))
    assert changed.current_version.number == 2
    assert SegmentVersion.objects.filter(segment=segment).count() == 2
    audits = AuditEvent.objects.filter(action=AuditAction.CHANGE_SEGMENT, target="segment:readers")
    assert [a.detail for a in audits.order_by("seq")] == [
        {"change": "created", "version": 1},
        {"change": "saved", "version": 1},
        {"change": "saved", "version": 2},
    ]


def test_a_bad_rule_is_refused_at_its_path_and_nothing_is_saved(actor) -> None:
    rule = {"all": [READERS, leaf("last_seen", "within", {"days": 30}),
                    leaf("loans_events_365d", ">", "abc")]}  # fmt: skip
    with pytest.raises(SegmentError) as raised:
        save(actor, "busy", rule)
    assert [(e.path, e.code) for e in raised.value.errors] == [("/all/2/value", "type_mismatch")]
    assert raised.value.messages("zh")[0]["message"] == '"abc" 是文本，但 loans_events_365d 是整数'
    assert not Segment.objects.exists() and not SegmentVersion.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CHANGE_SEGMENT).exists()


def test_the_definition_fields_are_checked_too(actor) -> None:
    with pytest.raises(SegmentError) as raised:
        save_segment(actor, slug="Bad Slug", name_en=" ", name_zh="x", rule={"any": []},
                     kind="cluster", parent="nowhere")  # fmt: skip
    assert [(e.path, e.code) for e in raised.value.errors] == [
        ("slug", "bad_identifier"),
        ("name_en", "required"),
        ("kind", "bad_kind"),
        ("parent", "unknown_segment"),
        ("/any", "empty_group"),
    ]
    assert not Segment.objects.exists()


def test_unknown_feature_gets_a_suggestion(actor) -> None:
    with pytest.raises(SegmentError) as raised:
        save(actor, "x", leaf("loans_365d", ">", 1))
    [error] = raised.value.errors
    assert error.path == "/field" and error.params["suggestion"].startswith("loans_")


def test_cycles_through_references_and_parents_are_refused(actor) -> None:
    save(actor, "graduates", READERS)
    save(actor, "first-year", leaf("digital_events_30d", ">=", 1), parent="graduates")
    save(actor, "cs", {"segment": "first-year"})
    with pytest.raises(SegmentError) as raised:
        save(actor, "graduates", {"not": {"segment": "cs"}})
    [error] = raised.value.errors
    assert (error.path, error.code) == ("/not/segment", "cycle")
    assert error.params["cycle"] == "graduates → cs → first-year → graduates"
    with pytest.raises(SegmentError) as raised:
        save(actor, "graduates", READERS, parent="first-year")
    assert [(e.path, e.code) for e in raised.value.errors] == [("parent", "cycle")]
    assert Segment.objects.get(slug="graduates").parent is None
    assert Segment.objects.get(slug="graduates").current_version.number == 1


def test_a_snapshot_keeps_members_with_reasons(actor, tmp_path) -> None:
    save(actor, "readers", READERS)
    child = save(actor, "recent-readers", leaf("last_seen", "within", {"days": 30}),
                 parent="readers")  # fmt: skip
    with override_settings(LIBCRM_DATA_DIR=tmp_path):
        snapshot = take_snapshot(actor, child, profile=profile(), as_of=AS_OF)
        assert (snapshot.size, snapshot.as_of, snapshot.engine) == (2, AS_OF, "duckdb")
        assert snapshot.version == child.current_version
        members = members_of(snapshot)
        assert (segments_folder() / snapshot.members_file).exists()
    assert members.to_pylist() == [
        {"patron_key": "k3", "c0": True, "c1": True, "loans_events_365d": 12,
         "last_seen": date(2026, 6, 1)},
        {"patron_key": "k4", "c0": True, "c1": True, "loans_events_365d": 30,
         "last_seen": date(2026, 6, 20)},
    ]  # fmt: skip
    audit = AuditEvent.objects.filter(target="segment:recent-readers").order_by("-seq").first()
    assert audit.detail == {"change": "snapshot", "version": 1, "size": 2}
    assert SegmentSnapshot.objects.filter(segment=child).count() == 1


def test_why_a_patron_is_a_member(actor, tmp_path) -> None:
    save(actor, "readers", READERS)
    segment = save(actor, "technical-readers", {"any": [
        leaf("top_subjects_365d", "contains", "T"), leaf("digital_events_30d", ">=", 3)]},
        parent="readers")  # fmt: skip
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(profile(), _provenance())
        reasons = why_member(segment, "k3")
        assert why_member(segment, "k1") is None  # not a reader
    assert [
        (r["field"], r["op"], r["value"], r["held"], r["actual"], r["via"]) for r in reasons
    ] == [
        ("loans_events_365d", ">=", 3, True, 12, ["readers"]),
        ("top_subjects_365d", "contains", "T", True, ["T", "O"], []),
        ("digital_events_30d", ">=", 3, False, 2, []),
    ]
    assert reasons[0]["label_zh"] == "近365天借阅次数"


def _provenance() -> Provenance:
    return Provenance(
        as_of=AS_OF.isoformat(), tz="Asia/Shanghai", engine="duckdb", store_id="test",
        generation=1, batch_seq=1, alias_version=0, computed_at="2026-06-30T00:00:00",
        full=True,
    )  # fmt: skip


def test_an_erased_patron_leaves_every_snapshot(actor, tmp_path) -> None:
    from libcrm.privacy.signals import patron_erased

    segment = save(actor, "readers", READERS)
    with override_settings(LIBCRM_DATA_DIR=tmp_path):
        first = take_snapshot(actor, segment, profile=profile(), as_of=AS_OF)
        second = take_snapshot(actor, segment, profile=profile(), as_of=AS_OF)
        patron_erased.send(sender=None, patron_key="k3")
        for snapshot in (first, second):
            assert members_of(snapshot).column("patron_key").to_pylist() == ["k2", "k4"]
    assert SegmentSnapshot.objects.get(pk=first.pk).size == 3  # as counted that day


def test_every_segment_a_patron_is_in_with_reasons(actor, tmp_path) -> None:
    from libcrm.segments.selectors import segments_of

    save(actor, "readers", READERS)
    save(actor, "recent", leaf("last_seen", "within", {"days": 7}), kind="tag")
    save(actor, "technical", leaf("top_subjects_365d", "contains", "T"), parent="readers")
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(profile(), _provenance())
        found = {m["segment"].slug: m["reasons"] for m in segments_of("k4")}
        assert segments_of("nobody") == []
        assert [m["segment"].slug for m in segments_of("k1")] == ["recent"]
    assert sorted(found) == ["readers", "technical"]
    assert [(r["field"], r["held"], r["actual"], r["via"]) for r in found["technical"]] == [
        ("loans_events_365d", True, 30, ["readers"]),
        ("top_subjects_365d", True, ["T"], []),
    ]


def test_the_patron_page_partial_says_why(actor, tmp_path) -> None:
    from django.template.loader import render_to_string

    from libcrm.segments.selectors import segments_of

    save(actor, "readers", READERS)
    with override_settings(LIBCRM_FEATURES_DIR=tmp_path):
        feature_file().replace(profile(), _provenance())
        html = render_to_string("segments/_patron_segments.html",
                                {"memberships": segments_of("k3")})  # fmt: skip
    assert "Readers" in html and "Number of loans, last 365 days" in html and "✓" in html
    assert "12" in html
