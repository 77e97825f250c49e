"""Reads of the patron registry: lookups by identifier, search, and the patron page's data."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Q, QuerySet

from libcrm.patrons import identifiers as idkinds
from libcrm.patrons.models import Household, Identifier, NameTerm, Patron
from libcrm.patrons.names import query_term
from libcrm.patrons.services import NAME_CONTEXT, identifier_digest_candidates
from libcrm.privacy import crypto
from libcrm.privacy.keys import get_keyring


def patrons_with_relations() -> QuerySet[Patron]:
    return Patron.objects.select_related("department", "home_branch", "household")


def get_patron(uuid: UUID | str) -> Patron | None:
    try:
        return patrons_with_relations().get(uuid=uuid)
    except (Patron.DoesNotExist, ValueError):
        return None


def find_patron_by_identifier(kind: str, value: str) -> Patron | None:
    """Exact lookup by one identifier (normalised, then by keyed digest); raises
    :class:`~libcrm.patrons.identifiers.InvalidIdentifier` for a malformed value."""
    normal = idkinds.normalise(kind, value)
    identifier = (
        Identifier.objects.select_related("patron")
        .filter(kind=kind, digest__in=identifier_digest_candidates(kind, normal))
        .first()
    )
    return identifier.patron if identifier else None


@dataclass(frozen=True)
class PatronFilters:
    query: str = ""
    category: str = ""
    status: str = ""
    department: str = ""
    home_branch: str = ""


def _search_condition(query: str) -> Q:
    """One search box: a name (汉字, pinyin or Latin words), card, campus ID, phone or e-mail."""
    condition = Q(pk__in=[])
    term = query_term(query)
    if term:
        digests = crypto.blind_index_candidates(get_keyring(), NAME_CONTEXT, term)
        condition |= Q(pk__in=NameTerm.objects.filter(digest__in=digests).values("patron_id"))
    identifier_match = Q(pk__in=[])
    for kind in idkinds.guess_kinds(query):
        normal = idkinds.normalise(kind, query)
        identifier_match |= Q(kind=kind, digest__in=identifier_digest_candidates(kind, normal))
    condition |= Q(pk__in=Identifier.objects.filter(identifier_match).values("patron_id"))
    return condition


def search_patrons(filters: PatronFilters) -> QuerySet[Patron]:
    patrons = patrons_with_relations()
    if filters.query.strip():
        patrons = patrons.filter(_search_condition(filters.query.strip()))
    if filters.category:
        patrons = patrons.filter(category=filters.category)
    if filters.status:
        patrons = patrons.filter(status=filters.status)
    if filters.department:
        patrons = patrons.filter(department__code=filters.department)
    if filters.home_branch:
        patrons = patrons.filter(home_branch__code=filters.home_branch)
    return patrons


def patron_identifiers(patron: Patron) -> list[Identifier]:
    return list(patron.identifiers.all())


def household_members(household: Household) -> list[Patron]:
    return list(household.members.select_related("department").order_by("household_role", "id"))
