"""What staff read for the codes events carry: types, families, channels and branches.

The schema (:mod:`libcrm.events.schema`) names things in codes and keeps one Chinese term per
type; the console needs both languages through gettext, so the labels live here, keyed by the
schema's enums. A code the schema gains later is shown as itself until it gets a label here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from libcrm.events.schema import Channel, EventType, Family
from libcrm.patrons.models import Branch

TYPE_LABELS: dict[str, Promise] = {
    EventType.GATE_IN: _("Entered the library"),
    EventType.GATE_OUT: _("Left the library"),
    EventType.SPACE_24H_USE: _("Used a 24-hour space"),
    EventType.MOBILE_LIBRARY_VISIT: _("Mobile library visit"),
    EventType.COMMUNITY_POINT_VISIT: _("Community service point visit"),
    EventType.LOAN: _("Loan"),
    EventType.RETURN: _("Return"),
    EventType.RENEWAL: _("Renewal"),
    EventType.HOLD: _("Hold"),
    EventType.ERESOURCE_ACCESS: _("E-resource access"),
    EventType.DOWNLOAD: _("Download"),
    EventType.READING_SESSION: _("Reading session"),
    EventType.SPACE_BOOKING: _("Space booking"),
    EventType.SPACE_CHECKIN: _("Space check-in"),
    EventType.PROGRAM_REGISTRATION: _("Programme registration"),
    EventType.PROGRAM_ATTENDANCE: _("Programme attendance"),
    EventType.CONSULTATION: _("Reference consultation"),
    EventType.MESSAGE_IN: _("Message to the library"),
    EventType.MESSAGE_OUT: _("Message from the library"),
    EventType.FEEDBACK: _("Feedback"),
    EventType.SURVEY_ANSWER: _("Survey answer"),
    EventType.PURCHASE_SUGGESTION: _("Purchase suggestion"),
    EventType.WEB_VISIT: _("Website visit"),
    EventType.APP_VISIT: _("App visit"),
    EventType.SOCIAL_INTERACTION: _("Social media interaction"),
    EventType.COURSE_ENROLMENT: _("Course enrolment"),
    EventType.RESEARCH_OUTPUT: _("Research output"),
}

FAMILY_LABELS: dict[str, Promise] = {
    Family.VISIT: _("Visits"),
    Family.CIRCULATION: _("Circulation"),
    Family.DIGITAL: _("Digital resources"),
    Family.SPACE: _("Spaces"),
    Family.PROGRAM: _("Programmes"),
    Family.SERVICE: _("Enquiries and messages"),
    Family.VOICE: _("Patron voice"),
    Family.ONLINE: _("Online"),
    Family.EXTERNAL: _("Third-party facts"),
}

CHANNEL_LABELS: dict[str, Promise] = {
    Channel.PHYSICAL: _("In person"),
    Channel.WEB: _("Website"),
    Channel.APP: _("App"),
    Channel.WECHAT: _("WeChat"),
    Channel.WEIBO: _("Weibo"),
    Channel.DOUYIN: _("Douyin"),
    Channel.BILIBILI: _("Bilibili"),
    Channel.EMAIL: _("E-mail"),
    Channel.PHONE: _("Phone"),
    Channel.KIOSK: _("Self-service kiosk"),
}


#: The formats the ingestion pipeline reads (``libcrm.ingest.services.FORMATS``).
FORMAT_LABELS: dict[str, Promise] = {
    "tabular": _("Spreadsheet (CSV or XLSX)"),
    "ndjson": _("NDJSON events"),
    "ezproxy": _("EZproxy log"),
    "koha": _("Koha circulation export"),
    "folio": _("FOLIO loans"),
    "gate": _("Gate counter export"),
    "counter": _("COUNTER usage report"),
}


@dataclass(frozen=True)
class ChannelGroup:
    """Channels read together in the channel mix: in the library, digital, social media."""

    code: str
    label: Promise
    channels: tuple[str, ...]


CHANNEL_GROUPS: tuple[ChannelGroup, ...] = (
    ChannelGroup("physical", _("Physical"), (Channel.PHYSICAL, Channel.KIOSK)),
    ChannelGroup("digital", _("Digital"), (Channel.WEB, Channel.APP, Channel.EMAIL, Channel.PHONE)),
    ChannelGroup(
        "social",
        _("Social media"),
        (Channel.WECHAT, Channel.WEIBO, Channel.DOUYIN, Channel.BILIBILI),
    ),
)
OTHER_GROUP = "other"


def type_label(code: str) -> str:
    label = TYPE_LABELS.get(code)
    return str(label) if label is not None else code


def family_of(code: str) -> str:
    return EventType(code).family.value if code in TYPE_LABELS else ""


def family_label(code: str) -> str:
    label = FAMILY_LABELS.get(code)
    return str(label) if label is not None else code


def channel_label(code: str) -> str:
    label = CHANNEL_LABELS.get(code)
    return str(label) if label is not None else code


def branch_names(codes: set[str]) -> dict[str, str]:
    """Names of the branches events name by code, in the reader's language, in one query;
    codes of no known branch are absent (they are shown as written)."""
    if not codes:
        return {}
    return {b.code: str(b) for b in Branch.objects.filter(code__in=codes)}


def format_label(code: str) -> str:
    label = FORMAT_LABELS.get(code)
    return str(label) if label is not None else code


def type_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Event types grouped by family, in schema order, for a ``<select>`` with optgroups."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for event_type in EventType:
        groups.setdefault(event_type.family.value, []).append(
            (event_type.value, type_label(event_type.value))
        )
    return [(family_label(family), choices) for family, choices in groups.items()]


def channel_choices() -> list[tuple[str, str]]:
    return [(channel.value, channel_label(channel.value)) for channel in Channel]
