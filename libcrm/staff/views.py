"""Staff management for administrators: the list of accounts, new accounts, roles, activation,
and resetting a lost second factor. Every change asks for a fresh proof of identity."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.privacy.actors import Actor
from libcrm.staff.forms import StaffCreateForm, StaffRoleForm
from libcrm.staff.mfa import reset_second_factor
from libcrm.staff.models import TotpDevice
from libcrm.staff.reauth import reauth_required
from libcrm.staff.roles import MANAGE_STAFF, Role, role_of
from libcrm.staff.services import (
    StaffError,
    change_staff_role,
    create_staff_member,
    set_staff_active,
)

FORM_FIELDS = {"password": "password1"}


def _staff_member(pk: int) -> AbstractUser:
    return get_object_or_404(get_user_model(), pk=pk)


def _name(user: AbstractUser) -> str:
    profile = getattr(user, "staff_profile", None)
    return (profile.display_name if profile else "") or user.get_username()


@never_cache
@permission_required(MANAGE_STAFF)
def staff_list(request: HttpRequest) -> HttpResponse:
    members = (
        get_user_model()
        .objects.select_related("staff_profile")
        .prefetch_related("groups")
        .order_by("-is_active", "username")
    )
    rows = [(member, role_of(member)) for member in members]
    enrolled = set(TotpDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    return render(
        request,
        "staff/staff_list.html",
        {"rows": rows, "roles": Role.choices, "enrolled": enrolled},
    )


@never_cache
@permission_required(MANAGE_STAFF)
@reauth_required
def staff_create(request: HttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = create_staff_member(
                Actor.from_request(request),
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                display_name=data["display_name"],
                email=data["email"],
            )
        except StaffError as exc:
            field = FORM_FIELDS.get(exc.field, exc.field)
            form.add_error(field if field in form.fields else None, capfirst(exc.message))
        else:
            messages.success(
                request,
                _("The account %(name)s has been created.") % {"name": member.get_username()},
            )
            return redirect("console:staff-list")
    return render(request, "staff/staff_form.html", {"form": form})


@require_POST
@permission_required(MANAGE_STAFF)
@reauth_required
def staff_change_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = _staff_member(pk)
    form = StaffRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles in the list."))
    else:
        try:
            change_staff_role(Actor.from_request(request), member, form.cleaned_data["role"])
        except StaffError as exc:
            messages.error(request, capfirst(exc.message))
        else:
            messages.success(
                request,
                _("%(name)s is now: %(role)s.")
                % {
                    "name": _name(member),
                    "role": Role(form.cleaned_data["role"]).label,
                },
            )
    return redirect("console:staff-list")


@require_POST
@permission_required(MANAGE_STAFF)
@reauth_required
def staff_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    member = _staff_member(pk)
    active = request.POST.get("active") == "1"
    try:
        set_staff_active(Actor.from_request(request), member, active)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
    else:
        message = (
            _("%(name)s can sign in again.") if active else _("%(name)s can no longer sign in.")
        )
        messages.success(request, message % {"name": _name(member)})
    return redirect("console:staff-list")


@require_POST
@permission_required(MANAGE_STAFF)
@reauth_required
def staff_reset_mfa(request: HttpRequest, pk: int) -> HttpResponse:
    member = _staff_member(pk)
    try:
        reset_second_factor(Actor.from_request(request), member)
    except StaffError as exc:
        messages.error(request, capfirst(exc.message))
    else:
        messages.success(
            request,
            _("%(name)s will set up two-factor sign-in again at their next sign-in.")
            % {"name": _name(member)},
        )
    return redirect("console:staff-list")
