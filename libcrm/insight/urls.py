"""Pages of the insight app (namespace ``insight``), under /insight/."""

from django.urls import path

from libcrm.insight import views

app_name = "insight"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("usage.csv", views.dashboard_csv, name="dashboard-csv"),
    path("usage.xlsx", views.dashboard_xlsx, name="dashboard-xlsx"),
]
