"""Pages of the linkage app (namespace ``linkage``)."""

from django.urls import path  # noqa: F401

app_name = "linkage"

urlpatterns: list = []
