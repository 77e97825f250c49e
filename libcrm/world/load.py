"""Writes a generated :class:`~libcrm.world.generate.DemoLibrary` through the registry's real
services (``register_patrons_bulk``, ``create_household``, ``define_branch``,
``create_staff_member``), in one transaction: the demo is loaded whole or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from libcrm.patrons.errors import PatronError
from libcrm.patrons.models import Branch, Department, Household
from libcrm.patrons.services import (
    IdentifierInput,
    PatronEntry,
    create_household,
    define_branch,
    define_department,
    register_patrons_bulk,
)
from libcrm.privacy.actors import Actor
from libcrm.staff.mfa import enrol_demo_second_factor
from libcrm.staff.services import StaffError, create_staff_member
from libcrm.world import campus
from libcrm.world.generate import DEMO_PASSWORD, DemoLibrary, PatronSpec, StaffSpec

Progress = Callable[[int, int], None]

REGISTRATION_SLICE = 500


class DemoError(Exception):
    """The demo library could not be loaded; nothing was written."""


@dataclass(frozen=True)
class LoadReport:
    patrons: int
    households: int
    branches: int
    departments: int
    staff_created: tuple[StaffSpec, ...]
    staff_kept: tuple[StaffSpec, ...]  # usernames that already existed are left untouched
    seconds: float
    patron_keys: tuple[str, ...] = ()  # of library.patrons, in order


def demo_loaded() -> bool:
    """Whether the demo's branches are all there (the demo writes them first, in the same
    transaction as everything else, so their presence means the whole demo is)."""
    codes = {branch.code for branch in campus.BRANCHES}
    return Branch.objects.filter(code__in=codes).count() == len(codes)


def load_demo(
    library: DemoLibrary,
    actor: Actor,
    *,
    password: str = DEMO_PASSWORD,
    progress: Progress | None = None,
) -> LoadReport:
    started = time.perf_counter()
    with transaction.atomic():
        branches = {
            spec.code: define_branch(actor, spec.code, spec.name_zh, spec.name_en)
            for spec in library.branches
        }
        departments = {
            spec.code: define_department(
                actor, spec.code, spec.name_zh, spec.name_en, spec.discipline
            )
            for spec in library.departments
        }
        households = [
            create_household(actor, spec.label, spec.address) for spec in library.households
        ]
        total = len(library.patrons)
        keys: list[str] = []
        # Bulk registration in slices: the same rules and audit records as one by one, in a
        # few queries per slice, with progress between slices.
        for start in range(0, total, REGISTRATION_SLICE):
            specs = library.patrons[start : start + REGISTRATION_SLICE]
            entries = [_entry(spec, branches, departments, households) for spec in specs]
            try:
                patrons = register_patrons_bulk(actor, entries)
            except PatronError as exc:
                # Only possible when the database already holds one of the generated identifiers.
                raise DemoError(f"could not register the demo patrons: {exc}") from exc
            keys.extend(p.patron_key for p in patrons)
            if progress is not None:
                progress(start + len(specs), total)
        created, kept = _create_staff(actor, library.staff, password)
    return LoadReport(
        patrons=total,
        households=len(households),
        branches=len(branches),
        departments=len(departments),
        staff_created=created,
        staff_kept=kept,
        seconds=time.perf_counter() - started,
        patron_keys=tuple(keys),
    )


def _entry(
    spec: PatronSpec,
    branches: dict[str, Branch],
    departments: dict[str, Department],
    households: list[Household],
) -> PatronEntry:
    fields = spec.fields()
    # Instances rather than codes: the services accept both, and this saves a query per patron.
    fields["department"] = departments.get(spec.department)
    fields["home_branch"] = branches.get(spec.home_branch)
    identifiers = [
        IdentifierInput(kind=i.kind, value=i.value, source=i.source, verified=i.verified)
        for i in spec.identifiers
    ]
    household = households[spec.household] if spec.household is not None else None
    return PatronEntry(fields, identifiers, household, spec.household_role if household else "")


def _create_staff(
    actor: Actor, staff: tuple[StaffSpec, ...], password: str
) -> tuple[tuple[StaffSpec, ...], tuple[StaffSpec, ...]]:
    users = get_user_model().objects
    created: list[StaffSpec] = []
    kept: list[StaffSpec] = []
    for spec in staff:
        if users.filter(username__iexact=spec.username).exists():
            kept.append(spec)
            continue
        try:
            user = create_staff_member(
                actor,
                username=spec.username,
                password=password,
                role=spec.role,
                display_name=spec.display_name,
                email=spec.email,
            )
            # The published demo key, so a visitor can pass the second step (libcrm demo-code).
            enrol_demo_second_factor(actor, user)
        except StaffError as exc:
            raise DemoError(f"could not create staff account {spec.username!r}: {exc}") from exc
        created.append(spec)
    return tuple(created), tuple(kept)
