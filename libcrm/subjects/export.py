"""What an export holds: everything the library keeps about one patron, read into plain data.

:func:`subject_data` gathers the relational side (``patron.json``), :func:`subject_events`
every event of the patron from the event store — under merged keys too — and
:func:`build_archive` packs both into the ZIP the patron receives. The archive is built in
memory and handed to the caller: an export never leaves a copy of personal data on disk.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.apps import apps
from django.utils import timezone

from libcrm.events import schema
from libcrm.events.selectors import patron_timeline
from libcrm.patrons.models import Patron
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.subjects.selectors import records_merged_into

FORMAT = "libcrm-subject-export"
FORMAT_VERSION = 1
PAGE = 1000  # events per timeline read

README = """\
libcrm — data export / 个人数据导出
====================================

This archive holds everything the library's customer-relationship system keeps about you,
in machine-readable form (GDPR art. 15 and 20; PIPL art. 45).
本压缩包是图书馆读者关系管理系统保存的关于您的全部数据，机器可读（《个人信息保护法》第45条）。

patron.json
  Your record: name, contact data and identifiers in full, category, department, household,
  your consent choices (with the wording you agreed to), your portal account, the list of
  every time library staff or systems opened or changed your record (who, when, what), and
  any decision that two records were the same person.
  您的读者档案：姓名、联系方式与各类标识（完整显示）、读者类型、院系、家庭、您的各项同意
  选择（含当时同意的文本）、门户账户信息、馆员或系统查看或修改您档案的全部记录（谁、何时、
  做了什么），以及重复档案合并的决定。

events.jsonl
  Every interaction recorded for you (visits, loans, e-resource use, programmes…), one JSON
  object per line, newest first. Times are UTC (ISO 8601).
  系统记录的您的每一次互动（到馆、借阅、电子资源使用、活动等），每行一个 JSON 对象，
  按时间倒序；时间为 UTC（ISO 8601）。

events.parquet
  The same events as an Apache Parquet table, for spreadsheets and analysis tools.
  同上事件的 Apache Parquet 表格，便于用电子表格或分析工具打开。

Fields of an event / 事件字段: event_id, patron_key (your pseudonymous key / 您的假名键),
occurred_at, type, channel, branch, space, item_id, subject (classification / 分类号),
quantity, duration_s, source (the system it came from / 来源系统), attrs.

National ID numbers are kept only as a keyed hash and cannot be shown.
身份证号仅以加密哈希形式保存，无法显示原文。
"""


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _named(obj: Any) -> dict[str, str] | None:
    if obj is None:
        return None
    return {"code": obj.code, "name_en": obj.name_en, "name_zh": obj.name_zh}


def subject_data(patron: Patron) -> dict[str, Any]:
    """``patron.json``: the patron's relational data, as plain JSON-ready values."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": _iso(timezone.now()),
        "patron": {
            "uuid": str(patron.uuid),
            "patron_key": patron.patron_key,
            "name": patron.name,
            "gender": patron.gender,
            "birth_year": patron.birth_year,
            "category": patron.category,
            "department": _named(patron.department),
            "discipline": patron.discipline,
            "research_specialty": patron.research_specialty,
            "home_branch": _named(patron.home_branch),
            "registered_on": _iso(patron.registered_on),
            "expires_on": _iso(patron.expires_on),
            "status": patron.status,
            "address": patron.address,
            "notes": patron.notes,
            "created_at": _iso(patron.created_at),
            "updated_at": _iso(patron.updated_at),
        },
        "identifiers": [
            {
                "kind": i.kind,
                "value": i.value,
                "kept_as_hash_only": i.value is None,
                "source": i.source,
                "verified": i.verified,
                "added_at": _iso(i.added_at),
            }
            for i in patron.identifiers.all()
        ],
        # Other members are other people: their names are not the patron's data.
        "household": None,
        "consents": _consents(patron),
        "portal_account": _portal_account(patron),
        "access_log": _access_log(patron),
        "linkage": _linkage(patron),
    }
    if patron.household is not None:
        data["household"] = {
            "label": patron.household.label,
            "address": patron.household.address,
            "role": patron.household_role,
            "members": patron.household.members.count(),
        }
    return data


