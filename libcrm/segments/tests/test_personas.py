"""Personas: the patron's card in plain words from real events and features (audited when
shown), and the group persona and sizes over time of a segment, small groups hidden."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from libcrm.events import services as event_services
from libcrm.features.services import feature_file, refresh_features
from libcrm.patrons.services import define_branch
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.segments.models import SegmentSnapshot
from libcrm.segments.personas import group_persona, persona_of
from libcrm.segments.services import install_starter_set, save_segment, take_snapshot
from libcrm.segments.tests.test_profile import features
from libcrm.segments.tests.test_services import AS_OF, _provenance

pytestmark = pytest.mark.django_db
UG = {"field": "category", "op": "=", "value": "undergraduate"}


@pytest.fixture
def world(settings: Any, tmp_path: Path, actor: Any, make_patron: Any) -> Any:
    """A patron who borrows engineering books in the East branch on Tuesday evenings and
    reads literature on the website, seen all last year."""
    settings.LIBCRM_EVENT_STORE_DIR = tmp_path / "events"
    settings.LIBCRM_FEATURES_DIR = tmp_path / "features"
    settings.LIBCRM_DATA_DIR = tmp_path / "data"
    settings.TIME_ZONE = "Asia/Shanghai"
    main = define_branch(actor, "main", "总馆", "Main library")
    define_branch(actor, "east", "东区分馆", "East branch")
    patron = make_patron(home_branch=main, birth_year=2003, registered_on=date(2024, 9, 1))
    rows = []
    tuesday = datetime(2026, 6, 23, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    for week in range(14):
        rows.append({"event_id": f"loan{week}", "patron_key": patron.patron_key,
                     "occurred_at": tuesday - timedelta(weeks=week), "type": "loan",
                     "channel": "physical", "branch": "east", "subject": "TP311.13",
                     "source": "test"})  # fmt: skip
    for n in range(4):
        rows.append({"event_id": f"dl{n}", "patron_key": patron.patron_key,
                     "occurred_at": datetime(2026, 6, 6 + n, 2, 0, tzinfo=UTC),
                     "type": "download", "channel": "web", "subject": "I247",
                     "source": "test"})  # fmt: skip
    event_services.append_events(rows, source="test")
    refresh_features(as_of=AS_OF)
    install_starter_set(actor)
    return patron


def test_the_card_describes_interests_habits_place_channel_and_engagement(world) -> None:
    with translation.override("en"):
        persona = persona_of(world)
    text = {s.heading: " ".join(s.lines) for s in persona.sections}
    assert persona.active
    assert [(c, n) for c, _label, n in persona.interests] == [("T", 14), ("I", 4)]
    assert "Industrial technology (T): 14 uses" in text["Interests"]
    assert "Literature (I)" in text["Interests"]
    assert "Most active on Tuesdays, mostly in the evening (18:00–22:00)." in text["Habits"]
    assert "at night rarely (0%" in text["Habits"]
    assert "Home branch: Main library." in text["Place and channel"]
    assert "Most used branch in the last year: East branch (100%" in text["Place and channel"]
    assert "in person 78%, digital services 22%, social media 0%" in text["Place and channel"]
    # Seen 7 days before the as-of day (R5), on 14 days in the last 90 (F4): highly engaged.
    assert "Recency score 5 of 5 and frequency score 4 of 5" in text["Engagement and lifecycle"]
    assert persona.engagement == "engagement-high" and persona.lifecycle == "lifecycle-active"
    assert "Engagement: Highly engaged." in text["Engagement and lifecycle"]
    assert "Lifecycle stage: Active." in text["Engagement and lifecycle"]


def test_the_card_speaks_chinese(world) -> None:
    with translation.override("zh-hans"):
        persona = persona_of(world)
    assert persona.interests[0][1] == "工业技术 (T)"
    lines = " ".join(line for s in persona.sections for line in s.lines)
    assert "高活跃读者" in lines and "活跃读者" in lines and "总馆" in lines


def test_a_patron_without_activity_gets_a_short_card(world, make_patron) -> None:
    newcomer = make_patron()
    with translation.override("en"):
        persona = persona_of(newcomer)
    lines = [line for s in persona.sections for line in s.lines]
    assert not persona.active and persona.interests == [] and persona.channel_shares == {}
    assert "No recorded activity yet." in lines
    assert "No subject interests recorded in the last year." in lines
    assert persona.engagement == "engagement-low" and persona.lifecycle is None


def test_the_patron_page_shows_the_card_and_audits_it(world, staff_client) -> None:
    client = staff_client("front_desk")
    page = client.get(reverse("console:patron-detail", kwargs={"uuid": world.uuid}))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="persona"' in html and "Most active on Tuesdays" in html
    audit = AuditEvent.objects.get(action=AuditAction.VIEW_PERSONA)
    assert audit.patron_id == world.pk and audit.detail == {"part": "persona"}


@pytest.fixture
def population(settings: Any, tmp_path: Path, register_keys: Any, actor: Any) -> None:
    """Twelve active patrons: eight undergraduates (six in engineering) and four faculty."""
    settings.LIBCRM_FEATURES_DIR = tmp_path / "features"
    settings.LIBCRM_DATA_DIR = tmp_path / "data"
    register_keys(*(f"pk-u{i}" for i in range(6)), discipline="engineering", birth_year=2004)
    register_keys("pk-u6", "pk-u7", discipline="literature", birth_year=2005)
    register_keys(*(f"pk-f{i}" for i in range(4)), category="faculty", birth_year=1975)
    rows = {f"pk-u{i}": {"loans_events_365d": 10 + i, "days_since_last": 2, "all_days_90d": 20,
                         "channel_physical_365d": 5, "top_subjects_365d": ["T"]}
            for i in range(8)}  # fmt: skip
    rows |= {f"pk-f{i}": {"loans_events_365d": 2, "days_since_last": 40, "all_days_90d": 3,
                          "channel_web_365d": 4, "top_subjects_365d": ["R"]}
             for i in range(4)}  # fmt: skip
    feature_file().replace(features(rows), _provenance())
    install_starter_set(actor)


def test_a_group_persona_beside_the_population_with_small_groups_hidden(population, actor) -> None:
    students = save_segment(actor, slug="students", name_en="Students", name_zh="学生", rule=UG)
    with translation.override("en"):
        group = group_persona(students, k=5)
    assert (group.size, group.population, group.k) == (8, 12, 5)
    typical = {label: (mine, everyone) for label, mine, everyone in group.typical}
    assert typical["Loans in the last year (median)"] == (13.5, 11.5)  # 10..17; 2 ×4 + 10..17
    assert typical["Active in the last 90 days (share)"] == ("100%", "100%")
    mixes = {d.title: d.rows for d in group.distributions}
    disciplines = {label: (cell.count, share) for label, cell, share, _all in
                   mixes["Discipline"]}  # fmt: skip
    # Six engineers shown; the two literature students are hidden, and so is the next
    # smallest non-empty cell (none is left, so the two must do: 2 < k, the total goes too).
    assert disciplines["Engineering"][0] is None and disciplines["Literature"][0] is None
    categories = {label: cell for label, cell, _s, _a in mixes["Patron category"]}
    assert categories["Undergraduate"].count == 8 and categories["Faculty"].count == 0
    stages = {label: cell.count for label, cell, _s, _a in mixes["Lifecycle stage"]}
    assert stages["Active"] == 8 and stages["No recorded activity"] == 0
    channels = {label: (cell.count, share, everyone) for label, cell, share, everyone in
                mixes["Channels used in the last year (a patron can use several)"]}  # fmt: skip
    assert channels["In person"] == (8, 1.0, 8 / 12)
    assert channels["Digital services"][0] == 0
    subjects = [(label, cell.count) for label, cell, _s, _a in
                mixes["Top subjects (patrons with the class among their top three)"]]  # fmt: skip
    assert subjects == [("Industrial technology (T)", 8)]  # R: four faculty, not in the segment

    faculty = save_segment(actor, slug="faculty", name_en="Faculty", name_zh="教师",
                           rule={"field": "category", "op": "=", "value": "faculty"})  # fmt: skip
    small = group_persona(faculty, k=5)
    assert small.size is None and small.typical == [] and small.distributions == []


def test_the_segment_page_shows_the_group_persona_and_sizes_over_time(
    population, actor, staff_client
) -> None:
    segment = save_segment(actor, slug="students", name_en="Students", name_zh="学生", rule=UG)
    faculty = save_segment(actor, slug="faculty", name_en="Faculty", name_zh="教师",
                           rule={"field": "category", "op": "=", "value": "faculty"})  # fmt: skip
    for day in (date(2026, 6, 1), AS_OF):
        take_snapshot(actor, segment, as_of=day)
        take_snapshot(actor, faculty, as_of=day)
    assert SegmentSnapshot.objects.filter(segment=segment).count() == 2
    client = staff_client("analyst")
    with override_settings(LIBCRM_MIN_GROUP_SIZE=5):
        html = client.get(reverse("segments:detail", kwargs={"slug": "students"})).content.decode()
        small = client.get(reverse("segments:detail", kwargs={"slug": "faculty"})).content.decode()
        board = client.get(reverse("insight:dashboard")).content.decode()
    assert 'id="group-persona"' in html and "8 members of 12 active patrons" in html
    assert 'id="sizes"' in html and "2026-06-01" in html and 'class="bar pw-100"' in html
    assert "style=" not in html
    assert "members: too few to describe" in small and "Loans in the last year" not in small
    # The size of four is never shown (cells, not times: "12:44</td>" is a time).
    assert re.search(r'class="num">4</td>', small) is None and "fewer than 5" in small
    section = board[board.index('id="segment-sizes"') :]
    assert "Students" in section and "2026-06-30: <strong>8\n</strong>" in section
    assert "Faculty" in section and "&lt;5" in section


def test_a_segment_without_snapshots_says_how_to_start_the_series() -> None:
    from django.template.loader import render_to_string

    html = render_to_string("segments/_sizes.html", {"sizes": [], "k": 5})
    assert "No snapshot yet" in html
