"""The event model (M3): every way a patron meets the library, as one versioned record.

One row per interaction, keyed by a pseudonymous ``patron_key``; the store, the analytics and
the JSON Schema published for sources are all derived from the definitions here, so that they
cannot drift apart. Pure: no Django import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1
"""Bumped when a field is added, removed or changes meaning; stored in every row and file."""


class Family(StrEnum):
    """Groups of event types, for filters, colours and roll-ups."""

    VISIT = "visit"  # 到馆
    CIRCULATION = "circulation"  # 流通
    DIGITAL = "digital"  # 数字资源
    SPACE = "space"  # 空间
    PROGRAM = "program"  # 活动
    SERVICE = "service"  # 咨询与沟通
    VOICE = "voice"  # 读者声音
    ONLINE = "online"  # 线上
    EXTERNAL = "external"  # 第三方


@dataclass(frozen=True)
class TypeInfo:
    family: Family
    term_zh: str
    description: str


class EventType(StrEnum):
    """What happened. Names are verbs or nouns in the library's words, lower snake case."""

    GATE_IN = "gate_in"
    GATE_OUT = "gate_out"
    SPACE_24H_USE = "space_24h_use"
    MOBILE_LIBRARY_VISIT = "mobile_library_visit"
    COMMUNITY_POINT_VISIT = "community_point_visit"
    LOAN = "loan"
    RETURN = "return"
    RENEWAL = "renewal"
    HOLD = "hold"
    ERESOURCE_ACCESS = "eresource_access"
    DOWNLOAD = "download"
    READING_SESSION = "reading_session"
    SPACE_BOOKING = "space_booking"
    SPACE_CHECKIN = "space_checkin"
    PROGRAM_REGISTRATION = "program_registration"
    PROGRAM_ATTENDANCE = "program_attendance"
    CONSULTATION = "consultation"
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    FEEDBACK = "feedback"
    SURVEY_ANSWER = "survey_answer"
    PURCHASE_SUGGESTION = "purchase_suggestion"
    WEB_VISIT = "web_visit"
    APP_VISIT = "app_visit"
    SOCIAL_INTERACTION = "social_interaction"
    COURSE_ENROLMENT = "course_enrolment"
    RESEARCH_OUTPUT = "research_output"

    @property
    def info(self) -> TypeInfo:
        return TYPE_INFO[self]

    @property
    def family(self) -> Family:
        return TYPE_INFO[self].family


T = EventType
TYPE_INFO: dict[EventType, TypeInfo] = {
    T.GATE_IN: TypeInfo(Family.VISIT, "入馆", "Passed a gate into a library building."),
    T.GATE_OUT: TypeInfo(Family.VISIT, "出馆", "Passed a gate out of a library building."),
    T.SPACE_24H_USE: TypeInfo(
        Family.VISIT, "24小时自助空间使用", "Used a 24-hour self-service space (城市书房)."
    ),
    T.MOBILE_LIBRARY_VISIT: TypeInfo(Family.VISIT, "流动图书馆服务", "Used a mobile library."),
    T.COMMUNITY_POINT_VISIT: TypeInfo(
        Family.VISIT, "社区服务点到访", "Visited a community service point."
    ),
    T.LOAN: TypeInfo(Family.CIRCULATION, "借阅", "Borrowed an item."),
    T.RETURN: TypeInfo(Family.CIRCULATION, "归还", "Returned an item."),
    T.RENEWAL: TypeInfo(Family.CIRCULATION, "续借", "Renewed a loan."),
    T.HOLD: TypeInfo(Family.CIRCULATION, "预约", "Placed a hold on an item."),
    T.ERESOURCE_ACCESS: TypeInfo(
        Family.DIGITAL, "电子资源访问", "Opened an e-resource (database, e-journal, e-book)."
    ),
    T.DOWNLOAD: TypeInfo(Family.DIGITAL, "下载", "Downloaded a full text or file."),
    T.READING_SESSION: TypeInfo(
        Family.DIGITAL, "阅读时长", "A reading session in an e-reader; duration_s is its length."
    ),
    T.SPACE_BOOKING: TypeInfo(Family.SPACE, "空间预约", "Booked a seat, room or carrel."),
    T.SPACE_CHECKIN: TypeInfo(Family.SPACE, "空间签到", "Checked in to a booked space."),
    T.PROGRAM_REGISTRATION: TypeInfo(
        Family.PROGRAM, "活动报名", "Registered for a library programme (lecture, workshop)."
    ),
    T.PROGRAM_ATTENDANCE: TypeInfo(Family.PROGRAM, "活动参与", "Attended a library programme."),
    T.CONSULTATION: TypeInfo(Family.SERVICE, "参考咨询", "Asked a reference question."),
    T.MESSAGE_IN: TypeInfo(Family.SERVICE, "读者留言", "Sent the library a message."),
    T.MESSAGE_OUT: TypeInfo(
        Family.SERVICE, "馆员回复与推送", "Received a message from the library."
    ),
    T.FEEDBACK: TypeInfo(Family.VOICE, "意见反馈", "Gave feedback, praise or a complaint."),
    T.SURVEY_ANSWER: TypeInfo(Family.VOICE, "问卷作答", "Answered a survey."),
    T.PURCHASE_SUGGESTION: TypeInfo(Family.VOICE, "荐购", "Suggested a purchase."),
    T.WEB_VISIT: TypeInfo(Family.ONLINE, "网站访问", "Visited the library website or OPAC."),
    T.APP_VISIT: TypeInfo(Family.ONLINE, "APP访问", "Used the library app or mini program."),
    T.SOCIAL_INTERACTION: TypeInfo(
        Family.ONLINE, "社交媒体互动", "Liked, shared or commented on a library post."
    ),
    T.COURSE_ENROLMENT: TypeInfo(
        Family.EXTERNAL, "选课", "Enrolled on a course (third-party fact from the campus)."
    ),
    T.RESEARCH_OUTPUT: TypeInfo(
        Family.EXTERNAL, "科研成果", "Published a research output (third-party fact)."
    ),
}
del T


