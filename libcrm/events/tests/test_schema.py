"""The event model: names, families, the Arrow schema and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from libcrm.events import schema

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_interaction_of_the_issue_has_a_type_in_a_family() -> None:
    wanted = {
        "gate_in", "gate_out", "space_24h_use", "mobile_library_visit", "community_point_visit",
        "loan", "return", "renewal", "hold", "eresource_access", "download", "reading_session",
        "space_booking", "space_checkin", "program_registration", "program_attendance",
        "consultation", "message_in", "message_out", "feedback", "survey_answer",
        "purchase_suggestion", "web_visit", "app_visit", "social_interaction",
        "course_enrolment", "research_output",
    }  # fmt: skip
    assert wanted == schema.EVENT_TYPES
    assert set(schema.TYPE_INFO) == set(schema.EventType)
    assert {t.family for t in schema.EventType} == set(schema.Family)
    assert all(info.term_zh and info.description for info in schema.TYPE_INFO.values())


def test_channels_are_the_ten_of_the_issue() -> None:
    ten = {
        "physical", "web", "app", "wechat", "weibo", "douyin", "bilibili", "email", "phone",
        "kiosk",
    }  # fmt: skip
    assert ten == schema.CHANNELS


def test_stored_schema_is_the_input_plus_three_store_fields() -> None:
    assert schema.EVENT_SCHEMA.names[: len(schema.INPUT_SCHEMA)] == schema.INPUT_SCHEMA.names
    assert schema.EVENT_SCHEMA.names[-3:] == ["schema_version", "ingested_at", "batch_id"]
    assert schema.EVENT_SCHEMA.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert schema.EVENT_SCHEMA.field("attrs").type == pa.map_(pa.string(), pa.string())
    meta = schema.EVENT_SCHEMA.metadata[b"libcrm.event_schema_version"]
    assert int(meta) == schema.SCHEMA_VERSION
    assert set(schema.REQUIRED_FIELDS) == {
        "event_id", "patron_key", "occurred_at", "type", "channel", "source",
    }  # fmt: skip


def test_anonymous_key_can_never_be_a_real_pseudonym() -> None:
    import re

    assert len(schema.ANONYMOUS_PATRON_KEY) == 26
    assert not re.match(schema.PATRON_KEY_PATTERN, schema.ANONYMOUS_PATRON_KEY)


def test_json_schema_describes_one_event() -> None:
    doc = schema.json_schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["required"] == list(schema.REQUIRED_FIELDS)
    assert doc["additionalProperties"] is False
    assert set(doc["properties"]) == set(schema.EVENT_SCHEMA.names)
    assert doc["properties"]["type"]["enum"] == [t.value for t in schema.EventType]
    assert doc["properties"]["channel"]["enum"] == [c.value for c in schema.Channel]
    assert doc["properties"]["attrs"]["maxProperties"] == schema.MAX_ATTRS
    json.dumps(doc)  # serialisable as is


def test_published_json_schema_is_current(tmp_path: Path) -> None:
    """docs/events.schema.json is generated: ``python -m libcrm.events.schema`` rewrites it."""
    written = schema.write_json_schema(tmp_path / "events.schema.json")
    assert (DOCS / "events.schema.json").read_text(encoding="utf-8") == written.read_text(
        encoding="utf-8"
    )
