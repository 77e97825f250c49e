from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "libcrm.privacy"
    verbose_name = _("Privacy and audit")

    def ready(self) -> None:
        from libcrm.privacy.signals import patron_erased

        patron_erased.connect(_redact_erased_patron, dispatch_uid="privacy.redact_audit_subject")


def _redact_erased_patron(sender: Any, patron_key: str, **kwargs: Any) -> None:
    """An erased patron's key leaves the audit trail too; the chain stays verifiable."""
    from libcrm.privacy.services import redact_audit_subject

    redact_audit_subject(patron_key)
