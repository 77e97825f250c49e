"""Pages of the subjects app (namespace ``subjects``), mounted at /privacy/. The portal's
"export my data" and "erase me" pages are mounted in the portal (``portal:export``,
``portal:erase``)."""

from django.urls import path

from libcrm.subjects import views

app_name = "subjects"

urlpatterns = [
    path("patrons/<uuid:uuid>/export/", views.patron_export, name="patron-export"),
    path("patrons/<uuid:uuid>/correct/", views.patron_correct, name="patron-correct"),
    path("patrons/<uuid:uuid>/erase/", views.patron_erase, name="patron-erase"),
    path("retention/", views.retention, name="retention"),
    path("retention/new/", views.retention_edit, name="retention-create"),
    path("retention/<int:pk>/", views.retention_edit, name="retention-edit"),
]
