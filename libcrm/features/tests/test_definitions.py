"""Each feature's value on a hand-built event set, worked out by hand (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from libcrm.features.definitions import (
    FEATURE_SCHEMA,
    FEATURES,
    FEATURES_BY_NAME,
    FeatureType,
    subject_classes,
    zone_offsets,
)
from libcrm.features.tests.handbuilt import (
    AS_OF,
    MERGED_EVENTS,
    MERGED_NEW,
    MERGED_OLD,
    MESSAGE_EVENTS,
    PARAMS,
    READER,
    READER_EVENTS,
    event,
    run,
)


@pytest.fixture(scope="module")
def reader() -> dict:
    return run(READER_EVENTS)[READER]


def test_window_counts_and_active_days(reader: dict) -> None:
    # In the 30 days to 30 June: the 23:30 entry, the loan and download of Sat 28 June, the
    # survey (10 June), the feedback (11 June) and the programme (29 June).
    assert reader["all_events_30d"] == 6
    assert reader["all_days_30d"] == 5
    assert reader["all_events_90d"] == 7  # + the e-resource of 1 May
    assert reader["all_days_90d"] == 6
    assert reader["all_events_365d"] == 8  # + the night at the 24-hour library, 2 March
    assert reader["all_days_365d"] == 7
    assert (reader["visits_events_30d"], reader["visits_events_365d"]) == (1, 2)
    assert reader["visits_days_365d"] == 2
    assert reader["loans_events_30d"] == 1
    assert (reader["digital_events_30d"], reader["digital_events_90d"]) == (1, 2)
    assert reader["programs_events_30d"] == 1
    assert reader["feedback_events_30d"] == 2
    assert reader["spaces_events_365d"] == 0
    assert reader["online_events_365d"] == 0  # the web visit is from January 2024


def test_channels(reader: dict) -> None:
    assert reader["channel_physical_30d"] == 3
    assert reader["channel_web_30d"] == 2
    assert reader["channel_wechat_30d"] == 1
    assert (reader["channel_app_30d"], reader["channel_app_90d"]) == (0, 1)
    assert reader["channel_social_365d"] == reader["channel_remote_365d"] == 0


def test_recency_first_and_last_seen_in_the_library_zone(reader: dict) -> None:
    assert reader["first_seen"] == date(2024, 1, 15)
    assert reader["last_seen"] == date(2025, 6, 30)  # 15:30 UTC is 23:30 in Shanghai
    assert reader["days_since_last"] == 0
    assert reader["as_of"] == AS_OF


def test_night_and_weekend_shares_use_local_time(reader: dict) -> None:
    assert reader["night_share_365d"] == pytest.approx(2 / 8)  # 23:30 and 02:00 local
    assert reader["weekend_share_365d"] == pytest.approx(4 / 8)  # Sat ×2, Sun ×2 (local)


def test_24_hour_space_downloads_and_satisfaction(reader: dict) -> None:
    assert reader["space_24h_uses_365d"] == 1
    assert reader["downloads_365d"] == 1
    assert reader["satisfaction_answers_365d"] == 2
    assert reader["satisfaction_mean_365d"] == pytest.approx(7.0)  # quantity 8, attrs 6


def test_subjects_roll_up_to_top_classes(reader: dict) -> None:
    assert reader["top_subjects_365d"] == ["T", "I"]
    assert reader["top_subject_counts_365d"] == [2, 1]
    assert reader["subject_events_365d"] == 3
    assert reader["subject_classes_365d"] == 2


def test_events_after_as_of_and_not_patron_behaviour_are_left_out() -> None:
    features = run(READER_EVENTS + MESSAGE_EVENTS)
    assert set(features) == {READER}  # only library messages: no activity, no row
    later = run(READER_EVENTS, replace(PARAMS, as_of=date(2025, 7, 1)))[READER]
    assert later["loans_events_30d"] == 2  # the 00:30 loan of 1 July now counts
    assert later["days_since_last"] == 0


def test_recency_counts_days_to_as_of() -> None:
    later = run(READER_EVENTS, replace(PARAMS, as_of=date(2025, 7, 10)))[READER]
    assert later["days_since_last"] == 9  # last activity 1 July local (the 00:30 loan)
    # The 30 days after 10 June: the survey of 10 June drops out, the 1 July loan comes in.
    assert later["all_events_30d"] == 6


def test_merged_keys_count_for_the_key_they_now_mean() -> None:
    features = run(MERGED_EVENTS, aliases={MERGED_OLD: MERGED_NEW})
    assert set(features) == {MERGED_NEW}
    row = features[MERGED_NEW]
    assert row["loans_events_30d"] == 2
    assert row["all_days_30d"] == 2
    assert row["top_subjects_365d"] == ["O"]
    assert row["first_seen"] == date(2025, 6, 1)


def test_a_patron_without_subjects_or_scores_gets_empty_values() -> None:
    row = run([event(READER, "2025-06-02 02:00", "web_visit", "web")])[READER]
    assert row["top_subjects_365d"] == []
    assert row["top_subject_counts_365d"] == []
    assert row["satisfaction_mean_365d"] is None
    assert row["night_share_365d"] == 0.0


def test_daylight_saving_is_followed() -> None:
    rows = [
        # 22:30 EDT on 30 June (night); a fixed winter offset would say 21:30.
        event(READER, "2025-07-01 02:30", "web_visit", "web"),
        # 21:30 EST on 14 January (not night); a fixed summer offset would say 22:30.
        event(READER, "2025-01-15 02:30", "web_visit", "web"),
    ]
    params = replace(PARAMS, tz="America/New_York")
    row = run(rows, params)[READER]
    assert row["night_share_365d"] == pytest.approx(0.5)
    assert row["last_seen"] == date(2025, 6, 30)
    assert row["first_seen"] == date(2025, 1, 14)


def test_zone_offsets_find_each_transition() -> None:
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    assert zone_offsets("Asia/Shanghai", start, end) == [(start, 8 * 3600)]
    new_york = zone_offsets("America/New_York", start, end)
    assert new_york == [
        (start, -5 * 3600),
        (datetime(2025, 3, 9, 7, tzinfo=UTC), -4 * 3600),
        (datetime(2025, 11, 2, 6, tzinfo=UTC), -5 * 3600),
    ]


def test_subject_classes_read_clc_then_lcc_then_ddc() -> None:
    table = subject_classes(["TP311.13", "QA76.73", "005.133", "??", None, "I247.5"])
    assert dict(zip(*table.to_pydict().values(), strict=True)) == {
        "005.133": "0",
        "I247.5": "I",
        "QA76.73": "Q",
        "TP311.13": "T",
    }


def test_catalogue_describes_every_column_in_both_languages() -> None:
    assert FEATURE_SCHEMA.names == ["patron_key", "as_of", *(f.name for f in FEATURES)]
    assert len(FEATURES) == len(FEATURES_BY_NAME) < 100
    for feature in FEATURES:
        assert feature.label and feature.label_zh and feature.unit
        assert feature.description and feature.description_zh
        assert isinstance(feature.type, FeatureType)
