from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "libcrm.console"
    verbose_name = _("Staff console")

    def ready(self) -> None:
        from libcrm.console import signals

        signals.connect()
