from django.urls import path

from libcrm.api.router import api

urlpatterns = [path("", api.urls)]
