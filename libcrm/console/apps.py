from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "libcrm.console"
