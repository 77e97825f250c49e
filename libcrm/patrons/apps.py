from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatronsConfig(AppConfig):
    name = "libcrm.patrons"
    verbose_name = _("Patrons")

    def ready(self) -> None:
        from libcrm.patrons.services import rebuild_blind_indexes
        from libcrm.privacy import rotation

        rotation.register_blind_index_rebuilder(rebuild_blind_indexes)
