from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "libcrm.staff"
    verbose_name = _("Staff")

    def ready(self) -> None:
        from libcrm.staff.roles import sync_roles_after_migrate

        # Roles are configuration that must exist in every database, test ones included.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="libcrm.staff.sync_roles")
