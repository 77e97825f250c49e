"""Staff roles and what each may do.

A role is a Django group whose permissions are set from :data:`ROLE_PERMISSIONS` after every
migration, so the table below is the single source of truth for access control.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    USER_RELATIONS = "user_relations", _("User-relations office")
    FRONT_DESK = "front_desk", _("Front desk")
    SUBJECT_LIAISON = "subject_liaison", _("Subject liaison")
    ACQUISITIONS = "acquisitions", _("Acquisitions")
    ANALYST = "analyst", _("Analyst")


VIEW_PATRONS = "patrons.view_patron"
ADD_PATRON = "patrons.add_patron"
CHANGE_PATRON = "patrons.change_patron"
VIEW_PERSONAL = "patrons.view_personal_data"
REVEAL = "patrons.reveal_identifier"
AGGREGATES = "patrons.view_aggregates"
BROWSE_AUDIT = "privacy.browse_audit"
MANAGE_TOKENS = "api.manage_tokens"
MANAGE_STAFF = "staff.manage_staff"
# Bulk exports of personal data need a second person holding this (see libcrm.staff.exports).
APPROVE_EXPORT = "staff.approve_export"
# Model permissions of the event store and the ingestion pipeline: seeing the store's ledger is
# seeing the store (overview, ingestion history); adding an ingestion run is importing a file,
# which also gives its reject report.
VIEW_EVENT_STORE = "events.view_eventbatch"
IMPORT_EVENTS = "ingest.add_ingestionrun"
# Data-subject requests (export everything about a patron, erase a patron) and retention.
EXPORT_SUBJECT = "subjects.export_patron"
ERASE_SUBJECT = "subjects.erase_patron"
MANAGE_RETENTION = "subjects.manage_retention"
# Reviewing possible duplicates, merging and unmerging patrons (libcrm.linkage).
REVIEW_MATCHES = "linkage.review_matches"
# Defining tags and segments (libcrm.segments); seeing them and their sizes is AGGREGATES.
DEFINE_SEGMENTS = "segments.change_segment"

_READ_PERSONAL = [VIEW_PATRONS, VIEW_PERSONAL]
_EDIT = [ADD_PATRON, CHANGE_PATRON, REVEAL]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.ADMINISTRATOR: [
        *_READ_PERSONAL,
        *_EDIT,
        AGGREGATES,
        VIEW_EVENT_STORE,
        IMPORT_EVENTS,
        BROWSE_AUDIT,
        MANAGE_TOKENS,
        MANAGE_STAFF,
        APPROVE_EXPORT,
        REVIEW_MATCHES,
        EXPORT_SUBJECT,
        ERASE_SUBJECT,
        MANAGE_RETENTION,
        DEFINE_SEGMENTS,
    ],
    Role.USER_RELATIONS: [
        *_READ_PERSONAL,
        *_EDIT,
        AGGREGATES,
        VIEW_EVENT_STORE,
        IMPORT_EVENTS,
        APPROVE_EXPORT,
        REVIEW_MATCHES,
        EXPORT_SUBJECT,
        ERASE_SUBJECT,
        DEFINE_SEGMENTS,
    ],
    Role.FRONT_DESK: [*_READ_PERSONAL, *_EDIT],
    Role.SUBJECT_LIAISON: [*_READ_PERSONAL, AGGREGATES],
    Role.ACQUISITIONS: [*_READ_PERSONAL, AGGREGATES],
    # Analysts see aggregates and pseudonymous keys only, never a patron's personal data.
    Role.ANALYST: [AGGREGATES, VIEW_EVENT_STORE, DEFINE_SEGMENTS],
}


def roles_requiring_second_factor() -> frozenset[Role]:
    """Every role that can see personal data must sign in with a second factor (ASVS 5.0 L2)."""
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if VIEW_PERSONAL in perms)


def second_factor_required(user: Any) -> bool:
    """Whether ``user`` must have a second factor: their role (or superuser status) gives them
    personal data."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser) or role_of(user) in roles_requiring_second_factor()


def sync_roles() -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    if sender.name != "libcrm.staff":
        return
    # Permissions of later apps exist only once every app has migrated; the staff app's signal
    # runs among the others, so make sure every app's permissions have been created first.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles()


def role_of(user: Any) -> Role | None:
    if not getattr(user, "is_authenticated", False):
        return None
    names = {g.name for g in user.groups.all()}
    for role in Role:
        if role.value in names:
            return role
    return None