def _consents(patron: Patron) -> list[dict[str, Any]]:
    try:
        from libcrm.consent.selectors import consent_history
    except ImportError:  # the consent app is not installed in this build
        return []
    return [
        {
            "purpose": r.purpose,
            "granted": r.granted,
            "at": _iso(r.at),
            "via": r.via,
            "entered_by": r.actor_label,
            "by_guardian": r.guardian_id is not None,
            "current": r.current,
            "wording_version": r.wording.version,
            "wording_en": r.wording.text_en,
            "wording_zh": r.wording.text_zh,
        }
        for r in consent_history(patron)
    ]


def _portal_account(patron: Patron) -> dict[str, Any] | None:
    """Metadata of the patron's portal account (never the password hash)."""
    for relation in Patron._meta.related_objects:
        model = relation.related_model
        if model._meta.app_label != "portal" or not relation.one_to_one:
            continue
        account = model._default_manager.filter(**{relation.field.name: patron}).first()
        if account is None:
            return None
        hidden = {"password", "id", relation.field.attname}
        return {
            f.name: _plain(getattr(account, f.attname))
            for f in model._meta.concrete_fields
            if f.name not in hidden and "password" not in f.name and "secret" not in f.name
        }
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _access_log(patron: Patron) -> list[dict[str, Any]]:
    """Every audit record about the patron, and about records merged into theirs."""
    keys = [patron.patron_key, *(p.patron_key for p in records_merged_into(patron))]
    labels = dict(AuditAction.choices)
    return [
        {
            "at": _iso(e.at),
            "by": e.actor_label,
            "via": e.via,
            "action": e.action,
            "description": str(labels.get(e.action, e.action)),
        }
        for e in AuditEvent.objects.filter(patron_key__in=keys).order_by("at", "id")
    ]


def _linkage(patron: Patron) -> dict[str, Any]:
    """Decisions that this record and another were (or were not) the same person."""
    if not apps.is_installed("libcrm.linkage"):
        return {}
    from django.db.models import Q

    try:
        merge = apps.get_model("linkage", "Merge")
        candidate = apps.get_model("linkage", "MatchCandidate")
    except LookupError:
        return {}
    return {
        "merges": [
            {
                "at": _iso(m.at),
                "this_record": "survivor" if m.survivor_id == patron.pk else "merged",
                "undone_at": _iso(m.undone_at),
            }
            for m in merge.objects.filter(Q(survivor=patron) | Q(merged=patron)).order_by("at")
        ],
        "possible_duplicates": [
            {
                "proposed_at": _iso(c.proposed_at),
                "status": c.status,
                "decided_at": _iso(c.decided_at),
            }
            for c in candidate.objects.filter(Q(left=patron) | Q(right=patron)).order_by(
                "proposed_at"
            )
        ],
    }


def subject_events(patron: Patron) -> list[dict[str, Any]]:
    """Every event of the patron, newest first (events under merged keys included)."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = patron_timeline(patron.patron_key, limit=PAGE, before=cursor)
        events.extend(page.events)
        if page.next_cursor is None:
            return events
        cursor = page.next_cursor


def _event_json(event: dict[str, Any]) -> str:
    body = {k: _plain(v) for k, v in event.items() if k != "attrs"}
    attrs = event.get("attrs")  # Arrow gives a map as (key, value) pairs
    body["attrs"] = dict(attrs) if attrs else None
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def events_table(events: list[dict[str, Any]]) -> pa.Table:
    rows = [
        {**e, "attrs": list(dict(e["attrs"]).items()) if e.get("attrs") else None} for e in events
    ]
    return pa.Table.from_pylist(rows, schema=schema.INPUT_SCHEMA)


def build_archive(data: dict[str, Any], events: list[dict[str, Any]]) -> bytes:
    """The ZIP: README.txt, patron.json, events.jsonl, events.parquet."""
    parquet = io.BytesIO()
    pq.write_table(events_table(events), parquet, compression="zstd")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr(
            "patron.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
        )
        archive.writestr("events.jsonl", "".join(_event_json(e) + "\n" for e in events))
        archive.writestr("events.parquet", parquet.getvalue())
    return buffer.getvalue()
