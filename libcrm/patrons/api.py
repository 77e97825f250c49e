"""The patron registry over HTTP: /api/v1/patrons.

A thin adapter: every read goes through :mod:`libcrm.patrons.selectors` and every write through
:mod:`libcrm.patrons.services`, acting as the calling token (``Actor.for_token``), so the API
audits and validates exactly as the console does. Identifiers are masked unless a request asks
for ``?reveal=true`` and its token holds ``patrons:reveal``; each value revealed is audited.

Status codes: 200/201/204 on success; 401/403 for the token (see :mod:`libcrm.api.auth`); 404
for an unknown patron or identifier; 422 for refused fields, with paths such as
``body.identifiers[0].value``. A new identifier that already belongs to a patron is a conflict
with the registry rather than a malformed request, so a request refused *only* for that answers
409 ``identifier_conflict`` (an importer can then switch to a lookup); when other fields are
wrong too, everything is listed in one 422. Nothing is written when any error is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from libcrm.api.auth import TokenAuth, request_token, require_scopes, token_actor
from libcrm.api.errors import ApiError, FieldError, invalid, patron_error_fields
from libcrm.api.models import Scope
from libcrm.api.schemas import ERROR_RESPONSES, WRITE_ERROR_RESPONSES
from libcrm.patrons.age import AGE_BAND_CODES, age_band
from libcrm.patrons.errors import PatronError
from libcrm.patrons.identifiers import MAX_VALUE_LENGTH, IdentifierKind, InvalidIdentifier
from libcrm.patrons.models import (
    Discipline,
    Gender,
    Identifier,
    Patron,
    PatronCategory,
    PatronStatus,
)
from libcrm.patrons.selectors import (
    PatronFilters,
    find_patron_by_identifier,
    get_patron,
    patron_identifiers,
    search_patrons,
)
from libcrm.patrons.services import (
    add_identifier,
    record_patron_viewed,
    register_patron,
    remove_identifier,
    reveal_identifier,
    translated_reason,
    update_patron,
)
from libcrm.patrons.validation import TEXT_LIMITS
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event

router = Router()

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_IDENTIFIERS = 50
SOURCE_LIMIT = 64
QUERY_LIMIT = 200

_KINDS = [kind.value for kind in IdentifierKind]


def _one_of(values: Sequence[str], description: str) -> dict[str, Any]:
    """Document the allowed values in OpenAPI while leaving the check (and its translatable
    message) to the patron validation, the single source of these rules. The enum goes on the
    string branch only, so an optional field still documents ``null``."""

    def add_enum(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch["enum"] = list(values)

    return {"json_schema_extra": add_enum, "description": description}


# ---- input -------------------------------------------------------------------------------


class IdentifierIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(**_one_of(_KINDS, "What the value is."))
    value: str = Field(max_length=MAX_VALUE_LENGTH, description="Written as the patron gave it.")
    source: str = Field("", max_length=SOURCE_LIMIT, description="Where it came from: ils…")
    verified: bool = False


class PatronIn(Schema):
    """A new patron. Department and home branch are given by code."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=TEXT_LIMITS["name"])
    category: str = Field(**_one_of(PatronCategory.values, "Patron category."))
    gender: str | None = Field(None, **_one_of(Gender.values, "Gender."))
    birth_year: int | None = None
    department: str | None = Field(None, max_length=32, description="Department code.")
    discipline: str | None = Field(None, **_one_of(Discipline.values, "学科门类."))
    research_specialty: str | None = Field(None, max_length=TEXT_LIMITS["research_specialty"])
    home_branch: str | None = Field(None, max_length=32, description="Branch code.")
    registered_on: date | None = Field(None, description="Defaults to today.")
    expires_on: date | None = None
    status: str | None = Field(None, **_one_of(PatronStatus.values, "Defaults to active."))
    address: str | None = Field(None, max_length=TEXT_LIMITS["address"])
    notes: str | None = Field(None, max_length=TEXT_LIMITS["notes"])
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=MAX_IDENTIFIERS)


