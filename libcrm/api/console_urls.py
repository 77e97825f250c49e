"""Console pages for API tokens, mounted at /tokens/ under the namespace ``api-tokens``."""

from __future__ import annotations

from django.urls import path

from libcrm.api import views

app_name = "api-tokens"
urlpatterns = [
    path("", views.token_list, name="list"),
    path("new/", views.token_create, name="create"),
    path("<int:pk>/revoke/", views.token_revoke, name="revoke"),
]