class Channel(StrEnum):
    """Where the interaction happened (渠道)."""

    PHYSICAL = "physical"  # 到馆/线下
    WEB = "web"
    APP = "app"
    WECHAT = "wechat"  # 微信
    WEIBO = "weibo"  # 微博
    DOUYIN = "douyin"  # 抖音
    BILIBILI = "bilibili"  # 哔哩哔哩
    EMAIL = "email"
    PHONE = "phone"
    KIOSK = "kiosk"  # 自助机


EVENT_TYPES: frozenset[str] = frozenset(t.value for t in EventType)
CHANNELS: frozenset[str] = frozenset(c.value for c in Channel)

# Limits: rows stay small so that a month of a big library fits comfortably in memory-bounded
# scans; anything bigger (a message body, a survey text) belongs in the relational store.
MAX_EVENT_ID = 64
MAX_SOURCE = 64
MAX_BRANCH = 32
MAX_SPACE = 64
MAX_ITEM_ID = 64
MAX_SUBJECT = 32
MAX_ATTRS = 16
MAX_ATTR_KEY = 64
MAX_ATTR_VALUE = 1024
MAX_ATTRS_BYTES = 4096
MAX_DURATION_S = 31 * 86_400
MAX_ABS_QUANTITY = 1e12

PATRON_KEY_PATTERN = r"^pk[a-z2-7]{24}$"
EVENT_ID_PATTERN = r"^[ -~]{1,64}$"  # printable ASCII
# Text of 1-64 characters without control characters, not starting or ending with a space;
# written so that RE2 (Arrow) and ECMA-262 (JSON Schema) read it the same way.
_LABEL = r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]{0,62}[^\x00-\x1f\x7f\s])?$"
SOURCE_PATTERN = _LABEL
ATTR_KEY_PATTERN = _LABEL

ANONYMOUS_PATRON_KEY = "pk" + "0" * 24
"""Where retention re-points events it keeps for statistics. '0' is outside base32, so no real
pseudonym can ever equal it, and the validator refuses it from sources."""

TIMESTAMP = pa.timestamp("us", tz="UTC")
ATTRS = pa.map_(pa.string(), pa.string())


