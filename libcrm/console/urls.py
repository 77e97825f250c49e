"""Every page of the staff console, in the ``console`` namespace (sign-in is at /accounts/)."""

from django.urls import path

from libcrm.console import views as console
from libcrm.patrons import views as patrons
from libcrm.privacy import views as privacy
from libcrm.staff import views as staff

app_name = "console"

_identifier = "patrons/<uuid:uuid>/identifiers/<int:pk>"
_household = "patrons/<uuid:uuid>/household"

urlpatterns = [
    path("", console.home, name="home"),
    path("patrons/", patrons.patron_list, name="patron-list"),
    path("patrons/new/", patrons.patron_create, name="patron-create"),
    path("patrons/<uuid:uuid>/", patrons.patron_detail, name="patron-detail"),
    path("patrons/<uuid:uuid>/edit/", patrons.patron_edit, name="patron-edit"),
    path("patrons/<uuid:uuid>/identifiers/", patrons.identifier_add, name="patron-identifier-add"),
    path(f"{_identifier}/reveal/", patrons.identifier_reveal, name="patron-identifier-reveal"),
    path(f"{_identifier}/verify/", patrons.identifier_verify, name="patron-identifier-verify"),
    path(f"{_identifier}/remove/", patrons.identifier_remove, name="patron-identifier-remove"),
    path(f"{_household}/create/", patrons.household_create, name="patron-household-create"),
    path(f"{_household}/join/", patrons.household_join, name="patron-household-join"),
    path(f"{_household}/leave/", patrons.household_leave, name="patron-household-leave"),
    path("audit/", privacy.audit_list, name="audit"),
    path("staff/", staff.staff_list, name="staff-list"),
    path("staff/new/", staff.staff_create, name="staff-create"),
    path("staff/<int:pk>/role/", staff.staff_change_role, name="staff-role"),
    path("staff/<int:pk>/active/", staff.staff_set_active, name="staff-active"),
]
