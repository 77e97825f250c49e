from django.apps import AppConfig


class WorldConfig(AppConfig):
    name = "libcrm.world"