class PatronPatch(Schema):
    """Only the fields sent are changed; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=TEXT_LIMITS["name"])
    category: str | None = Field(None, **_one_of(PatronCategory.values, "Patron category."))
    gender: str | None = Field(None, **_one_of(Gender.values, "Gender."))
    birth_year: int | None = None
    department: str | None = Field(None, max_length=32, description="Department code.")
    discipline: str | None = Field(None, **_one_of(Discipline.values, "学科门类."))
    research_specialty: str | None = Field(None, max_length=TEXT_LIMITS["research_specialty"])
    home_branch: str | None = Field(None, max_length=32, description="Branch code.")
    registered_on: date | None = None
    expires_on: date | None = None
    status: str | None = Field(None, **_one_of(PatronStatus.values, "Patron status."))
    address: str | None = Field(None, max_length=TEXT_LIMITS["address"])
    notes: str | None = Field(None, max_length=TEXT_LIMITS["notes"])


class LookupIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(**_one_of(_KINDS, "What the value is."))
    value: str = Field(max_length=MAX_VALUE_LENGTH)


class PatronListQuery(Schema):
    q: str = Field("", max_length=QUERY_LIMIT, description="Exact name, card, phone, e-mail…")
    category: str | None = Field(None, **_one_of(PatronCategory.values, "Patron category."))
    status: str | None = Field(None, **_one_of(PatronStatus.values, "Patron status."))
    department: str = Field("", max_length=32, description="Department code.")
    home_branch: str = Field("", max_length=32, description="Branch code.")
    registered_from: date | None = Field(None, description="Registered on or after.")
    registered_to: date | None = Field(None, description="Registered on or before.")
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset: int | None = Field(None, ge=0, description="Rows to skip; or give page.")
    page: int | None = Field(None, ge=1, description="1-based page of limit rows.")


# ---- output ------------------------------------------------------------------------------


class PlaceOut(Schema):
    code: str
    name_zh: str
    name_en: str


class DepartmentOut(PlaceOut):
    discipline: str


class HouseholdOut(Schema):
    uuid: UUID
    role: str


class IdentifierOut(Schema):
    id: int
    kind: str
    masked: str
    value: str | None = Field(description="Only when revealed (?reveal=true); else null.")
    source: str
    verified: bool


class PatronOut(Schema):
    uuid: UUID
    patron_key: str = Field(description="Pseudonymous key used by analytics and events.")
    name: str
    gender: str
    birth_year: int | None
    age_band: str | None = Field(**_one_of(AGE_BAND_CODES, "Age this year, banded."))
    category: str
    department: DepartmentOut | None
    discipline: str
    research_specialty: str
    home_branch: PlaceOut | None
    registered_on: date
    expires_on: date | None
    status: str
    address: str
    notes: str
    household: HouseholdOut | None
    identifiers: list[IdentifierOut]
    created_at: datetime
    updated_at: datetime


class PatronPage(Schema):
    count: int = Field(description="Patrons matching the filters, on every page.")
    limit: int
    offset: int
    items: list[PatronOut]


def _identifier_out(identifier: Identifier, revealed: Mapping[int, str]) -> IdentifierOut:
    return IdentifierOut(
        id=identifier.pk,
        kind=identifier.kind,
        masked=identifier.masked,
        value=revealed.get(identifier.pk),
        source=identifier.source,
        verified=identifier.verified,
    )


def patron_out(
    patron: Patron,
    identifiers: Sequence[Identifier],
    *,
    today: date,
    revealed: Mapping[int, str] | None = None,
) -> PatronOut:
    """The API's view of a patron; ``revealed`` maps identifier ids to values already revealed
    through :func:`reveal_identifier` (so audited)."""
    department, branch, household = patron.department, patron.home_branch, patron.household
    return PatronOut(
        uuid=patron.uuid,
        patron_key=patron.patron_key,
        name=patron.name,
        gender=patron.gender,
        birth_year=patron.birth_year,
        age_band=age_band(patron.birth_year, today),
        category=patron.category,
        department=DepartmentOut(
            code=department.code,
            name_zh=department.name_zh,
            name_en=department.name_en,
            discipline=department.discipline,
        )
        if department
        else None,
        discipline=patron.discipline,
        research_specialty=patron.research_specialty,
        home_branch=PlaceOut(code=branch.code, name_zh=branch.name_zh, name_en=branch.name_en)
        if branch
        else None,
        registered_on=patron.registered_on,
        expires_on=patron.expires_on,
        status=patron.status,
        address=patron.address,
        notes=patron.notes,
        household=HouseholdOut(uuid=household.uuid, role=patron.household_role)
        if household
        else None,
        identifiers=[_identifier_out(i, revealed or {}) for i in identifiers],
        created_at=patron.created_at,
        updated_at=patron.updated_at,
    )


# ---- helpers -----------------------------------------------------------------------------


def _patron_or_404(uuid: UUID) -> Patron:
    patron = get_patron(uuid)
    if patron is None:
        raise ApiError(404, "not_found", _("No patron has this UUID."))
    return patron


def _masked(patron: Patron) -> PatronOut:
    return patron_out(patron, patron_identifiers(patron), today=timezone.localdate())


def _refusal(exc: PatronError) -> ApiError:
    """409 when every problem is an identifier some patron already has, else 422 (see the
    module docstring)."""
    fields = patron_error_fields(exc)
    if all(p.code == "duplicate" for p in exc.problems):
        return ApiError(
            409,
            "identifier_conflict",
            _("An identifier in this request already belongs to a patron."),
            fields,
        )
    return invalid(fields)


def _filtered_patrons(filters: PatronListQuery) -> QuerySet[Patron]:
    problems: list[tuple[str, list[str]]] = []
    if filters.category and filters.category not in PatronCategory.values:
        problems.append(("query.category", PatronCategory.values))
    if filters.status and filters.status not in PatronStatus.values:
        problems.append(("query.status", PatronStatus.values))
    fields = [
        FieldError(path, _("must be one of: %(choices)s") % {"choices": ", ".join(values)})
        for path, values in problems
    ]
    start, end = filters.registered_from, filters.registered_to
    if start and end and end < start:
        fields.append(FieldError("query.registered_to", _("must not be before registered_from")))
    if filters.page is not None and filters.offset is not None:
        fields.append(FieldError("query.page", _("give either page or offset, not both")))
    if fields:
        raise invalid(fields)
    patrons = search_patrons(
        PatronFilters(
            query=filters.q,
            category=filters.category or "",
            status=filters.status or "",
            department=filters.department,
            home_branch=filters.home_branch,
        )
    )
    if start:
        patrons = patrons.filter(registered_on__gte=start)
    if end:
        patrons = patrons.filter(registered_on__lte=end)
    return patrons


# ---- endpoints ---------------------------------------------------------------------------


@router.get(
    "",
    auth=TokenAuth(Scope.PATRONS_READ),
    response={200: PatronPage, **ERROR_RESPONSES},
    summary="List and filter patrons",
)
def list_patrons(request: HttpRequest, filters: Query[PatronListQuery]) -> PatronPage:
    """Needs `patrons:read`. Newest registrations first; identifiers masked. Page with `limit`
    (at most 200) and either `offset` or `page`; `count` is the total across pages. The search
    is audited once, naming the filters used but never their values (`q` may be a phone
    number)."""
    patrons = _filtered_patrons(filters)
    offset = (filters.page - 1) * filters.limit if filters.page else (filters.offset or 0)
    total = patrons.count()
    rows = list(patrons.prefetch_related("identifiers")[offset : offset + filters.limit])
    used = sorted(
        name
        for name, value in filters.model_dump(exclude={"limit", "offset", "page"}).items()
        if value not in ("", None)
    )
    record_audit_event(
        token_actor(request),
        AuditAction.SEARCH_PATRONS,
        target="api:patrons",
        detail={"filters": used, "count": total, "returned": len(rows)},
    )
    today = timezone.localdate()
    return PatronPage(
        count=total,
        limit=filters.limit,
        offset=offset,
        items=[patron_out(p, list(p.identifiers.all()), today=today) for p in rows],
    )


@router.post(
    "",
    auth=TokenAuth(Scope.PATRONS_WRITE),
    response={201: PatronOut, **WRITE_ERROR_RESPONSES},
    summary="Register a patron",
)
def create_patron(request: HttpRequest, payload: PatronIn) -> Status:
    """Needs `patrons:write`. Registers the patron with their identifiers, all or nothing;
    answers 201 with the record (identifiers masked)."""
    fields = payload.model_dump(exclude_unset=True, exclude={"identifiers"})
    items = [item.model_dump() for item in payload.identifiers]
    try:
        patron = register_patron(token_actor(request), fields, items)
    except PatronError as exc:
        raise _refusal(exc) from exc
    return Status(201, _masked(patron))


@router.post(
    "/lookup",
    auth=TokenAuth(Scope.PATRONS_READ),
    response={200: PatronOut, **ERROR_RESPONSES},
    summary="Find a patron by one identifier",
)
def lookup_patron(request: HttpRequest, payload: LookupIn) -> PatronOut:
    """Needs `patrons:read`. Exact match after normalising the value the way it is stored
    (a phone written "138-0013-8000" finds "+8613800138000"); 404 when nobody has it. A POST so
    that identifiers never appear in URLs or access logs. The read is audited."""
    try:
        found = find_patron_by_identifier(payload.kind, payload.value)
    except InvalidIdentifier as exc:
        raise invalid([FieldError(f"body.{exc.field}", translated_reason(exc))]) from exc
    if found is None:
        raise ApiError(404, "not_found", _("No patron has this identifier."))
    patron = _patron_or_404(found.uuid)
    record_patron_viewed(token_actor(request), patron)
    return _masked(patron)


@router.get(
    "/{uuid:uuid}",
    auth=TokenAuth(Scope.PATRONS_READ),
    response={200: PatronOut, **ERROR_RESPONSES},
    summary="Read one patron",
)
def read_patron(request: HttpRequest, uuid: UUID, reveal: bool = False) -> PatronOut:
    """Needs `patrons:read`; with `?reveal=true` also `patrons:reveal`, and then identifier
    values come in full (national IDs excepted: only their keyed hash is kept). The read and
    each value revealed are audited."""
    actor = token_actor(request)
    if reveal:
        require_scopes(request, request_token(request), [Scope.PATRONS_REVEAL])
    patron = _patron_or_404(uuid)
    identifiers = patron_identifiers(patron)
    revealed: dict[int, str] = {}
    with transaction.atomic():
        record_patron_viewed(actor, patron)
        if reveal:
            for identifier in identifiers:
                if identifier.value is not None:
                    revealed[identifier.pk] = reveal_identifier(actor, identifier)
    return patron_out(patron, identifiers, today=timezone.localdate(), revealed=revealed)


@router.patch(
    "/{uuid:uuid}",
    auth=TokenAuth(Scope.PATRONS_READ, Scope.PATRONS_WRITE),
    response={200: PatronOut, **ERROR_RESPONSES},
    summary="Change some of a patron's fields",
)
def change_patron(request: HttpRequest, uuid: UUID, payload: PatronPatch) -> PatronOut:
    """Needs `patrons:write` and, because it answers with the whole record, `patrons:read`.
    Only the fields sent change; the change is audited by field name."""
    patron = _patron_or_404(uuid)
    update_patron(token_actor(request), patron, payload.model_dump(exclude_unset=True))
    return _masked(patron)


@router.post(
    "/{uuid:uuid}/identifiers",
    auth=TokenAuth(Scope.PATRONS_WRITE),
    response={201: IdentifierOut, **WRITE_ERROR_RESPONSES},
    summary="Add an identifier to a patron",
)
def create_identifier(request: HttpRequest, uuid: UUID, payload: IdentifierIn) -> Status:
    """Needs `patrons:write`. 409 when another patron (or this one) already has it; when
    another patron holds a card, campus ID, WeChat, Weibo, Douyin or national ID, the two
    records are also put in the review queue of possible duplicates (never merged silently)."""
    patron = _patron_or_404(uuid)
    item = payload.model_dump()
    actor = token_actor(request)
    try:
        identifier = add_identifier(actor, patron, item)
    except PatronError as exc:
        if any(p.code == "duplicate" for p in exc.problems):
            from libcrm.linkage.services import flag_identifier_conflict

            flag_identifier_conflict(actor, patron, item["kind"], item["value"])
        raise _refusal(exc) from exc
    return Status(201, _identifier_out(identifier, {}))


@router.delete(
    "/{uuid:uuid}/identifiers/{int:identifier_id}",
    auth=TokenAuth(Scope.PATRONS_WRITE),
    response={204: None, **ERROR_RESPONSES},
    summary="Remove one of a patron's identifiers",
)
def delete_identifier(request: HttpRequest, uuid: UUID, identifier_id: int) -> Status:
    """Needs `patrons:write`. 404 unless the identifier belongs to this patron."""
    patron = _patron_or_404(uuid)
    identifier = next((i for i in patron_identifiers(patron) if i.pk == identifier_id), None)
    if identifier is None:
        raise ApiError(404, "not_found", _("This patron has no identifier with this id."))
    remove_identifier(token_actor(request), identifier)
    return Status(204, None)
