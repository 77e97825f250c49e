"""URL map: the staff console at /, sign-in at /accounts/, the REST API at /api/, language
switching at /i18n/."""

from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("libcrm.api.urls")),
    path("accounts/", include("libcrm.console.accounts")),
    path("tokens/", include("libcrm.api.console_urls")),
    path("linkage/", include("libcrm.linkage.urls")),
    path("insight/", include("libcrm.insight.urls")),
    path("segments/", include("libcrm.segments.urls")),
    path("privacy/", include("libcrm.subjects.urls")),
    path("portal/", include("libcrm.portal.urls")),
    path("", include("libcrm.console.urls")),
]
