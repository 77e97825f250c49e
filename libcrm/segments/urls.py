"""Pages of the segments app (namespace ``segments``)."""

from django.urls import path

from libcrm.segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_edit, name="create"),
    path("count/", views.rule_count, name="count"),
    path("<slug:slug>/", views.segment_detail, name="detail"),
    path("<slug:slug>/edit/", views.segment_edit, name="edit"),
    path("<slug:slug>/snapshot/", views.segment_snapshot, name="snapshot"),
]
