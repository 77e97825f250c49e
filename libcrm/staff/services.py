"""Writes about staff accounts: create, change role, deactivate — each audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.staff.models import StaffProfile
from libcrm.staff.roles import Role
from libcrm.staff.sessions import end_sessions_of


class StaffError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _set_role(user: AbstractUser, role: str) -> None:
    if role not in Role.values:
        raise StaffError(
            "role", _("must be one of: %(choices)s") % {"choices": ", ".join(Role.values)}
        )
    user.groups.remove(*Group.objects.filter(name__in=Role.values))
    user.groups.add(Group.objects.get(name=role))


@transaction.atomic
def create_staff_member(
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    email: str = "",
) -> AbstractUser:
    User = get_user_model()
    username = username.strip()
    if not username or len(username) > 150:
        raise StaffError("username", _("must be 1 to 150 characters"))
    if User.objects.filter(username__iexact=username).exists():
        raise StaffError("username", _("is already taken"))
    user = User(username=username, email=email.strip())
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise StaffError("password", " ".join(exc.messages)) from None
    user.set_password(password)
    user.is_staff = role == Role.ADMINISTRATOR
    user.save()
    StaffProfile.objects.create(user=user, display_name=display_name.strip())
    _set_role(user, role)
    record_audit_event(
        actor, AuditAction.CREATE_STAFF, target=f"staff:{user.pk}", detail={"role": role}
    )
    return user


def _refuse_losing_the_last_administrator(user: AbstractUser) -> None:
    administrators = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.ADMINISTRATOR)
        .exclude(pk=user.pk)
    )
    if user.groups.filter(name=Role.ADMINISTRATOR).exists() and not administrators.exists():
        raise StaffError(
            "role", _("this is the last active administrator; appoint another one first")
        )


@transaction.atomic
def change_staff_role(actor: Actor, user: AbstractUser, role: str) -> AbstractUser:
    if actor.user_id == user.pk:
        raise StaffError("role", _("you cannot change your own role; ask another administrator"))
    if role != Role.ADMINISTRATOR:
        _refuse_losing_the_last_administrator(user)
    _set_role(user, role)
    user.is_staff = role == Role.ADMINISTRATOR
    user.save(update_fields=["is_staff"])
    record_audit_event(
        actor, AuditAction.CHANGE_STAFF, target=f"staff:{user.pk}", detail={"role": role}
    )
    return user


@transaction.atomic
def set_staff_active(actor: Actor, user: AbstractUser, active: bool) -> AbstractUser:
    if actor.user_id == user.pk and not active:
        raise StaffError("is_active", _("you cannot deactivate your own account"))
    if not active:
        _refuse_losing_the_last_administrator(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    ended = 0 if active else end_sessions_of(user)
    record_audit_event(
        actor,
        AuditAction.CHANGE_STAFF,
        target=f"staff:{user.pk}",
        detail={"active": active, "sessions_ended": ended},
    )
    return user
