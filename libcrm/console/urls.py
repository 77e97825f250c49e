"""Every page of the staff console, in the ``console`` namespace (sign-in is at /accounts/)."""

from django.urls import path

from libcrm.console import views as console
from libcrm.console.events_views import overview as events
from libcrm.console.events_views import runs, timeline, upload
from libcrm.patrons import views as patrons
from libcrm.privacy import views as privacy
from libcrm.staff import export_views as exports
from libcrm.staff import views as staff

app_name = "console"

_identifier = "patrons/<uuid:uuid>/identifiers/<int:pk>"
_household = "patrons/<uuid:uuid>/household"
_upload = "events/upload/<str:upload_id>"
_run = "events/ingestions/<uuid:run_id>"

urlpatterns = [
    path("", console.home, name="home"),
    path("patrons/", patrons.patron_list, name="patron-list"),
    path("patrons/new/", patrons.patron_create, name="patron-create"),
    path("patrons/<uuid:uuid>/", patrons.patron_detail, name="patron-detail"),
    path("patrons/<uuid:uuid>/edit/", patrons.patron_edit, name="patron-edit"),
    path("patrons/<uuid:uuid>/identifiers/", patrons.identifier_add, name="patron-identifier-add"),
    path("patrons/<uuid:uuid>/timeline/", timeline.patron_timeline, name="patron-timeline"),
    path("patrons/<uuid:uuid>/activity/", timeline.patron_activity, name="patron-activity"),
    path(f"{_identifier}/reveal/", patrons.identifier_reveal, name="patron-identifier-reveal"),
    path(f"{_identifier}/verify/", patrons.identifier_verify, name="patron-identifier-verify"),
    path(f"{_identifier}/remove/", patrons.identifier_remove, name="patron-identifier-remove"),
    path(f"{_household}/create/", patrons.household_create, name="patron-household-create"),
    path(f"{_household}/join/", patrons.household_join, name="patron-household-join"),
    path(f"{_household}/leave/", patrons.household_leave, name="patron-household-leave"),
    path("events/", events.store_overview, name="events-overview"),
    path("events/ingestions/", runs.run_list, name="events-runs"),
    path(f"{_run}/", runs.run_detail, name="events-run"),
    path(f"{_run}/rejects.csv", runs.run_rejects, name="events-run-rejects"),
    path("events/upload/", upload.upload_start, name="events-upload"),
    path(f"{_upload}/", upload.upload_mapping, name="events-upload-mapping"),
    path(f"{_upload}/preview/", upload.upload_preview, name="events-upload-preview"),
    path(f"{_upload}/import/", upload.upload_import, name="events-upload-import"),
    path(f"{_upload}/discard/", upload.upload_cancel, name="events-upload-cancel"),
    path("audit/", privacy.audit_list, name="audit"),
    path("audit/export.csv", privacy.audit_export, name="audit-export"),
    path("audit/verify/", privacy.audit_verify, name="audit-verify"),
    path("staff/", staff.staff_list, name="staff-list"),
    path("staff/new/", staff.staff_create, name="staff-create"),
    path("staff/<int:pk>/role/", staff.staff_change_role, name="staff-role"),
    path("staff/<int:pk>/active/", staff.staff_set_active, name="staff-active"),
    path("staff/<int:pk>/mfa-reset/", staff.staff_reset_mfa, name="staff-mfa-reset"),
    path("staff/exports/", exports.export_list, name="staff-exports"),
    path("staff/exports/new/", exports.export_new, name="staff-export-new"),
    path("staff/exports/<int:pk>/approve/", exports.export_approve, name="staff-export-approve"),
    path("staff/exports/<int:pk>/reject/", exports.export_reject, name="staff-export-reject"),
    path("staff/exports/<int:pk>/download/", exports.export_download, name="staff-export-download"),
]
