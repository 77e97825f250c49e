"""Every write to the patron registry: one function per action, each in a transaction, each
audited. Views, the API, the CLI and importers call these; nothing else saves patrons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from libcrm.patrons import identifiers as idkinds
from libcrm.patrons.errors import FieldProblem, PatronError
from libcrm.patrons.models import (
    IDENTIFIER_KIND_LABELS,
    Branch,
    Department,
    Discipline,
    Household,
    HouseholdRole,
    Identifier,
    NameTerm,
    Patron,
    PatronCategory,
    PatronStatus,
)
from libcrm.patrons.names import name_terms
from libcrm.patrons.validation import clean_patron_fields
from libcrm.privacy import crypto
from libcrm.privacy.actors import Actor
from libcrm.privacy.keys import get_keyring
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import AuditRecord, record_audit_event, record_audit_events

NAME_CONTEXT = "patron:name"


def identifier_context(kind: str) -> str:
    return f"identifier:{kind}"


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


@dataclass(frozen=True)
class IdentifierInput:
    kind: str
    value: str
    source: str = ""
    verified: bool = False


def _as_identifier_input(raw: IdentifierInput | Mapping[str, Any], path: str) -> IdentifierInput:
    if isinstance(raw, IdentifierInput):
        return raw
    if not isinstance(raw, Mapping):
        raise PatronError.single(path, _("must be an object with kind and value"))
    missing = [k for k in ("kind", "value") if k not in raw]
    if missing:
        raise PatronError([FieldProblem(_join(path, k), _("is required")) for k in missing])
    source = raw.get("source") or ""
    if not isinstance(source, str) or len(source) > 64:
        raise PatronError.single(_join(path, "source"), _("must be text of at most 64 characters"))
    return IdentifierInput(
        kind=raw["kind"], value=raw["value"], source=source, verified=bool(raw.get("verified"))
    )


def identifier_digest(kind: str, normal: str) -> str:
    """The digest stored for a normalised identifier."""
    if kind in idkinds.HASH_ONLY_KINDS:
        return crypto.stable_digest(get_keyring(), identifier_context(kind), normal)
    return crypto.blind_index(get_keyring(), identifier_context(kind), normal)


def identifier_digest_candidates(kind: str, normal: str) -> list[str]:
    """Digests to look up: every index key's, so lookups survive a half-finished rotation."""
    if kind in idkinds.HASH_ONLY_KINDS:
        return [identifier_digest(kind, normal)]
    return crypto.blind_index_candidates(get_keyring(), identifier_context(kind), normal)


def translated_reason(exc: idkinds.InvalidIdentifier) -> str:
    reason = _(exc.reason)
    return reason % exc.params if exc.params else reason


def _prepare_identifier(item: IdentifierInput, path: str) -> tuple[str, str]:
    """Validate and normalise; returns (normalised value, digest)."""
    try:
        normal = idkinds.normalise(item.kind, item.value)
    except idkinds.InvalidIdentifier as exc:
        raise PatronError.single(_join(path, exc.field), translated_reason(exc)) from None
    return normal, identifier_digest(item.kind, normal)


def _write_name_terms(patron: Patron) -> None:
    keyring = get_keyring()
    NameTerm.objects.filter(patron=patron).delete()
    NameTerm.objects.bulk_create(
        NameTerm(patron=patron, digest=crypto.blind_index(keyring, NAME_CONTEXT, term))
        for term in sorted(name_terms(patron.name))
    )


@dataclass(frozen=True)
class _PreparedIdentifier:
    item: IdentifierInput
    normal: str
    digest: str
    path: str = ""


def _prepare_identifiers(
    items: Iterable[IdentifierInput], base_path: str, *, check_taken: bool = True
) -> tuple[list[_PreparedIdentifier], list[FieldProblem]]:
    """Validate every identifier (format, repeats, already taken) before anything is written."""
    prepared: list[_PreparedIdentifier] = []
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        path = f"{base_path}[{index}]" if base_path else ""
        try:
            normal, digest = _prepare_identifier(item, path)
        except PatronError as exc:
            problems.extend(exc.problems)
            continue
        if (item.kind, normal) in seen:
            problems.append(FieldProblem(_join(path, "value"), _("is listed twice")))
            continue
        seen.add((item.kind, normal))
        prepared.append(_PreparedIdentifier(item, normal, digest, path))
    if check_taken:
        taken = _taken(prepared)
        problems.extend(taken)
        refused = {p.path for p in taken}
        prepared = [p for p in prepared if _join(p.path, "value") not in refused]
    return prepared, problems


