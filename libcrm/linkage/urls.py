"""Pages of the linkage app (namespace ``linkage``), under /linkage/."""

from django.urls import path

from libcrm.linkage import views

app_name = "linkage"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("pairs/<int:pk>/", views.candidate, name="candidate"),
    path("pairs/<int:pk>/decide/", views.decide, name="decide"),
    path("merges/", views.merge_list, name="merges"),
    path("merges/<int:pk>/", views.merge_detail, name="merge"),
    path("merges/<int:pk>/unmerge/", views.unmerge, name="unmerge"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/start/", views.run_start, name="run-start"),
]
