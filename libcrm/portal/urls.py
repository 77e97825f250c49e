"""Pages of the patron portal (namespace ``portal``), mounted at /portal/."""

from django.urls import path

from libcrm.consent import views as consent_views
from libcrm.portal import staff_views, views
from libcrm.subjects import views as subjects_views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("forgot-password/", views.forgot_password, name="forgot-password"),
    path("set-password/<str:token>/", views.set_password, name="set-password"),
    path("my-data/", views.my_data, name="my-data"),
    path("my-consents/", views.my_consents, name="consents"),
    # The patron's own data-subject requests, built by the subjects app.
    path("my-data/export/", subjects_views.portal_export, name="export"),
    path("my-data/erase/", subjects_views.portal_erase, name="erase"),
    path(
        "staff/patrons/<uuid:uuid>/activation/",
        staff_views.send_activation,
        name="staff-send-activation",
    ),
    path(
        "staff/patrons/<uuid:uuid>/consents/",
        consent_views.staff_set_consent,
        name="staff-set-consent",
    ),
]