def _taken(prepared: list[_PreparedIdentifier]) -> list[FieldProblem]:
    """The identifiers some patron already holds, found with one query per kind and 500
    digests (under every index key, so a half-finished key rotation changes nothing)."""
    wanted: dict[str, dict[str, _PreparedIdentifier]] = {}
    for p in prepared:
        for digest in identifier_digest_candidates(p.item.kind, p.normal):
            wanted.setdefault(p.item.kind, {})[digest] = p
    problems = []
    for kind, by_digest in wanted.items():
        digests = list(by_digest)
        for start in range(0, len(digests), 500):
            found = Identifier.objects.filter(
                kind=kind, digest__in=digests[start : start + 500]
            ).values_list("digest", flat=True)
            for digest in found:
                p = by_digest[digest]
                problems.append(
                    FieldProblem(
                        _join(p.path, "value"),
                        _("this %(kind)s already belongs to a patron")
                        % {"kind": IDENTIFIER_KIND_LABELS[idkinds.IdentifierKind(kind)]},
                        code="duplicate",
                    )
                )
    return problems


def _insert_identifiers(
    owners: Patron | list[Patron],
    prepared: list[_PreparedIdentifier] | list[list[_PreparedIdentifier]],
    base_path: str,
) -> list[Identifier]:
    """Insert prepared identifiers for one patron, or for many (``owners[i]`` gets
    ``prepared[i]``) in one bulk insert."""
    pairs = (
        [(owners, p) for p in prepared]
        if isinstance(owners, Patron)
        else [(o, p) for o, items in zip(owners, prepared, strict=True) for p in items]
    )
    rows = [
        Identifier(
            patron=patron,
            kind=p.item.kind,
            digest=p.digest,
            source=p.item.source,
            verified=p.item.verified,
            value=None if p.item.kind in idkinds.HASH_ONLY_KINDS else p.normal,
        )
        for patron, p in pairs
    ]
    try:
        with transaction.atomic():
            return Identifier.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError:  # a concurrent writer took the same identifier a moment ago
        raise PatronError(
            [
                FieldProblem(
                    base_path, _("an identifier already belongs to a patron"), code="duplicate"
                )
            ]
        ) from None


@transaction.atomic
def register_patron(
    actor: Actor,
    fields: Mapping[str, Any],
    identifiers: Iterable[IdentifierInput | Mapping[str, Any]] = (),
) -> Patron:
    """Create a patron with their identifiers; all or nothing."""
    problems: list[FieldProblem] = []
    try:
        cleaned = clean_patron_fields(fields)
    except PatronError as exc:
        problems.extend(exc.problems)
        cleaned = {}
    items: list[IdentifierInput] = []
    for index, raw in enumerate(identifiers):
        try:
            items.append(_as_identifier_input(raw, f"identifiers[{index}]"))
        except PatronError as exc:
            problems.extend(exc.problems)
    prepared, identifier_problems = _prepare_identifiers(items, "identifiers")
    problems.extend(identifier_problems)
    if problems:
        raise PatronError(problems)
    patron = Patron(**cleaned)
    patron.patron_key = crypto.pseudonym(get_keyring(), str(patron.uuid))
    patron.save()
    _write_name_terms(patron)
    _insert_identifiers(patron, prepared, "identifiers")
    record_audit_event(
        actor,
        AuditAction.CREATE_PATRON,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"fields": sorted(cleaned), "identifiers": [i.kind for i in items]},
    )
    return patron


@dataclass(frozen=True)
class PatronEntry:
    """One patron of a bulk registration, optionally joining an existing household."""

    fields: Mapping[str, Any]
    identifiers: Sequence[IdentifierInput | Mapping[str, Any]] = ()
    household: Household | None = None
    household_role: str = ""


