"""The linkage engine's input, read from the registry and the event store.

One row per patron that can be linked — every patron whose status is not "merged" — in the
columns of :data:`libcrm.linkage.engine.RAW_SCHEMA`: the decrypted name, birth year, gender,
category, department and home branch codes, the patron's normalised phone numbers and e-mail
addresses, and the catalogue items and programmes the patron used (from the event store).

Names and identifier values are decrypted here, into memory only: the table is handed to the
engine and never written anywhere nor logged. Reading everyone's personal data is an access the
*caller* audits (``AuditAction.LINK_RUN``). Campus IDs (学号/工号) and national IDs (stored as
keyed digests only) are unique per record, so two patrons never share one; only *whether* a
patron holds one is read (``unique_kinds``): two records each holding their own are two people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa

from libcrm.linkage.engine.prepare import RAW_SCHEMA
from libcrm.patrons.identifiers import IdentifierKind, InvalidIdentifier, normalise
from libcrm.patrons.models import Identifier, Patron

MERGED_STATUS = "merged"
#: Event types whose ``item_id`` is something the patron chose (a book, an e-book, a programme)
#: rather than a platform everyone uses (an e-resource host).
ITEM_EVENT_TYPES = (
    "loan", "return", "renewal", "hold", "reading_session", "program_registration",
    "program_attendance",
)  # fmt: skip
_CONTACT_KINDS = (IdentifierKind.PHONE, IdentifierKind.EMAIL, IdentifierKind.OTHER)
#: Identifier kinds one person holds one of: a second one on another record means another person.
PERSON_ID_KINDS = (IdentifierKind.CAMPUS_ID, IdentifierKind.NATIONAL_ID)


def _contacts(kind: str, value: str | None) -> tuple[str | None, str | None]:
    """(phone, e-mail) an identifier stands for. An "other" identifier that reads as an e-mail
    address or a phone number counts as one, so the same contact entered under two kinds still
    meets itself."""
    if not value:
        return None, None
    if kind == IdentifierKind.PHONE:
        return value, None
    if kind == IdentifierKind.EMAIL:
        return None, value
    for candidate in (IdentifierKind.EMAIL, IdentifierKind.PHONE):
        try:
            normal = normalise(candidate, value)
        except InvalidIdentifier:
            continue
        if candidate == IdentifierKind.EMAIL:
            return None, normal
        digits = sum(ch.isdigit() for ch in normal)
        if digits >= 7:
            return normal, None
    return None, None


def items_by_patron_key(patron_keys: set[str] | None = None) -> dict[str, list[str]]:
    """Per patron key, the distinct items used (see :data:`ITEM_EVENT_TYPES`), read from the
    event store with DuckDB (merged keys resolved by the store's alias table)."""
    from libcrm.events.services import event_store

    store = event_store()
    if not store.files():
        return {}
    types = ", ".join(f"'{t}'" for t in ITEM_EVENT_TYPES)
    relation = store.relation().filter(f"item_id IS NOT NULL AND type IN ({types})")
    rows = relation.aggregate("patron_key, list(DISTINCT item_id ORDER BY item_id) AS items")
    found: dict[str, list[str]] = {}
    for key, items in rows.fetchall():
        if patron_keys is None or key in patron_keys:
            found[key] = list(items)
    return found


def patron_records(patron_ids: Iterable[int] | None = None) -> pa.Table:
    """One row per patron that can be linked (every patron whose status is not "merged"), with
    the columns the engine needs (:data:`~libcrm.linkage.engine.RAW_SCHEMA`), ``id`` the
    patron's primary key. ``patron_ids`` restricts the rows to those patrons."""
    patrons = Patron.objects.exclude(status=MERGED_STATUS).select_related(
        "department", "home_branch"
    )
    if patron_ids is not None:
        patrons = patrons.filter(id__in=list(patron_ids))
    patrons = patrons.order_by("id")
    rows = list(
        patrons.values_list(
            "id", "patron_key", "birth_year", "gender", "category", "department__code",
            "home_branch__code",
        )
    )  # fmt: skip
    ids = [row[0] for row in rows]
    names = dict(patrons.values_list("id", "name")) if ids else {}
    phones: dict[int, set[str]] = defaultdict(set)
    emails: dict[int, set[str]] = defaultdict(set)
    identifiers = Identifier.objects.filter(kind__in=_CONTACT_KINDS)
    if patron_ids is not None:
        identifiers = identifiers.filter(patron_id__in=ids)
    for patron_id, kind, value in identifiers.values_list("patron_id", "kind", "value"):
        phone, email = _contacts(kind, value)
        if phone:
            phones[patron_id].add(phone)
        if email:
            emails[patron_id].add(email)
    unique_kinds: dict[int, set[str]] = defaultdict(set)
    held = Identifier.objects.filter(kind__in=PERSON_ID_KINDS)
    if patron_ids is not None:
        held = held.filter(patron_id__in=ids)
    for patron_id, kind in held.values_list("patron_id", "kind"):
        unique_kinds[patron_id].add(str(kind))
    keys = {row[1] for row in rows}
    items = items_by_patron_key(keys) if rows else {}
    columns: dict[str, list] = {name: [] for name in RAW_SCHEMA.names}
    for patron_id, key, birth_year, gender, category, department, branch in rows:
        columns["id"].append(patron_id)
        columns["name"].append(names.get(patron_id) or None)
        columns["birth_year"].append(birth_year)
        columns["gender"].append(gender)
        columns["category"].append(category)
        columns["department"].append(department)
        columns["home_branch"].append(branch)
        columns["phones"].append(sorted(phones.get(patron_id, ())))
        columns["emails"].append(sorted(emails.get(patron_id, ())))
        columns["items"].append(items.get(key, []))
        columns["unique_kinds"].append(sorted(unique_kinds.get(patron_id, ())))
    return pa.table(columns, schema=RAW_SCHEMA)
