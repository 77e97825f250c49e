"""Pages of the subjects app (namespace ``subjects``)."""

from django.urls import path  # noqa: F401

app_name = "subjects"

urlpatterns: list = []