@transaction.atomic
def register_patrons_bulk(
    actor: Actor, entries: Sequence[PatronEntry], *, batch_size: int = 1000
) -> list[Patron]:
    """:func:`register_patron` for many patrons at once (imports, the demo library): the same
    rules and the same audit records, all or nothing, in bulk inserts. Problems are reported
    with the entry's index in front of the path (``[12].identifiers[0].value``)."""
    problems: list[FieldProblem] = []
    rows: list[tuple[dict[str, Any], list[IdentifierInput], list[_PreparedIdentifier]]] = []
    seen: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(entries):
        base = f"[{index}]"
        try:
            cleaned = clean_patron_fields(entry.fields)
        except PatronError as exc:
            problems += [FieldProblem(f"{base}.{p.path}", p.message, p.code) for p in exc.problems]
            cleaned = {}
        if entry.household is not None and entry.household_role not in HouseholdRole.values:
            problems.append(
                FieldProblem(
                    f"{base}.household_role",
                    _("must be one of: %(choices)s") % {"choices": ", ".join(HouseholdRole.values)},
                )
            )
        items: list[IdentifierInput] = []
        for j, raw in enumerate(entry.identifiers):
            try:
                items.append(_as_identifier_input(raw, f"{base}.identifiers[{j}]"))
            except PatronError as exc:
                problems.extend(exc.problems)
        prepared, identifier_problems = _prepare_identifiers(
            items, f"{base}.identifiers", check_taken=False
        )
        problems.extend(identifier_problems)
        for item in prepared:
            earlier = seen.setdefault((item.item.kind, item.normal), item.path)
            if earlier != item.path:
                problems.append(
                    FieldProblem(
                        _join(item.path, "value"),
                        _("is also given for %(path)s") % {"path": earlier},
                        code="duplicate",
                    )
                )
        rows.append((cleaned, items, prepared))
    problems.extend(_taken([p for _c, _i, prepared in rows for p in prepared]))
    if problems:
        raise PatronError(problems)
    keyring = get_keyring()
    patrons = []
    for (cleaned, _items, _prepared), entry in zip(rows, entries, strict=True):
        patron = Patron(**cleaned, household=entry.household, household_role=entry.household_role)
        patron.patron_key = crypto.pseudonym(keyring, str(patron.uuid))
        patrons.append(patron)
    Patron.objects.bulk_create(patrons, batch_size=batch_size)
    NameTerm.objects.bulk_create(
        (
            NameTerm(patron=patron, digest=crypto.blind_index(keyring, NAME_CONTEXT, term))
            for patron in patrons
            for term in sorted(name_terms(patron.name))
        ),
        batch_size=batch_size,
    )
    _insert_identifiers(patrons, [prepared for _c, _i, prepared in rows], "identifiers")
    record_audit_events(
        actor,
        [
            AuditRecord(
                AuditAction.CREATE_PATRON,
                patron=patron,
                target=f"patron:{patron.uuid}",
                detail={"fields": sorted(cleaned), "identifiers": [i.kind for i in items]},
            )
            for patron, (cleaned, items, _prepared) in zip(patrons, rows, strict=True)
        ]
        + [
            AuditRecord(
                AuditAction.CHANGE_HOUSEHOLD,
                patron=patron,
                target=f"household:{patron.household.uuid}",
                detail={"joined": True, "role": patron.household_role},
            )
            for patron in patrons
            if patron.household is not None
        ],
    )
    return patrons


@transaction.atomic
def update_patron(actor: Actor, patron: Patron, changes: Mapping[str, Any]) -> Patron:
    """Apply ``changes`` (any subset of the patron's fields); audits the names of changed fields."""
    cleaned = clean_patron_fields(changes, existing=patron)
    changed = sorted(k for k, v in cleaned.items() if getattr(patron, k) != v)
    if not changed:
        return patron
    for key in changed:
        setattr(patron, key, cleaned[key])
    patron.save()
    if "name" in changed:
        _write_name_terms(patron)
    record_audit_event(
        actor,
        AuditAction.UPDATE_PATRON,
        patron=patron,
        target=f"patron:{patron.uuid}",
        detail={"fields": changed},
    )
    return patron