def _field(name: str, type_: pa.DataType, nullable: bool, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


INPUT_FIELDS: tuple[pa.Field, ...] = (
    _field("event_id", pa.string(), False, "Deterministic id of the occurrence (see docs)."),
    _field("patron_key", pa.string(), False, "Pseudonymous patron key: pk + 24 base32."),
    _field("occurred_at", TIMESTAMP, False, "When it happened, UTC, microseconds."),
    _field("type", pa.string(), False, "An EventType value."),
    _field("channel", pa.string(), False, "A Channel value."),
    _field("branch", pa.string(), True, "Branch code (总馆, 分馆, service point)."),
    _field("space", pa.string(), True, "Space within the branch: room, floor, seat area."),
    _field("item_id", pa.string(), True, "Catalogue item, e-resource or programme id."),
    _field("subject", pa.string(), True, "Classification code (中图法/CLC, LCC or DDC)."),
    _field("quantity", pa.float64(), True, "A count or amount (pages, items, score)."),
    _field("duration_s", pa.int32(), True, "Duration in seconds."),
    _field("source", pa.string(), False, "The system the row came from (koha, ezproxy...)."),
    _field("attrs", ATTRS, True, "Small map of extra string attributes; no personal data."),
)
STORE_FIELDS: tuple[pa.Field, ...] = (
    _field("schema_version", pa.int16(), False, "SCHEMA_VERSION the row was written under."),
    _field("ingested_at", TIMESTAMP, False, "When the store accepted the row, UTC."),
    _field("batch_id", pa.string(), False, "The ledger batch that added the row."),
)
INPUT_SCHEMA = pa.schema(INPUT_FIELDS)
"""What sources and connectors hand to the store."""
EVENT_SCHEMA = pa.schema(
    INPUT_FIELDS + STORE_FIELDS, metadata={"libcrm.event_schema_version": str(SCHEMA_VERSION)}
)
"""What the store keeps: the input fields plus three the store sets itself."""
REQUIRED_FIELDS = tuple(f.name for f in INPUT_FIELDS if not f.nullable)
STRING_LIMITS = {
    "event_id": MAX_EVENT_ID,
    "source": MAX_SOURCE,
    "branch": MAX_BRANCH,
    "space": MAX_SPACE,
    "item_id": MAX_ITEM_ID,
    "subject": MAX_SUBJECT,
}


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of one event, as sources send it (NDJSON, one per line).

    The three store fields are listed read-only: they appear when events are exported, and are
    ignored if a source sends them.
    """
    text = {"type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:libcrm:event:{SCHEMA_VERSION}",
        "title": "libcrm interaction event",
        "description": (
            "One interaction of a patron with the library (paper 3.1, 4.3(1)), keyed by a "
            f"pseudonymous patron_key. Schema version {SCHEMA_VERSION}."
        ),
        "type": "object",
        "required": list(REQUIRED_FIELDS),
        "additionalProperties": False,
        "properties": {
            "event_id": {
                **text,
                "pattern": EVENT_ID_PATTERN,
                "maxLength": MAX_EVENT_ID,
                "description": "Deterministic id of the occurrence, derived by the connector "
                "from the source and the row's natural key (24 hex digits of SHA-256); "
                "re-sent events are dropped by this id.",
            },
            "patron_key": {
                **text,
                "pattern": PATRON_KEY_PATTERN,
                "description": "Pseudonymous patron key (pk + 24 base32 characters).",
            },
            "occurred_at": {
                **text,
                "format": "date-time",
                "description": "RFC 3339 time with a UTC offset; stored in UTC, microseconds.",
            },
            "type": {
                **text,
                "enum": [t.value for t in EventType],
                "description": "; ".join(
                    f"{t.value} ({t.info.family.value}, {t.info.term_zh})" for t in EventType
                ),
            },
            "channel": {**text, "enum": [c.value for c in Channel]},
            "branch": {"type": ["string", "null"], "maxLength": MAX_BRANCH},
            "space": {"type": ["string", "null"], "maxLength": MAX_SPACE},
            "item_id": {"type": ["string", "null"], "maxLength": MAX_ITEM_ID},
            "subject": {
                "type": ["string", "null"],
                "maxLength": MAX_SUBJECT,
                "description": "Classification code, e.g. CLC TP311.",
            },
            "quantity": {
                "type": ["number", "null"],
                "minimum": -MAX_ABS_QUANTITY,
                "maximum": MAX_ABS_QUANTITY,
            },
            "duration_s": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": MAX_DURATION_S,
            },
            "source": {
                **text,
                "pattern": SOURCE_PATTERN,
                "maxLength": MAX_SOURCE,
                "description": "The system the row came from, e.g. koha-main, ezproxy.",
            },
            "attrs": {
                "type": ["object", "null"],
                "maxProperties": MAX_ATTRS,
                "propertyNames": {"pattern": ATTR_KEY_PATTERN},
                "additionalProperties": {"type": "string", "maxLength": MAX_ATTR_VALUE},
                "description": f"At most {MAX_ATTRS} string attributes, "
                f"{MAX_ATTRS_BYTES} bytes in all; never personal data.",
            },
            "schema_version": {"type": "integer", "readOnly": True},
            "ingested_at": {**text, "format": "date-time", "readOnly": True},
            "batch_id": {**text, "readOnly": True},
        },
    }


def write_json_schema(path: Path | str) -> Path:
    """Write :func:`json_schema` to ``path`` (docs/events.schema.json), stable and diffable."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
    target.write_text(body, encoding="utf-8")
    return target


if __name__ == "__main__":  # python -m libcrm.events.schema [PATH]
    import sys

    print(write_json_schema(sys.argv[1] if len(sys.argv) > 1 else "docs/events.schema.json"))
