"""Pages of the segments app (namespace ``segments``)."""

from django.urls import path

from libcrm.segments import discovery_views, views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_edit, name="create"),
    path("count/", views.rule_count, name="count"),
    path("discover/", discovery_views.discover_groups, name="discover"),
    path("discover/save/", discovery_views.save_discovered, name="discover_save"),
    path("<slug:slug>/", views.segment_detail, name="detail"),
    path("<slug:slug>/edit/", views.segment_edit, name="edit"),
    path("<slug:slug>/snapshot/", views.segment_snapshot, name="snapshot"),
]