@transaction.atomic
def add_identifier(
    actor: Actor, patron: Patron, item: IdentifierInput | Mapping[str, Any]
) -> Identifier:
    prepared, problems = _prepare_identifiers([_as_identifier_input(item, "")], "")
    if problems:
        raise PatronError(problems)
    (identifier,) = _insert_identifiers(patron, prepared, "value")
    record_audit_event(
        actor,
        AuditAction.ADD_IDENTIFIER,
        patron=patron,
        target=f"identifier:{identifier.pk}",
        detail={"kind": identifier.kind, "source": identifier.source},
    )
    return identifier


@transaction.atomic
def remove_identifier(actor: Actor, identifier: Identifier) -> None:
    patron = identifier.patron
    record_audit_event(
        actor,
        AuditAction.REMOVE_IDENTIFIER,
        patron=patron,
        target=f"identifier:{identifier.pk}",
        detail={"kind": identifier.kind},
    )
    identifier.delete()


@transaction.atomic
def set_identifier_verified(actor: Actor, identifier: Identifier, verified: bool) -> Identifier:
    if identifier.verified != verified:
        identifier.verified = verified
        identifier.save(update_fields=["verified"])
        record_audit_event(
            actor,
            AuditAction.UPDATE_PATRON,
            patron=identifier.patron,
            target=f"identifier:{identifier.pk}",
            detail={"fields": ["verified"]},
        )
    return identifier


def reveal_identifier(actor: Actor, identifier: Identifier) -> str:
    """The identifier in full; an explicit, audited act."""
    if identifier.value is None:
        raise PatronError.single("identifier", _("this identifier is kept only as a keyed hash"))
    record_audit_event(
        actor,
        AuditAction.REVEAL_IDENTIFIER,
        patron=identifier.patron,
        target=f"identifier:{identifier.pk}",
        detail={"kind": identifier.kind},
    )
    return identifier.value


def record_patron_viewed(actor: Actor, patron: Patron) -> None:
    record_audit_event(
        actor, AuditAction.VIEW_PATRON, patron=patron, target=f"patron:{patron.uuid}"
    )


@transaction.atomic
def create_household(actor: Actor, label: str, address: str = "") -> Household:
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise PatronError.single("label", _("a household needs a name of 1 to 100 characters"))
    if len(address) > 300:
        raise PatronError.single(
            "address",
            _("must be at most %(limit)d characters (got %(got)d)")
            % {"limit": 300, "got": len(address)},
        )
    household = Household.objects.create(label=label, address=address.strip())
    record_audit_event(
        actor,
        AuditAction.CHANGE_HOUSEHOLD,
        target=f"household:{household.uuid}",
        detail={"created": True},
    )
    return household


@transaction.atomic
def join_household(actor: Actor, patron: Patron, household: Household, role: str) -> Patron:
    if role not in HouseholdRole.values:
        raise PatronError.single(
            "household_role",
            _("must be one of: %(choices)s") % {"choices": ", ".join(HouseholdRole.values)},
        )
    patron.household, patron.household_role = household, role
    patron.save(update_fields=["household", "household_role", "updated_at"])
    record_audit_event(
        actor,
        AuditAction.CHANGE_HOUSEHOLD,
        patron=patron,
        target=f"household:{household.uuid}",
        detail={"joined": True, "role": role},
    )
    return patron


@transaction.atomic
def leave_household(actor: Actor, patron: Patron) -> Patron:
    if patron.household is None:
        raise PatronError.single("household", _("this patron is not in a household"))
    household = patron.household
    patron.household, patron.household_role = None, ""
    patron.save(update_fields=["household", "household_role", "updated_at"])
    record_audit_event(
        actor,
        AuditAction.CHANGE_HOUSEHOLD,
        patron=patron,
        target=f"household:{household.uuid}",
        detail={"left": True},
    )
    return patron


@dataclass(frozen=True)
class ProvisionalIdentifier:
    """A normalised identifier met in ingested data that no patron holds yet."""

    kind: str
    normal: str
    digest: str


@transaction.atomic
def register_provisional_patrons(
    actor: Actor, identifiers: Iterable[ProvisionalIdentifier], *, source: str
) -> dict[str, str]:
    """One provisional patron per unknown identifier, in bulk (ingestion meets thousands).

    Nothing is lost: the events land under the new patron's key, and the patron waits in the
    registry, status provisional, for staff or identity resolution to link them to the person
    they are. Returns ``{digest: patron_key}``. One audit record per call, with counts only.
    """
    wanted = list({i.digest: i for i in identifiers}.values())
    if not wanted:
        return {}
    keyring = get_keyring()
    patrons = []
    for _identifier in wanted:
        patron = Patron(name="", category=PatronCategory.VISITOR, status=PatronStatus.PROVISIONAL)
        patron.patron_key = crypto.pseudonym(keyring, str(patron.uuid))
        patrons.append(patron)
    Patron.objects.bulk_create(patrons)
    if any(p.pk is None for p in patrons):  # backends that do not return ids from bulk inserts
        by_key = dict(
            Patron.objects.filter(patron_key__in=[p.patron_key for p in patrons]).values_list(
                "patron_key", "pk"
            )
        )
        for patron in patrons:
            patron.pk = by_key[patron.patron_key]
    Identifier.objects.bulk_create(
        Identifier(
            patron=patron,
            kind=i.kind,
            digest=i.digest,
            source=source[:64],
            verified=False,
            value=None if i.kind in idkinds.HASH_ONLY_KINDS else i.normal,
        )
        for patron, i in zip(patrons, wanted, strict=True)
    )
    record_audit_event(
        actor,
        AuditAction.CREATE_PATRON,
        target=f"ingest:{source}"[:120],
        detail={"provisional": len(patrons), "source": source},
    )
    return {i.digest: p.patron_key for p, i in zip(patrons, wanted, strict=True)}


@transaction.atomic
def define_branch(actor: Actor, code: str, name_zh: str, name_en: str) -> Branch:
    """Create a branch (总馆, 分馆, a community point) or rename it; idempotent by code."""
    branch, created = Branch.objects.update_or_create(
        code=code, defaults={"name_zh": name_zh, "name_en": name_en}
    )
    record_audit_event(
        actor, AuditAction.CHANGE_ORGANISATION, target=f"branch:{code}", detail={"created": created}
    )
    return branch


@transaction.atomic
def define_department(
    actor: Actor, code: str, name_zh: str, name_en: str, discipline: str = ""
) -> Department:
    """Create a department (院系) or change its names or discipline; idempotent by code."""
    if discipline and discipline not in Discipline.values:
        raise PatronError.single(
            "discipline",
            _("must be one of: %(choices)s") % {"choices": ", ".join(Discipline.values)},
        )
    department, created = Department.objects.update_or_create(
        code=code, defaults={"name_zh": name_zh, "name_en": name_en, "discipline": discipline}
    )
    record_audit_event(
        actor,
        AuditAction.CHANGE_ORGANISATION,
        target=f"department:{code}",
        detail={"created": created},
    )
    return department


def rebuild_blind_indexes(batch_size: int = 2000) -> int:
    """Recompute every identifier and name digest under the primary index key (key rotation).

    Works in primary-key batches (never updating rows under an open cursor) with one bulk
    update and one bulk insert per batch.
    """
    count = 0
    last = 0
    while True:
        batch = list(
            Identifier.objects.filter(pk__gt=last, value__isnull=False).order_by("pk")[:batch_size]
        )
        if not batch:
            break
        for identifier in batch:
            # Hash-only kinds (value is NULL) use the stable key and are left as they are.
            identifier.digest = identifier_digest(identifier.kind, identifier.value)
        Identifier.objects.bulk_update(batch, ["digest"])
        count += len(batch)
        last = batch[-1].pk
    keyring = get_keyring()
    last = 0
    while True:
        patrons = list(
            Patron.objects.filter(pk__gt=last).only("pk", "name").order_by("pk")[:batch_size]
        )
        if not patrons:
            break
        NameTerm.objects.filter(patron__in=patrons).delete()
        NameTerm.objects.bulk_create(
            NameTerm(patron=patron, digest=crypto.blind_index(keyring, NAME_CONTEXT, term))
            for patron in patrons
            for term in sorted(name_terms(patron.name))
        )
        count += len(patrons)
        last = patrons[-1].pk
    return count
